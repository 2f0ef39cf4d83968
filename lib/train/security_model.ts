/**
 * SecurityAwareLoRAModel: the DeepGuard model ({@link DeepGuardModel}, `lib/deepguard`) with the
 * DeepGuard training objective — the loss of a batch of (vulnerable, secure) pairs, its backward
 * (plain autograd, or the memory-saving checkpointed one in `checkpointed.ts`) and the validation
 * loss. The model itself (create / load / save, scores) lives in `lib/deepguard`; this class is
 * its training client and adds the loss constants, saved in `security_config.json`.
 * @module
 */
import { noGrad, type Tensor, tidy } from "../../ffi/mod.ts";
import {
  DeepGuardModel,
  type DeepGuardOptions,
  type SecurityComponents,
  type SecurityConfig,
  type TokenScore,
} from "../deepguard/mod.ts";
import type { LoraAdapter } from "../lora/mod.ts";
import type { DecoderLM } from "../model/qwen_llama.ts";
import type { Tokenizer } from "../model/tokenizer.ts";
import type { SideTensors } from "./batch.ts";
import { checkpointedBackward } from "./checkpointed.ts";
import {
  DEFAULT_LOSS,
  generationLoss,
  klDivergence,
  klDivergenceEps,
  logProbs,
  type LossWeights,
  poolScores,
  securityLoss,
} from "./loss.ts";

/** Options for building or loading a {@link SecurityAwareLoRAModel}. */
export interface SecurityModelOptions extends DeepGuardOptions {
  /** Loss constants (default DeepGuard's; a loaded adapter's saved ones otherwise). */
  loss?: Partial<LossWeights>;
}

/** The loss terms as tensors (`total` carries the graph). */
export interface LossTerms {
  /** Total loss gen + secWeight·sec + klWeight·kl. */
  total: Tensor;
  /** Next-token cross-entropy on the secure side. */
  gen: Tensor;
  /** Security hinge relu(margin − (s_sec − s_vul)). */
  sec: Tensor;
  /** Clamped KL (zero tensor when KL is off). */
  kl: Tensor;
  /** KL before clamping. */
  klUnclamped: Tensor;
  /** Mean analyzer score over the secure side (real tokens, or all positions: `pooling`). */
  sSec: Tensor;
  /** Mean analyzer score over the vulnerable side. */
  sVul: Tensor;
}

/** The loss terms as numbers. */
export interface LossValues {
  /** Total loss gen + secWeight·sec + klWeight·kl. */
  total: number;
  /** Next-token cross-entropy on the secure side. */
  gen: number;
  /** Security hinge relu(margin − (s_sec − s_vul)). */
  sec: number;
  /** KL(ref ‖ cur), clamped. */
  kl: number;
  /** KL before clamping. */
  klUnclamped: number;
  /** Mean analyzer score over the secure side (real tokens, or all positions: `pooling`). */
  sSec: number;
  /** Mean analyzer score over the vulnerable side. */
  sVul: number;
}

/** One side of a batch as tensors (ids / 1-0 mask, i64, right padded). */
export interface PairBatchTensors {
  /** Secure side (func_src_after). */
  secure: SideTensors;
  /** Vulnerable side (func_src_before). */
  vulnerable: SideTensors;
  /**
   * Secure positions [B,T] (i64 1/0) that count as generation targets and in the KL; default the
   * attention mask. The upstream recipe passes ids ≠ pad id, as upstream masks labels and the KL
   * by the pad token (deepguard/train.py:198, :264).
   */
  lossMask?: Tensor;
}

function values(t: LossTerms): LossValues {
  return {
    total: t.total.item(),
    gen: t.gen.item(),
    sec: t.sec.item(),
    kl: t.kl.item(),
    klUnclamped: t.klUnclamped.item(),
    sSec: t.sSec.item(),
    sVul: t.sVul.item(),
  };
}

