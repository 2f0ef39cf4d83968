/**
 * SecurityAwareLoRAModel: a frozen decoder with LoRA adapters, the multi-layer aggregator and the
 * security analyzer, and the DeepGuard loss (see `loss.ts`). Built fresh from a model directory
 * or loaded from a saved adapter directory; saved in PEFT format plus the security components.
 * @module
 */
import {
  backwardMany,
  type Device,
  manualSeed,
  noGrad,
  ones,
  randint,
  type Tensor,
  tidy,
} from "../../ffi/mod.ts";
import type { Aggregation } from "../aggregator/mod.ts";
import {
  ComponentsError,
  readSecurityConfig,
  SecurityComponents,
  type SecurityConfig,
} from "../analyzer/mod.ts";
import {
  applyLora,
  defaultLoraConfig,
  type LoraAdapter,
  type LoraConfig,
  readAdapterConfig,
} from "../lora/mod.ts";
import { loadPretrained } from "../model/load.ts";
import type { DecoderLM } from "../model/qwen_llama.ts";
import type { Tokenizer } from "../model/tokenizer.ts";
import { type SideTensors, sideTensors } from "./batch.ts";
import {
  DEFAULT_LOSS,
  generationLoss,
  klDivergence,
  logProbs,
  type LossWeights,
  maskedMean,
  securityLoss,
} from "./loss.ts";
import { vocabTerms } from "./vocab_loss.ts";

/** Options for building or loading a {@link SecurityAwareLoRAModel}. */
export interface SecurityModelOptions {
  /** Aggregation method (default `attention`; ignored when loading). */
  aggregation?: Aggregation;
  /** Number L of last hidden states aggregated (default 4; ignored when loading). */
  layers?: number;
  /** LoRA settings (defaults: r 16, α 32, dropout 0.1, DeepGuard targets; ignored when loading). */
  lora?: Partial<LoraConfig>;
  /** Base weight dtype (default f32); adapters, components and optimizer stay f32. */
  dtype?: "f32" | "bf16";
  /** Device (default cpu). */
  device?: Device;
  /** Loss constants (default DeepGuard's). */
  loss?: Partial<LossWeights>;
  /** Analyzer dropout (default 0.1). */
  analyzerDropout?: number;
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
  /** Mean analyzer score over real secure tokens. */
  sSec: Tensor;
  /** Mean analyzer score over real vulnerable tokens. */
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
  /** Mean analyzer score over real secure tokens. */
  sSec: number;
  /** Mean analyzer score over real vulnerable tokens. */
  sVul: number;
}

/** One side of a batch as tensors (ids / 1-0 mask, i64, right padded). */
export interface PairBatchTensors {
  /** Secure side (func_src_after). */
  secure: SideTensors;
  /** Vulnerable side (func_src_before). */
  vulnerable: SideTensors;
}

/** A scored token of {@link SecurityAwareLoRAModel.scoreTokens}. */
export interface TokenScore {
  /** Token id. */
  id: number;
  /** The token's text (decoded alone). */
  token: string;
  /** Analyzer score in (0, 1): higher = more secure-looking. */
  score: number;
}

/** Error for a model directory / layer setting that cannot work. */
export class SecurityModelError extends Error {
  /** Error class name. */
  override name = "SecurityModelError";
}

