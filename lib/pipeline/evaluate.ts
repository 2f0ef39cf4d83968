/**
 * One evaluation run: sample completions for the selected scenarios (cached, resumable), then
 * score them with the security harness. Everything lands in one output directory:
 * run.json (settings), completions.jsonl (samples), results.jsonl, summary.json, summary.md,
 * report.html (the harness's outputs). {@link planEvaluation} checks the options and selects the
 * scenarios without loading anything heavy, so a bad option fails at once and `--dry-run` can
 * print the plan.
 * @module
 */
import type { Device } from "../../ffi/mod.ts";
import { loadScenarios, type ScenarioScope, selectScenarios } from "../eval/scenarios.ts";
import { defaultBackends, scoreCompletions } from "../eval/score.ts";
import { parseJudges } from "../eval/judges.ts";
import type { Summary } from "../eval/metrics.ts";
import { adapterMeta, modelMeta } from "../eval/run_meta.ts";
import type { Scenario } from "../eval/types.ts";
import { formatSeconds, ProgressBar } from "../util/progress.ts";
import type { CoDecodeKnobs } from "../cosec/codecoding.ts";
import { loadCoSec } from "../cosec/expert.ts";
import { loadPrefixGenerator } from "../prefix/generator.ts";
import { readPrefixConfig } from "../prefix/params.ts";
import { loadGenerator } from "./generator.ts";
import { sampleScenarios, scenarioPrompt, textPrompt } from "./samples.ts";
import type { SampleSettings } from "./sampling_settings.ts";
import { type Shard, shardName, shardSlice } from "./shards.ts";
import { sampleOnWorkers } from "./workers.ts";

/** Which scenarios an evaluation covers. */
export type EvalType = "base" | "untrain" | "all";

/**
 * Evaluation methods: plain sampling, DeepGuard (adapter + security-guided decoding), SVEN's
 * text baseline (the untrained base model with a "secure" comment before the function context),
 * CoSec (co-decoding with a security expert), or SVEN's prefix (`--adapter` = the prefix).
 */
export type Method = "lm" | "deepguard" | "text" | "cosec" | "prefix";

/** Options of {@link runEvaluation}. */
export interface EvalOptions {
  /** Hugging Face checkpoint directory. */
  model: string;
  /** Adapter directory; required for `deepguard`, optional for `lm` (LoRA only, no guidance). */
  adapter?: string;
  /** `lm`, `deepguard`, `text` or `cosec`; see {@link Method}. */
  method: Method;
  /** CoSec expert: LoRA adapter from `train --method cosec`, or a full checkpoint. */
  expert?: string;
  /** Base model of a CoSec expert adapter (default: the one its adapter_config.json names). */
  expertBase?: string;
  /** CoSec co-decoding knobs (default upstream's). */
  cosec?: CoDecodeKnobs;
  /** Which scenario group to run. */
  evalType: EvalType;
  /** Scenario file or upstream folder; default ../shared/data/sec_eval/scenarios.jsonl. */
  scenarios?: string;
  /** Keep only these scenario ids or id prefixes (after the other filters). */
  scenarioIds?: readonly string[];
  /** Keep only these CWEs (`cwe-078` or `78`). */
  cwes?: readonly string[];
  /** Keep only these languages. */
  languages?: readonly ("py" | "c")[];
  /** Also run the base validation scenarios (upstream generates but does not report them). */
  includeValidation?: boolean;
  /** Sampling settings (the paper's in {@link PAPER_SAMPLING}). */
  sampling: SampleSettings;
  /** Base weight dtype. */
  dtype: "f32" | "bf16";
  /** Device. */
  device: Device;
  /**
   * Sample on these devices at once, one worker process per device, each on a contiguous slice
   * of the scenarios; the completions are merged in the canonical order (the same file as one
   * device gives). Overrides `device` for sampling.
   */
  devices?: readonly Device[];
  /** Run only this slice of the selected scenarios (cluster jobs; `report --merge` joins them). */
  shard?: Shard;
  /** Output directory (completions, results, summary, report). */
  out: string;
  /** Judges for the harness (comma-separated, `all` by default). */
  judges?: string;
  /** Parallel scoring jobs. */
  jobs?: number;
  /** Progress bars on stderr (default true). */
  progress?: boolean;
}

/** What a run will do, known before the model loads. */
export interface EvalPlan {
  /** The selected scenarios, in order. */
  scenarios: Scenario[];
  /** Completions to sample and score (scenarios × samples). */
  samples: number;
  /** Generate calls (scenarios × ⌈samples / perCall⌉). */
  calls: number;
  /** Judges that will run. */
  judges: string[];
}

