/**
 * The classification ERA fused with cross entropy (era.softmaxCrossEntropy, era-spec §3.2-3.3):
 * one run = forward and backward of the mean CE over the ERA output, { loss, gradLogits }.
 * Sizes: B = 65536, C = 1000 (ImageNet-sized head over a large batch: bandwidth-bound) and
 * B = 512, C = 10 (CIFAR-10: launch-bound).
 *
 * The loss comes back as a JS number, so each run includes its read-back (a stream
 * synchronisation); the PyTorch twin (bench/baselines/era_vision.py) leaves its loss on the device.
 */
import era, { type Tensor } from '../lib/index.js';
import { visionParams } from '../lib/era/vision.js';
import { assertClose, maxAbs, Xorshift } from './era-common.js';
import { assertNonZero, rotationCount, type BenchCase, type BenchContext, type BenchRun } from './harness.js';

/** Logits ~ U(−3, 3): a spread of probabilities, like a trained head's. */
const LOGIT_RANGE = 3;

/** The float64 gradient of the mean CE (batch size `batch`, no smoothing) for one row x (era-spec §3.3). */
function refRow(x: ArrayLike<number>, label: number, batch: number): { loss: number; grad: Float64Array } {
  const n = x.length;
  const { s, b } = visionParams(n); // defaults: minEntropy 0.6, tau 4
  let m = -Infinity;
  for (let i = 0; i < n; i++) m = Math.max(m, x[i]);
  const p = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += (p[i] = Math.exp(x[i] - m));
  const u = new Float64Array(n);
  const z = new Float64Array(n);
  let zmin = Infinity;
  let zmax = -Infinity;
  for (let i = 0; i < n; i++) {
    p[i] /= sum;
    u[i] = -1 - Math.log(s * p[i] + b);
    z[i] = -1 - Math.sqrt(2 * u[i]) - 0.75 * u[i];
    zmin = Math.min(zmin, z[i]);
    zmax = Math.max(zmax, z[i]);
  }
  // out = z − min z; softmax(out) = softmax(z).
  let zs = 0;
  for (let i = 0; i < n; i++) zs += Math.exp(z[i] - zmax);
  const lse = zmax + Math.log(zs);
  const loss = lse - z[label];
  let dot = 0;
  const a = new Float64Array(n); // g_i c_i ρ_i
  for (let i = 0; i < n; i++) {
    const g = (Math.exp(z[i] - lse) - (i === label ? 1 : 0)) / batch;
    const c = 1 / Math.sqrt(2 * u[i]) + 0.75;
    const rho = (s * p[i]) / (s * p[i] + b);
    a[i] = g * c * rho;
    dot += a[i];
  }
  const grad = new Float64Array(n);
  for (let i = 0; i < n; i++) grad[i] = a[i] - p[i] * dot;
  return { loss, grad };
}

function labelsFor(ctx: BenchContext, b: number, c: number, seed: number): Tensor {
  const rng = new Xorshift(seed);
  const y = new Int32Array(b);
  for (let i = 0; i < b; i++) y[i] = rng.next() % c;
  return era.tensor(y, [b], { device: ctx.device });
}

function crossEntropyCase(b: number, c: number): BenchCase {
  return {
    name: `era.softmaxCrossEntropy fwd+bwd B=${b} C=${c}`,
    setup(ctx: BenchContext): BenchRun {
      // read logits + labels, write the gradient
      const bytes = 2 * b * c * 4 + b * 4;
      const sets = rotationCount(ctx, bytes);
      const logits: Tensor[] = [];
      const labels: Tensor[] = [];
      const grads: Tensor[] = [];
      const losses: Tensor[] = []; // options.lossOut: the loss stays on the device, as PyTorch's does
      const ran = new Uint8Array(sets); // short CPU runs may not reach every set
      const all = () => [...logits, ...labels, ...grads, ...losses];
      try {
        for (let i = 0; i < sets; i++) {
          logits.push(era.uniform([b, c], { device: ctx.device, seed: 0x715 + i, low: -LOGIT_RANGE, high: LOGIT_RANGE }));
          labels.push(labelsFor(ctx, b, c, 0x1abe1 + i));
          grads.push(era.empty([b, c], { device: ctx.device }));
          losses.push(era.full([1], NaN, { device: ctx.device }));
        }
      } catch (err) {
        for (const t of all()) t.dispose();
        throw err;
      }
      return {
        run(iteration) {
          const i = iteration % sets;
          era.softmaxCrossEntropy(logits[i], labels[i], { out: grads[i], lossOut: losses[i] });
          ran[i] = 1;
        },
        bytes,
        note:
          `${sets} input set(s) of ${(bytes / 2 ** 20).toPrecision(3)} MiB rotated` +
          (sets * bytes < 2 * ctx.cacheBytes ? ' (together still cache-resident: the work is launch-bound)' : '') +
          '; gradient written into preallocated tensors (options.out); defaults (minEntropy 0.6, tau 4, no label smoothing); ' +
          'the loss is written into a preallocated device tensor (options.lossOut; no read-back, as PyTorch leaves its loss on the device).',
        check() {
          if (!ran[0]) throw new Error('run() never ran');
          for (let i = 0; i < sets; i++) {
            const loss = losses[i].toArray()[0];
            if (ran[i] && !Number.isFinite(loss)) throw new Error(`loss of input set ${i} is ${loss}`);
          }
          const x = logits[0].toArray() as Float32Array;
          const y = labels[0].toArray() as Int32Array;
          const g = grads[0].toArray() as Float32Array;
          assertNonZero(g, 'gradient');
          for (const row of [0, b - 1]) {
            const ref = refRow(x.subarray(row * c, (row + 1) * c), y[row], b);
            const got = g.subarray(row * c, (row + 1) * c);
            assertClose(got, ref.grad, `gradient row ${row}`, 1e-4 * maxAbs(ref.grad), 1e-3);
          }
          if (b * c <= 1 << 20) {
            // Small enough for the whole mean loss in float64.
            let sum = 0;
            for (let row = 0; row < b; row++) sum += refRow(x.subarray(row * c, (row + 1) * c), y[row], b).loss;
            assertClose([losses[0].toArray()[0]], [sum / b], 'mean loss', 1e-5, 1e-5);
          }
        },
        dispose() {
          for (const t of all()) t.dispose();
        },
      };
    },
  };
}

export const benches: BenchCase[] = [crossEntropyCase(65536, 1000), crossEntropyCase(512, 10)];
