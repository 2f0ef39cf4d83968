/**
 * Read an HF checkpoint directory into a {@link DecoderLM}: config.json decides the module tree,
 * the model builds it (uninitialised), then one pass over the checkpoint's tensors fills the
 * parameters by name. Names and shapes are checked against the tree itself before any byte is
 * read; each tensor is read from its byte range straight onto the target device in the run dtype
 * (ffi `fromFile`), checked for NaN/∞, and copied into its parameter.
 *
 * @module
 */

import { fromFile, noGrad, type Tensor, tidy } from "../../ffi/mod.ts";
import { loadConfig, type ModelConfig } from "./config.ts";
import { CheckpointError } from "./errors.ts";
import { type GenerationConfig, loadGenerationConfig } from "./generation_config.ts";
import type { WeightOptions } from "./linears.ts";
import { DecoderLM } from "./qwen_llama.ts";
import { type CheckpointIndex, openCheckpoint, stToTorchDType } from "./safetensors.ts";
import { Tokenizer, type TokenizerOptions } from "./tokenizer.ts";

/** Options of {@link loadModel}: where and how the weights are stored. */
export type LoadOptions = WeightOptions;

/**
 * Parameter shapes by HF name for a config, read off the module tree (built once, uninitialised,
 * and freed).
 */
export function expectedShapes(cfg: ModelConfig): Map<string, number[]> {
  const m = new DecoderLM(cfg, { fuse: false, layout: "row" });
  try {
    return new Map(m.namedParameters().map(([n, t]) => [n, [...t.shape]]));
  } finally {
    m.dispose();
  }
}

/** Names that may appear in a checkpoint without being parameters. */
function ignorable(name: string, cfg: ModelConfig): boolean {
  return name.endsWith("rotary_emb.inv_freq") ||
    (cfg.tieWordEmbeddings && name === "lm_head.weight");
}

/**
 * Check a checkpoint index against a model: every parameter present with its shape and a known
 * dtype, no unexpected tensor. Throws {@link CheckpointError} naming the file and tensor.
 */
export function validateCheckpoint(model: DecoderLM, ck: CheckpointIndex): void {
  const params = model.stateDict();
  for (const [name, p] of params) {
    const info = ck.tensors.get(name);
    if (!info) {
      throw new CheckpointError("missing_tensor", ck.dir, name, "not found in the checkpoint");
    }
    if (info.shape.join(",") !== p.shape.join(",")) {
      throw new CheckpointError(
        "shape_mismatch",
        info.file,
        name,
        `shape [${info.shape}] does not match [${p.shape}] derived from config.json`,
      );
    }
    stToTorchDType(info.dtype, info.file, name);
  }
  for (const [name, info] of ck.tensors) {
    if (!params.has(name) && !ignorable(name, model.config)) {
      throw new CheckpointError(
        "unexpected_tensor",
        info.file,
        name,
        "not a parameter of the model built from config.json",
      );
    }
  }
}

/**
 * Whether every value of `t` is finite. The sum is finite exactly when every value is, except
 * when it overflows the dtype (possible for large f16 tensors); that rare case is settled by the
 * elementwise test. The sum is one vectorised pass without allocation (40 ms for 67M f32 values on
 * a loaded 2-core machine, against 1.1–2 s for `isfinite().logicalNot().any()`).
 */
function allFinite(t: Tensor): boolean {
  if (Number.isFinite(t.sum().item())) return true;
  return t.isfinite().logicalNot().any().item() === 0;
}

/**
 * Fill every parameter of `model` from the checkpoint (validated first). A tensor holding NaN or
 * ±∞ (in the run dtype) is a {@link CheckpointError} `non_finite` naming file and tensor.
 */
export function fillFromCheckpoint(model: DecoderLM, ck: CheckpointIndex): void {
  validateCheckpoint(model, ck);
  const to = { dtype: model.dtype, device: model.device };
  noGrad(() => {
    for (const [name, param] of model.stateDict()) {
      tidy(() => {
        const info = ck.tensors.get(name)!;
        const fileDt = stToTorchDType(info.dtype, info.file, name);
        const src = fromFile(info.file, info.offset, info.byteLength, info.shape, fileDt, to);
        if (!allFinite(src)) {
          const how = fileDt === model.dtype ? "" : ` once converted to ${model.dtype}`;
          throw new CheckpointError(
            "non_finite",
            info.file,
            name,
            `holds NaN or infinite values${how}: the checkpoint is corrupt or badly converted`,
          );
        }
        param.copy_(src);
      });
    }
  });
}

/**
 * Load the model in `dir` (config.json, model.safetensors or sharded safetensors, and
 * generation_config.json when present): eval mode, parameters frozen.
 */
export async function loadModel(dir: string, opts: LoadOptions = {}): Promise<DecoderLM> {
  const cfg = await loadConfig(dir);
  const generation = await loadGenerationConfig(dir, cfg);
  const ck = await openCheckpoint(dir);
  const model = new DecoderLM(cfg, opts);
  try {
    fillFromCheckpoint(model, ck);
  } catch (e) {
    model.dispose();
    throw e;
  }
  model.generationConfig = generation;
  return model;
}

/** A loaded model with its tokenizer and generation config. */
export interface Pretrained {
  /** The model (eval mode, parameters frozen). */
  model: DecoderLM;
  /** The tokenizer. */
  tokenizer: Tokenizer;
  /** Parsed config.json. */
  config: ModelConfig;
  /** generation_config.json (also `model.generationConfig`, which `generate` falls back to). */
  generation: GenerationConfig;
}

/** Load model, tokenizer and generation config from an HF directory. */
export async function loadPretrained(
  dir: string,
  opts: LoadOptions & TokenizerOptions = {},
): Promise<Pretrained> {
  const tokenizer = await Tokenizer.load(dir, opts);
  const model = await loadModel(dir, opts);
  return { model, tokenizer, config: model.config, generation: model.generationConfig };
}