/** A {@link DeepGuardModel} with the DeepGuard loss. */
export class SecurityAwareLoRAModel {
  /** The model being trained. */
  readonly model: DeepGuardModel;
  /** The base decoder (frozen; LoRA layers inside it). */
  readonly lm: DecoderLM;
  /** Its tokenizer. */
  readonly tokenizer: Tokenizer;
  /** The LoRA layers. */
  readonly adapter: LoraAdapter;
  /** Aggregator, analyzer, token statistics. */
  readonly components: SecurityComponents;
  /** The base model directory. */
  readonly modelDir: string;
  /** Loss constants. */
  loss: LossWeights;
  /** How the data were prepared (recipe, length, padding), saved as `training` in the config. */
  training: Record<string, unknown> = {};

  private constructor(model: DeepGuardModel, loss: LossWeights) {
    this.model = model;
    ({
      lm: this.lm,
      tokenizer: this.tokenizer,
      adapter: this.adapter,
      components: this.components,
      modelDir: this.modelDir,
    } = model);
    this.loss = loss;
  }

  /** Fresh LoRA (B = 0) and freshly initialised components over the model in `modelDir`. */
  static async create(
    modelDir: string,
    opts: SecurityModelOptions = {},
  ): Promise<SecurityAwareLoRAModel> {
    const model = await DeepGuardModel.create(modelDir, opts);
    return new SecurityAwareLoRAModel(model, { ...DEFAULT_LOSS, ...opts.loss });
  }

  /**
   * Loads a saved adapter directory over the base model ({@link DeepGuardModel.load}); the loss
   * constants come from its `security_config.json` unless `opts.loss` overrides them.
   */
  static async load(
    modelDir: string,
    adapterDir: string,
    opts: Pick<SecurityModelOptions, "dtype" | "device" | "loss" | "analyzerDropout"> = {},
  ): Promise<SecurityAwareLoRAModel> {
    const model = await DeepGuardModel.load(modelDir, adapterDir, opts);
    const saved = lossFromConfig(model.securityConfig!);
    return new SecurityAwareLoRAModel(model, { ...DEFAULT_LOSS, ...saved, ...opts.loss });
  }

  /** Number L of aggregated hidden states. */
  get numLayers(): number {
    return this.model.numLayers;
  }
  /** Token security statistic of every vocabulary id (a live view, [V]). */
  get tokenStats(): Float32Array {
    return this.model.tokenStats;
  }

  /** Writes the adapter directory ({@link DeepGuardModel.save}) with the loss constants. */
  save(dir: string): Promise<void> {
    return this.model.save(dir, { loss: { ...this.loss }, training: { ...this.training } });
  }

  /** Trainable tensors: LoRA (PEFT names, no prefix) then components (`aggregator.*`, `analyzer.*`). */
  trainableParameters(): [string, Tensor][] {
    return this.model.trainableParameters();
  }

  /** Training mode on or off ({@link DeepGuardModel.train}). */
  train(on = true): void {
    this.model.train(on);
  }

  /** Logits [B,T,V] and the last L hidden states of a forward (autograd as currently enabled). */
  forward(side: SideTensors): { logits: Tensor; hidden: Tensor[] } {
    return this.model.forward(side);
  }

  /** Per-token analyzer scores [B,T] from hidden states (aggregator + analyzer, with grad). */
  scores(hidden: readonly Tensor[], ids: Tensor): Tensor {
    return this.model.scores(hidden, ids);
  }

  /** Analyzer score of every token of `code` ({@link DeepGuardModel.scoreTokens}). */
  scoreTokens(code: string): TokenScore[] {
    return this.model.scoreTokens(code);
  }

