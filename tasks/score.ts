/**
 * `deno task score --completions FILE.jsonl --out DIR [--scenarios PATH] [--judges a,b] [--jobs N]
 *  [--batch-size N] [--eos TEXT] [--no-progress]`
 *
 * Scores generated completions for functionality and security; see docs/eval.md.
 *
 * @module
 */

import { CompletionsError } from "../lib/eval/completions.ts";
import { JudgeError } from "../lib/eval/judges.ts";
import { ScenarioError } from "../lib/eval/scenarios.ts";
import { scoreCompletions } from "../lib/eval/score.ts";
import { type Flags, parseFlags, requiredFlag, runMain, UsageError } from "../lib/util/cli.ts";

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

/** A positive integer flag (the message the score CLI has always given). */
function positiveInt(flags: Flags, name: string, dflt: number): number {
  const v = flags.values[name];
  if (v === undefined) return dflt;
  const n = Number(v);
  if (typeof v !== "string" || !Number.isInteger(n) || n < 1) {
    throw new UsageError(`--${name} must be a positive integer, got "${v}"`);
  }
  return n;
}

if (import.meta.main) {
  await runMain(USAGE, async () => {
    const flags = parseFlags(Deno.args, {
      completions: { type: "string" },
      out: { type: "string" },
      scenarios: { type: "string" },
      judges: { type: "string" },
      jobs: { type: "string" },
      "batch-size": { type: "string" },
      eos: { type: "string" },
      "no-progress": { type: "boolean" },
    });
    const v = flags.values;
    const completions = requiredFlag(flags, "completions");
    const out = requiredFlag(flags, "out");
    try {
      const t0 = performance.now();
      const { summary, evaluated } = await scoreCompletions({
        completions,
        outDir: out,
        scenarios: v.scenarios as string | undefined,
        judges: v.judges as string | undefined,
        jobs: positiveInt(flags, "jobs", 2),
        batchSize: positiveInt(flags, "batch-size", 100),
        eos: v.eos as string | undefined,
        progress: v["no-progress"] !== true,
      });
      const s = (performance.now() - t0) / 1000;
      console.error(
        `scored ${evaluated} new samples (${summary.samples} total) in ${s.toFixed(1)} s -> ${out}`,
      );
      if (summary.inconclusiveSamples) {
        console.error(
          `inconclusive: ${summary.inconclusiveSamples} samples (counted as not secure)`,
        );
      }
      for (const [name, g] of Object.entries(summary.groups)) {
        if (!g) continue;
        const o = g.overall;
        console.error(
          `${name} OVERALL: pass@1 ${o.pass1.toFixed(1)}  sec-pass@1 ${o.secPass1.toFixed(1)}  ` +
            `sec@1_pass ${o.secAt1Pass.toFixed(1)}  sec_rate ${o.secRate.toFixed(1)}`,
        );
      }
    } catch (e) {
      // Bad input files, scenario sets and judge lists are the user's to fix: usage errors (exit 2).
      if (
        e instanceof CompletionsError || e instanceof ScenarioError || e instanceof JudgeError ||
        e instanceof Deno.errors.NotFound
      ) {
        throw new UsageError(e.message);
      }
      throw e;
    }
  });
}
