/**
 * Loads what generation needs: the base model alone; the base model with a LoRA adapter (any
 * PEFT LoRA, DeepGuard's included) merged into the base weights, so sampling runs the base
 * model's own path; or, for guided decoding, a DeepGuard adapter with its security components,
 * whose analyzer's view of each prompt and learned token statistics build the guidance.
 * Imports nothing from `lib/train` (tests/deepguard_layering.test.ts).
 * @module
 */
import type { Device } from "../../ffi/mod.ts";
import { DeepGuardModel, type GuidanceOptions } from "../deepguard/mod.ts";
import { loadLora } from "../lora/mod.ts";
import { loadPretrained } from "../model/load.ts";
import type { DecoderLM } from "../model/qwen_llama.ts";
import type { Tokenizer } from "../model/tokenizer.ts";
import type { GuidanceFactory } from "./samples.ts";

/** Options of {@link loadGenerator}. */
export interface GeneratorOptions {
  /** Hugging Face checkpoint directory. */
  model: string;
  /**
   * LoRA adapter directory: any PEFT LoRA adapter for plain generation; a DeepGuard adapter
   * (PEFT adapter + security components) for guided decoding.
   */
  adapter?: string;
  /** Security-guided decoding (needs a DeepGuard adapter). */
  guided?: boolean;
  /** Base weight dtype (default f32). */
  dtype?: "f32" | "bf16";
  /** Device (default cpu). */
  device?: Device;
  /** Knobs of the guidance (defaults reproduce DeepGuard's). */
  guidance?: GuidanceOptions;
}

/** A model ready to sample from, with optional guidance. */
export interface Generator {
  /** The decoder (adapter merged in, if any). */
  model: DecoderLM;
  /** Its tokenizer. */
  tokenizer: Tokenizer;
  /** Builds the per-prompt logits processor, or null for plain sampling. */
  guidance: GuidanceFactory | null;
  /** One line saying what was loaded. */
  description: string;
  /** Frees the model (and the security components). */
  dispose(): void;
}

/** Loads the model (and adapter) for sampling. */
export async function loadGenerator(opts: GeneratorOptions): Promise<Generator> {
  const dtype = opts.dtype ?? "f32";
  const device = opts.device ?? "cpu";
  const what = `(${dtype}, ${device})`;
  if (opts.guided && !opts.adapter) {
    throw new Error("guided decoding needs a DeepGuard adapter (--adapter DIR)");
  }
  if (opts.guided) {
    const dg = await DeepGuardModel.load(opts.model, opts.adapter!, { dtype, device });
    dg.train(false);
    dg.adapter.mergeAndUnload(dg.lm);
    return {
      model: dg.lm,
      tokenizer: dg.tokenizer,
      guidance: (prompt) => dg.guidance(prompt, opts.guidance),
      description: `${opts.model} + adapter ${opts.adapter} + guided decoding ${what}`,
      dispose: () => dg.dispose(),
    };
  }
  const { model, tokenizer } = await loadPretrained(opts.model, { dtype, device });
  if (opts.adapter) {
    try {
      (await loadLora(model, opts.adapter)).mergeAndUnload(model);
    } catch (e) {
      model.dispose();
      throw e;
    }
  }
  return {
    model,
    tokenizer,
    guidance: null,
    description: opts.adapter
      ? `${opts.model} + adapter ${opts.adapter} ${what}`
      : `base model ${opts.model} ${what}`,
    dispose: () => model.dispose(),
  };
}