/**
 * What is wrong with the inputs a method takes (`--adapter`, `--expert`, `--expert-base`), or
 * null: the one check behind {@link planEvaluation} and the eval task's flag check.
 */
export function methodInputsError(
  o: Pick<EvalOptions, "method" | "adapter" | "expert" | "expertBase">,
): string | null {
  if (o.method === "deepguard" && !o.adapter) {
    return "--method deepguard needs --adapter DIR (a DeepGuard adapter from `train`)";
  }
  if (o.method === "prefix" && !o.adapter) {
    return "--method prefix needs --adapter DIR (from `train --method prefix`)";
  }
  if (o.method === "text" && o.adapter) {
    return "--method text runs the untrained base model (upstream's text baseline); drop --adapter";
  }
  if (o.method === "cosec" && !o.expert) {
    return "--method cosec needs --expert DIR (from `train --method cosec`)";
  }
  if (o.method === "cosec" && o.adapter) {
    return "--adapter does not apply to --method cosec (the expert is --expert)";
  }
  if (o.method !== "cosec" && (o.expert || o.expertBase)) {
    return "--expert/--expert-base apply to --method cosec only";
  }
  return null;
}

/**
 * Checks the options (method/adapter, judges, scenario selection) and returns the plan; throws
 * a RangeError / JudgeError / ScenarioError naming the problem.
 */
export async function planEvaluation(opts: EvalOptions): Promise<EvalPlan> {
  const bad = methodInputsError(opts);
  if (bad) throw new RangeError(bad);
  if (opts.method === "prefix") {
    await readPrefixConfig(opts.adapter!).catch((e) => {
      throw new RangeError(e.message);
    });
  }
  if (opts.shard && (opts.devices?.length ?? 0) > 1) {
    throw new RangeError(
      "--shard and several --devices do not combine: run one shard per device, or drop --shard",
    );
  }
  const judges = parseJudges(opts.judges, Object.values(await defaultBackends()));
  const scope: ScenarioScope = {
    evalType: opts.evalType,
    includeValidation: opts.includeValidation,
    ids: opts.scenarioIds,
    cwes: opts.cwes,
    languages: opts.languages,
  };
  const selected = selectScenarios(await loadScenarios(opts.scenarios), scope);
  const scenarios = opts.shard ? shardSlice(selected, opts.shard) : selected;
  const perScenario = Math.ceil(opts.sampling.samples / opts.sampling.perCall);
  return {
    scenarios,
    samples: scenarios.length * opts.sampling.samples,
    calls: scenarios.length * perScenario,
    judges: [...judges],
  };
}

/** Measured rates a `--dry-run` turns into time estimates (each optional). */
export interface PlanRates {
  /** Scored samples per second (bench:score). */
  scoreSamplesPerS?: number;
  /** Generated tokens per second for this model and device, and where that figure comes from. */
  sampleTokensPerS?: { rate: number; source: string };
}

/**
 * The plan as text for `--dry-run`: scenarios per CWE, samples, generate calls and token budget,
 * and time estimates from measured `rates` where known (sampling: an upper bound, as every
 * sample is counted at the full token budget).
 */
export function describePlan(plan: EvalPlan, opts: EvalOptions, rates: PlanRates = {}): string {
  const byCwe = new Map<string, string[]>();
  for (const s of plan.scenarios) {
    const cwe = s.id.split("/")[0];
    byCwe.set(cwe, [...(byCwe.get(cwe) ?? []), s.id.split("/")[1]]);
  }
  const { samples, perCall, maxNewTokens } = opts.sampling;
  const tokens = plan.samples * maxNewTokens;
  const gen = rates.sampleTokensPerS;
  const score = rates.scoreSamplesPerS;
  const lines = [
    `plan: ${opts.method} on ${plan.scenarios.length} scenarios × ${samples} samples = ` +
    `${plan.samples} completions`,
    ...[...byCwe].map(([cwe, ids]) => `  ${cwe}: ${ids.join(", ")}`),
    `sampling: ${plan.calls} generate calls of up to ${Math.min(perCall, samples)} sequences, ` +
    `at most ${tokens} new tokens; ` +
    (gen
      ? `at most about ${formatSeconds(tokens / gen.rate)} at ${gen.rate.toFixed(1)} tok/s ` +
        `(${gen.source})`
      : "time unknown for this model and device"),
    `scoring: judges ${plan.judges.join(", ") || "none"}` +
    (score ? `; about ${formatSeconds(plan.samples / score)} at ${score}/s (bench:score)` : ""),
    ...(opts.shard ? [`shard ${shardName(opts.shard)}: only this slice of the selection`] : []),
    ...((opts.devices?.length ?? 0) > 1
      ? [
        `workers: ${opts.devices!.length} (${opts.devices!.join(", ")}), scenarios each: ` +
        opts.devices!.map((_, index) =>
          shardSlice(plan.scenarios, { index, count: opts.devices!.length }).length
        ).join(", "),
      ]
      : []),
    `output: ${opts.out}`,
  ];
  return lines.join("\n");
}

