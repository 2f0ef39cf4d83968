/**
 * Preallocated key/value cache: per layer one K and one V buffer of shape
 * [B, kvHeads, maxLen, headDim]. A forward writes its new keys/values into positions
 * [length, length + S) in place (one `index_copy_` each, the index shared by all layers of the
 * forward) and attends over the view [0, length + S): no per-step concatenation of the whole
 * cache.
 *
 * @module
 */

import { arange, type Device, type DType, empty, type Tensor } from "../../ffi/mod.ts";
import type { ModelConfig } from "./config.ts";

/** Where a forward's attention layers put their new keys/values (a KV cache). */
export interface KVWriter {
  /**
   * Store `k`, `v` ([B, K, S, d]) of `layer` and return the keys and values to attend over
   * ([B, K, L, d], the new ones included).
   */
  update(layer: number, k: Tensor, v: Tensor): [Tensor, Tensor];
}

/** A preallocated KV cache for one batch. Dispose it when done. */
export class KVCache implements KVWriter, Disposable {
  /** Per-layer key buffers [B, K, maxLen, d]. */
  readonly k: Tensor[];
  /** Per-layer value buffers [B, K, maxLen, d]. */
  readonly v: Tensor[];
  /** Capacity in positions. */
  readonly maxLen: number;
  /** Batch size. */
  readonly batch: number;
  /** Positions filled so far (advanced after each forward: by the model, or the static step). */
  length = 0;
  /** The write index [length, length + S) of the current forward, built once for all layers. */
  #slot: { start: number; size: number; index: Tensor } | null = null;

  /**
   * Allocate the buffers (uninitialised; only written positions are ever read).
   * @param cfg model config (layers, kv heads, head_dim)
   * @param batch batch size
   * @param maxLen capacity (prompt + new tokens)
   * @param dtype activation dtype
   * @param device device
   */
  constructor(cfg: ModelConfig, batch: number, maxLen: number, dtype: DType, device: Device) {
    this.batch = batch;
    this.maxLen = maxLen;
    const shape = [batch, cfg.numKvHeads, maxLen, cfg.headDim];
    this.k = [];
    this.v = [];
    for (let i = 0; i < cfg.numLayers; i++) {
      this.k.push(empty(shape, { dtype, device }).keep());
      this.v.push(empty(shape, { dtype, device }).keep());
    }
  }

  /**
   * Write `k`, `v` ([B, K, S, d]) of `layer` at the current length and return views over
   * positions [0, length + S). Does not advance `length` (the model does, once per forward).
   */
  update(layer: number, k: Tensor, v: Tensor): [Tensor, Tensor] {
    const s = k.shape[2];
    const end = this.length + s;
    if (end > this.maxLen) {
      throw new RangeError(`KV cache overflow: ${end} positions > capacity ${this.maxLen}`);
    }
    const index = this.#index(s);
    this.k[layer].indexCopy_(2, index, k);
    this.v[layer].indexCopy_(2, index, v);
    return [this.k[layer].narrow(2, 0, end), this.v[layer].narrow(2, 0, end)];
  }

  #index(size: number): Tensor {
    const slot = this.#slot;
    if (slot && slot.start === this.length && slot.size === size) return slot.index;
    slot?.index.dispose();
    const device = this.k[0]?.device ?? "cpu";
    const index = arange(this.length, this.length + size, 1, { dtype: "i64", device }).keep();
    this.#slot = { start: this.length, size, index };
    return index;
  }

  /**
   * Start the cache with given past keys/values (a learned prefix, SVEN's): per layer `k[l]`,
   * `v[l]` of shape [K, P, d] (shared by every row) or [B, K, P, d] go to positions [0, P), and
   * the length becomes P. The copy is differentiable, so a forward after it trains the past.
   */
  prefill(k: readonly Tensor[], v: readonly Tensor[]): void {
    if (k.length !== this.k.length || v.length !== this.v.length) {
      throw new RangeError(`prefill: ${k.length} layers of past, the cache has ${this.k.length}`);
    }
    const len = k[0].shape[k[0].shape.length - 2];
    if (len > this.maxLen) throw new RangeError(`prefill: ${len} positions > ${this.maxLen}`);
    for (const [dst, src] of [[this.k, k], [this.v, v]] as const) {
      dst.forEach((buf, layer) => {
        const view = buf.narrow(2, 0, len);
        view.copy_(src[layer]);
        view.dispose();
      });
    }
    this.length = len;
  }

  /**
   * Fill positions [0, prefix.length) of this cache with `prefix`'s rows, each repeated `n`
   * times consecutively (row r of `prefix` → rows r·n … r·n+n−1), and take over its length.
   * Used to prefill each distinct prompt once and then decode n samples of it.
   */
  fillRepeated(prefix: KVCache, n: number): void {
    if (prefix.batch * n !== this.batch) {
      throw new RangeError(`fillRepeated: ${prefix.batch} rows × ${n} ≠ batch ${this.batch}`);
    }
    if (prefix.length > this.maxLen) {
      throw new RangeError(`fillRepeated: ${prefix.length} positions > capacity ${this.maxLen}`);
    }
    const len = prefix.length;
    for (const [dst, src] of [[this.k, prefix.k], [this.v, prefix.v]]) {
      dst.forEach((buf, layer) => {
        const rows = src[layer].narrow(2, 0, len);
        const repeated = rows.repeatInterleave(n, 0);
        buf.narrow(2, 0, len).copy_(repeated);
        repeated.dispose();
        rows.dispose();
      });
    }
    this.length = len;
  }

  /** Free the buffers. */
  dispose(): void {
    for (const t of [...this.k, ...this.v]) if (!t.isDisposed) t.dispose();
    this.#slot?.index.dispose();
    this.#slot = null;
  }

  /** `using` support. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}
