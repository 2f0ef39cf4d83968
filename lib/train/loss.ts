/**
 * The DeepGuard training loss, as pure functions of logits, scores and masks.
 *
 * - gen: next-token cross-entropy on the secure side (logits[:, :-1] vs ids[:, 1:], targets whose
 *   mask[:, 1:] is 0 ignored, mean over the rest), in f32;
 * - sec: relu(margin − (s_sec − s_vul)), s = mean analyzer score over the real tokens (mask 1) of
 *   the whole batch;
 * - kl: mean over real secure tokens of KL(p_ref ‖ p_cur) = Σ p_ref (log p_ref − log p_cur)
 *   (log-softmax in f32), clamped at `klClamp`;
 * - total = gen + secWeight·sec + klWeight·kl.
 * @module
 */
import { crossEntropy, type Tensor } from "../../ffi/mod.ts";

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
}

/** DeepGuard's loss constants. */
export const DEFAULT_LOSS: Readonly<LossWeights> = {
  margin: 0.5,
  secWeight: 0.5,
  klWeight: 1.0,
  klClamp: 1.0,
  useKl: true,
};

/** Next-token CE: logits [B,T,V], ids/mask [B,T] (i64) → scalar (f32). */
export function generationLoss(logits: Tensor, ids: Tensor, mask: Tensor): Tensor {
  const [B, T, V] = logits.shape;
  if (T < 2) throw new RangeError("sequences need at least 2 tokens for next-token loss");
  const lg = logits.narrow(1, 0, T - 1).reshape([B * (T - 1), V]);
  const lg32 = lg.dtype === "f32" ? lg : lg.to("f32");
  const targets = ids.narrow(1, 1, T - 1).maskedFill(mask.narrow(1, 1, T - 1).eq(0), -100);
  return crossEntropy(lg32, targets.reshape([-1]), { ignoreIndex: -100 });
}

/** Mean of per-token `scores` [B,T] over positions where `mask` is 1 (whole batch). */
export function maskedMean(scores: Tensor, mask: Tensor): Tensor {
  const m = mask.to(scores.dtype);
  return scores.mul(m).sum().div(m.sum());
}

/** relu(margin − (sSec − sVul)). */
export function securityLoss(sSec: Tensor, sVul: Tensor, margin: number): Tensor {
  return sSec.sub(sVul).rsub(margin).relu();
}

/** Mean KL(ref ‖ cur) over real tokens, unclamped: logits [B,T,V], mask [B,T]. */
export function klDivergence(refLogits: Tensor, logits: Tensor, mask: Tensor): Tensor {
  const r = (refLogits.dtype === "f32" ? refLogits : refLogits.to("f32")).logSoftmax(-1);
  const c = (logits.dtype === "f32" ? logits : logits.to("f32")).logSoftmax(-1);
  const perTok = r.exp().mul(r.sub(c)).sum(-1);
  return maskedMean(perTok, mask);
}