/**
 * The settings a run directory's run.json records; a resumed run must match them. Device(s) and
 * shard are recorded only where they apply, so an unsharded one-device run.json is unchanged.
 */
function runSettings(opts: EvalOptions, scenarios: readonly Scenario[]) {
  return {
    model: opts.model,
    adapter: opts.adapter ?? null,
    method: opts.method,
    ...(opts.method === "cosec"
      ? { expert: opts.expert, expertBase: opts.expertBase ?? null, cosec: opts.cosec ?? null }
      : {}),
    evalType: opts.evalType,
    scenarios: opts.scenarios ?? null,
    scenarioIds: scenarios.map((s) => s.id),
    ...(opts.shard ? { shard: shardName(opts.shard) } : {}),
    sampling: opts.sampling,
    dtype: opts.dtype,
    device: opts.devices?.length ? opts.devices.join(",") : opts.device,
    judges: opts.judges ?? "all",
  };
}

/**
 * Checks the options, records run.json (refusing a directory holding another run) and samples
 * every missing completion into OUT/completions.jsonl — here, or on one worker per device of
 * `opts.devices`. Returns the run's scenarios.
 */
export async function sampleEvaluation(opts: EvalOptions): Promise<Scenario[]> {
  const { scenarios } = await planEvaluation(opts);
  await Deno.mkdir(opts.out, { recursive: true });
  const runPath = `${opts.out}/run.json`;
  const runText = JSON.stringify(runSettings(opts, scenarios), null, 2) + "\n";
  const previous = await Deno.readTextFile(runPath).catch(() => null);
  if (previous !== null && previous !== runText) {
    throw new Error(
      `${opts.out} holds a run with other settings (see run.json); resume with the same flags or use a fresh --out`,
    );
  }
  await Deno.writeTextFile(runPath, runText);
  const cache = `${opts.out}/completions.jsonl`;
  if (opts.devices && opts.devices.length > 1) {
    await sampleOnWorkers(opts, opts.devices, scenarios.map((s) => s.id), cache);
    return scenarios;
  }
  const device = opts.devices?.[0] ?? opts.device;
  const gen = opts.method === "cosec"
    ? {
      ...(await loadCoSec({ ...opts, device, expert: opts.expert!, knobs: opts.cosec })),
      guidance: null,
    }
    : opts.method === "prefix"
    ? { ...(await loadPrefixGenerator({ ...opts, device, prefix: opts.adapter! })), guidance: null }
    : await loadGenerator({
      model: opts.model,
      adapter: opts.adapter,
      guided: opts.method === "deepguard",
      dtype: opts.dtype,
      device,
    });
  try {
    if (opts.progress !== false) console.error(`eval: ${gen.description}`);
    const calls = scenarios.length * Math.ceil(opts.sampling.samples / opts.sampling.perCall);
    const bar = opts.progress === false ? null : new ProgressBar("sampling", calls, { initial: 0 });
    const promptOf = opts.method === "text" ? textPrompt : scenarioPrompt;
    sampleScenarios(gen, scenarios, opts.sampling, cache, gen.guidance, (p) => {
      if (p.cached) bar?.skip(1);
      else bar?.update(p.done, p.scenario);
    }, promptOf);
  } finally {
    gen.dispose();
  }
  return scenarios;
}

/** Runs sampling then scoring; returns the harness summary. */
export async function runEvaluation(opts: EvalOptions): Promise<Summary> {
  const startedAt = new Date();
  const scenarios = await sampleEvaluation(opts);
  const cache = `${opts.out}/completions.jsonl`;
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
        device: opts.devices?.length ? opts.devices.join(",") : String(opts.device),
      },
    },
  });
  return summary;
}
