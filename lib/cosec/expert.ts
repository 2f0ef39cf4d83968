/**
 * Loading a CoSec pair: the base model and its security expert, as upstream's
 * `CoSecEvaler.load_model` does (unknownhl/DeepGuard `sven/evaler.py` L292-318): the expert is
 * a LoRA adapter (`--sec_model`, the `checkpoint-last` that `cosec/train_lora_sec.py` L229-230
 * saves with PEFT's `save_pretrained`) on a small base (`--base_model`), with the expert base's
 * embeddings resized to its tokenizer's length. A full HF checkpoint is accepted too (an expert
 * merged already). The pair must share a tokenizer.
 * @module
 */
import type { Device } from "../../ffi/mod.ts";
import { ADAPTER_CONFIG_FILE, loadLora, readAdapterConfig } from "../lora/mod.ts";
import { loadPretrained } from "../model/load.ts";
import type { GenerateOptions, GenerateResult } from "../model/generate.ts";
import type { DecoderLM } from "../model/qwen_llama.ts";
import type { Tokenizer } from "../model/tokenizer.ts";
import { isDir, isFile } from "../util/fs.ts";
import {
  checkSameTokenizer,
  type CoDecodeKnobs,
  coGenerate,
  UPSTREAM_COSEC,
} from "./codecoding.ts";

/** Options of {@link loadCoSec}. */
export interface CoSecLoadOptions {
  /** The base model (HF directory). */
  model: string;
  /** The expert: a PEFT LoRA adapter directory, or a full HF checkpoint. */
  expert: string;
  /** The expert adapter's base model (default: the adapter's `base_model_name_or_path`). */
  expertBase?: string;
  /** Weights dtype (default f32). */
  dtype?: "f32" | "bf16";
  /** Device (default cpu). */
  device?: Device;
  /** Co-decoding knobs (default upstream's). */
  knobs?: CoDecodeKnobs;
}

/** A loaded pair, with a `generate` of {@link generate}'s shape that co-decodes. */
export interface CoSecGenerator {
  /** The base model. */
  model: DecoderLM;
  /** The base tokenizer (the expert's is identical). */
  tokenizer: Tokenizer;
  /** The expert (LoRA merged). */
  expert: DecoderLM;
  /**
   * Co-decodes one prompt (ids); sampling knobs other than the seed are the co-decoding rule's,
   * as upstream ignores the base's temperature and top-p on this path.
   */
  generate: (
    model: DecoderLM,
    tokenizer: Tokenizer | null,
    prompts: readonly (readonly number[])[],
    opts: GenerateOptions,
  ) => GenerateResult;
  /** One line saying what was loaded. */
  description: string;
  /** Frees both models. */
  dispose(): void;
}

/** Resolves the expert's base model directory; throws a RangeError naming the problem. */
async function expertBaseDir(expert: string, given?: string): Promise<string | null> {
  if (!(await isDir(expert))) throw new RangeError(`--expert ${expert} is not a directory`);
  if (!(await isFile(`${expert}/${ADAPTER_CONFIG_FILE}`))) {
    if (await isFile(`${expert}/config.json`)) return null;
    throw new RangeError(
      `--expert ${expert} holds neither ${ADAPTER_CONFIG_FILE} (a LoRA expert from ` +
        "`train --method cosec`) nor config.json (a full checkpoint)",
    );
  }
  const base = given ?? (await readAdapterConfig(expert)).baseModel;
  if (!base || !(await isFile(`${base}/config.json`))) {
    throw new RangeError(
      `the expert adapter ${expert} needs its base model: ` +
        (base ? `${base} has no config.json` : "its adapter_config.json names none") +
        "; pass --expert-base DIR",
    );
  }
  return base;
}

/** Loads base, expert (adapter merged) and checks they share a tokenizer. */
export async function loadCoSec(opts: CoSecLoadOptions): Promise<CoSecGenerator> {
  const dtype = opts.dtype ?? "f32";
  const device = opts.device ?? "cpu";
  const adapterBase = await expertBaseDir(opts.expert, opts.expertBase);
  const expertDir = adapterBase ?? opts.expert;
  const base = await loadPretrained(opts.model, { dtype, device });
  let expert: Awaited<ReturnType<typeof loadPretrained>> | null = null;
  try {
    expert = await loadPretrained(expertDir, { dtype, device });
    checkSameTokenizer(base.tokenizer, expert.tokenizer, opts.model, expertDir);
    if (adapterBase) (await loadLora(expert.model, opts.expert)).mergeAndUnload(expert.model);
  } catch (e) {
    base.model.dispose();
    expert?.model.dispose();
    throw e;
  }
  const ex = expert;
  const vocab = ex.tokenizer.vocabSize;
  return {
    model: base.model,
    tokenizer: base.tokenizer,
    expert: ex.model,
    generate: (model, tokenizer, prompts, o) => {
      if (prompts.length !== 1) throw new RangeError("CoSec co-decodes one prompt per call");
      return coGenerate(model, ex.model, vocab, tokenizer, prompts[0], {
        numReturnSequences: o.numReturnSequences,
        maxNewTokens: o.maxNewTokens,
        seed: o.seed,
        knobs: opts.knobs ?? UPSTREAM_COSEC,
      });
    },
    description: `base ${opts.model} + CoSec expert ${opts.expert}` +
      (adapterBase ? ` on ${adapterBase}` : "") + ` (${dtype}, ${device})`,
    dispose: () => {
      base.model.dispose();
      ex.model.dispose();
    },
  };
}
