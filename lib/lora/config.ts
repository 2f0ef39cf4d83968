/**
 * LoRA configuration and the PEFT `adapter_config.json` it is saved as (only the keys HF PEFT
 * knows, so every PEFT version loads it — see docs/models.md §6).
 * @module
 */
import type { ModelType } from "../model/config.ts";

/** LoRA hyper-parameters. */
export interface LoraConfig {
  /** Rank r (default 16). */
  r: number;
  /** α (default 32); scale = α / r. */
  alpha: number;
  /** Dropout on the LoRA input branch (default 0.1). */
  dropout: number;
  /** Module-name suffixes to wrap (e.g. `q_proj`). */
  targetModules: string[];
}

/** Error for a missing, malformed or incompatible adapter. */
export class AdapterError extends Error {
  /** Error class name. */
  override name = "AdapterError";
}

/** File names of a PEFT adapter directory. */
export const ADAPTER_CONFIG_FILE = "adapter_config.json";
/** Weights file of a PEFT adapter directory. */
export const ADAPTER_WEIGHTS_FILE = "adapter_model.safetensors";

/** DeepGuard's target modules: q,v for Qwen; q,k,v,o for Llama-family models. */
export function defaultTargets(modelType: ModelType | string): string[] {
  return modelType.includes("qwen")
    ? ["q_proj", "v_proj"]
    : ["q_proj", "k_proj", "v_proj", "o_proj"];
}

/** DeepGuard's defaults (r 16, α 32, dropout 0.1) for a model type. */
export function defaultLoraConfig(modelType: ModelType | string): LoraConfig {
  return { r: 16, alpha: 32, dropout: 0.1, targetModules: defaultTargets(modelType) };
}

/** The `adapter_config.json` object for `cfg` (PEFT LoraConfig keys only). */
export function peftAdapterConfig(cfg: LoraConfig, baseModel: string): Record<string, unknown> {
  return {
    alpha_pattern: {},
    base_model_name_or_path: baseModel,
    bias: "none",
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layers_pattern: null,
    layers_to_transform: null,
    lora_alpha: cfg.alpha,
    lora_dropout: cfg.dropout,
    modules_to_save: null,
    peft_type: "LORA",
    r: cfg.r,
    rank_pattern: {},
    revision: null,
    target_modules: [...cfg.targetModules],
    task_type: "CAUSAL_LM",
    use_dora: false,
    use_rslora: false,
  };
}

/**
 * Parses an `adapter_config.json` object into a {@link LoraConfig}; refuses adapter kinds this
 * toolkit does not implement (non-LoRA, DoRA, rsLoRA, biases, per-module patterns) by name.
 */
export function parsePeftAdapterConfig(
  raw: unknown,
  file: string,
): LoraConfig & { baseModel: string | null } {
  if (typeof raw !== "object" || raw === null) throw new AdapterError(`${file}: not a JSON object`);
  const o = raw as Record<string, unknown>;
  const fail = (msg: string): never => {
    throw new AdapterError(`${file}: ${msg}`);
  };
  if (o.peft_type !== "LORA") fail(`peft_type must be "LORA", got ${JSON.stringify(o.peft_type)}`);
  if (o.use_dora === true) fail("DoRA adapters are not supported");
  if (o.use_rslora === true) fail("rsLoRA scaling is not supported");
  if (o.bias !== undefined && o.bias !== "none") {
    fail(`bias "${o.bias}" is not supported (only "none")`);
  }
  if (o.fan_in_fan_out === true) fail("fan_in_fan_out adapters (Conv1D models) are not supported");
  for (const k of ["rank_pattern", "alpha_pattern"]) {
    const v = o[k];
    if (v && typeof v === "object" && Object.keys(v).length) fail(`${k} is not supported`);
  }
  if (!Number.isInteger(o.r) || (o.r as number) < 1) {
    fail(`r must be a positive integer, got ${o.r}`);
  }
  if (typeof o.lora_alpha !== "number") fail(`lora_alpha must be a number, got ${o.lora_alpha}`);
  let targets = o.target_modules;
  if (typeof targets === "string") fail("regex target_modules are not supported; give a list");
  if (!Array.isArray(targets) || !targets.every((t) => typeof t === "string")) {
    targets = fail("target_modules must be a list of module names");
  }
  return {
    r: o.r as number,
    alpha: o.lora_alpha as number,
    dropout: typeof o.lora_dropout === "number" ? o.lora_dropout : 0,
    targetModules: targets as string[],
    baseModel: typeof o.base_model_name_or_path === "string" ? o.base_model_name_or_path : null,
  };
}
