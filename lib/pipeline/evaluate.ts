/**
 * One evaluation run: sample completions for the selected scenarios (cached, resumable), then
 * score them with the security harness. Everything lands in one output directory:
 * run.json (settings), completions.jsonl (samples), results.jsonl, summary.json, summary.md,
 * report.html (the harness's outputs).
 * @module
 */
import type { Device } from "../../ffi/mod.ts";
import { loadScenarios } from "../eval/scenarios.ts";
import { scoreCompletions } from "../eval/score.ts";
import type { Summary } from "../eval/metrics.ts";
import { adapterMeta, modelMeta } from "../eval/run_meta.ts";
import type { Scenario } from "../eval/types.ts";
import { ProgressBar } from "../util/progress.ts";
import { loadGenerator } from "./generator.ts";
import { sampleScenarios, type SampleSettings } from "./samples.ts";

/** Which scenarios an evaluation covers. */
export type EvalType = "base" | "untrain" | "all";

/** Evaluation methods: plain sampling, or DeepGuard (adapter + security-guided decoding). */
export type Method = "lm" | "deepguard";

/** Options of {@link runEvaluation}. */
export interface EvalOptions {
  model: string;
  /** Adapter directory; required for `deepguard`, optional for `lm` (LoRA only, no guidance). */
  adapter?: string;
  method: Method;
  evalType: EvalType;
  /** Scenario file or upstream folder; default ../shared/data/sec_eval/scenarios.jsonl. */
  scenarios?: string;
  /** Keep only these scenario ids (after the eval-type filter). */
  scenarioIds?: readonly string[];
  /** Also run the base validation scenarios (upstream generates but does not report them). */
  includeValidation?: boolean;
  sampling: SampleSettings;
  dtype: "f32" | "bf16";
  device: Device;
  out: string;
  /** Judges for the harness (comma-separated, `all` by default). */
  judges?: string;
  /** Parallel scoring jobs. */
  jobs?: number;
  /** Progress bars on stderr (default true). */
  progress?: boolean;
}

/** Selects the scenarios of an evaluation type (validation scenarios only on request). */
export function selectScenarios(
  all: readonly Scenario[],
  evalType: EvalType,
  includeValidation = false,
  ids?: readonly string[],
): Scenario[] {
  const picked = all.filter((s) =>
    (evalType === "all" || s.evalType === evalType) && (includeValidation || !s.validation)
  );
  if (!ids?.length) return picked;
  const unknown = ids.filter((id) => !picked.some((s) => s.id === id));
  if (unknown.length) {
    throw new RangeError(
      `scenario(s) ${unknown.join(", ")} not among the selected ${evalType} scenarios`,
    );
  }
  return picked.filter((s) => ids.includes(s.id));
}

/** Runs sampling then scoring; returns the harness summary. */
export async function runEvaluation(opts: EvalOptions): Promise<Summary> {
  const startedAt = new Date();
  if (opts.method === "deepguard" && !opts.adapter) {
    throw new Error("--method deepguard needs --adapter DIR (a DeepGuard adapter from `train`)");
  }
  const scenarios = selectScenarios(
    await loadScenarios(opts.scenarios),
    opts.evalType,
    opts.includeValidation,
    opts.scenarioIds,
  );
  if (!scenarios.length) throw new RangeError(`no ${opts.evalType} scenarios selected`);
  await Deno.mkdir(opts.out, { recursive: true });
  const runInfo = {
    model: opts.model,
    adapter: opts.adapter ?? null,
    method: opts.method,
    evalType: opts.evalType,
    scenarios: opts.scenarios ?? null,
    scenarioIds: scenarios.map((s) => s.id),
    sampling: opts.sampling,
    dtype: opts.dtype,
    device: opts.device,
    judges: opts.judges ?? "all",
  };
  const runPath = `${opts.out}/run.json`;
  const previous = await Deno.readTextFile(runPath).catch(() => null);
  if (previous !== null && previous !== JSON.stringify(runInfo, null, 2) + "\n") {
    throw new Error(
      `${opts.out} holds a run with other settings (see run.json); resume with the same flags or use a fresh --out`,
    );
  }
  await Deno.writeTextFile(runPath, JSON.stringify(runInfo, null, 2) + "\n");

  const gen = await loadGenerator({
    model: opts.model,
    adapter: opts.adapter,
    guided: opts.method === "deepguard",
    dtype: opts.dtype,
    device: opts.device,
  });
  const cache = `${opts.out}/completions.jsonl`;
  try {
    if (opts.progress !== false) console.error(`eval: ${gen.description}`);
    const calls = scenarios.length * Math.ceil(opts.sampling.samples / opts.sampling.perCall);
    const bar = opts.progress === false ? null : new ProgressBar("sampling", calls);
    sampleScenarios(
      gen,
      scenarios,
      opts.sampling,
      cache,
      gen.guidance,
      (done, _total, id) => bar?.update(done, id),
    );
  } finally {
    gen.dispose();
  }
  const { summary } = await scoreCompletions({
    outDir: opts.out,
    completions: cache,
    scenarios,
    judges: opts.judges,
    jobs: opts.jobs,
    progress: opts.progress !== false,
    run: {
      startedAt,
      generation: {
        model: await modelMeta(opts.model),
        adapter: await adapterMeta(opts.adapter),
        method: opts.method,
        evalType: opts.evalType,
        sampling: { ...opts.sampling },
        seeds: "generate call i of a scenario is seeded with seed + i",
        dtype: opts.dtype,
        device: String(opts.device),
      },
    },
  });
  return summary;
}
