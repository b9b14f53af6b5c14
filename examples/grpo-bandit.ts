/**
 * ERA in GRPO: policy-gradient fine-tuning of a toy token policy with era.logits.
 *
 * The "model" is a table of logits θ [L, V]: position t of every response samples a token from
 * softmax(θ[t]). A response earns the fraction of its tokens that fall in a small "good" set, and
 * GRPO turns each group's rewards into advantages (reward − group mean) / group std. era.logits
 * (its defaults: ω_low 0.45, ω_high 3, k 2) measures each response's entropy H_resp and scales
 * the logits of its positive-advantage tokens: by 1/k while H_resp > ω_high, by k once
 * H_resp < ω_low. The loss is −(1/N) Σ A·log π under the scaled logits, as in GRPO-ERA. Only
 * θ (for the host-side sampler) and the figures checked below cross from the device to the host.
 *
 * Two runs share the seed, the samples' random stream and every other setting; only k differs
 * (k = 1 turns the scaling off). Plain policy gradient piles each position onto one good token
 * and its entropy falls towards zero. With ERA, learning starts slower (the 1/k phase) and, at
 * the same reward, the policy keeps more entropy: on the CPU, over the last tenth of the run,
 * both earned 0.99 and ERA's mean token entropy was 0.106 nats against plain's 0.081. (One toy
 * run; the example checks the mechanics, not this figure: each token's scale and log-prob
 * against the host's own computation.)
 *
 *   npx tsx examples/grpo-bandit.ts [--iterations 500] [--device cpu|cuda]
 */
import { parseArgs } from 'node:util';

import era, { type Device } from 'era-cuda';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '500' }, device: { type: 'string' } } });
const iterations = Number(values.iterations);
if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError(`Expected a positive integer for --iterations but received '${values.iterations}'`);
const deviceArg = values.device ?? era.defaultDevice();
if (deviceArg !== 'cpu' && deviceArg !== 'cuda') throw new RangeError(`Expected 'cpu' or 'cuda' for --device but received '${deviceArg}'`);
const device: Device = deviceArg;

const V = 64; // vocabulary
const L = 8; // tokens per response
const G = 16; // responses per group (GRPO's group size)
const N = G * L; // tokens per batch
const GOOD = 4; // tokens 0..GOOD-1 earn reward

interface RunResult {
  reward: number[];
  entropy: number[];
  /** Fraction of the tokens whose logits were scaled by k and by 1/k. */
  up: number[];
  down: number[];
}

const OMEGA_LOW = 0.45; // era.logits' defaults, restated for the host-side check
const OMEGA_HIGH = 3;

