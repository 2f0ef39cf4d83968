/**
 * Loads what generation needs: the base model alone, or the base model with a DeepGuard adapter
 * (LoRA merged for speed) and, when guided, the security guidance built from the analyzer's view
 * of each prompt and the learned token statistics.
 * @module
 */
import type { Device } from "../../ffi/mod.ts";
import { loadPretrained } from "../model/load.ts";
import type { DecoderLM } from "../model/qwen_llama.ts";
import type { Tokenizer } from "../model/tokenizer.ts";
import { type GuidanceOptions, guidanceStrength, securityLogitsProcessor } from "../guided/mod.ts";
import { SecurityAwareLoRAModel } from "../train/security_model.ts";
import type { GuidanceFactory } from "./samples.ts";

/** Options of {@link loadGenerator}. */
export interface GeneratorOptions {
  /** Hugging Face checkpoint directory. */
  model: string;
  /** DeepGuard adapter directory (PEFT adapter + security components). */
  adapter?: string;
  /** Security-guided decoding (needs an adapter). */
  guided?: boolean;
  dtype?: "f32" | "bf16";
  device?: Device;
  guidance?: GuidanceOptions;
}

/** A model ready to sample from, with optional guidance. */
export interface Generator {
  model: DecoderLM;
  tokenizer: Tokenizer;
  /** Builds the per-prompt logits processor, or null for plain sampling. */
  guidance: GuidanceFactory | null;
  /** One line saying what was loaded. */
  description: string;
  dispose(): void;
}

/** Mean analyzer score over the prompt's tokens (s̄ of the guided decoding). */
export function meanPromptScore(sm: SecurityAwareLoRAModel, prompt: string): number {
  const scores = sm.scoreTokens(prompt);
  if (!scores.length) throw new RangeError("cannot guide an empty prompt");
  return scores.reduce((s, t) => s + t.score, 0) / scores.length;
}

/** Loads the model (and adapter) for sampling. */
export async function loadGenerator(opts: GeneratorOptions): Promise<Generator> {
  const dtype = opts.dtype ?? "f32";
  const device = opts.device ?? "cpu";
  if (opts.guided && !opts.adapter) {
    throw new Error("guided decoding needs a DeepGuard adapter (--adapter DIR)");
  }
  if (!opts.adapter) {
    const pre = await loadPretrained(opts.model, { dtype, device });
    return {
      model: pre.model,
      tokenizer: pre.tokenizer,
      guidance: null,
      description: `base model ${opts.model} (${dtype}, ${device})`,
      dispose: () => pre.model.dispose(),
    };
  }
  const sm = await SecurityAwareLoRAModel.load(opts.model, opts.adapter, { dtype, device });
  sm.train(false);
  const guidance: GuidanceFactory | null = opts.guided
    ? (prompt) =>
      securityLogitsProcessor(
        sm.tokenStats,
        guidanceStrength(meanPromptScore(sm, prompt)),
        opts.guidance,
      )
    : null;
  return {
    model: sm.lm,
    tokenizer: sm.tokenizer,
    guidance,
    description:
      `${opts.model} + adapter ${opts.adapter}${opts.guided ? " + guided decoding" : ""} ` +
      `(${dtype}, ${device})`,
    dispose: () => sm.dispose(),
  };
}
