/**
 * The SVEN prefix loss of one example (batch 1), transcribed from upstream unknownhl/DeepGuard
 * `sven/trainer.py` `PrefixTrainer.step` (L206-256) with `get_logits_from_lm` (L162-171) and
 * `token_weighted_loss` (L173-187):
 *
 * - logits and ids shifted by one, weights shifted likewise (L210-212, L168-169);
 * - `lm` = mean cross-entropy under the right control's prefix over the positions whose weight
 *   ≠ 0, × `lm_loss_ratio` 1 (L215-217);
 * - `contrastive` = mean over the same positions of −log(p_c / (p_c + p_i)), p_c and p_i the
 *   softmax probabilities of the next token under the right and the opposite prefix
 *   (`F.normalize(p=1)` then NLL of class 0, L221-231), × `contrastive_loss_ratio` / 100;
 * - `kl` = [KL(p_ref ‖ p_c) + KL(p_ref ‖ p_i)] × `kl_loss_ratio` / 1000, each the mean over the
 *   positions whose `1 − weight` ≠ 0 of Σ_v p_ref·(log p_ref − log p) (`KLDivLoss(log_target)`
 *   summed over the vocabulary, L234-251); p_ref from the model without a prefix, no gradient;
 * - loss = lm + contrastive + kl (L254).
 *
 * Upstream resizes the embeddings to the tokenizer's length (`sven/model.py` L461), so every
 * softmax runs over that many ids: `vocab` narrows the logits the same way.
 * @module
 */
import type { Tensor } from "../../ffi/mod.ts";
import { shiftedLogSoftmax } from "../cosec/loss.ts";

/** Ratios as upstream's flags give them (runs/train.py L29, L38; the KL one by size, L93-102). */
export interface PrefixLossRatios {
  /** `--lm_loss_ratio` (1). */
  lm: number;
  /** `--contrastive_loss_ratio`, divided by 100 (400 → 4). */
  contrastive: number;
  /** `--kl_loss_ratio`, divided by 1000 (1600 or 2000 by model size). */
  kl: number;
}

/** The loss and its terms (scalars, already scaled by their ratios). */
export interface PrefixLoss {
  loss: Tensor;
  lm: Tensor;
  contrastive: Tensor;
  kl: Tensor;
}

/**
 * @param correct [1, T, V] logits under the example's own control
 * @param incorrect [1, T, V] logits under the other control
 * @param ref [1, T, V] logits without a prefix (no gradient)
 * @param ids [1, T] i64 token ids
 * @param weights [1, T] 0/1 token weights (1 = changed)
 * @param vocab the tokenizer's length (logits past it are dropped)
 */
export function prefixLoss(
  correct: Tensor,
  incorrect: Tensor,
  ref: Tensor,
  ids: Tensor,
  weights: Tensor,
  vocab: number,
  ratios: PrefixLossRatios,
): PrefixLoss {
  const T = ids.shape[1];
  if (T < 2) throw new RangeError("prefix loss: a sequence needs at least 2 tokens");
  const logpC = shiftedLogSoftmax(correct, vocab);
  const logpI = shiftedLogSoftmax(incorrect, vocab);
  const logpRef = shiftedLogSoftmax(ref, vocab).detach();
  const targets = ids.narrow(1, 1, T - 1).unsqueeze(2);
  const changed = weights.narrow(1, 1, T - 1).ne(0);
  const unchanged = weights.narrow(1, 1, T - 1).rsub(1).ne(0);
  // upstream's `loss[weights != 0].mean()`: positions outside the mask do not enter the value
  const meanOver = (x: Tensor, mask: Tensor) =>
    x.maskedFill(mask.logicalNot(), 0).sum().div(mask.to("f32").sum());
  const tokC = logpC.gather(2, targets).squeeze(2);
  const lm = meanOver(tokC.neg(), changed).mul(ratios.lm);
  const pC = tokC.exp(), pI = logpI.gather(2, targets).squeeze(2).exp();
  const share = pC.div(pC.add(pI).clamp(1e-12)); // F.normalize(p=1): x / max(‖x‖₁, 1e-12)
  const contrastive = meanOver(share.log().neg(), changed).mul(ratios.contrastive / 100);
  const pRef = logpRef.exp();
  const klOf = (logp: Tensor) => meanOver(pRef.mul(logpRef.sub(logp)).sum(-1), unchanged);
  const kl = klOf(logpC).add(klOf(logpI)).mul(ratios.kl / 1000);
  return { loss: lm.add(contrastive).add(kl), lm, contrastive, kl };
}
