/**
 * The decode step in static form: the same forward as the normal decode step of `generate`, with
 * nothing in it that changes shape or host value from one token to the next, so that a CUDA graph
 * can capture it once and replay it per token.
 *
 * The normal step attends over the growing view [0, length) of the KV cache, writes at an index
 * made from the host's length, and builds (or skips) the mask from what the host knows. The
 * static step instead reads everything that changes per token from fixed device buffers:
 *
 * - the token ids [B,1], copied in before each step;
 * - one i64 buffer of B+1 counters: the RoPE positions [B,1] (per row: left padding shifts them)
 *   and the cache slot [1] the token is written at, both advanced by one after each step;
 * - the KV write is `index_copy_` at the slot tensor, and attention runs over the whole cache
 *   capacity [0, maxLen) with an additive mask made on the device: position j is allowed when
 *   j ≤ slot and j is not left padding (the padding mask, fixed for the whole generation);
 * - the RoPE rows are gathered at the device positions from the model's prebuilt tables.
 *
 * Positions past the slot are masked (finfo.min added, exactly zero after softmax), but they are
 * read, so the cache is zeroed past what the prefill wrote: uninitialised memory could hold NaN,
 * and NaN · 0 is NaN. The logits equal the normal step's up to the order of floating-point sums
 * (checked to 1e-5 in float32 in tests/model_static_step.test.ts).
 *
 * With `graph`, the first step runs eagerly on the graph's side stream (warm-up: library handles,
 * the RoPE tables, allocator pools), is then captured, and every step replays the capture; the
 * sampling after it stays outside the graph. A capture that fails leaves the step eager and says
 * why in {@link StaticDecodeStep.cudaGraphs}.
 *
 * @module
 */

import {
  arange,
  CudaGraph,
  cudaGraphsAvailable,
  type Device,
  full,
  type Tensor,
  tidy,
  zeros,
} from "../../ffi/mod.ts";
import type { KVCache, KVWriter } from "./kv_cache.ts";
import { type DecoderLM, FINFO_MIN } from "./qwen_llama.ts";

/**
 * Why a CUDA graph cannot run on `device` with this shim, or null when it can: graphs need a CUDA
 * device and a shim built with them (docs/gpu.md).
 */
export function cudaGraphsOff(device: Device): string | null {
  if (device === "cpu") return "the model is on the CPU (CUDA graphs need a CUDA device)";
  if (!cudaGraphsAvailable()) {
    return "the shim was built without CUDA graphs (no CUDA runtime headers; see docs/gpu.md)";
  }
  return null;
}

/** Options of {@link StaticDecodeStep}. */
export interface StaticStepOptions {
  /** RoPE positions of the first token the step is fed, [B,1] i64 on the model's device. */
  positions: Tensor;
  /**
   * 1/0 mask [B, cache.maxLen] of the positions each row may attend (0: left padding, the learned
   * past and everything else 1), or null when no row is padded.
   */
  attentionMask: Tensor | null;
  /** Capture the step in a CUDA graph and replay it (a CUDA device; see {@link cudaGraphsOff}). */
  graph?: boolean;
}

/**
 * One generation's decode step in static form, over a prefilled `cache` (its `length` is the slot
 * of the first token fed). Owns its buffers and graph; dispose it before the cache.
 */
export class StaticDecodeStep implements Disposable {
  readonly #model: DecoderLM;
  readonly #cache: KVCache;
  readonly #batch: number;
  /** Token ids [B,1]. */
  readonly #ids: Tensor;
  /** Counters [B+1,1] i64: the rows' positions, then the cache slot; advanced after each step. */
  readonly #counters: Tensor;
  readonly #positions: Tensor;
  readonly #slot: Tensor;
  readonly #one: Tensor;
  /** Cache positions [maxLen] (i64), compared with the slot for the causal part of the mask. */
  readonly #keyPositions: Tensor;
  /** Not-padding [B,1,1,maxLen] (bool), or null when no row is padded. */
  readonly #notPadding: Tensor | null;
  readonly #writer: KVWriter;
  #graph: CudaGraph | null = null;
  #graphOut: Tensor | null = null;
  #cudaGraphs: string | null = null;

