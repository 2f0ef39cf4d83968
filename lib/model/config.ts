/**
 * config.json → {@link ModelConfig} for HF `qwen2` and `llama` decoders.
 *
 * Accepts both key layouts seen in the wild: transformers 4 (`rope_theta` + `rope_scaling` with
 * `type` or `rope_type`, `torch_dtype`) and transformers 5 (`rope_parameters`, `dtype`).
 *
 * @module
 */

import { ConfigError, requireModelDir } from "./errors.ts";

/** Supported architectures. */
export type ModelType = "qwen2" | "llama";

/** RoPE scaling: none, or linear position interpolation (positions / factor). */
export type RopeScaling = { type: "default" } | { type: "linear"; factor: number };

/** Everything the decoder needs from config.json. */
export interface ModelConfig {
  /** `qwen2` or `llama`. */
  modelType: ModelType;
  /** Embedding rows (may exceed the tokenizer's vocabulary). */
  vocabSize: number;
  /** Model width D. */
  hiddenSize: number;
  /** MLP width. */
  intermediateSize: number;
  /** Number of decoder layers N. */
  numLayers: number;
  /** Query heads H. */
  numHeads: number;
  /** Key/value heads K (GQA when K < H). */
  numKvHeads: number;
  /** Per-head width d (explicit `head_dim` honoured, else D / H). */
  headDim: number;
  /** RMSNorm epsilon. */
  rmsNormEps: number;
  /** RoPE base. */
  ropeTheta: number;
  /** RoPE scaling. */
  ropeScaling: RopeScaling;
  /** Bias on q/k/v projections (always for qwen2; `attention_bias` for llama). */
  qkvBias: boolean;
  /** Bias on o_proj (llama `attention_bias`; never for qwen2). */
  oBias: boolean;
  /** Bias on gate/up/down (llama `mlp_bias`). */
  mlpBias: boolean;
  /** lm_head shares the embedding matrix. */
  tieWordEmbeddings: boolean;
  /** Dropout on attention probabilities, training mode only. */
  attentionDropout: number;
  /** Max positions (informational). */
  maxPositionEmbeddings: number;
  /** BOS id or null. */
  bosTokenId: number | null;
  /** EOS ids (config may hold a list). */
  eosTokenIds: number[];
  /** Pad id or null. */
  padTokenId: number | null;
  /** Checkpoint dtype as written (`bfloat16`, `float32`…), or null. */
  torchDtype: string | null;
}

function num(o: Record<string, unknown>, key: string, file: string, dflt?: number): number {
  const v = o[key];
  if (v === undefined || v === null) {
    if (dflt !== undefined) return dflt;
    throw new ConfigError("missing_key", file, `missing required key "${key}"`);
  }
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new ConfigError("bad_value", file, `"${key}" must be a number, got ${JSON.stringify(v)}`);
  }
  return v;
}

function int(o: Record<string, unknown>, key: string, file: string, dflt?: number): number {
  const v = num(o, key, file, dflt);
  if (!Number.isInteger(v) || v < 0) {
    throw new ConfigError("bad_value", file, `"${key}" must be a non-negative integer, got ${v}`);
  }
  return v;
}

function ids(v: unknown): number[] {
  if (typeof v === "number") return [v];
  if (Array.isArray(v)) return v.filter((x) => typeof x === "number");
  return [];
}

