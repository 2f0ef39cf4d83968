/**
 * FFI layer of DeepGuard-TS: typed tensor handles over libtorch through the C shim.
 * @module
 */
export { Tensor, type ValuesIndices } from "./tensor.ts";
export type { ElementwiseMethods } from "./elementwise.ts";
export {
  arange,
  empty,
  fromBytes,
  fromFile,
  full,
  multinomial,
  ones,
  rand,
  randint,
  randn,
  tensor,
  type TensorOptions,
  zeros,
} from "./creation.ts";
export {
  cat,
  crossEntropy,
  type CrossEntropyOptions,
  dropout,
  embedding,
  layerNorm,
  linear,
  rmsNorm,
  scaledDotProductAttention,
  SDPA_BACKENDS,
  type SdpaBackend,
  sdpaBackend,
  type SdpaOptions,
  setSdpaBackends,
  stack,
  where,
} from "./functional.ts";
export { CudaGraph, cudaGraphsAvailable } from "./cuda_graph.ts";
export { adamwStep, backwardMany, clipGradNorm, isGradEnabled, noGrad } from "./autograd.ts";
export {
  checkDevice,
  countOps,
  cuda,
  type CudaQueries,
  getNumThreads,
  liveTensors,
  manualSeed,
  type OpCounts,
  setNumThreads,
  setTf32,
  torchBuildInfo,
} from "./runtime.ts";
export { type Scoped, tidy } from "./scope.ts";
export type { Device, DType, HostArray } from "./dtype.ts";
export { DTYPE_SIZE, DTYPES, isFloat } from "./dtype.ts";
export { DeviceError, DisposedTensorError, NativeLibraryError, TorchError } from "./errors.ts";
export { ensureShim, type LibtorchInfo, locateLibtorch, PROJECT_ROOT } from "./native.ts";