function run(k: number): RunResult {
  return era.scope(() => {
    const theta = era.normal([L, V], { seed: 3, std: 0.1, device });
    // Plain SGD: the logit scale changes the update's size as well as its direction (Adam's
    // per-parameter normalisation would cancel much of the former).
    using opt = new era.nn.SGD(theta, { lr: 3 });
    const noise = new era.Generator(11); // the sampling stream, identical for both runs
    const offsets = era.tensor(new Int32Array(Array.from({ length: G + 1 }, (_, g) => g * L)), [G + 1], { device });
    // Token i of the batch is position i mod L of its response: it reads θ's row i mod L.
    const rowOf = era.tensor(Int32Array.from({ length: N }, (_, i) => i % L), [N], { device });
    const tokens = new Int32Array(N);
    const adv = new Float32Array(N);
    const probs = new Float64Array(L * V);
    const out: RunResult = { reward: [], entropy: [], up: [], down: [] };
    for (let it = 0; it < iterations; it++) {
      era.scope(() => {
        // The sampler runs on the host: θ [L, V] is all it reads back. softmax(θ[t]) once per
        // position, then each token drawn from it by inverse CDF.
        const th = theta.toArray() as Float32Array;
        for (let t = 0; t < L; t++) {
          const row = th.subarray(t * V, (t + 1) * V);
          const max = Math.max(...row);
          let sum = 0;
          for (const z of row) sum += Math.exp(z - max);
          for (let j = 0; j < V; j++) probs[t * V + j] = Math.exp(row[j] - max) / sum;
        }
        const u = era.uniform([N], { generator: noise, device: 'cpu' }).toArray() as Float32Array;
        const rewards = new Float64Array(G);
        for (let i = 0; i < N; i++) {
          const p = (i % L) * V;
          let c = 0;
          let tok = V - 1;
          for (let j = 0; j < V; j++) {
            c += probs[p + j];
            if (u[i] < c) { tok = j; break; }
          }
          tokens[i] = tok;
          if (tok < GOOD) rewards[Math.floor(i / L)] += 1 / L;
        }
        // GRPO's advantage: (reward − group mean) / group std, the sample std (n − 1) as torch.std.
        const mean = rewards.reduce((s, r) => s + r, 0) / G;
        const std = Math.sqrt(rewards.reduce((s, r) => s + (r - mean) ** 2, 0) / (G - 1));
        for (let i = 0; i < N; i++) adv[i] = (rewards[Math.floor(i / L)] - mean) / (std + 1e-6);

        const logits = era.rl.gatherRows(theta, rowOf); // [N, V] on the device: θ's rows per token
        const tokensT = era.tensor(tokens, [N], { device });
        const advT = era.tensor(adv, [N], { device });
        const fwd = era.logits(logits, tokensT, offsets, advT, { k });
        // Loss = −(1/N) Σ A_i log π'(y_i). One on-policy step per batch makes GRPO's ratio
        // π'/π_old exactly 1, so no old log-probs are needed; the loss's gradient for the
        // log-probs is −A_i / N.
        const gradLogProbs = era.scale(advT, -1 / N);
        const gradRows = era.logitsBackward(logits, tokensT, offsets, advT, gradLogProbs, { k, forward: fwd, inPlace: true });
        // θ[t] collects the gradients of every response's token at position t: view the [N, V]
        // rows as [G, L·V] and sum over the responses.
        const gradTheta = era.nn.functional.sum(gradRows.reshape([G, L * V]), { dim: 0 }).reshape([L, V]);
        opt.step(gradTheta);

        // Check the scaling on the host. Every response reads the same θ rows, so all share one
        // H_resp (the top 20 % of its 8 token entropies: the largest one).
        const hResp = fwd.responseEntropy.toArray() as Float32Array;
        const scale = fwd.scale.toArray() as Float32Array;
        const logProbs = fwd.logProbs.toArray() as Float32Array;
        const h = fwd.entropy.toArray() as Float32Array;
        let hostH = 0;
        for (let t = 0; t < L; t++) {
          let ht = 0;
          for (let j = 0; j < V; j++) if (probs[t * V + j] > 0) ht -= probs[t * V + j] * Math.log(probs[t * V + j]);
          hostH = Math.max(hostH, ht);
        }
        for (let r = 0; r < G; r++) {
          if (Math.abs(hResp[r] - hostH) > 1e-3) throw new Error(`response ${r}: H_resp ${hResp[r]}, expected ${hostH}`);
        }
        let up = 0;
        let down = 0;
        for (let i = 0; i < N; i++) {
          // ERA scales only positive-advantage tokens: by k below ω_low, by 1/k above ω_high.
          const hr = hResp[Math.floor(i / L)];
          const want = !(adv[i] > 0) ? 1 : hr < OMEGA_LOW ? k : hr > OMEGA_HIGH ? 1 / k : 1;
          if (Math.abs(scale[i] - want) > 1e-6) throw new Error(`token ${i}: scale ${scale[i]}, expected ${want} (A ${adv[i]}, H_resp ${hr})`);
          if (want > 1) up++;
          if (want < 1) down++;
          // log π' is the log-softmax of the scaled row c·θ[t] at the sampled token.
          const row = th.subarray((i % L) * V, (i % L + 1) * V);
          const max = Math.max(...row) * want;
          let sum = 0;
          for (const z of row) sum += Math.exp(want * z - max);
          const lp = want * row[tokens[i]] - max - Math.log(sum);
          if (Math.abs(logProbs[i] - lp) > 1e-4) throw new Error(`token ${i}: log-prob ${logProbs[i]}, expected ${lp}`);
        }
        out.up.push(up / N);
        out.down.push(down / N);
        out.reward.push(mean);
        out.entropy.push(h.reduce((s, v) => s + v, 0) / N);
      });
    }
    return out;
  });
}

const tail = (a: number[]): number => {
  const last = a.slice(-Math.max(1, Math.floor(a.length / 10)));
  return last.reduce((s, v) => s + v, 0) / last.length;
};

console.log(`era GRPO example on ${device}: V ${V}, ${G} responses of ${L} tokens, ${iterations} iterations`);
const plain = run(1);
const withEra = run(2);
console.log('iteration | reward (plain) | entropy (plain) | reward (ERA) | entropy (ERA) | ERA tokens ×k, ×1/k');
const pct = (f: number): string => `${(100 * f).toFixed(0)}%`;
for (let it = 0; it < iterations; it += Math.max(1, Math.floor(iterations / 8))) {
  console.log(`${String(it).padStart(9)} | ${plain.reward[it].toFixed(3).padStart(14)} | ${plain.entropy[it].toFixed(3).padStart(15)} | ` +
    `${withEra.reward[it].toFixed(3).padStart(12)} | ${withEra.entropy[it].toFixed(3).padStart(13)} | ${pct(withEra.up[it])}, ${pct(withEra.down[it])}`);
}
console.log(`last 10%: plain reward ${tail(plain.reward).toFixed(3)}, entropy ${tail(plain.entropy).toFixed(3)} nats; ` +
  `ERA reward ${tail(withEra.reward).toFixed(3)}, entropy ${tail(withEra.entropy).toFixed(3)} nats (log V = ${Math.log(V).toFixed(3)})`);

// What this example claims, checked (a failed check exits non-zero).
const startReward = GOOD / V;
for (const [name, r] of [['plain', plain], ['ERA', withEra]] as const) {
  if (!(tail(r.reward) > startReward)) throw new Error(`${name}: the reward did not rise above the start's ${startReward}`);
  if (!r.entropy.every((h) => h >= 0 && h <= Math.log(V) + 1e-4)) throw new Error(`${name}: an entropy left [0, log V]`);
}
// The policy starts near uniform (H_resp ≈ log 64 ≈ 4.16 > ω_high), so ERA's first step scales down.
if (!(withEra.down[0] > 0)) throw new Error(`ERA did not scale any logits by 1/k in the first iteration (H_resp starts above ω_high)`);
