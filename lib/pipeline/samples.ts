/**
 * Sampling completions for evaluation scenarios, cached on disk as they are produced.
 *
 * Upstream protocol: per scenario the prompt is `file_context + func_context` (the text baseline
 * inserts a comment between the two, {@link textPrompt}); N samples are drawn
 * in calls of `perCall` sequences, call i seeded with `seed + i`; nucleus sampling with the given
 * temperature and top-p. Each finished call is appended to a JSONL file in one write, so an
 * interrupted run resumes at the first missing call (a torn last line is dropped).
 * @module
 */
import { generate, type LogitsProcessor } from "../model/generate.ts";
import type { DecoderLM } from "../model/qwen_llama.ts";
import type { Tokenizer } from "../model/tokenizer.ts";
import type { Scenario } from "../eval/types.ts";
import { appendJsonl, readResumableJsonl } from "../util/jsonl.ts";
import type { SampleSettings } from "./sampling_settings.ts";

/** One cached completion line. */
export interface CompletionRecord {
  /** Scenario id. */
  scenario: string;
  /** Generated text after the prompt. */
  completion: string;
  /** 0-based generate call this sample came from (seeded with seed + call). */
  call: number;
  /** Generated token count (EOS included when the sample stopped). */
  tokens: number;
}

/** Makes the guidance for one prompt (null = plain sampling); disposed after its calls. */
export type GuidanceFactory = (
  prompt: string,
  promptIds: number[],
) => (LogitsProcessor & { dispose(): void }) | null;

/** The prompt of a scenario, exactly as upstream: file_context + func_context. */
export function scenarioPrompt(s: Scenario): string {
  return s.fileContext + s.funcContext;
}

/** The secure control text of SVEN's text-prompt baseline (upstream sven/constant.py:90-91). */
export const SECURE_PROMPT_TEXT = "The following code is secure\n";

/**
 * The text baseline's prompt, as upstream's `TextPromptEvaler.sample_text` (sven/evaler.py:381-388):
 * file_context + `# ` (Python) or `// ` (C) + "The following code is secure\n" + func_context.
 * The completion is judged in file_context + func_context + completion, without the comment.
 */
export function textPrompt(s: Scenario): string {
  const comment = s.language === "py" ? "# " : s.language === "c" ? "// " : null;
  if (comment === null) {
    throw new RangeError(`${s.id}: the text baseline has no comment syntax for ${s.language}`);
  }
  return s.fileContext + comment + SECURE_PROMPT_TEXT + s.funcContext;
}

/** Builds the prompt of a scenario ({@link scenarioPrompt} or {@link textPrompt}). */
export type PromptBuilder = (s: Scenario) => string;

/** Reads a completions cache, truncating a torn trailing line. Missing file → []. */
export function readCompletionCache(path: string): CompletionRecord[] {
  return readResumableJsonl(
    path,
    (where) => new Error(`${where}: not a JSON completion record`),
  ).map((l) => l.value as CompletionRecord);
}

/** One progress event of {@link sampleScenarios}. */
export interface SampleProgressEvent {
  /** Generate calls finished so far (cached ones included). */
  done: number;
  /** Generate calls in all. */
  total: number;
  /** The scenario of the call. */
  scenario: string;
  /** The call was found in the cache (resumed), not generated now. */
  cached: boolean;
}

/** Progress callback, called after each generate call (cached or new). */
export type SampleProgress = (event: SampleProgressEvent) => void;

/**
 * Samples `settings.samples` completions per scenario into `cachePath` (JSONL of
 * {@link CompletionRecord}), skipping calls already cached; `promptOf` builds each prompt
 * (default {@link scenarioPrompt}); `pre.generate` replaces {@link generate} (CoSec co-decoding).
 * Returns all records, in scenario order then call order.
 */
export function sampleScenarios(
  pre: { model: DecoderLM; tokenizer: Tokenizer; generate?: typeof generate },
  scenarios: readonly Scenario[],
  settings: SampleSettings,
  cachePath: string,
  guidance: GuidanceFactory | null = null,
  onProgress: SampleProgress = () => {},
  promptOf: PromptBuilder = scenarioPrompt,
): CompletionRecord[] {
  const cached = readCompletionCache(cachePath);
  const done = new Set(cached.map((r) => `${r.scenario}\u0000${r.call}`));
  const calls = Math.ceil(settings.samples / settings.perCall);
  let finished = 0;
  const totalCalls = scenarios.length * calls;
  for (const s of scenarios) {
    const prompt = promptOf(s);
    const promptIds = pre.tokenizer.encode(prompt);
    const processor = [...Array(calls).keys()].every((c) => done.has(`${s.id}\u0000${c}`))
      ? null
      : guidance?.(prompt, promptIds) ?? null;
    try {
      for (let call = 0; call < calls; call++) {
        if (done.has(`${s.id}\u0000${call}`)) {
          finished++;
          onProgress({ done: finished, total: totalCalls, scenario: s.id, cached: true });
          continue;
        }
        const n = Math.min(settings.perCall, settings.samples - call * settings.perCall);
        const out = (pre.generate ?? generate)(pre.model, pre.tokenizer, [promptIds], {
          numReturnSequences: n,
          maxNewTokens: settings.maxNewTokens,
          doSample: true,
          temperature: settings.temperature,
          topP: settings.topP,
          seed: settings.seed + call,
          logitsProcessor: processor ?? undefined,
        });
        appendJsonl(
          cachePath,
          out.texts.map((completion, i) => ({
            scenario: s.id,
            completion,
            call,
            tokens: out.tokens[i].length,
          })),
        );
        finished++;
        onProgress({ done: finished, total: totalCalls, scenario: s.id, cached: false });
      }
    } finally {
      processor?.dispose();
    }
  }
  const order = new Map(scenarios.map((s, i) => [s.id, i]));
  return readCompletionCache(cachePath)
    .filter((r) => order.has(r.scenario))
    .sort((a, b) => order.get(a.scenario)! - order.get(b.scenario)! || a.call - b.call);
}
