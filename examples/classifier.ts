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

import era, { type Device } from 'era-cuda';

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
const eraOptions = { minEntropy: MIN_ENTROPY }; // the same options for training, evaluation and the floor

const model = new era.nn.MLP({ inputSize: DIM, hiddenSizes: [64], outputSize: CLASSES, activation: 'relu', device, seed: 7 });
const opt = new era.nn.AdamW(model.params, { lr: 3e-3 });
console.log(`era classifier example on ${device}: ${model.parameterCount} parameters, ${steps} steps of batch ${BATCH}`);

// The training set goes to the device once; each batch is a view of BATCH consecutive rows (no copy).
const trainX = era.tensor(train.x, [train.y.length, DIM], { device });
const trainY = era.tensor(train.y, [train.y.length], { device });
let firstLoss = NaN;
let lastLoss = NaN;
// The loss stays on the device (options.lossOut), so a step does not wait for the GPU; it is read
// only when printed, as one would call loss.item() in PyTorch.
const lossOut = era.zeros([1], { device });
const readLoss = (): number => lossOut.toArray()[0];
for (let step = 0; step < steps; step++) {
  const start = (step * BATCH) % train.y.length; // 8192 points = 32 whole batches, then around again
  using xb = trainX.slice(start, start + BATCH);
  using yb = trainY.slice(start, start + BATCH);
  const logits = model.forward(xb); // [B, C], a view into the model's workspace
  const { gradLogits } = era.softmaxCrossEntropy(logits, yb, { ...eraOptions, lossOut });
  model.backward(gradLogits, { accumulate: false });
  gradLogits.dispose();
  opt.step(model.grads);
  if (step === 0) firstLoss = readLoss();
  if ((step + 1) % 100 === 0 || step + 1 === steps) {
    lastLoss = readLoss();
    console.log(`  step ${step + 1}: loss ${lastLoss.toFixed(4)}`);
  }
}
lossOut.dispose();

const argmax = (rows: Float32Array, i: number): number => {
  const row = rows.subarray(i * CLASSES, (i + 1) * CLASSES);
  return row.indexOf(Math.max(...row));
};

// Evaluation on held-out points: accuracy, and the entropy of both predicted distributions.
const result = era.scope(() => {
  const x = era.tensor(test.x, [test.y.length, DIM], { device });
  const logits = model.forward(x);
  // era.softmax returns the activated logits z' (not probabilities): softmax(z') is the prediction.
  const eraOut = era.softmax(logits, eraOptions).toArray() as Float32Array;
  const raw = logits.toArray() as Float32Array;
  let correct = 0;
  let argmaxChanged = 0;
  for (let i = 0; i < test.y.length; i++) {
    if (argmax(raw, i) === test.y[i]) correct++;
    if (argmax(eraOut, i) !== argmax(raw, i)) argmaxChanged++;
  }
  return { accuracy: correct / test.y.length, argmaxChanged, eraEntropy: rowEntropies(eraOut), rawEntropy: rowEntropies(raw) };
});

const floor = era.entropyFloor(CLASSES, eraOptions);
const minEra = Math.min(...result.eraEntropy);
console.log(`loss ${firstLoss.toFixed(3)} -> ${lastLoss.toFixed(3)}; test accuracy ${(100 * result.accuracy).toFixed(1)}%`);
console.log(`entropy of softmax(ERA output): mean ${mean(result.eraEntropy).toFixed(3)}, min ${minEra.toFixed(4)} (floor ${floor.toFixed(4)} nats)`);
console.log(`entropy of softmax(raw logits): mean ${mean(result.rawEntropy).toFixed(3)} (no floor)`);
model.dispose();
opt.dispose();
trainX.dispose();
trainY.dispose();

// What this example claims, checked (a failed check exits non-zero).
if (!(lastLoss < firstLoss)) throw new Error(`the loss did not fall (${firstLoss} -> ${lastLoss})`);
if (steps >= 100 && !(result.accuracy > 0.9)) throw new Error(`test accuracy ${result.accuracy} is not above 90%`);
if (result.argmaxChanged > 0) throw new Error(`the ERA output changed the predicted class of ${result.argmaxChanged} test points`);
// era-spec §3.2: with H_min = 0.6 the lowest entropy for C = 10 (at a one-hot input) is 0.983.
if (!(Math.abs(floor - 0.983) < 1e-3)) throw new Error(`era.entropyFloor(${CLASSES}) is ${floor}, not era-spec's 0.983`);
if (!(minEra >= floor - 1e-4)) throw new Error(`an ERA output row has entropy ${minEra} below the floor ${floor}`);
if (steps >= 100) {
  // The trained network is confident enough that its raw softmax is sharper than the floor on
  // average, and the ERA output holds its most confident rows right at the floor.
  if (!(mean(result.rawEntropy) < floor)) throw new Error(`the raw logits' mean entropy ${mean(result.rawEntropy)} is not below the floor ${floor}`);
  if (!(minEra <= floor + 1e-3)) throw new Error(`no ERA output row reaches the floor ${floor} (min ${minEra})`);
}
