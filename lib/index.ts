/**
 * era-cuda: ERA (Entropy Regularizing Activation) for Node.js, with fused CUDA kernels and CPU
 * reference twins. `import era from 'era-cuda'` or import the names you need.
 */
import { getNumThreads, setNumThreads } from './cpu.js';
import { cudaAvailable, defaultDevice } from './device.js';
import { EraError } from './errors.js';
import { gaussian, gaussianBackward } from './era/gaussian.js';
import { logits, logitsBackward } from './era/logits.js';
import * as nn from './nn/index.js';
import { entropyFloor, softmax, softmaxBackward, softmaxCrossEntropy } from './era/vision.js';
import { CudaGraph, captureGraph, isCapturing } from './graph.js';
import { add, copy, exp, scale } from './ops.js';
import * as report from './report/index.js';
import * as rl from './rl/index.js';
import { Generator, manualSeed, normal, uniform } from './random.js';
import { emptyCache, info, memory, synchronize, version } from './runtime.js';
import { keep, scope } from './scope.js';
import { Tensor, empty, full, ones, tensor, zeros } from './tensor.js';

export type { Device } from './device.js';
export type { DType, TensorData, TensorOptions } from './tensor.js';
export type { EraInfo, MemoryReport } from './runtime.js';
export type { CpuInfo } from './cpu.js';
export type { EraErrorCode } from './errors.js';
export type { RandomOptions } from './random.js';
export type { CaptureGraphOptions } from './graph.js';
export type { EraMode, GaussianOptions } from './era/gaussian.js';
export type { AdvantageTest, LogitsBackwardOptions, LogitsMode, LogitsOptions, LogitsResult } from './era/logits.js';
export type { CrossEntropyOptions, CrossEntropyResult, DeviceLossResult, VisionOptions } from './era/vision.js';

export {
  CudaGraph, EraError, Generator, Tensor, add, captureGraph, copy, cudaAvailable, defaultDevice, empty, emptyCache, entropyFloor, exp, full,
  gaussian, gaussianBackward, getNumThreads, info, isCapturing, keep, logits, logitsBackward, manualSeed, memory, nn, normal, ones, report, rl, scale, scope, softmax, softmaxBackward,
  setNumThreads, softmaxCrossEntropy, synchronize, tensor, uniform, version, zeros,
};

const era = {
  CudaGraph, EraError, Generator, Tensor, add, captureGraph, copy, cudaAvailable, defaultDevice, empty, emptyCache, entropyFloor, exp, full,
  gaussian, gaussianBackward, getNumThreads, info, isCapturing, keep, logits, logitsBackward, manualSeed, memory, nn, normal, ones, report, rl, scale, scope, softmax, softmaxBackward,
  setNumThreads, softmaxCrossEntropy, synchronize, tensor, uniform, version, zeros,
};
export default era;
