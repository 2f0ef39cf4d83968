/**
 * Rotary position embedding, HF `rotate_half` convention (non-interleaved halves), with optional
 * linear scaling (positions / factor, implemented as inv_freq / factor exactly as HF does).
 *
 * Bit-level notes: inv_freq is computed in float32; angles `pos · inv_freq` are float32 products;
 * cos/sin are computed in float32 and then cast to the activation dtype (HF's order).
 * `rotate_half(x)·sin` is computed as `cat(x2, x1)·cat(−sin, sin)`, which is the same numbers
 * (negation is exact) with one op fewer.
 *
 * @module
 */

import { cat, type Device, type DType, type Tensor, tensor } from "../../ffi/mod.ts";
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

/**
 * Build the tables for integer `positions` [B, S] (any integer or float dtype).
 * @param invFreq float32 tensor [d/2] on the target device
 * @param dtype activation dtype to cast the tables to
 */
export function ropeTables(positions: Tensor, invFreq: Tensor, dtype: DType): RopeTables {
  const pos = positions.to("f32").unsqueeze(-1); // [B,S,1]
  const freqs = pos.mul(invFreq); // [B,S,d/2] float32
  let c = freqs.cos();
  let s = freqs.sin();
  if (dtype !== "f32") {
    c = c.to(dtype);
    s = s.to(dtype);
  }
  return {
    cos: cat([c, c], -1).unsqueeze(1),
    sinSigned: cat([s.neg(), s], -1).unsqueeze(1),
  };
}

/** `x·cos + rotate_half(x)·sin` for x [B, heads, S, d]. */
export function applyRope(x: Tensor, t: RopeTables): Tensor {
  const half = x.shape[x.ndim - 1] / 2;
  const swapped = cat([x.narrow(-1, half, half), x.narrow(-1, 0, half)], -1);
  return x.mul(t.cos).add(swapped.mul(t.sinSigned));
}

/** Upload {@link ropeInvFreq} to a device as a float32 tensor. */
export function invFreqTensor(cfg: ModelConfig, device: Device): Tensor {
  return tensor(ropeInvFreq(cfg), undefined, { dtype: "f32", device });
}
