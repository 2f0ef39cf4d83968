/**
 * The DeepGuard training loss, as pure functions of logits, scores and masks.
 *
 * - gen: next-token cross-entropy on the secure side (logits[:, :-1] vs ids[:, 1:], targets whose
 *   mask[:, 1:] is 0 ignored, mean over the rest), in f32;
 * - sec: relu(margin − (s_sec − s_vul)), s = mean analyzer score over the real tokens (mask 1) of
 *   the whole batch (`pooling: "real"`), or over every position, padding included (`"all"`:
 *   upstream's `scores.mean()`, deepguard/train.py:234);
 * - kl: mean over real secure tokens of KL(p_ref ‖ p_cur) = Σ p_ref (log p_ref − log p_cur)
 *   (log-softmax in f32; with `klEps` ε > 0 upstream's form Σ p_ref (log(p_ref + ε) − log(p_cur + ε))
 *   from softmax probabilities, deepguard/train.py:256-259), clamped at `klClamp`;
 * - total = gen + secWeight·sec + klWeight·kl.
 *
 * gen and kl read the same f32 log-softmax of the current logits ({@link logProbs}), computed once
 * (and differentiated once) per step.
 * @module
 */
import type { Tensor } from "../../ffi/mod.ts";

/** Weights and constants of the loss (DeepGuard's defaults in {@link DEFAULT_LOSS}). */
export interface LossWeights {
  /** Hinge margin between secure and vulnerable mean scores. */
  margin: number;
  /** Weight of the security hinge. */
  secWeight: number;
  /** Weight of the KL term. */
  klWeight: number;
  /** Upper clamp of the KL term. */
  klClamp: number;
  /** Whether the KL term is computed at all. */
  useKl: boolean;
  /** Security-score pooling: `real` tokens only, or `all` positions (padding included, upstream). */
  pooling: ScorePooling;
  /** ε inside the KL's logarithms (0 = exact log-softmax; upstream 1e-8). */
  klEps: number;
}

/** How per-token security scores are averaged into s_sec / s_vul. */
export type ScorePooling = "real" | "all";

/** DeepGuard's loss constants with the `clean` recipe's pooling and exact KL. */
export const DEFAULT_LOSS: Readonly<LossWeights> = {
  margin: 0.5,
  secWeight: 0.5,
  klWeight: 1.0,
  klClamp: 1.0,
  useKl: true,
  pooling: "real",
  klEps: 0,
};

/** Upstream DeepGuard's loss numerics (deepguard/train.py `compute_loss`). */
export const UPSTREAM_LOSS: Readonly<LossWeights> = {
  ...DEFAULT_LOSS,
  pooling: "all",
  klEps: 1e-8,
};

/** Log-softmax over the vocabulary in f32: logits [B,T,V] → log-probabilities [B,T,V]. */
export function logProbs(logits: Tensor): Tensor {
  return (logits.dtype === "f32" ? logits : logits.to("f32")).logSoftmax(-1);
}

/**
 * Next-token cross-entropy from log-probabilities [B,T,V] ({@link logProbs}) and ids/mask [B,T]
 * (i64): −mean of logp[b, t, ids[b, t+1]] over the positions whose mask[b, t+1] is 1 → scalar.
 */
export function generationLoss(logp: Tensor, ids: Tensor, mask: Tensor): Tensor {
  const T = logp.shape[1];
  if (T < 2) throw new RangeError("sequences need at least 2 tokens for next-token loss");
  const valid = mask.narrow(1, 1, T - 1).ne(0);
  const targets = ids.narrow(1, 1, T - 1).maskedFill(valid.logicalNot(), 0);
  const picked = logp.narrow(1, 0, T - 1).gather(2, targets.unsqueeze(2)).squeeze(2);
  return maskedMean(picked, valid).neg();
}

/** Mean of per-token `scores` [B,T] over positions where `mask` is 1 (whole batch). */
export function maskedMean(scores: Tensor, mask: Tensor): Tensor {
  const m = mask.to(scores.dtype);
  return scores.mul(m).sum().div(m.sum());
}

/** s_sec or s_vul: the mean of `scores` [B,T] over real tokens (`mask` 1) or over all positions. */
export function poolScores(scores: Tensor, mask: Tensor, pooling: ScorePooling): Tensor {
  return pooling === "all" ? scores.mean() : maskedMean(scores, mask);
}

/** relu(margin − (sSec − sVul)). */
export function securityLoss(sSec: Tensor, sVul: Tensor, margin: number): Tensor {
  return sSec.sub(sVul).rsub(margin).relu();
}

/**
 * Mean KL(ref ‖ cur) over real tokens, unclamped: reference logits [B,T,V], current
 * log-probabilities [B,T,V] ({@link logProbs}), mask [B,T].
 */
export function klDivergence(refLogits: Tensor, logp: Tensor, mask: Tensor): Tensor {
  const r = logProbs(refLogits);
  const perTok = r.exp().mul(r.sub(logp)).sum(-1);
  return maskedMean(perTok, mask);
}

/**
 * Upstream's KL, unclamped: p = softmax (f32) of reference and current logits [B,T,V],
 * Σ p_ref (log(p_ref + ε) − log(p_cur + ε)) per token, mean over `mask` [B,T].
 */
export function klDivergenceEps(
  refLogits: Tensor,
  logits: Tensor,
  mask: Tensor,
  eps: number,
): Tensor {
  const f32 = (t: Tensor) => (t.dtype === "f32" ? t : t.to("f32"));
  const pRef = f32(refLogits).softmax(-1);
  const pCur = f32(logits).softmax(-1);
  const perTok = pRef.mul(pRef.add(eps).log().sub(pCur.add(eps).log())).sum(-1);
  return maskedMean(perTok, mask);
}
