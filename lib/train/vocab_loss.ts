/**
 * The vocabulary-sized loss terms (generation cross-entropy and KL to the adapter-free model)
 * computed over chunks of token rows, with their gradient with respect to the final hidden state
 * written in closed form, so that no [B,T,V] tensor is ever alive: the memory-saving path used with
 * gradient checkpointing.
 *
 * For logits z = h·Wᵀ (W the output head [V,D]), p = softmax(z), a row's terms and their gradients:
 * - gen: −log p[y], ∂/∂z = p − onehot(y);
 * - kl: Σ p_ref (log p_ref − log p), ∂/∂z = p − p_ref (Σ p_ref = 1);
 * - kl with upstream's ε (`klEps` > 0): Σ p_ref (log(p_ref + ε) − log(p + ε)), ∂/∂z = p·Σu − u with
 *   u = p_ref·p / (p + ε) (u = p_ref when ε = 0).
 *
 * With per-row weights a (gen) and b (kl), ∂/∂h = ((a + b)·p − b·p_ref)·W − a·W[y]: one GEMM with
 * W per chunk plus a row gather. The values match {@link generationLoss} / {@link klDivergence}
 * on the full logits.
 *
 * @module
 */

import { cat, noGrad, type Tensor, tidy, zeros } from "../../ffi/mod.ts";
import { logProbs } from "./loss.ts";

/** Inputs of {@link vocabTerms}. */
export interface VocabTermsInput {
  /** Final-normed hidden states of the current model [B,T,D] (no graph needed). */
  hidden: Tensor;
  /** Final-normed hidden states of the adapter-free model [B,T,D], or null without KL. */
  refHidden: Tensor | null;
  /** Token ids [B,T] (i64). */
  ids: Tensor;
  /** 1/0 mask [B,T] (i64). */
  mask: Tensor;
  /** The output head: hidden [.., D] → logits [.., V]. */
  head: (h: Tensor) => Tensor;
  /** The head's weight [V,D]. */
  headWeight: Tensor;
  /** Gradient weight of the summed generation terms (e.g. scale / number of targets). */
  genWeight: number;
  /** Gradient weight of the summed KL terms (0 for no KL gradient). */
  klWeight: number;
  /** ε of upstream's KL form (0 = exact log-softmax KL; see the module doc). */
  klEps?: number;
  /** Rows (B × positions) per chunk (default 256). */
  chunkRows?: number;
}

/** Output of {@link vocabTerms}. */
export interface VocabTerms {
  /** Σ over target positions of −log p[y] (targets ids[:,1:] where mask[:,1:] is 1). */
  genSum: number;
  /** Σ over real tokens of KL(p_ref ‖ p) (0 without `refHidden`). */
  klSum: number;
  /** genWeight·∂genSum/∂h + klWeight·∂klSum/∂h, [B,T,D] in the dtype of `hidden`. */
  gradHidden: Tensor;
}

/**
 * Sums of the generation and KL terms over all tokens and their weighted gradient with respect to
 * the final hidden states, one chunk of positions at a time, without autograd.
 */
export function vocabTerms(x: VocabTermsInput): VocabTerms {
  const [B, T] = x.ids.shape;
  const step = Math.max(1, Math.floor((x.chunkRows ?? 256) / B));
  return noGrad(() =>
    tidy(() => {
      // position t predicts ids[t+1]; the last position has no target
      const pad = zeros([B, 1], { dtype: "i64", device: x.ids.device });
      const next = cat([x.ids.narrow(1, 1, T - 1), pad], 1);
      const hasTarget = cat([x.mask.narrow(1, 1, T - 1), pad], 1).to("f32");
      const real = x.mask.to("f32");
      const w = x.headWeight;
      let genSum = 0, klSum = 0;
      const grads: Tensor[] = [];
      for (let s = 0; s < T; s += step) {
        const n = Math.min(step, T - s);
        const chunk = tidy(() => {
          const logp = logProbs(x.head(x.hidden.narrow(1, s, n).contiguous()));
          const p = logp.exp();
          const y = next.narrow(1, s, n);
          const a = hasTarget.narrow(1, s, n);
          const gen = logp.gather(2, y.unsqueeze(2)).squeeze(2).mul(a).sum().neg();
          let coef = p.mul(a.mul(x.genWeight).unsqueeze(2)); // a·p
          let kl: Tensor | null = null;
          if (x.refHidden) {
            const r = logProbs(x.head(x.refHidden.narrow(1, s, n).contiguous()));
            const pr = r.exp();
            const m = real.narrow(1, s, n);
            const eps = x.klEps ?? 0;
            if (eps > 0) {
              kl = pr.mul(pr.add(eps).log().sub(p.add(eps).log())).sum(-1).mul(m).sum();
            } else kl = pr.mul(r.sub(logp)).sum(-1).mul(m).sum();
            if (x.klWeight !== 0) {
              // + b·(p·Σu − u), u = p_ref·p/(p + ε); for ε = 0 that is b·(p − p_ref)
              const u = eps > 0 ? pr.mul(p).div(p.add(eps)) : pr;
              const d = eps > 0 ? p.mul(u.sum(-1).unsqueeze(2)).sub(u) : p.sub(pr);
              coef = coef.add(d.mul(m.mul(x.klWeight).unsqueeze(2)));
            }
          }
          const rowsY = w.indexSelect(0, y.reshape([-1])).to("f32").reshape([B, n, -1]);
          const g = coef.to(w.dtype).matmul(w).to("f32")
            .sub(rowsY.mul(a.mul(x.genWeight).unsqueeze(2)));
          return { gen: gen.item(), kl: kl ? kl.item() : 0, g: g.to(x.hidden.dtype) };
        });
        genSum += chunk.gen;
        klSum += chunk.kl;
        grads.push(chunk.g);
      }
      return { genSum, klSum, gradHidden: cat(grads, 1) };
    })
  );
}
