/**
 * The memory-saving backward of the DeepGuard loss: the secure forward keeps only each decoder
 * layer's input and recomputes the layer during backward (dropout masks replayed by reseeding per
 * layer), and the vocabulary-sized terms (gen, KL) run in chunks with their gradient in closed
 * form ({@link vocabTerms}), so no [B,T,V] tensor is alive at any time. Same values and gradients
 * as autograd through the whole graph (tests/train_vocab_loss.test.ts).
 * @module
 */
import {
  backwardMany,
  manualSeed,
  noGrad,
  ones,
  randint,
  type Tensor,
  tidy,
} from "../../ffi/mod.ts";
import type { DeepGuardModel } from "../deepguard/mod.ts";
import { type LossWeights, poolScores, securityLoss } from "./loss.ts";
import type { LossValues, PairBatchTensors } from "./security_model.ts";
import { vocabTerms } from "./vocab_loss.ts";

/** What the checkpointed backward needs besides the model and the batch. */
export interface CheckpointedInputs {
  /** The last L hidden states of the vulnerable side (no grad). */
  vulnerableHidden: readonly Tensor[];
  /** Final-normed hidden states of the adapter-free model on the secure side, or null (no KL). */
  referenceHidden: Tensor | null;
  /** Loss constants. */
  weights: LossWeights;
  /** Factor on every gradient (1 / accumulation steps). */
  scale: number;
}

/**
 * Accumulates `scale`·∂loss/∂θ into the trainable parameters' grads, recomputing each decoder
 * layer during backward; returns the loss values. Call inside `tidy`.
 */
export function checkpointedBackward(
  dg: DeepGuardModel,
  b: PairBatchTensors,
  { vulnerableHidden: vul, referenceHidden: refH, weights: w, scale }: CheckpointedInputs,
): LossValues {
  const lm = dg.lm, N = lm.config.numLayers, L = dg.numLayers;
  const [B, S] = b.secure.ids.shape;
  if (S < 2) throw new RangeError("sequences need at least 2 tokens for next-token loss");
  const ctx = lm.context(B, S, { attentionMask: b.secure.mask });
  const layers = lm.layers;
  const seed = noGrad(() => tidy(() => randint(0, 2 ** 30, [1]).item()));
  // forward without graph, keeping each layer's input
  const inputs: Tensor[] = noGrad(() => {
    const xs = [lm.embed(b.secure.ids)];
    for (let i = 0; i < N; i++) {
      manualSeed(seed + i);
      xs.push(layers[i].forward(xs[i], ctx));
    }
    return xs;
  });
  // leaves: the used hidden states below the top, and the raw top output
  const leaves = new Map<number, Tensor>();
  for (let j = N + 1 - L; j < N; j++) leaves.set(j, inputs[j].detach().requiresGrad_(true));
  const top = inputs[N].detach().requiresGrad_(true);
  const finalH = lm.finalNorm(top);
  const hidden = [...[...leaves.keys()].sort((a, c) => a - c).map((j) => leaves.get(j)!), finalH];
  const sSec = poolScores(dg.scores(hidden, b.secure.ids), b.secure.mask, w.pooling);
  const sVul = poolScores(dg.scores(vul, b.vulnerable.ids), b.vulnerable.mask, w.pooling);
  const sec = securityLoss(sSec, sVul, w.margin);
  // gen and KL over the vocabulary, chunked; the KL gradient is dropped if the clamp is active
  const lossMask = b.lossMask ?? b.secure.mask;
  const nGen = noGrad(() => tidy(() => lossMask.narrow(1, 1, S - 1).sum().item()));
  const nKl = noGrad(() => tidy(() => lossMask.sum().item()));
  const vocab = (klWeight: number) =>
    vocabTerms({
      hidden: finalH.detach(),
      refHidden: refH,
      ids: b.secure.ids,
      mask: lossMask,
      head: (h) => lm.lmHead(h),
      headWeight: lm.lmHeadWeight(),
      genWeight: scale / nGen,
      klWeight,
      klEps: w.klEps,
    });
  let v = vocab(refH ? (scale * w.klWeight) / nKl : 0);
  const gen = v.genSum / nGen;
  const klUnclamped = refH ? v.klSum / nKl : 0;
  const kl = Math.min(klUnclamped, w.klClamp);
  if (refH && klUnclamped > w.klClamp) v = vocab(0); // clamped: no KL gradient (torch's clamp)
  backwardMany(
    [sec.mul(w.secWeight * scale), finalH],
    [ones([], { device: sec.device }), v.gradHidden],
  );
  let g = top.grad ?? top.mul(0);
  for (let i = N - 1; i >= 0; i--) {
    const x = inputs[i].detach().requiresGrad_(true);
    manualSeed(seed + i);
    const y = layers[i].forward(x, ctx);
    backwardMany([y], [g]);
    if (i === 0) break;
    const gx = x.grad ?? x.mul(0).detach();
    const extra = leaves.get(i)?.grad ?? null;
    g = extra ? gx.add(extra) : gx;
  }
  const secV = sec.item();
  return {
    total: gen + w.secWeight * secV + w.klWeight * kl,
    gen,
    sec: secV,
    kl,
    klUnclamped,
    sSec: sSec.item(),
    sVul: sVul.item(),
  };
}
