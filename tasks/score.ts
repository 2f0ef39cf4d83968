/**
 * `deno task score --completions FILE.jsonl --out DIR [--scenarios PATH] [--judges a,b] [--jobs N]
 *  [--batch-size N] [--eos TEXT] [--no-progress]`
 *
 * Scores generated completions for functionality and security; see docs/eval.md.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { CompletionsError } from "../lib/eval/completions.ts";
import { JudgeError } from "../lib/eval/judges.ts";
import { ScenarioError } from "../lib/eval/scenarios.ts";
import { scoreCompletions } from "../lib/eval/score.ts";

const USAGE = `usage: deno task score --completions FILE.jsonl --out DIR [options]

  --completions FILE   JSONL, one {"scenario": "cwe-078/0-py", "completion": "..."} per line
  --out DIR            output folder: results.jsonl (resumable), summary.json, summary.md, report.html
  --scenarios PATH     scenarios.jsonl, or an upstream sec_eval folder (default ../shared/data/sec_eval)
  --judges LIST        comma-separated judges, "all" (default) or "none"
                       (py: semgrep,bandit,exploit,codeql; c: see lib/eval/c)
  --jobs N             concurrent batches (default 2)
  --batch-size N       samples per batch (default 100)
  --eos TEXT           end-of-sequence marker to cut completions at first
  --no-progress        no progress bar on stderr
`;

function die(msg: string): never {
  console.error(`error: ${msg}\n\n${USAGE}`);
  Deno.exit(2);
}

function positiveInt(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) die(`--${name} must be a positive integer, got "${v}"`);
  return n;
}

if (import.meta.main) {
  let values;
  try {
    ({ values } = parseArgs({
      args: Deno.args,
      options: {
        completions: { type: "string" },
        out: { type: "string" },
        scenarios: { type: "string" },
        judges: { type: "string" },
        jobs: { type: "string" },
        "batch-size": { type: "string" },
        eos: { type: "string" },
        "no-progress": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    die((e as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  if (!values.completions) die("--completions is required");
  if (!values.out) die("--out is required");
  try {
    const t0 = performance.now();
    const { summary, evaluated } = await scoreCompletions({
      completions: values.completions,
      outDir: values.out,
      scenarios: values.scenarios,
      judges: values.judges,
      jobs: positiveInt("jobs", values.jobs, 2),
      batchSize: positiveInt("batch-size", values["batch-size"], 100),
      eos: values.eos,
      progress: !values["no-progress"],
    });
    const s = (performance.now() - t0) / 1000;
    console.error(
      `scored ${evaluated} new samples (${summary.samples} total) in ${
        s.toFixed(1)
      } s -> ${values.out}`,
    );
    for (const [name, g] of Object.entries(summary.groups)) {
      if (!g) continue;
      const o = g.overall;
      console.error(
        `${name} OVERALL: pass@1 ${o.pass1.toFixed(1)}  sec-pass@1 ${o.secPass1.toFixed(1)}  ` +
          `sec@1_pass ${o.secAt1Pass.toFixed(1)}  sec_rate ${o.secRate.toFixed(1)}`,
      );
    }
  } catch (e) {
    if (e instanceof CompletionsError || e instanceof ScenarioError || e instanceof JudgeError) {
      die(e.message);
    }
    if (e instanceof Deno.errors.NotFound) die((e as Error).message);
    throw e;
  }
}