function parseRope(
  o: Record<string, unknown>,
  file: string,
): { theta: number; scaling: RopeScaling } {
  const params = o.rope_parameters as Record<string, unknown> | undefined | null;
  const legacy = o.rope_scaling as Record<string, unknown> | undefined | null;
  const src = params && typeof params === "object" ? params : legacy ?? null;
  let theta = typeof o.rope_theta === "number" ? o.rope_theta : 10000;
  if (params && typeof params.rope_theta === "number") theta = params.rope_theta;
  if (src === null) return { theta, scaling: { type: "default" } };
  if (typeof src !== "object") {
    throw new ConfigError(
      "bad_value",
      file,
      `rope scaling must be an object, got ${JSON.stringify(src)}`,
    );
  }
  const kind = (src.rope_type ?? src.type ?? "default") as string;
  if (kind === "default") return { theta, scaling: { type: "default" } };
  if (kind === "linear") {
    const factor = src.factor;
    if (typeof factor !== "number" || !(factor > 0)) {
      throw new ConfigError(
        "bad_value",
        file,
        `linear rope scaling needs a positive "factor", got ${factor}`,
      );
    }
    return { theta, scaling: { type: "linear", factor } };
  }
  throw new ConfigError(
    "unsupported_rope_type",
    file,
    `rope type "${kind}" is not supported (supported: default, linear)`,
  );
}

/**
 * Parse a config.json object.
 * @param raw the parsed JSON
 * @param file path for error messages
 */
export function parseConfig(raw: unknown, file = "<config>"): ModelConfig {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError("bad_json", file, "config is not a JSON object");
  }
  const o = raw as Record<string, unknown>;
  const mt = o.model_type;
  if (mt !== "qwen2" && mt !== "llama") {
    throw new ConfigError(
      "unknown_model_type",
      file,
      `model_type ${JSON.stringify(mt)} is not supported (supported: qwen2, llama)`,
    );
  }
  const hidden = int(o, "hidden_size", file);
  const heads = int(o, "num_attention_heads", file);
  const kv = int(o, "num_key_value_heads", file, heads);
  if (heads === 0 || kv === 0 || heads % kv !== 0) {
    throw new ConfigError(
      "bad_value",
      file,
      `num_attention_heads ${heads} must be a multiple of num_key_value_heads ${kv}`,
    );
  }
  const headDim = o.head_dim != null ? int(o, "head_dim", file) : hidden / heads;
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) {
    throw new ConfigError("bad_value", file, `head_dim ${headDim} must be an even integer`);
  }
  const act = o.hidden_act ?? "silu";
  if (act !== "silu") {
    throw new ConfigError("bad_value", file, `hidden_act "${act}" is not supported (silu only)`);
  }
  const { theta, scaling } = parseRope(o, file);
  const attnBias = o.attention_bias === true;
  const dtype = (o.torch_dtype ?? o.dtype ?? null) as string | null;
  return {
    modelType: mt,
    vocabSize: int(o, "vocab_size", file),
    hiddenSize: hidden,
    intermediateSize: int(o, "intermediate_size", file),
    numLayers: int(o, "num_hidden_layers", file),
    numHeads: heads,
    numKvHeads: kv,
    headDim,
    rmsNormEps: num(o, "rms_norm_eps", file, 1e-6),
    ropeTheta: theta,
    ropeScaling: scaling,
    qkvBias: mt === "qwen2" ? true : attnBias,
    oBias: mt === "qwen2" ? false : attnBias,
    mlpBias: mt === "llama" && o.mlp_bias === true,
    tieWordEmbeddings: o.tie_word_embeddings === true,
    attentionDropout: num(o, "attention_dropout", file, 0),
    maxPositionEmbeddings: int(o, "max_position_embeddings", file, 32768),
    bosTokenId: typeof o.bos_token_id === "number" ? o.bos_token_id : null,
    eosTokenIds: ids(o.eos_token_id),
    padTokenId: typeof o.pad_token_id === "number" ? o.pad_token_id : null,
    torchDtype: typeof dtype === "string" ? dtype : null,
  };
}

/** Read and parse `<dir>/config.json`. */
export async function loadConfig(dir: string): Promise<ModelConfig> {
  await requireModelDir(dir);
  const file = `${dir}/config.json`;
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    throw new ConfigError(
      "missing_file",
      file,
      `cannot read config.json (${(e as Error).message})`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError("bad_json", file, `invalid JSON (${(e as Error).message})`);
  }
  return parseConfig(raw, file);
}
