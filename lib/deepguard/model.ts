/**
 * DeepGuardModel: a decoder with its LoRA adapter and the security components (aggregator,
 * analyzer, token statistics), as inference sees it — built fresh over a model directory, loaded
 * from a saved adapter directory, saved in PEFT format plus the components, and able to score
 * code token by token and to build the guided-decoding processor for a prompt. Training
 * (`lib/train`) adds the objective on top of this class; nothing here depends on it.
 * @module
 */
import { type Device, noGrad, type Tensor, tensor, tidy } from "../../ffi/mod.ts";
import type { Aggregation, AggregatorInit } from "../aggregator/mod.ts";
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
import {
  COMPONENTS_FILE,
  ComponentsError,
  readSecurityConfig,
  SECURITY_CONFIG_FILE,
  SecurityComponents,
  type SecurityConfig,
} from "./components.ts";
import {
  type GuidanceOptions,
  guidanceStrength,
  type SecurityLogitsProcessor,
  securityLogitsProcessor,
} from "./guided.ts";

/** Options for building a fresh {@link DeepGuardModel} ({@link DeepGuardModel.create}). */
export interface DeepGuardOptions {
  /** Aggregation method (default `attention`). */
  aggregation?: Aggregation;
  /** Number L of last hidden states aggregated (default 4). */
  layers?: number;
  /** LoRA settings (defaults: r 16, α 32, dropout 0.1, DeepGuard targets). */
  lora?: Partial<LoraConfig>;
  /** Base weight dtype (default f32); adapters and components stay f32. */
  dtype?: "f32" | "bf16";
  /** Device (default cpu). */
  device?: Device;
  /** Analyzer dropout (default 0.1). */
  analyzerDropout?: number;
  /** Aggregator Linear initialisation (default `xavier`; `torch` = upstream DeepGuard's). */
  aggregatorInit?: AggregatorInit;
}

/** Options for {@link DeepGuardModel.load}: what a saved adapter does not fix. */
export type DeepGuardLoadOptions = Pick<DeepGuardOptions, "dtype" | "device" | "analyzerDropout">;

/** Token ids [B,T] and their 1/0 attention mask [B,T] (both i64, right padded). */
export interface TokenBatch {
  /** Token ids. */
  ids: Tensor;
  /** 1 for a real token, 0 for padding. */
  mask: Tensor;
}

/** A scored token of {@link DeepGuardModel.scoreTokens}. */
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

/**
 * The DeepGuard files (`security_config.json`, `security_components.safetensors`) absent from
 * an adapter directory: none for a DeepGuard adapter, both for a plain PEFT one.
 */
export async function missingDeepGuardFiles(adapterDir: string): Promise<string[]> {
  const missing: string[] = [];
  for (const f of [SECURITY_CONFIG_FILE, COMPONENTS_FILE]) {
    try {
      await Deno.stat(`${adapterDir}/${f}`);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      missing.push(f);
    }
  }
  return missing;
}

/** Decoder + LoRA + aggregator + analyzer + token statistics. */
export class DeepGuardModel {
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
  /** The `security_config.json` this model was loaded from (null when built fresh). */
  readonly securityConfig: SecurityConfig | null;

  private constructor(
    modelDir: string,
    lm: DecoderLM,
    tokenizer: Tokenizer,
    adapter: LoraAdapter,
    components: SecurityComponents,
    securityConfig: SecurityConfig | null,
  ) {
    this.modelDir = modelDir;
    this.lm = lm;
    this.tokenizer = tokenizer;
    this.adapter = adapter;
    this.components = components;
    this.securityConfig = securityConfig;
  }

  /** Number L of aggregated hidden states. */
  get numLayers(): number {
    return this.components.shape.numLayers;
  }

  /** Fresh LoRA (B = 0) and freshly initialised components over the model in `modelDir`. */
  static async create(modelDir: string, opts: DeepGuardOptions = {}): Promise<DeepGuardModel> {
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
        { device: lm.device, dropout: opts.analyzerDropout, aggregatorInit: opts.aggregatorInit },
      );
      return new DeepGuardModel(modelDir, lm, tokenizer, adapter, components, null);
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
    opts: DeepGuardLoadOptions = {},
  ): Promise<DeepGuardModel> {
    const missing = await missingDeepGuardFiles(adapterDir);
    if (missing.length) {
      throw new ComponentsError(
        `${adapterDir} lacks ${missing.join(" and ")}: DeepGuard's guidance and scoring need the ` +
          `security components a DeepGuard training run saves beside the LoRA (a plain PEFT ` +
          `adapter works for plain generation: generate without --guided, eval --method lm)`,
      );
    }
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
        return new DeepGuardModel(modelDir, lm, tokenizer, adapter, components, secCfg);
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
   * security_components.safetensors, security_config.json (with `extra` keys added to the
   * latter, e.g. the training loss settings).
   */
  async save(dir: string, extra: Record<string, unknown> = {}): Promise<void> {
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
      ...extra,
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
  forward(side: TokenBatch): { logits: Tensor; hidden: Tensor[] } {
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
          const device = this.lm.device;
          const idsT = tensor(BigInt64Array.from(ids, BigInt), [1, ids.length], { device });
          const mask = tensor(new BigInt64Array(ids.length).fill(1n), [1, ids.length], { device });
          const hidden = this.lm.lastHiddenStates(idsT, this.numLayers, { attentionMask: mask });
          return this.scores(hidden, idsT).toNumbers();
        })
      );
      return ids.map((id, i) => ({ id, token: this.tokenizer.decode([id]), score: scores[i] }));
    } finally {
      this.train(prev);
    }
  }

  /** Mean analyzer score over the prompt's tokens (s̄ of the guided decoding). */
  meanPromptScore(prompt: string): number {
    const scores = this.scoreTokens(prompt);
    if (!scores.length) throw new RangeError("cannot guide an empty prompt");
    return scores.reduce((s, t) => s + t.score, 0) / scores.length;
  }

  /**
   * The guided-decoding logits processor for `prompt`: strength 1/s̄ from the analyzer's view of
   * the prompt, bias from the learned token statistics. The caller disposes it after generation.
   */
  guidance(prompt: string, options: GuidanceOptions = {}): SecurityLogitsProcessor {
    return securityLogitsProcessor(
      this.tokenStats,
      guidanceStrength(this.meanPromptScore(prompt)),
      options,
    );
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
