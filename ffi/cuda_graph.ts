/**
 * CUDA graphs (`at::cuda::CUDAGraph`): record a fixed sequence of kernels once and launch it again
 * with one call, which saves the per-op launch and host overhead of a small step (a decode step
 * of one token is hundreds of short kernels). A graph replays the same kernels on the same memory
 * with the same scalars, so whatever changes between replays must be written into tensors the
 * graph reads (fixed input buffers) before each replay, and its outputs are the tensors made
 * during the capture, overwritten by every replay.
 *
 * The shim has graphs only when it was built with the CUDA headers (`DG_CUDA`, docs/gpu.md) and
 * libtorch ships `ATen/cuda/CUDAGraph.h`: {@link cudaGraphsAvailable} says so; otherwise creating
 * a graph is a `TorchError` ("built without CUDA graphs").
 * @module
 */
import { lib, ok, okStatus } from "./bindings.ts";
import { type Device, deviceCode } from "./dtype.ts";
import { DeviceError } from "./errors.ts";

/** Whether this shim was built with CUDA graphs (a property of the build, not of the machine). */
export function cudaGraphsAvailable(): boolean {
  return lib().dg_cuda_graphs_available() === 1;
}

/**
 * One CUDA graph of one device and the side stream it is warmed up and captured on (CUDA cannot
 * capture the default stream). Capture memory comes from the graph's private pool, which lives as
 * long as the graph or a tensor made during the capture. Dispose the graph when done.
 */
export class CudaGraph implements Disposable {
  #ptr: Deno.PointerObject | null;
  #captured = false;

  /**
   * A new, empty graph on `device` (a CUDA device). A DeviceError for a CPU device; a TorchError
   * when the shim has no CUDA graphs or the device does not exist.
   */
  constructor(device: Device) {
    const [type, index] = deviceCode(device);
    if (type !== 1) throw new DeviceError(`CUDA graphs need a CUDA device, not "${device}"`);
    this.#ptr = ok("dg_cuda_graph_new", lib().dg_cuda_graph_new(index));
  }

  /** Whether {@link capture} has succeeded (replays are allowed). */
  get captured(): boolean {
    return this.#captured;
  }

  /**
   * Runs `fn` eagerly on the graph's side stream: the warm-up before a capture, so that lazy
   * initialisation (library handles, workspaces) happens outside the graph, on the stream the
   * capture will use.
   */
  warmUp<T>(fn: () => T): T {
    return this.#onSideStream(false, fn);
  }

  /**
   * Records the kernels `fn` launches into the graph (they do not run now) and returns what `fn`
   * returns: tensors made during the capture, which every {@link replay} rewrites. `fn` must not
   * read device values to the host or create tensors from host data.
   */
  capture<T>(fn: () => T): T {
    const out = this.#onSideStream(true, fn);
    this.#captured = true;
    return out;
  }

  /** Launches the captured kernels on the current stream. */
  replay(): void {
    okStatus("dg_cuda_graph_replay", lib().dg_cuda_graph_replay(this.#handle()));
  }

  /** Frees the graph (and, once no tensor of the capture is left, its memory pool). */
  dispose(): void {
    if (this.#ptr === null) return;
    const p = this.#ptr;
    this.#ptr = null;
    okStatus("dg_cuda_graph_free", lib().dg_cuda_graph_free(p));
  }

  /** `using` support. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  #onSideStream<T>(capture: boolean, fn: () => T): T {
    const p = this.#handle();
    okStatus("dg_cuda_graph_begin", lib().dg_cuda_graph_begin(p, capture ? 1 : 0));
    let out: T;
    try {
      out = fn();
    } catch (e) {
      lib().dg_cuda_graph_end(p); // restores the stream; fn's error is the one to report
      throw e;
    }
    okStatus("dg_cuda_graph_end", lib().dg_cuda_graph_end(p));
    return out;
  }

  #handle(): Deno.PointerObject {
    if (this.#ptr === null) throw new TypeError("CudaGraph: used after dispose()");
    return this.#ptr;
  }
}
