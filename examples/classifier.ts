/**
 * ERA on a classifier: an MLP trained with era.softmaxCrossEntropy on ten Gaussian clusters.
 *
 * ERA's vision activation maps the logits to z' whose softmax can never have less entropy than
 * era.entropyFloor(C): the network becomes accurate (the argmax is unchanged by the activation)
 * while its predicted distribution keeps a guaranteed spread. The raw logits' softmax has no such
 * floor and grows confident.
 *
 *   npx tsx examples/classifier.ts [--steps 300] [--device cpu|cuda]
 */
import { parseArgs } from 'node:util';

import era, { type Device, type Tensor } from 'era-cuda';

const { values } = parseArgs({ options: { steps: { type: 'string', default: '300' }, device: { type: 'string' } } });
const steps = Number(values.steps);
if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`Expected a positive integer for --steps but received '${values.steps}'`);
const deviceArg = values.device ?? era.defaultDevice();
if (deviceArg !== 'cpu' && deviceArg !== 'cuda') throw new RangeError(`Expected 'cpu' or 'cuda' for --device but received '${deviceArg}'`);
const device: Device = deviceArg;

const CLASSES = 10;
const DIM = 16;
const BATCH = 256;
const MIN_ENTROPY = 0.6; // era-spec's default H_min

// Ten cluster centres and 8192 labelled points around them, drawn with the package's Philox
// generator on the host (the same numbers on every machine).
function makeData(points: number, seed: number): { x: Float32Array; y: Int32Array } {
  const centres = era.normal([CLASSES, DIM], { seed: 1, std: 1.5, device: 'cpu' }).toArray() as Float32Array;
  const noise = era.normal([points, DIM], { seed, device: 'cpu' }).toArray() as Float32Array;
  const u = era.uniform([points], { seed: seed + 1, device: 'cpu' }).toArray() as Float32Array;
  const x = new Float32Array(points * DIM);
  const y = new Int32Array(points);
  for (let i = 0; i < points; i++) {
    y[i] = Math.min(CLASSES - 1, Math.floor(u[i] * CLASSES));
    for (let d = 0; d < DIM; d++) x[i * DIM + d] = centres[y[i] * DIM + d] + noise[i * DIM + d];
  }
  return { x, y };
}

/** Row entropies (nats) of softmax(rows [B, C]), in float64. */
function rowEntropies(rows: Float32Array): Float64Array {
  const b = rows.length / CLASSES;
  const h = new Float64Array(b);
  for (let i = 0; i < b; i++) {
    const r = rows.subarray(i * CLASSES, (i + 1) * CLASSES);
    const max = Math.max(...r);
    let sum = 0;
    for (const v of r) sum += Math.exp(v - max);
    let ent = 0;
    for (const v of r) {
      const p = Math.exp(v - max) / sum;
      if (p > 0) ent -= p * Math.log(p);
    }
    h[i] = ent;
  }
  return h;
}

function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s / a.length;
}

const train = makeData(8192, 100);
const test = makeData(2048, 200);

const model = new era.nn.MLP({ inputSize: DIM, hiddenSizes: [64], outputSize: CLASSES, activation: 'relu', device, seed: 7 });
const opt = new era.nn.AdamW(model.params, { lr: 3e-3 });
console.log(`era classifier example on ${device}: ${model.parameterCount} parameters, ${steps} steps of batch ${BATCH}`);

const xb = era.empty([BATCH, DIM], { device });
const yb = era.empty([BATCH], { device, dtype: 'i32' });
const hostX = new Float32Array(BATCH * DIM);
const hostY = new Int32Array(BATCH);
let firstLoss = NaN;
let lastLoss = NaN;
for (let step = 0; step < steps; step++) {
  // A batch of consecutive points, wrapping around the training set.
  for (let j = 0; j < BATCH; j++) {
    const i = (step * BATCH + j) % train.y.length;
    hostY[j] = train.y[i];
    hostX.set(train.x.subarray(i * DIM, (i + 1) * DIM), j * DIM);
  }
  xb.write(hostX);
  yb.write(hostY);
  const logits = model.forward(xb); // [B, C], a view into the model's workspace
  const { loss, gradLogits } = era.softmaxCrossEntropy(logits, yb, { minEntropy: MIN_ENTROPY });
  model.backward(gradLogits, { accumulate: false });
  gradLogits.dispose();
  opt.step(model.grads);
  if (step === 0) firstLoss = loss;
  lastLoss = loss;
  if ((step + 1) % 100 === 0 || step + 1 === steps) console.log(`  step ${step + 1}: loss ${loss.toFixed(4)}`);
}

// Evaluation on held-out points: accuracy, and the entropy of both predicted distributions.
const result = era.scope(() => {
  const x = era.tensor(test.x, [test.y.length, DIM], { device });
  const logits = model.forward(x);
  const eraOut: Tensor = era.softmax(logits, { minEntropy: MIN_ENTROPY });
  const raw = logits.toArray() as Float32Array;
  let correct = 0;
  for (let i = 0; i < test.y.length; i++) {
    const row = raw.subarray(i * CLASSES, (i + 1) * CLASSES);
    if (row.indexOf(Math.max(...row)) === test.y[i]) correct++;
  }
  return {
    accuracy: correct / test.y.length,
    eraEntropy: rowEntropies(eraOut.toArray() as Float32Array),
    rawEntropy: rowEntropies(raw),
  };
});

const floor = era.entropyFloor(CLASSES, { minEntropy: MIN_ENTROPY });
const minEra = Math.min(...result.eraEntropy);
console.log(`loss ${firstLoss.toFixed(3)} -> ${lastLoss.toFixed(3)}; test accuracy ${(100 * result.accuracy).toFixed(1)}%`);
console.log(`entropy of softmax(ERA output): mean ${mean(result.eraEntropy).toFixed(3)}, min ${minEra.toFixed(4)} (floor ${floor.toFixed(4)} nats)`);
console.log(`entropy of softmax(raw logits): mean ${mean(result.rawEntropy).toFixed(3)} (no floor)`);
model.dispose();
opt.dispose();
xb.dispose();
yb.dispose();

// What this example claims, checked (a failed check exits non-zero).
if (!(lastLoss < firstLoss)) throw new Error(`the loss did not fall (${firstLoss} -> ${lastLoss})`);
if (steps >= 100 && !(result.accuracy > 0.9)) throw new Error(`test accuracy ${result.accuracy} is not above 90%`);
if (!(minEra >= floor - 1e-4)) throw new Error(`an ERA output row has entropy ${minEra} below the floor ${floor}`);
