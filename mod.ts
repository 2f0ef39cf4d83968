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
 * import { SecurityAwareLoRAModel } from "@deepguard/deepguard-ts";
 * const sm = await SecurityAwareLoRAModel.load("/models/qwen", "runs/q/best");
 * for (const { token, score } of sm.scoreTokens("os.system(cmd)")) console.log(token, score);
 * ```
 * @module
 */
export * from "./ffi/mod.ts";
export * from "./lib/nn/mod.ts";
export {
  generate,
  type GenerateOptions,
  type GenerateResult,
  loadPretrained,
  type LogitsProcessor,
  makeTiny,
  type ModelConfig,
  type Pretrained,
  Tokenizer,
} from "./lib/model/mod.ts";
export {
  SecurityAwareLoRAModel,
  type TokenScore,
  train,
  type TrainConfig,
  type TrainResult,
} from "./lib/train/mod.ts";
export { guidanceStrength, normalizeStats, securityLogitsProcessor } from "./lib/guided/mod.ts";
export { type Generator, loadGenerator } from "./lib/pipeline/generator.ts";
export { type EvalOptions, runEvaluation } from "./lib/pipeline/evaluate.ts";
export { PAPER_SAMPLING, type SampleSettings } from "./lib/pipeline/samples.ts";
export { scoreCompletions, type ScoreOptions, type ScoreOutcome } from "./lib/eval/score.ts";
export type { Finding, Scenario } from "./lib/eval/types.ts";
