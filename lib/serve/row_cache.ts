/**
 * A KV cache whose rows join and leave: the continuous-batching layer on top of lib/model's
 * {@link KVCache} (which keeps one shared `length` for a fixed batch).
 *
 * Every row is right-aligned at the shared length L: row r's `len` valid positions sit at
 * [L − len, L) and the positions before them are zeroed padding that the attention mask hides (the
 * left-padded layout lib/model's `generate` uses, so a row decodes exactly as it would alone).
 * Whenever the set of rows changes, {@link RowCache.rebuild} copies the surviving rows and the
 * newly prefilled ones into a fresh cache sized for them: padding never accumulates and the decode
 * step only ever computes live rows.
 * @module
 */
import { type Tensor, tensor, tidy, zeros } from "../../ffi/mod.ts";
import { KVCache } from "./deps.ts";
import type { DecoderLM } from "./deps.ts";

/** Where a row's keys/values come from in a rebuild: row `row` of `src`, its last `len` positions. */
export interface RowSource {
  /** The cache holding the row (the current batch cache or a prefill cache). */
  src: KVCache;
  /** Row index in `src`. */
  row: number;
  /** Valid positions of the row, right-aligned at `src.length`. */
  len: number;
}

/** The batch cache of the running rows. */
export class RowCache implements Disposable {
  readonly #model: DecoderLM;
  #cache: KVCache | null = null;
  #lens: number[] = [];

  /** @param model the decoder whose config, dtype and device size the buffers */
  constructor(model: DecoderLM) {
    this.#model = model;
  }

  /** The underlying cache (null while empty). */
  get cache(): KVCache | null {
    return this.#cache;
  }

  /** Valid positions per row, in row order. */
  get lens(): readonly number[] {
    return this.#lens;
  }

  /** Whether one more position fits without a rebuild. */
  get hasRoom(): boolean {
    return this.#cache !== null && this.#cache.length < this.#cache.maxLen;
  }

  /**
   * Replaces the batch by `rows` (in this order), with room for `extra` more positions per row.
   * Sources may be this cache itself (surviving rows) or prefill caches (joining rows, which the
   * caller disposes afterwards).
   */
  rebuild(rows: readonly RowSource[], extra: number): void {
    const old = this.#cache;
    if (rows.length === 0) {
      old?.dispose();
      this.#cache = null;
      this.#lens = [];
      return;
    }
    const m = this.#model;
    const L = Math.max(...rows.map((r) => r.len));
    const next = new KVCache(m.config, rows.length, L + Math.max(extra, 1), m.dtype, m.device);
    try {
      tidy(() => {
        const zero = zeros([1], { dtype: m.dtype, device: m.device });
        for (const buf of [...next.k, ...next.v]) buf.narrow(2, 0, L).copy_(zero);
        rows.forEach((r, i) => {
          if (r.len > r.src.length) {
            throw new RangeError(`row source has ${r.src.length} positions, ${r.len} requested`);
          }
          for (const [dst, src] of [[next.k, r.src.k], [next.v, r.src.v]] as const) {
            dst.forEach((buf, layer) => {
              buf.narrow(0, i, 1).narrow(2, L - r.len, r.len).copy_(
                src[layer].narrow(0, r.row, 1).narrow(2, r.src.length - r.len, r.len),
              );
            });
          }
        });
      });
    } catch (e) {
      next.dispose();
      throw e;
    }
    next.length = L;
    old?.dispose();
    this.#cache = next;
    this.#lens = rows.map((r) => r.len);
  }

  /**
   * Attention mask [B, L + 1] (i64, on the model's device) for a decode step feeding one token per
   * row: each row sees its own valid positions and the new one.
   */
  stepMask(): Tensor {
    const c = this.#need();
    const W = c.length + 1;
    const host = new BigInt64Array(this.#lens.length * W);
    this.#lens.forEach((len, i) => host.fill(1n, i * W + W - 1 - len, (i + 1) * W));
    return tensor(host, [this.#lens.length, W], { dtype: "i64", device: this.#model.device });
  }

  /** Records that a decode step appended one position to every row (the model advanced `length`). */
  advanced(): void {
    this.#lens = this.#lens.map((l) => l + 1);
  }

  #need(): KVCache {
    if (this.#cache === null) throw new Error("RowCache is empty");
    return this.#cache;
  }

  /** Frees the buffers. */
  dispose(): void {
    this.#cache?.dispose();
    this.#cache = null;
    this.#lens = [];
  }

  /** `using` support. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}
