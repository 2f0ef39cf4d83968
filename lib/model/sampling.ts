/**
 * Logits warpers in HF's order (temperature → top-k → top-p) and token selection.
 * All functions take and return float32 scores [B, V]; removed entries become −∞.
 *
 * @module
 */

import { cat, multinomial, type Tensor, zeros } from "../../ffi/mod.ts";

/** Sampling knobs. */
export interface SamplingOptions {
  /** Sample (true) or take the argmax (false, default). */
  doSample?: boolean;
  /** Divide scores by this (default 1 = off). */
  temperature?: number;
  /** Keep the k best tokens (default 50, as HF's GenerationConfig; 0 = off). */
  topK?: number;
  /** Keep the smallest set of best tokens whose probability reaches p (default 1 = off). */
  topP?: number;
}

/** scores / t (HF TemperatureLogitsWarper; skipped when t = 1). */
export function temperatureWarp(scores: Tensor, t: number): Tensor {
  if (!(t > 0)) throw new RangeError(`temperature must be > 0, got ${t}`);
  return t === 1 ? scores : scores.div(t);
}

/** Mask every score below the k-th largest (HF TopKLogitsWarper; at least one kept). */
export function topKWarp(scores: Tensor, k: number): Tensor {
  const V = scores.shape[scores.ndim - 1];
  const kk = Math.min(Math.max(k, 1), V);
  if (k <= 0 || kk >= V) return scores;
  const kth = scores.topk(kk, -1).values.narrow(-1, kk - 1, 1);
  return scores.maskedFill(scores.lt(kth), -Infinity);
}

/**
 * Nucleus filtering (HF TopPLogitsWarper): sort ascending, remove tokens whose cumulative
 * probability is ≤ 1 − p, always keep the best token.
 */
export function topPWarp(scores: Tensor, p: number): Tensor {
  if (!(p > 0 && p <= 1)) throw new RangeError(`top_p must be in (0, 1], got ${p}`);
  if (p === 1) return scores;
  const { values, indices } = scores.sort(-1, false);
  const V = scores.shape[scores.ndim - 1];
  const remove = values.softmax(-1).cumsum(-1).le(1 - p);
  const keepBest = zeros([...scores.shape.slice(0, -1), 1], {
    dtype: "bool",
    device: scores.device,
  });
  const sortedRemove = cat([remove.narrow(-1, 0, V - 1), keepBest], -1);
  return scores.maskedFill(sortedRemove.scatter(-1, indices, sortedRemove), -Infinity);
}

/** Apply temperature → top-k → top-p (only the enabled ones), as HF does when sampling. */
export function warp(scores: Tensor, o: SamplingOptions): Tensor {
  let s = temperatureWarp(scores, o.temperature ?? 1);
  s = topKWarp(s, o.topK ?? 50);
  return topPWarp(s, o.topP ?? 1);
}

/** Pick the next token per row: argmax, or a multinomial draw from softmax(scores). */
export function selectTokens(scores: Tensor, doSample: boolean): Tensor {
  if (!doSample) return scores.argmax(-1);
  return multinomial(scores.softmax(-1), 1).squeeze(-1);
}