/** Hash of the architecture fields of a model config (stored for mismatch detection). */
export async function baseConfigHash(modelDir: string): Promise<string> {
  const raw = JSON.parse(await Deno.readTextFile(`${modelDir}/config.json`));
  const keys = [
    "model_type",
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "vocab_size",
  ];
  const text = JSON.stringify(keys.map((k) => [k, raw[k] ?? null]));
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
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

/** Decoder + LoRA + aggregator + analyzer, with the DeepGuard loss. */
export class SecurityAwareLoRAModel {
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

  private constructor(
    modelDir: string,
    lm: DecoderLM,
    tokenizer: Tokenizer,
    adapter: LoraAdapter,
    components: SecurityComponents,
    loss: LossWeights,
  ) {
    this.modelDir = modelDir;
    this.lm = lm;
    this.tokenizer = tokenizer;
    this.adapter = adapter;
    this.components = components;
    this.loss = loss;
  }

  /** Number L of aggregated hidden states. */
  get numLayers(): number {
    return this.components.shape.numLayers;
  }

  /** Fresh LoRA (B = 0) and freshly initialised components over the model in `modelDir`. */
  static async create(
    modelDir: string,
    opts: SecurityModelOptions = {},
  ): Promise<SecurityAwareLoRAModel> {
    const { model: lm, tokenizer } = await loadPretrained(modelDir, {
      dtype: opts.dtype ?? "f32",
      device: opts.device ?? "cpu",
    });
    try {
      const cfg = lm.config;
      const L = opts.layers ?? 4;
      if (!Number.isInteger(L) || L < 1 || L > cfg.numLayers) {
        throw new SecurityModelError(
          `--layers ${L} is not possible: the model in ${modelDir} has ${cfg.numLayers} decoder ` +
            `layers (choose 1..${cfg.numLayers})`,
        );
      }
      const lora = { ...defaultLoraConfig(cfg.modelType), ...opts.lora };
      const adapter = applyLora(lm, lora);
      const components = new SecurityComponents(
        {
          aggregation: opts.aggregation ?? "attention",
          numLayers: L,
          hiddenSize: cfg.hiddenSize,
          vocabSize: cfg.vocabSize,
        },
        { device: lm.device, dropout: opts.analyzerDropout },
      );
      return new SecurityAwareLoRAModel(modelDir, lm, tokenizer, adapter, components, {
        ...DEFAULT_LOSS,
        ...opts.loss,
      });
    } catch (e) {
      lm.dispose();
      throw e;
    }
  }

  /**
   * Loads the base model from `modelDir` and a saved adapter directory (PEFT adapter + security
   * components). Refuses, with a clear error, an adapter saved for another base model (hidden
   * size, vocabulary or layer count mismatch).
   */
  static async load(
    modelDir: string,
    adapterDir: string,
    opts: Pick<SecurityModelOptions, "dtype" | "device" | "loss" | "analyzerDropout"> = {},
  ): Promise<SecurityAwareLoRAModel> {
    const secCfg = await readSecurityConfig(adapterDir);
    const loraCfg = await readAdapterConfig(adapterDir);
    const { model: lm, tokenizer } = await loadPretrained(modelDir, {
      dtype: opts.dtype ?? "f32",
      device: opts.device ?? "cpu",
    });
    try {
      const cfg = lm.config;
      const sizes = {
        hiddenSize: cfg.hiddenSize,
        vocabSize: cfg.vocabSize,
        numLayers: cfg.numLayers,
      };
      const baseLayers = secCfg.base_num_hidden_layers;
      if (typeof baseLayers === "number" && baseLayers !== cfg.numLayers) {
        throw new ComponentsError(
          `${adapterDir} was trained on a base model with ${baseLayers} decoder layers, but ` +
            `${modelDir} has ${cfg.numLayers}: the adapter belongs to a different base model`,
        );
      }
      const { components } = await SecurityComponents.load(adapterDir, sizes, {
        device: lm.device,
        dropout: opts.analyzerDropout,
      });
      try {
        const adapter = applyLora(lm, loraCfg);
        await adapter.loadWeights(adapterDir);
        const loss = { ...DEFAULT_LOSS, ...lossFromConfig(secCfg), ...opts.loss };
        return new SecurityAwareLoRAModel(modelDir, lm, tokenizer, adapter, components, loss);
      } catch (e) {
        components.dispose();
        throw e;
      }
    } catch (e) {
      lm.dispose();
      throw e;
    }
  }

  /**
   * Writes the adapter directory: adapter_config.json, adapter_model.safetensors,
   * security_components.safetensors, security_config.json.
   */
  async save(dir: string): Promise<void> {
    await this.adapter.save(dir, this.modelDir);
    const cfg = this.lm.config;
    await this.components.save(dir, {
      base_model: this.modelDir,
      model_type: cfg.modelType,
      base_num_hidden_layers: cfg.numLayers,
      base_config_hash: await baseConfigHash(this.modelDir),
      lora_r: this.adapter.config.r,
      lora_alpha: this.adapter.config.alpha,
      target_modules: this.adapter.config.targetModules,
      loss: { ...this.loss },
    });
  }

  /** Trainable tensors: LoRA (PEFT names, no prefix) then components (`aggregator.*`, `analyzer.*`). */
  trainableParameters(): [string, Tensor][] {
    return [...this.adapter.namedParameters(), ...this.components.namedParameters()];
  }

  /**
   * Training mode: LoRA dropout, analyzer dropout, and the base decoder's attention dropout
   * (`attention_dropout` of its config: 0.1 for Seed-Coder, 0 for Qwen2.5/DeepSeek), as
   * transformers' `model.train()` does upstream.
   */
  train(on = true): void {
    this.lm.train(on);
    this.adapter.train(on);
    this.components.train(on);
  }

  /** Logits [B,T,V] and the last L hidden states of a forward (autograd as currently enabled). */
  forward(side: SideTensors): { logits: Tensor; hidden: Tensor[] } {
    return tidy(() => {
      const out = this.lm.forward(side.ids, {
        attentionMask: side.mask,
        outputHiddenStates: true,
      });
      return { logits: out.logits, hidden: out.hiddenStates!.slice(-this.numLayers) };
    });
  }

  /** Per-token analyzer scores [B,T] from hidden states (aggregator + analyzer, with grad). */
  scores(hidden: readonly Tensor[], ids: Tensor): Tensor {
    return tidy(() =>
      this.components.analyzer.forward(this.components.aggregator.forward(hidden), ids)
    );
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

  #terms(
    b: PairBatchTensors,
    logits: Tensor,
    secHidden: readonly Tensor[],
    vulHidden: readonly Tensor[],
    refLogits: Tensor | null,
  ): LossTerms {
    const w = this.loss;
    const logp = logProbs(logits);
    const gen = generationLoss(logp, b.secure.ids, b.secure.mask);
    const sSec = maskedMean(this.scores(secHidden, b.secure.ids), b.secure.mask);
    const sVul = maskedMean(this.scores(vulHidden, b.vulnerable.ids), b.vulnerable.mask);
    const sec = securityLoss(sSec, sVul, w.margin);
    const klUnclamped = refLogits
      ? klDivergence(refLogits, logp, b.secure.mask)
      : gen.mul(0).detach();
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
   * With `checkpointing`, the secure forward keeps only each decoder layer's input and recomputes
   * the layer during backward (dropout masks replayed by reseeding per layer).
   */
  lossAndBackward(b: PairBatchTensors, scale = 1, checkpointing = false): LossValues {
    return tidy(() => {
      if (!checkpointing) {
        const t = this.computeLoss(b);
        t.total.mul(scale).backward();
        return values(t);
      }
      return this.#checkpointedBackward(b, scale);
    });
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

  /**
   * The memory-saving backward: the secure forward keeps only each decoder layer's input and
   * recomputes the layer during backward (dropout masks replayed by reseeding per layer), and the
   * vocabulary-sized terms (gen, KL) run in chunks with their gradient in closed form
   * ({@link vocabTerms}), so no [B,T,V] tensor is alive at any time.
   */
  #checkpointedBackward(b: PairBatchTensors, scale: number): LossValues {
    const lm = this.lm, N = lm.config.numLayers, L = this.numLayers, w = this.loss;
    const vul = this.#vulnerableHidden(b);
    const refH = this.#referenceHidden(b);
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
    const sSec = maskedMean(this.scores(hidden, b.secure.ids), b.secure.mask);
    const sVul = maskedMean(this.scores(vul, b.vulnerable.ids), b.vulnerable.mask);
    const sec = securityLoss(sSec, sVul, w.margin);
    // gen and KL over the vocabulary, chunked; the KL gradient is dropped if the clamp is active
    const nGen = noGrad(() => tidy(() => b.secure.mask.narrow(1, 1, S - 1).sum().item()));
    const nKl = noGrad(() => tidy(() => b.secure.mask.sum().item()));
    const vocab = (klWeight: number) =>
      vocabTerms({
        hidden: finalH.detach(),
        refHidden: refH,
        ids: b.secure.ids,
        mask: b.secure.mask,
        head: (h) => lm.lmHead(h),
        headWeight: lm.lmHeadWeight(),
        genWeight: scale / nGen,
        klWeight,
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

  /** The loss values of a batch without any gradient (validation). */
  evalLoss(b: PairBatchTensors): LossValues {
    return noGrad(() => tidy(() => values(this.computeLoss(b))));
  }

  /**
   * Scores every token of `code` with the analyzer (eval mode, no grad): the pipeline's
   * model + tokenizer + analyzer → [{token, score}].
   */
  scoreTokens(code: string): TokenScore[] {
    const ids = this.tokenizer.encode(code);
    if (!ids.length) return [];
    const prev = this.components.training;
    this.train(false);
    try {
      const scores = noGrad(() =>
        tidy(() => {
          const side = sideTensors({ ids: [ids], mask: [ids.map(() => 1)] }, this.lm.device);
          const hidden = this.lm.lastHiddenStates(side.ids, this.numLayers, {
            attentionMask: side.mask,
          });
          return this.scores(hidden, side.ids).toNumbers();
        })
      );
      return ids.map((id, i) => ({ id, token: this.tokenizer.decode([id]), score: scores[i] }));
    } finally {
      this.train(prev);
    }
  }

  /** Token security statistic of every vocabulary id (a live view, [V]). */
  get tokenStats(): Float32Array {
    return this.components.stats.values;
  }

  /** Frees the model, adapters and components. */
  dispose(): void {
    this.components.dispose();
    this.lm.dispose();
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
  return out;
}
