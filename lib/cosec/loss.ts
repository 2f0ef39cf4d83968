/**
 * The CoSec expert's training loss, transcribed from upstream unknownhl/DeepGuard
 * `cosec/train_lora_sec.py` `train` (L158-195), for one example (batch 1):
 *
 * - logits and ids shifted by one (L162-168), token weights shifted likewise (L163);
 * - `lm_loss` = mean cross-entropy over the positions whose weight ≠ 0 (L170-173);
 * - `kl_loss` = mean over the positions whose weight = 0 of Σ_v p_ref·(log p_ref − log p), i.e.
 *   `KLDivLoss(log_target=True)(log p, log p_ref).sum(-1)` = KL(p_ref ‖ p) (L177-190), p_ref
 *   from the frozen base (here: the same model with the adapter off, no gradient);
 * - loss = lm_loss + kl_loss (L194).
 *
 * Upstream resizes the model's embeddings to the tokenizer's length (L254-255), so the
 * softmax runs over that many ids: `vocab` narrows the logits the same way.
 * @module
 */
import type { Tensor } from "../../ffi/mod.ts";

/** The loss and its two terms (scalars). */
export interface CoSecLoss {
  /** lm_loss + kl_loss. */
  loss: Tensor;
  /** Cross-entropy over the changed tokens. */
  lm: Tensor;
  /** KL(p_ref ‖ p) over the unchanged tokens. */
  kl: Tensor;
}

/**
 * Log-probabilities of the next token at positions 0 … T−2 of `logits` [1, T, V], over the first
 * `vocab` ids, in float32: the shifted, vocabulary-narrowed softmax both baselines' losses use.
 */
export function shiftedLogSoftmax(logits: Tensor, vocab: number): Tensor {
  const T = logits.shape[1];
  const v = logits.narrow(1, 0, T - 1).narrow(2, 0, Math.min(vocab, logits.shape[2]));
  return (v.dtype === "f32" ? v : v.to("f32")).logSoftmax(-1);
}

/**
 * @param logits [1, T, V] of the model being trained
 * @param refLogits [1, T, V] of the frozen base (no gradient)
 * @param ids [1, T] i64 token ids
 * @param weights [1, T] 0/1 token weights (1 = changed)
 * @param vocab the tokenizer's length (logits past it are dropped)
 */
export function cosecLoss(
  logits: Tensor,
  refLogits: Tensor,
  ids: Tensor,
  weights: Tensor,
  vocab: number,
): CoSecLoss {
  const T = ids.shape[1];
  if (T < 2) throw new RangeError("CoSec loss: a sequence needs at least 2 tokens");
  const logp = shiftedLogSoftmax(logits, vocab);
  const refLogp = shiftedLogSoftmax(refLogits, vocab).detach();
  const targets = ids.narrow(1, 1, T - 1);
  const changed = weights.narrow(1, 1, T - 1).ne(0).to("f32");
  const unchanged = changed.rsub(1);
  const nll = logp.gather(2, targets.unsqueeze(2)).squeeze(2).neg();
  const lm = nll.mul(changed).sum().div(changed.sum());
  const klPerTok = refLogp.exp().mul(refLogp.sub(logp)).sum(-1);
  const kl = klPerTok.mul(unchanged).sum().div(unchanged.sum());
  return { loss: lm.add(kl), lm, kl };
}
