/**
 * lib/model — Hugging Face decoder LMs (Qwen2, Llama) on libtorch: checkpoint loading
 * (safetensors, sharded), config parsing, tokenizer with transformers' rules, the decoder forward
 * with all hidden states, and KV-cache generation with sampling and a logits hook.
 *
 * ```ts
 * const { model, tokenizer } = await loadPretrained("path/to/Qwen2.5-Coder-0.5B", { dtype: "bf16", device: "cuda" });
 * const out = noGrad(() => model.forward([tokenizer.encode("def f(x):")], { outputHiddenStates: true }));
 * const gen = generate(model, tokenizer, ["def add(a, b):"], { doSample: true, temperature: 0.4, topP: 0.95, numReturnSequences: 20, maxNewTokens: 256, seed: 1 });
 * ```
 *
 * @module
 */

export * from "./errors.ts";
export {
  MAX_HEADER_SIZE,
  openCheckpoint,
  parseHeader,
  readHeader,
  readTensorBytes,
  ST_DTYPE_SIZE,
  stToTorchDType,
  torchToStDType,
  writeSafetensors,
} from "./safetensors.ts";
export type {
  CheckpointIndex,
  SafetensorsHeader,
  StDType,
  TensorInfo,
  TensorLike,
  TorchDType,
  WriteEntry,
} from "./safetensors.ts";
export { loadConfig, parseConfig } from "./config.ts";
export type { ModelConfig, ModelType, RopeScaling } from "./config.ts";
export { Tokenizer } from "./tokenizer.ts";
export type {
  BosRule,
  DecodeOptions,
  EncodeOptions,
  PaddedBatch,
  TokenizerOptions,
} from "./tokenizer.ts";
export { applyRope, ropeInvFreq, type RopeTables, ropeTables } from "./rope.ts";
export { KVCache, type KVWriter } from "./kv_cache.ts";
export * from "./linears.ts";
export { Attention, DecoderBody, DecoderLayer, DecoderLM, FINFO_MIN, MLP } from "./qwen_llama.ts";
export type { ForwardOptions, ForwardOutput, LayerContext } from "./qwen_llama.ts";
export {
  expectedShapes,
  fillFromCheckpoint,
  loadModel,
  loadPretrained,
  validateCheckpoint,
} from "./load.ts";
export type { LoadOptions, Pretrained } from "./load.ts";
export {
  type GenerationConfig,
  generationConfigFrom,
  loadGenerationConfig,
  resolveSampling,
  SAMPLING_DEFAULTS,
  type SamplingSettings,
} from "./generation_config.ts";
export { selectTokens, temperatureWarp, topKWarp, topPWarp, warp } from "./sampling.ts";
export type { SamplingOptions } from "./sampling.ts";
export { generate } from "./generate.ts";
export { cudaGraphsOff, StaticDecodeStep, type StaticStepOptions } from "./static_step.ts";
export type { GenerateOptions, GenerateResult, LogitsProcessor } from "./generate.ts";
export { bytesToUnicode, makeTiny, trainBpe } from "./tiny.ts";
export type { TinyArch, TinyOptions } from "./tiny.ts";
