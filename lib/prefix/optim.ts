/**
 * The optimizer upstream's prefix training uses: `transformers.AdamW` of transformers 4.41.2
 * (`sven/trainer.py` L8, L86; pinned in requirements.txt), not torch's AdamW. Per step and
 * parameter: m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², p ← p − lr·√(1−β2ᵗ)/(1−β1ᵗ) · m/(√v + ε),
 * then p ← p − lr·wd·p (the decay after the update, on the updated value; ε outside the bias
 * correction). torch's AdamW (lib/nn/optim.ts) decays first and corrects √v before adding ε.
 * The prefix is a few small tensors, so plain tensor ops suffice.
 * @module
 */
import { clipGradNorm, noGrad, type Tensor, tidy, zeros } from "../../ffi/mod.ts";

/** transformers 4.41.2 `AdamW` (correct_bias true) over named tensors. */
export class HfAdamW {
  readonly #params: [string, Tensor][];
  readonly #moments: [Tensor, Tensor][];
  readonly #o: { beta1: number; beta2: number; eps: number; weightDecay: number };
  #step = 0;

  /** Optimise `params`; betas (0.9, 0.999) as upstream leaves them. */
  constructor(params: [string, Tensor][], o: { eps: number; weightDecay: number }) {
    this.#params = params;
    this.#o = { beta1: 0.9, beta2: 0.999, ...o };
    this.#moments = params.map(([, p]) => {
      const on = { device: p.device };
      return [zeros(p.shape, on).keep(), zeros(p.shape, on).keep()];
    });
  }

  /** Clips the global gradient norm to `maxNorm` (`clip_grad_norm_`); returns the norm before. */
  clipGradNorm(maxNorm: number): number {
    return clipGradNorm(this.#params.map(([, p]) => p), maxNorm);
  }

  /** One update of every parameter that has a gradient, at learning rate `lr`. */
  step(lr: number): void {
    this.#step++;
    const { beta1, beta2, eps, weightDecay } = this.#o;
    const stepSize = lr * Math.sqrt(1 - beta2 ** this.#step) / (1 - beta1 ** this.#step);
    noGrad(() =>
      tidy(() => {
        this.#params.forEach(([, p], i) => {
          const g = p.grad;
          if (!g) return;
          const [m, v] = this.#moments[i];
          m.copy_(m.mul(beta1).add(g.mul(1 - beta1)));
          v.copy_(v.mul(beta2).add(g.mul(g).mul(1 - beta2)));
          p.copy_(p.sub(m.div(v.sqrt().add(eps)).mul(stepSize)));
          if (weightDecay > 0) p.copy_(p.mul(1 - lr * weightDecay));
        });
      })
    );
  }

  /** Drops all parameter gradients. */
  zeroGrad(): void {
    for (const [, p] of this.#params) p.zeroGrad();
  }

  /** Frees the moment tensors. */
  dispose(): void {
    for (const [m, v] of this.#moments) {
      m.dispose();
      v.dispose();
    }
  }
}
