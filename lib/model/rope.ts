/**
 * Rotary position embedding, HF `rotate_half` convention (non-interleaved halves), with optional
 * linear scaling (positions / factor, implemented as inv_freq / factor exactly as HF does).
 *
 * Bit-level notes: inv_freq is computed in float32; angles `pos · inv_freq` are float32 products;
 * cos/sin are computed in float32 and then cast to the activation dtype (HF's order).
 * `rotate_half(x)·sin` is computed as `roll(x, d/2)·cat(−sin, sin)` (`roll` by half the width is
 * `cat(x2, x1)`), which is the same numbers (negation is exact) in two ops instead of four.
 *
 * The tables are computed once per model for positions [0, n) ({@link RopeCache}) and looked up
 * per forward (one `embedding` op per table): the same elementwise numbers as computing them from
 * the forward's positions, without the ~10 ops a step that took.
 *
 * @module
 */

import {
  arange,
  cat,
  type Device,
  type DType,
  embedding,
  type Tensor,
  tensor,
  tidy,
} from "../../ffi/mod.ts";
import type { ModelConfig } from "./config.ts";

/** `inv_freq[j] = 1 / theta^(2j/d)` (float32), divided by the linear factor when set. */
export function ropeInvFreq(cfg: ModelConfig): Float32Array {
  const d = cfg.headDim;
  const out = new Float32Array(d / 2);
  const base = Math.fround(cfg.ropeTheta);
  for (let j = 0; j < d / 2; j++) {
    const expo = Math.fround(Math.fround(2 * j) / d);
    const inv = Math.fround(1 / Math.fround(Math.pow(base, expo)));
    out[j] = cfg.ropeScaling.type === "linear" ? Math.fround(inv / cfg.ropeScaling.factor) : inv;
  }
  return out;
}

/** cos and signed sin tables for a batch of positions, shaped [B, 1, S, d] for broadcasting. */
export interface RopeTables {
  /** cos(emb), [B,1,S,d]. */
  cos: Tensor;
  /** cat(−sin(freqs), sin(freqs)), [B,1,S,d]. */
  sinSigned: Tensor;
}

/** Positions the tables are built for up front, at most (see {@link RopeCache}). */
export const ROPE_PREBUILT = 32768;

/**
 * cos and signed-sin rows [n, d] for positions [0, n) from float32 positions [n] (HF's order:
 * float32 angles, cos/sin in float32, then the cast).
 */
function tableRows(positions: Tensor, invFreq: Tensor, dtype: DType): [Tensor, Tensor] {
  const freqs = positions.unsqueeze(-1).mul(invFreq); // [n,d/2] float32
  let c = freqs.cos();
  let s = freqs.sin();
  if (dtype !== "f32") {
    c = c.to(dtype);
    s = s.to(dtype);
  }
  return [cat([c, c], -1), cat([s.neg(), s], -1)];
}

/**
 * Build the tables for integer `positions` [B, S] (any integer or float dtype) directly, without
 * a cache.
 * @param invFreq float32 tensor [d/2] on the target device
 * @param dtype activation dtype to cast the tables to
 */
export function ropeTables(positions: Tensor, invFreq: Tensor, dtype: DType): RopeTables {
  const [cos, sinSigned] = tableRows(positions.to("f32"), invFreq, dtype);
  return { cos: cos.unsqueeze(1), sinSigned: sinSigned.unsqueeze(1) };
}

/**
 * The model's RoPE tables for positions [0, length), computed when the model is built (for
 * `max_position_embeddings` positions, at most {@link ROPE_PREBUILT}: 16 MB in float32 at
 * head_dim 64) and grown (rebuilt, rounded up to a multiple of 256) only when a forward needs a
 * position past the end. Owns its tensors.
 */
export class RopeCache {
  readonly #invFreq: Tensor;
  readonly #dtype: DType;
  #cos: Tensor | null = null;
  #sin: Tensor | null = null;
  #length = 0;

  /**
   * @param invFreq float32 tensor [d/2] on the target device (the cache takes ownership)
   * @param dtype activation dtype of the tables
   * @param length positions to build up front (`max_position_embeddings`)
   */
  constructor(invFreq: Tensor, dtype: DType, length: number) {
    this.#invFreq = invFreq.keep();
    this.#dtype = dtype;
    this.#grow(Math.min(length, ROPE_PREBUILT));
  }

  /** Positions the tables cover now. */
  get length(): number {
    return this.#length;
  }

  /**
   * Tables for integer `positions` [B, S] (i64), every one below `bound` (the caller knows a
   * bound: the KV cache's capacity, the largest listed position + 1, …; a position at or past the
   * tables' end is libtorch's index error, not a wrong rotation).
   */
  tables(positions: Tensor, bound: number): RopeTables {
    if (bound > this.#length) this.#grow(Math.ceil(bound / 256) * 256);
    return {
      cos: embedding(this.#cos!, positions).unsqueeze(1),
      sinSigned: embedding(this.#sin!, positions).unsqueeze(1),
    };
  }

  #grow(length: number): void {
    const [c, s] = tidy(() => {
      const pos = arange(0, length, 1, { dtype: "f32", device: this.#invFreq.device });
      return tableRows(pos, this.#invFreq, this.#dtype).map((t) => t.keep());
    });
    this.dispose(false);
    this.#cos = c;
    this.#sin = s;
    this.#length = length;
  }

  /** Free the tables (and, unless `all` is false, the inverse frequencies). */
  dispose(all = true): void {
    for (const t of [this.#cos, this.#sin, all ? this.#invFreq : null]) {
      if (t && !t.isDisposed) t.dispose();
    }
    this.#cos = this.#sin = null;
    this.#length = 0;
  }
}

/** `x·cos + rotate_half(x)·sin` for x [B, heads, S, d]: four ops. */
export function applyRope(x: Tensor, t: RopeTables): Tensor {
  const swapped = x.roll(x.shape[x.ndim - 1] / 2, -1);
  return x.mul(t.cos).add(swapped.mul(t.sinSigned));
}

/** Upload {@link ropeInvFreq} to a device as a float32 tensor. */
export function invFreqTensor(cfg: ModelConfig, device: Device): Tensor {
  return tensor(ropeInvFreq(cfg), undefined, { dtype: "f32", device });
}
