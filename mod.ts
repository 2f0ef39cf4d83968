/**
 * DeepGuard-TS: secure code generation with security-aware LoRA, multi-layer semantic aggregation
 * and security-guided decoding, on libtorch through a thin C shim and Deno FFI.
 *
 * The native shim is compiled on first use against libtorch from `$LIBTORCH`, the project venv
 * (`.venv`, torch wheel) or a system libtorch (Debian `libtorch-dev`); `$DG_SHIM` points at a
 * prebuilt one. Every tensor owns a native handle: dispose it, or work inside `tidy()`.
 *
 * @example Load a checkpoint and sample
 * ```ts
 * import { generate, loadPretrained } from "@deepguard/deepguard-ts";
 * const { model, tokenizer } = await loadPretrained("/models/Qwen2.5-Coder-1.5B");
 * const out = generate(model, tokenizer, ["def read_file(path):"], { maxNewTokens: 64 });
 * console.log(out.texts[0]);
 * ```
 *
 * @example Train a DeepGuard adapter, then generate with security guidance
 * ```ts
 * import { loadGenerator, train } from "@deepguard/deepguard-ts";
 * const { bestDir } = await train({ model: "/models/qwen", data: "sven", out: "runs/q" });
 * const gen = await loadGenerator({ model: "/models/qwen", adapter: bestDir, guided: true });
 * ```
 *
 * @example Score a completion with the security harness
 * ```ts
 * import { scoreCompletions } from "@deepguard/deepguard-ts";
 * const { summary } = await scoreCompletions({
 *   outDir: "out",
 *   completions: [{ scenario: "cwe-078/0-py", completion: "    ..." }],
 * });
 * ```
 *
 * @example Per-token security scores of a code string
 * ```ts
 * import { DeepGuardModel } from "@deepguard/deepguard-ts";
 * const dg = await DeepGuardModel.load("/models/qwen", "runs/q/best");
 * for (const { token, score } of dg.scoreTokens("os.system(cmd)")) console.log(token, score);
 * ```
 *
 * Tensor internals (raw ops, autograd, the optimizer step, the shim loader) are the `./ffi`
 * sub-path export; the layers and AdamW are `./nn`. Only the building blocks the types below
 * expose (`Module`, `Linear`, `RMSNorm`, the decoder's modules, `KVCache`, `KVWriter`) are
 * re-exported here.
 * @module
 */
// Tensors: the handle type, memory scopes and the errors every caller may see.
export {
  type Device,
  DeviceError,
  DisposedTensorError,
  type DType,
  type ElementwiseMethods,
  type HostArray,
  liveTensors,
  manualSeed,
  NativeLibraryError,
  noGrad,
  Tensor,
  type TensorOptions,
  tidy,
  TorchError,
  type ValuesIndices,
} from "./ffi/mod.ts";
export type { Scoped } from "./ffi/scope.ts";
// The building blocks the model types expose.
export {
  Embedding,
  type Layer,
  Linear,
  Module,
  ModuleList,
  RMSNorm,
  StateDictError,
} from "./lib/nn/mod.ts";
// Models: Hugging Face checkpoints, tokenizer, generation.
export {
  Attention,
  type BosRule,
  type DecodeOptions,
  DecoderBody,
  DecoderLayer,
  DecoderLM,
  type EncodeOptions,
  type ForwardOptions,
  type ForwardOutput,
  FusableModule,
  generate,
  type GenerateOptions,
  type GenerateResult,
  type GenerationConfig,
  KVCache,
  type KVWriter,
  type LayerContext,
  type LoadOptions,
  loadPretrained,
  type LogitsProcessor,
  makeTiny,
  MLP,
  type ModelConfig,
  type ModelType,
  type PaddedBatch,
  type Pretrained,
  type Projection,
  type RopeScaling,
  type RopeTables,
  type SamplingOptions,
  type SamplingSettings,
  type TinyArch,
  type TinyOptions,
  Tokenizer,
  type TokenizerOptions,
} from "./lib/model/mod.ts";
export {
  AdapterError,
  loadLora,
  LoraAdapter,
  type LoraConfig,
  LoraLinear,
} from "./lib/lora/mod.ts";
export {
  type Aggregation,
  AGGREGATIONS,
  type AggregatorInit,
  MultiLayerAggregator,
} from "./lib/aggregator/mod.ts";
export { SecurityAnalyzer, TokenSecurityStats } from "./lib/analyzer/mod.ts";
// DeepGuard at inference: security components, scores, guided decoding.
export {
  ComponentsError,
  type ComponentsShape,
  type DeepGuardLoadOptions,
  DeepGuardModel,
  type DeepGuardOptions,
  type GuidanceOptions,
  guidanceStrength,
  normalizeStats,
  SecurityComponents,
  type SecurityConfig,
  type SecurityLogitsProcessor,
  securityLogitsProcessor,
  type TokenBatch,
  type TokenScore,
} from "./lib/deepguard/mod.ts";
// Training.
export {
  type LossTerms,
  type LossValues,
  type LossWeights,
  type OverLength,
  type PairBatchTensors,
  type Recipe,
  type ScorePooling,
  SecurityAwareLoRAModel,
  type SideTensors,
  type StepLog,
  train,
  type TrainConfig,
  type TrainHooks,
  type TrainResult,
  type ValidationLog,
} from "./lib/train/mod.ts";
// Generation and evaluation runs.
export { type Generator, type GeneratorOptions, loadGenerator } from "./lib/pipeline/generator.ts";
export {
  type EvalOptions,
  type EvalType,
  type Method,
  runEvaluation,
} from "./lib/pipeline/evaluate.ts";
export type { Shard } from "./lib/pipeline/shards.ts";
export type { GuidanceFactory } from "./lib/pipeline/samples.ts";
export { PAPER_SAMPLING, type SampleSettings } from "./lib/pipeline/sampling_settings.ts";
export type { CoDecodeKnobs } from "./lib/cosec/codecoding.ts";
export { scoreCompletions, type ScoreOptions, type ScoreOutcome } from "./lib/eval/score.ts";
export type { GroupSummary, MetricRow, Summary } from "./lib/eval/metrics.ts";
export type { SampleResult } from "./lib/eval/results.ts";
export type { AdapterMeta, GenerationMeta, ModelMeta, RunMeta } from "./lib/eval/run_meta.ts";
export type { PassAtKRow, PassAtKSummary, PassAtKValues } from "./lib/eval/pass_at_k.ts";
export type {
  Finding,
  JudgeOutcome,
  Language,
  LanguageBackend,
  Scenario,
} from "./lib/eval/types.ts";
