/**
 * `deno task eval`: sample completions for the security scenarios with the base model (`lm`),
 * DeepGuard (adapter + security-guided decoding), the text baseline (`text`: the base model with
 * a "secure" comment in the prompt) or CoSec (co-decoding with a security expert), score them, and
 * write the report.
 * Defaults are the paper's sampling settings. Re-running with the same flags resumes.
 * @module
 */
import {
  describePlan,
  methodInputsError,
  planEvaluation,
  runEvaluation,
} from "../lib/pipeline/evaluate.ts";
import { PAPER_SAMPLING } from "../lib/pipeline/sampling_settings.ts";
import { parseShard } from "../lib/pipeline/shards.ts";
import { parseDevice } from "../lib/util/device.ts";
import type { Device } from "../ffi/mod.ts";
import { UPSTREAM_COSEC } from "../lib/cosec/codecoding.ts";
import { defineFlags, runMain, UsageError } from "../lib/util/cli.ts";
import { summaryMarkdown } from "../lib/eval/report_md.ts";
import { asUsageError, sampleRateEstimate, SCOPE_FLAGS, scoreRateEstimate } from "./scope.ts";

const P = PAPER_SAMPLING;
const cli = defineFlags({
  model: { type: "path", kind: "dir", required: true, help: "base model (HF layout)" },
  adapter: {
    type: "path",
    kind: "dir",
    help: "adapter directory (DeepGuard from `train`, needed by --method deepguard;\n" +
      "for --method prefix the prefix from `train --method prefix`)",
  },
  method: {
    type: "choice",
    choices: ["lm", "deepguard", "text", "cosec", "prefix"],
    required: true,
    help: "lm: plain sampling (LoRA if --adapter); deepguard: adapter + guided decoding;\n" +
      'text: base model prompted with "# The following code is secure" (SVEN baseline);\n' +
      "cosec: co-decoding with --expert (temperature/top-p then do not apply);\n" +
      "prefix: SVEN's security prefix (--adapter DIR), secure control",
  },
  expert: {
    type: "path",
    kind: "dir",
    help: "CoSec expert: adapter from `train --method cosec`, or a full checkpoint",
  },
  "expert-base": {
    type: "path",
    kind: "dir",
    help: "base model of the CoSec expert adapter (default: named in its adapter_config.json)",
  },
  "expert-temperature": {
    type: "float",
    above: 0,
    default: UPSTREAM_COSEC.expertTemperature,
    help: "CoSec: expert temperature (upstream --exp_temp)",
  },
  threshold: {
    type: "float",
    min: 0,
    max: 1,
    default: UPSTREAM_COSEC.threshold,
    help: "CoSec: accept the expert's token when min(1, p_base/p_expert) exceeds this",
  },
  "eval-type": {
    type: "choice",
    choices: ["base", "untrain", "all"],
    default: "base",
    help: "trained CWEs (base), held-out CWEs (untrain) or both",
  },
  ...SCOPE_FLAGS,
  "include-validation": { type: "boolean", help: "also run the six validation scenarios" },
  samples: {
    type: "int",
    min: 1,
    default: P.samples,
    alias: ["limit"],
    help: "samples per scenario",
  },
  "per-call": { type: "int", min: 1, default: P.perCall, help: "sequences per generate call" },
  temperature: { type: "float", above: 0, default: P.temperature, help: "sampling temperature" },
  "top-p": { type: "float", above: 0, max: 1, default: P.topP, help: "nucleus top-p" },
  "max-new-tokens": { type: "int", min: 1, default: P.maxNewTokens, help: "new-token budget" },
  seed: { type: "int", min: 0, default: P.seed, help: "base seed; call i uses seed + i" },
  device: { type: "device", help: "where the model runs" },
  devices: {
    type: "list",
    arg: "LIST",
    help: "sample on these devices at once (e.g. cuda:0,cuda:1): one worker per device, the\n" +
      "same completions.jsonl as one device; overrides --device for sampling",
  },
  shard: {
    type: "string",
    arg: "I/N",
    help: "run only slice I (0-based) of N of the selected scenarios, for cluster jobs;\n" +
      "`report --merge OUT SHARD_DIR…` joins the shard directories into one run",
  },
  dtype: { type: "choice", choices: ["f32", "bf16"], default: "f32", help: "weights dtype" },
  judges: {
    type: "string",
    default: "all",
    arg: "LIST",
    help: 'comma-separated judges, "all" or "none"',
  },
  jobs: { type: "int", min: 1, default: 2, help: "concurrent scoring batches" },
  "dry-run": { type: "boolean", help: "print the plan (scenarios × samples, estimate) and exit" },
  out: {
    type: "outDir",
    required: true,
    help: "run directory: run.json, completions.jsonl, results.jsonl, summary.json,\n" +
      "summary.md, report.html; re-running with the same flags resumes",
  },
}, {
  name: "eval",
  about: "Defaults are the paper's sampling settings. Scenarios: ../shared/data/sec_eval unless " +
    "--scenarios.",
  check: (v) => {
    const bad = methodInputsError({
      method: v.method,
      adapter: v.adapter,
      expert: v.expert,
      expertBase: v["expert-base"],
    });
    if (bad) throw new UsageError(bad);
    devicesOf(v.devices);
    try {
      if (v.shard !== undefined) parseShard(v.shard);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  },
});

/** `--devices` as devices; a UsageError names the entry that is not cpu, cuda or cuda:N. */
function devicesOf(list: readonly string[] | undefined): Device[] | undefined {
  return list?.map((d) => {
    const device = parseDevice(d);
    if (!device) throw new UsageError(`--devices: "${d}" is not cpu, cuda or cuda:N`);
    return device;
  });
}

await runMain(cli.usage, async () => {
  const { values: v } = cli.parse(Deno.args);
  const opts = {
    model: v.model,
    adapter: v.adapter,
    method: v.method,
    expert: v.expert,
    expertBase: v["expert-base"],
    cosec: {
      ...UPSTREAM_COSEC,
      expertTemperature: v["expert-temperature"],
      threshold: v.threshold,
    },
    evalType: v["eval-type"],
    scenarios: v.scenarios,
    scenarioIds: v["scenario-ids"],
    cwes: v.cwe,
    languages: v.language,
    includeValidation: v["include-validation"],
    sampling: {
      samples: v.samples,
      perCall: v["per-call"],
      temperature: v.temperature,
      topP: v["top-p"],
      maxNewTokens: v["max-new-tokens"],
      seed: v.seed,
    },
    dtype: v.dtype,
    device: v.device,
    devices: devicesOf(v.devices),
    shard: v.shard === undefined ? undefined : parseShard(v.shard),
    out: v.out,
    judges: v.judges,
    jobs: v.jobs,
  };
  // Judges, scenario files and the selection are checked here, before the model loads.
  const plan = await asUsageError(() => planEvaluation(opts));
  if (v["dry-run"]) {
    console.log(describePlan(plan, opts, {
      scoreSamplesPerS: await scoreRateEstimate(),
      sampleTokensPerS: await sampleRateEstimate(v.model, v.device, v.dtype, v["per-call"]),
    }));
    return;
  }
  const summary = await runEvaluation(opts);
  console.log(summaryMarkdown(summary));
  console.log(`report: ${v.out}/report.html`);
});
