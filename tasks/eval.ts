/**
 * `deno task eval`: sample completions for the security scenarios with the base model (`lm`) or
 * DeepGuard (adapter + security-guided decoding), score them, and write the report.
 * Defaults are the paper's sampling settings. Re-running with the same flags resumes.
 * @module
 */
import { type EvalType, type Method, runEvaluation } from "../lib/pipeline/evaluate.ts";
import { PAPER_SAMPLING } from "../lib/pipeline/samples.ts";
import {
  choiceFlag,
  deviceFlag,
  numberFlag,
  parseFlags,
  requiredFlag,
  runMain,
} from "../lib/util/cli.ts";
import { summaryMarkdown } from "../lib/eval/report_md.ts";

const USAGE = `usage: deno task eval --model DIR [--adapter DIR] --method lm|deepguard
         --eval-type base|untrain|all [--scenarios PATH] [--scenario-ids ID,ID…]
         [--samples 100] [--per-call 20] [--temperature 0.1] [--top-p 0.95]
         [--max-new-tokens 300] [--seed 1] [--device cpu|cuda|cuda:N] [--dtype f32|bf16]
         [--judges all|NAME,…] [--jobs 2] [--include-validation] --out DIR

  --scenarios   scenarios.jsonl or an upstream sec_eval folder
                (default ../shared/data/sec_eval/scenarios.jsonl)
  --out         run directory: run.json, completions.jsonl, results.jsonl, summary.json,
                summary.md, report.html; re-running with the same flags resumes`;

await runMain(USAGE, async () => {
  const flags = parseFlags(Deno.args, {
    model: { type: "string" },
    adapter: { type: "string" },
    method: { type: "string" },
    "eval-type": { type: "string" },
    scenarios: { type: "string" },
    "scenario-ids": { type: "string" },
    samples: { type: "string" },
    "per-call": { type: "string" },
    temperature: { type: "string" },
    "top-p": { type: "string" },
    "max-new-tokens": { type: "string" },
    seed: { type: "string" },
    device: { type: "string" },
    dtype: { type: "string" },
    judges: { type: "string" },
    jobs: { type: "string" },
    "include-validation": { type: "boolean" },
    out: { type: "string" },
  });
  const v = flags.values;
  const summary = await runEvaluation({
    model: requiredFlag(flags, "model"),
    adapter: v.adapter as string | undefined,
    method: choiceFlag<Method>(flags, "method", ["lm", "deepguard"], "lm"),
    evalType: choiceFlag<EvalType>(flags, "eval-type", ["base", "untrain", "all"], "base"),
    scenarios: v.scenarios as string | undefined,
    scenarioIds: typeof v["scenario-ids"] === "string"
      ? (v["scenario-ids"] as string).split(",").map((s) => s.trim()).filter(Boolean)
      : undefined,
    includeValidation: v["include-validation"] === true,
    sampling: {
      samples: numberFlag(flags, "samples", PAPER_SAMPLING.samples, { integer: true, min: 1 }),
      perCall: numberFlag(flags, "per-call", PAPER_SAMPLING.perCall, { integer: true, min: 1 }),
      temperature: numberFlag(flags, "temperature", PAPER_SAMPLING.temperature, { min: 1e-6 }),
      topP: numberFlag(flags, "top-p", PAPER_SAMPLING.topP, { min: 1e-6, max: 1 }),
      maxNewTokens: numberFlag(flags, "max-new-tokens", PAPER_SAMPLING.maxNewTokens, {
        integer: true,
        min: 1,
      }),
      seed: numberFlag(flags, "seed", PAPER_SAMPLING.seed, { integer: true, min: 0 }),
    },
    dtype: choiceFlag(flags, "dtype", ["f32", "bf16"] as const, "f32"),
    device: deviceFlag(flags),
    out: requiredFlag(flags, "out"),
    judges: v.judges as string | undefined,
    jobs: numberFlag(flags, "jobs", 2, { integer: true, min: 1 }),
  });
  console.log(summaryMarkdown(summary));
  console.log(`report: ${requiredFlag(flags, "out")}/report.html`);
});
