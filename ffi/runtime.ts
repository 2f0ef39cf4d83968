/**
 * Process- and thread-level libtorch state: devices, the global generator seed, intra-op
 * threads, the live-handle counter and build information.
 * @module
 */
import { cString, lib, okStatus } from "./bindings.ts";
import { type Device, deviceCode } from "./dtype.ts";
import { DeviceError } from "./errors.ts";

/** Throws a {@link DeviceError} unless `device` exists here. Returns the shim's (type, index). */
export function checkDevice(device: Device): [number, number] {
  const [type, index] = deviceCode(device);
  if (type === 1) {
    const count = lib().dg_cuda_device_count();
    if (count <= 0) {
      throw new DeviceError(
        `device "${device}" requested, but CUDA is not available (this libtorch build or machine ` +
          `has no GPU); use --device cpu or a CUDA build of libtorch via $LIBTORCH`,
      );
    }
    if (index >= count) {
      throw new DeviceError(`device "${device}" requested, but only ${count} CUDA device(s) exist`);
    }
  }
  return [type, index];
}

/**
 * Native tensor handles created minus freed by the calling thread, i.e. by this isolate: Deno
 * runs every shim call and every finalizer on the thread of the isolate that owns the tensor, so
 * a Worker's tensors never show in the main thread's count (and vice versa). For leak tests.
 */
export function liveTensors(): number {
  return lib().dg_live_count();
}

/**
 * Seeds the global CPU and CUDA generators (one per process, shared by all threads). The seed
 * must be an integer in [0, 2^53-1]; anything else is a RangeError.
 */
export function manualSeed(seed: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`manualSeed: seed must be an integer in [0, 2^53-1], got ${seed}`);
  }
  okStatus("dg_manual_seed", lib().dg_manual_seed(seed));
}

/** Sets libtorch's intra-op thread count. */
export function setNumThreads(n: number): void {
  okStatus("dg_set_num_threads", lib().dg_set_num_threads(n));
}

/** libtorch's intra-op thread count. */
export function getNumThreads(): number {
  return okStatus("dg_get_num_threads", lib().dg_get_num_threads());
}

/** The libtorch version the shim was compiled against, and its C++ ABI flag. */
export function torchBuildInfo(): { version: string; cxx11Abi: number } {
  return { version: cString(lib().dg_torch_version()), cxx11Abi: lib().dg_cxx11_abi() };
}

/** CUDA queries of the loaded libtorch. */
export interface CudaQueries {
  /** Whether a CUDA device can be used. */
  isAvailable(): boolean;
  /** Number of CUDA devices. */
  deviceCount(): number;
  /** Waits for all work on a CUDA device. */
  synchronize(index?: number): void;
  /**
   * Caching-allocator bytes of a device: allocated now and the peak since the last reset
   * (`reset` resets it after reading). A TorchError on a shim built without CUDA (docs/gpu.md).
   */
  memory(index?: number, reset?: boolean): { allocated: number; peak: number };
}

/** CUDA queries. */
export const cuda: CudaQueries = {
  isAvailable(): boolean {
    return okStatus("dg_cuda_is_available", lib().dg_cuda_is_available()) === 1;
  },
  deviceCount(): number {
    return okStatus("dg_cuda_device_count", lib().dg_cuda_device_count());
  },
  synchronize(index = 0): void {
    okStatus("dg_cuda_synchronize", lib().dg_cuda_synchronize(index));
  },
  memory(index = 0, reset = false): { allocated: number; peak: number } {
    const out = new Float64Array(2);
    okStatus("dg_cuda_memory", lib().dg_cuda_memory(index, reset ? 1 : 0, out));
    return { allocated: out[0], peak: out[1] };
  },
};

/**
 * Allows (or, the default, forbids) TF32 for float32 matmuls and convolutions on CUDA: faster on
 * Ampere and later, with a 10-bit mantissa in the products. No effect on a CPU.
 */
export function setTf32(on: boolean): void {
  okStatus("dg_set_tf32", lib().dg_set_tf32(on ? 1 : 0));
}

/** Counter readings of {@link countOps}: top-level ATen ops and shim device→host reads. */
export interface OpCounts {
  /**
   * Top-level ATen ops: RecordFunction calls of scope FUNCTION started while no other one runs on
   * the same thread (an op's internal calls, e.g. linear → matmul → mm, count once).
   */
  ops: number;
  /** Device→host reads through the shim (`item`, `toNumbers`, `toArray`, …). */
  hostReads: number;
}

/**
 * Runs `fn` with op counting on and returns its result with the ops and host reads it made.
 * Counting is process-wide (a global RecordFunction callback, docs/ffi.md "Counting"), so ops of
 * other threads running meanwhile count too; it costs a callback per op, so measure time apart.
 */
export function countOps<T>(fn: () => T): { result: T; counts: OpCounts } {
  const l = lib();
  okStatus("dg_count_ops", l.dg_count_ops(1));
  const ops0 = l.dg_op_count(), reads0 = l.dg_host_read_count();
  try {
    const result = fn();
    const counts = { ops: l.dg_op_count() - ops0, hostReads: l.dg_host_read_count() - reads0 };
    return { result, counts };
  } finally {
    okStatus("dg_count_ops", l.dg_count_ops(0));
  }
}
