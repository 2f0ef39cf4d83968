/**
 * FFI layer of DeepGuard-TS: typed tensor handles over libtorch through the C shim.
 * @module
 */
export * from "./tensor.ts";
export { tidy } from "./scope.ts";
export type { Device, DType, HostArray } from "./dtype.ts";
export { DTYPE_SIZE, DTYPES, isFloat } from "./dtype.ts";
export { DeviceError, DisposedTensorError, NativeLibraryError, TorchError } from "./errors.ts";
export { ensureShim, type LibtorchInfo, locateLibtorch, PROJECT_ROOT } from "./native.ts";
