/**
 * Error classes thrown by the FFI layer. Every failure inside libtorch surfaces as a
 * {@link TorchError} carrying libtorch's own message; misuse of handles is caught in TS first.
 * @module
 */

/** A libtorch operation failed; `op` names the shim function, `message` is libtorch's text. */
export class TorchError extends Error {
  /** "TorchError". */
  override name = "TorchError";
  /** The shim function that failed, e.g. `dg_matmul` (for elementwise ops, e.g. `dg_add`). */
  readonly op: string;
  /** Wraps libtorch's `message` for the failed shim function `op`. */
  constructor(op: string, message: string) {
    super(`${op}: ${message}`);
    this.op = op;
  }
}

/** A tensor was used (or disposed) after it had been disposed. */
export class DisposedTensorError extends Error {
  /** "DisposedTensorError". */
  override name = "DisposedTensorError";
}

/** A device was requested that this machine or this libtorch build cannot provide. */
export class DeviceError extends Error {
  /** "DeviceError". */
  override name = "DeviceError";
}

/** The native shim or libtorch could not be found, built or loaded. */
export class NativeLibraryError extends Error {
  /** "NativeLibraryError". */
  override name = "NativeLibraryError";
}
