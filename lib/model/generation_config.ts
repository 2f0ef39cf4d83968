/**
 * Sampling defaults, one set for the library and the CLI, and the checkpoint's
 * generation_config.json. Each setting resolves as transformers' `generate` does: what the caller
 * asks for, else what generation_config.json says, else {@link SAMPLING_DEFAULTS}.
 *
 * @module
 */

import type { ModelConfig } from "./config.ts";
import { ConfigError } from "./errors.ts";

/** The sampling settings of one generation run, every one decided. */
export interface SamplingSettings {
  /** Sample (true) or take the argmax (false). */
  doSample: boolean;
  /** Divide scores by this before sampling (1 = off). */
  temperature: number;
  /** Keep the k best tokens (0 = off). */
  topK: number;
  /** Keep the smallest set of best tokens whose probability reaches p (1 = off). */
  topP: number;
  /** Tokens to generate per sequence. */
  maxNewTokens: number;
}

/**
 * The defaults when neither the caller nor generation_config.json decides: transformers'
 * GenerationConfig defaults (greedy; temperature 1, top-k 50, top-p 1 when sampling), with 128
 * new tokens.
 */
export const SAMPLING_DEFAULTS: Readonly<SamplingSettings> = Object.freeze({
  doSample: false,
  temperature: 1,
  topK: 50,
  topP: 1,
  maxNewTokens: 128,
});

/** What generation uses from generation_config.json (each field null/absent when not stated). */
export interface GenerationConfig {
  /** The file read, or null when the checkpoint has none. */
  file: string | null;
  /** EOS ids (`eos_token_id`, a number or a list), or null when not stated. */
  eosTokenIds: number[] | null;
  /** `bos_token_id`, else config.json's. */
  bosTokenId: number | null;
  /** `pad_token_id`, else config.json's. */
  padTokenId: number | null;
  /** Sampling fields stated in the file (`do_sample`, `temperature`, `top_k`, `top_p`, `max_new_tokens`). */
  sampling: Partial<SamplingSettings>;
}

/** The generation config of a checkpoint without generation_config.json. */
export function generationConfigFrom(cfg: ModelConfig): GenerationConfig {
  return {
    file: null,
    eosTokenIds: null,
    bosTokenId: cfg.bosTokenId,
    padTokenId: cfg.padTokenId,
    sampling: {},
  };
}

/** Why a sampling value is out of range, or null when it is fine. */
function problem(key: keyof SamplingSettings, v: unknown): string | null {
  if (key === "doSample") return typeof v === "boolean" ? null : "must be true or false";
  if (typeof v !== "number" || !Number.isFinite(v)) return "must be a finite number";
  if (key === "temperature") return v > 0 ? null : "must be > 0";
  if (key === "topP") return v > 0 && v <= 1 ? null : "must be in (0, 1]";
  if (key === "topK") return Number.isInteger(v) && v >= 0 ? null : "must be an integer ≥ 0";
  return Number.isInteger(v) && v >= 1 ? null : "must be an integer ≥ 1";
}

const FILE_KEYS: [keyof SamplingSettings, string][] = [
  ["doSample", "do_sample"],
  ["temperature", "temperature"],
  ["topK", "top_k"],
  ["topP", "top_p"],
  ["maxNewTokens", "max_new_tokens"],
];

/**
 * Read `<dir>/generation_config.json` (optional). Out-of-range values are a {@link ConfigError}
 * naming the file and the key; `null` values count as not stated.
 */
export async function loadGenerationConfig(
  dir: string,
  cfg: ModelConfig,
): Promise<GenerationConfig> {
  const file = `${dir}/generation_config.json`;
  let raw: unknown;
  try {
    raw = JSON.parse(await Deno.readTextFile(file));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return generationConfigFrom(cfg);
    throw new ConfigError("bad_json", file, `unreadable generation config (${e})`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new ConfigError("bad_json", file, "generation_config.json must hold a JSON object");
  }
  const g = raw as Record<string, unknown>;
  const sampling: Partial<SamplingSettings> = {};
  for (const [key, name] of FILE_KEYS) {
    const v = g[name];
    if (v === undefined || v === null) continue;
    const bad = problem(key, v);
    if (bad) throw new ConfigError("bad_value", file, `"${name}" ${bad}, got ${JSON.stringify(v)}`);
    Object.assign(sampling, { [key]: v });
  }
  const id = (name: string): number | null | undefined => {
    const v = g[name];
    if (v === undefined || v === null) return undefined;
    if (Number.isInteger(v) && (v as number) >= 0) return v as number;
    throw new ConfigError(
      "bad_value",
      file,
      `"${name}" must be a token id, got ${JSON.stringify(v)}`,
    );
  };
  const eos = g.eos_token_id;
  const eosList = eos === undefined || eos === null ? null : Array.isArray(eos) ? eos : [eos];
  if (eosList && !eosList.every((x) => Number.isInteger(x) && x >= 0)) {
    throw new ConfigError(
      "bad_value",
      file,
      `"eos_token_id" must be a token id or a list of them, got ${JSON.stringify(eos)}`,
    );
  }
  return {
    file,
    eosTokenIds: eosList as number[] | null,
    bosTokenId: id("bos_token_id") ?? cfg.bosTokenId,
    padTokenId: id("pad_token_id") ?? cfg.padTokenId,
    sampling,
  };
}

/**
 * Decide every sampling setting: `requested` (undefined = not asked), else the checkpoint's
 * generation_config.json (`generation`), else {@link SAMPLING_DEFAULTS}. A requested value out of
 * range is a RangeError naming the setting.
 */
export function resolveSampling(
  requested: Partial<SamplingSettings> = {},
  generation: GenerationConfig | null = null,
): SamplingSettings {
  const out = { ...SAMPLING_DEFAULTS, ...generation?.sampling };
  for (const [key] of FILE_KEYS) {
    const v = requested[key];
    if (v === undefined) continue;
    const bad = problem(key, v);
    if (bad) throw new RangeError(`${key} ${bad}, got ${v}`);
    Object.assign(out, { [key]: v });
  }
  return out;
}
