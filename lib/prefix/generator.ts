/**
 * Sampling with a trained SVEN prefix, as upstream unknownhl/DeepGuard `sven/evaler.py`
 * `PrefixEvaler` (L183-228): the base model in eval mode (no prefix dropout), every sequence
 * started from the secure control's past (control 0, L194-196, passed to `generate` L205-216), the prompt placed after it
 * (`Qwen2Prefix.prepare_inputs_for_generation`, `sven/model.py` L218-330: a mask of ones over the
 * prefix, positions counted from the prefix length); sampling otherwise as `--method lm`.
 * Imports nothing from `lib/train` (tests/deepguard_layering.test.ts).
 * @module
 */
import { type Device, tidy } from "../../ffi/mod.ts";
import { generate } from "../model/generate.ts";
import { loadPretrained } from "../model/load.ts";
import type { DecoderLM } from "../model/qwen_llama.ts";
import type { Tokenizer } from "../model/tokenizer.ts";
import { PrefixParams } from "./params.ts";

/** Upstream's control ids (`sven/constant.py` BINARY_LABELS). */
export const SEC_CONTROL = 0;

/** A base model with a prefix, and a `generate` that starts from the prefix. */
export interface PrefixGenerator {
  model: DecoderLM;
  tokenizer: Tokenizer;
  /** {@link generate} with the control's past. */
  generate: typeof generate;
  /** One line saying what was loaded. */
  description: string;
  /** Frees the model and the prefix. */
  dispose(): void;
}

/** Loads `model` and the prefix directory `prefixDir`, sampling under `control` (default sec). */
export async function loadPrefixGenerator(o: {
  model: string;
  prefix: string;
  dtype?: "f32" | "bf16";
  device?: Device;
  control?: number;
}): Promise<PrefixGenerator> {
  const dtype = o.dtype ?? "f32";
  const device = o.device ?? "cpu";
  const { model, tokenizer } = await loadPretrained(o.model, { dtype, device });
  let params: PrefixParams | null = null;
  try {
    params = await PrefixParams.load(o.prefix, model.config);
    const p = params;
    const onDevice = tidy(() => {
      const past = p.past(o.control ?? SEC_CONTROL, false, dtype);
      return { k: past.k.map((t) => t.toDevice(device)), v: past.v.map((t) => t.toDevice(device)) };
    });
    for (const t of [...onDevice.k, ...onDevice.v]) t.keep();
    params.dispose();
    return {
      model,
      tokenizer,
      generate: (m, tok, prompts, opts = {}) =>
        generate(m, tok, prompts, { ...opts, past: onDevice }),
      description: `${o.model} + SVEN prefix ${o.prefix} (${params.config.n_prefix_token} ` +
        `positions, control ${o.control ?? SEC_CONTROL}) (${dtype}, ${device})`,
      dispose: () => {
        for (const t of [...onDevice.k, ...onDevice.v]) t.dispose();
        model.dispose();
      },
    };
  } catch (e) {
    params?.dispose();
    model.dispose();
    throw e;
  }
}