  /** Allocates the buffers and zeroes the cache past its length (see the module notes). */
  constructor(model: DecoderLM, cache: KVCache, opts: StaticStepOptions) {
    const B = cache.batch, W = cache.maxLen, device = model.device;
    if (opts.positions.shape.join() !== `${B},1`) {
      throw new RangeError(`StaticDecodeStep: positions [${opts.positions.shape}], want [${B}, 1]`);
    }
    if (opts.attentionMask && opts.attentionMask.shape.join() !== `${B},${W}`) {
      throw new RangeError(
        `StaticDecodeStep: attentionMask [${opts.attentionMask.shape}], want [${B}, ${W}]`,
      );
    }
    this.#model = model;
    this.#cache = cache;
    this.#batch = B;
    if (opts.graph) {
      this.#graph = new CudaGraph(device); // first: it may throw, and owns no tensor
      this.#cudaGraphs = "on";
    }
    const i64 = { dtype: "i64", device } as const;
    [this.#ids, this.#counters, this.#one, this.#keyPositions, this.#notPadding] = tidy(() => {
      const counters = zeros([B + 1, 1], i64);
      counters.narrow(0, 0, B).copy_(opts.positions);
      counters.narrow(0, B, 1).copy_(full([], cache.length, i64));
      const notPadding = opts.attentionMask?.ne(0).view([B, 1, 1, W]) ?? null;
      const zero = zeros([], { dtype: model.dtype, device });
      for (const buf of [...cache.k, ...cache.v]) {
        buf.narrow(2, cache.length, W - cache.length).copy_(zero);
      }
      return [zeros([B, 1], i64), counters, full([], 1, i64), arange(0, W, 1, i64), notPadding]
        .map((t) => t?.keep() ?? null) as [Tensor, Tensor, Tensor, Tensor, Tensor | null];
    });
    this.#positions = this.#counters.narrow(0, 0, B).keep();
    this.#slot = tidy(() => this.#counters.narrow(0, B, 1).view([1])).keep();
    this.#writer = {
      update: (layer, k, v) => {
        cache.k[layer].indexCopy_(2, this.#slot, k);
        cache.v[layer].indexCopy_(2, this.#slot, v);
        return [cache.k[layer], cache.v[layer]];
      },
    };
  }

  /**
   * "on" while the step runs as a CUDA graph, "off: <reason>" after a failed capture, null when no
   * graph was asked for.
   */
  get cudaGraphs(): string | null {
    return this.#cudaGraphs;
  }

  /**
   * Next-token logits [B, V] (the model's dtype) for the tokens `ids` [B] (i64, on the device),
   * then the positions, the slot and `cache.length` advance by one. In graph mode the result is a
   * view of the graph's output, rewritten by the next step: read it before calling again.
   */
  step(ids: Tensor): Tensor {
    const B = this.#batch;
    if (this.#cache.length >= this.#cache.maxLen) {
      throw new RangeError(`KV cache overflow: slot ${this.#cache.length} ≥ ${this.#cache.maxLen}`);
    }
    this.#ids.copy_(ids.view([B, 1]));
    let out: Tensor;
    if (this.#graph && !this.#graphOut) this.#capture();
    if (this.#graph && this.#graphOut) {
      this.#graph.replay();
      out = this.#graphOut.view(this.#graphOut.shape);
    } else {
      out = this.#forward();
    }
    this.#counters.copy_(this.#counters.add(this.#one));
    this.#cache.length += 1;
    return out;
  }

  /** Free the buffers and the graph (not the cache). */
  dispose(): void {
    const owned = [this.#graphOut, this.#ids, this.#counters, this.#positions, this.#slot];
    for (const t of [...owned, this.#one, this.#keyPositions, this.#notPadding]) {
      if (t && !t.isDisposed) t.dispose();
    }
    this.#graph?.dispose();
    this.#graph = this.#graphOut = null;
  }

  /** `using` support. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Warm-up, then capture; on failure, back to eager steps with the reason. */
  #capture(): void {
    const graph = this.#graph!;
    try {
      tidy(() => void graph.warmUp(() => this.#forward()));
      this.#graphOut = tidy(() => graph.capture(() => this.#forward())).keep();
    } catch (e) {
      graph.dispose();
      this.#graph = null;
      this.#cudaGraphs = `off: capture failed: ${(e as Error).message}`;
    }
  }

  /** The forward of one token from the fixed buffers: what the graph captures. */
  #forward(): Tensor {
    const m = this.#model, W = this.#cache.maxLen, device = m.device;
    return tidy(() => {
      const causal = this.#keyPositions.le(this.#slot); // [W]
      const allowed = this.#notPadding?.logicalAnd(causal) ?? causal.view([1, 1, 1, W]);
      const mask = zeros(allowed.shape, { dtype: m.dtype, device })
        .maskedFill(allowed.logicalNot(), FINFO_MIN[m.dtype]);
      const rope = m.ropeTables(this.#positions, W);
      const ctx = { rope, mask, isCausal: false, cache: this.#writer };
      const [h] = m.runLayers(this.#ids, ctx);
      return m.lmHead(h).view([this.#batch, -1]);
    });
  }
}