  #vulnerableHidden(b: PairBatchTensors): Tensor[] {
    return noGrad(() =>
      tidy(() => {
        const hidden = this.lm.lastHiddenStates(b.vulnerable.ids, this.numLayers, {
          attentionMask: b.vulnerable.mask,
        });
        return hidden.map((h) => h.detach());
      })
    );
  }

  #referenceLogits(b: PairBatchTensors): Tensor | null {
    if (!this.loss.useKl) return null;
    return noGrad(() =>
      this.adapter.withDisabled(() =>
        tidy(() => this.lm.forward(b.secure.ids, { attentionMask: b.secure.mask }).logits)
      )
    );
  }

  /** Final-normed hidden states [B,T,D] of the adapter-free model on the secure side. */
  #referenceHidden(b: PairBatchTensors): Tensor | null {
    if (!this.loss.useKl) return null;
    return noGrad(() =>
      this.adapter.withDisabled(() =>
        tidy(() => this.lm.lastHiddenStates(b.secure.ids, 1, { attentionMask: b.secure.mask })[0])
      )
    );
  }

  #terms(
    b: PairBatchTensors,
    logits: Tensor,
    secHidden: readonly Tensor[],
    vulHidden: readonly Tensor[],
    refLogits: Tensor | null,
  ): LossTerms {
    const w = this.loss;
    const logp = logProbs(logits);
    const lossMask = b.lossMask ?? b.secure.mask;
    const gen = generationLoss(logp, b.secure.ids, lossMask);
    const sSec = poolScores(this.scores(secHidden, b.secure.ids), b.secure.mask, w.pooling);
    const sVul = poolScores(
      this.scores(vulHidden, b.vulnerable.ids),
      b.vulnerable.mask,
      w.pooling,
    );
    const sec = securityLoss(sSec, sVul, w.margin);
    const klUnclamped = !refLogits
      ? gen.mul(0).detach()
      : w.klEps > 0
      ? klDivergenceEps(refLogits, logits, lossMask, w.klEps)
      : klDivergence(refLogits, logp, lossMask);
    const kl = klUnclamped.clamp(undefined, w.klClamp);
    const total = gen.add(sec.mul(w.secWeight)).add(kl.mul(w.klWeight));
    return { total, gen, sec, kl, klUnclamped, sSec, sVul };
  }

  /**
   * The DeepGuard loss of a batch with the autograd graph through the secure forward, LoRA,
   * aggregator and analyzer (the vulnerable and reference forwards run without grad).
   */
  computeLoss(b: PairBatchTensors): LossTerms {
    return tidy(() => {
      const vul = this.#vulnerableHidden(b);
      const ref = this.#referenceLogits(b);
      const { logits, hidden } = this.forward(b.secure);
      return this.#terms(b, logits, hidden, vul, ref);
    });
  }

  /**
   * Computes the loss and accumulates `scale`·∂loss/∂θ into the trainable parameters' grads.
   * With `checkpointing`, the memory-saving backward of `checkpointed.ts` runs instead of
   * autograd through the whole graph.
   */
  lossAndBackward(b: PairBatchTensors, scale = 1, checkpointing = false): LossValues {
    return tidy(() => {
      if (!checkpointing) {
        const t = this.computeLoss(b);
        t.total.mul(scale).backward();
        return values(t);
      }
      const vulnerableHidden = this.#vulnerableHidden(b);
      const referenceHidden = this.#referenceHidden(b);
      return checkpointedBackward(this.model, b, {
        vulnerableHidden,
        referenceHidden,
        weights: this.loss,
        scale,
      });
    });
  }

  /** The loss values of a batch without any gradient (validation). */
  evalLoss(b: PairBatchTensors): LossValues {
    return noGrad(() => tidy(() => values(this.computeLoss(b))));
  }

  /** Frees the model, adapters and components. */
  dispose(): void {
    this.model.dispose();
  }
}

function lossFromConfig(cfg: SecurityConfig): Partial<LossWeights> {
  const l = cfg.loss;
  if (!l || typeof l !== "object") return {};
  const out: Partial<LossWeights> = {};
  for (const k of ["margin", "secWeight", "klWeight", "klClamp"] as const) {
    const v = (l as Record<string, unknown>)[k];
    if (typeof v === "number") out[k] = v;
  }
  const u = (l as Record<string, unknown>).useKl;
  if (typeof u === "boolean") out.useKl = u;
  const p = (l as Record<string, unknown>).pooling;
  if (p === "real" || p === "all") out.pooling = p;
  const e = (l as Record<string, unknown>).klEps;
  if (typeof e === "number") out.klEps = e;
  return out;
}
