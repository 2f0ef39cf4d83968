/**
 * `deno task score --completions FILE.jsonl --out DIR [options]`: scores generated completions
 * for functionality and security; see docs/eval.md. `--cwe`, `--language`, `--scenario-ids`
 * (ids or prefixes) and `--limit` score a part of the file; `--dry-run` prints the plan.
 *
 * @module
 */

import { parseCompletions } from "../lib/eval/completions.ts";
import { parseJudges } from "../lib/eval/judges.ts";
import { loadScenarios, selectScenarios } from "../lib/eval/scenarios.ts";
import { defaultBackends, scoreCompletions } from "../lib/eval/score.ts";
import { defineFlags, runMain, UsageError } from "../lib/util/cli.ts";
import { formatSeconds } from "../lib/util/progress.ts";
import { asUsageError, SCOPE_FLAGS, scoreRateEstimate } from "./scope.ts";

const positive = { type: "int", min: 1, expect: "a positive integer" } as const;

const cli = defineFlags({
  completions: {
    type: "path",
    kind: "file",
    required: true,
    help: 'JSONL, one {"scenario": "cwe-078/0-py", "completion": "..."} per line',
  },
  out: {
    type: "outDir",
    required: true,
    help: "output folder: results.jsonl (resumable), summary.json, summary.md, report.html",
  },
  ...SCOPE_FLAGS,
  limit: { ...positive, help: "score at most the first N completions of each scenario" },
  judges: {
    type: "string",
    default: "all",
    arg: "LIST",
    help:
      'comma-separated judges, "all" or "none"\n(py: semgrep,bandit,exploit,codeql; c: see lib/eval/c)',
  },
  jobs: { ...positive, default: 2, help: "concurrent batches" },
  "batch-size": { ...positive, default: 100, help: "samples per batch" },
  eos: { type: "string", arg: "TEXT", help: "end-of-sequence marker to cut completions at first" },
  "no-progress": { type: "boolean", help: "no progress bar on stderr" },
  "dry-run": { type: "boolean", help: "print what would be scored (and an estimate) and exit" },
}, { name: "score" });

/** What a scoped run selected; kept in OUT/scope.json so that a resume uses the same lines. */
function scopeOf(v: ReturnType<typeof cli.parse>["values"]) {
  return {
    completions: v.completions,
    cwe: v.cwe ?? null,
    language: v.language ?? null,
    scenarioIds: v["scenario-ids"] ?? null,
    limit: v.limit ?? null,
  };
}

/**
 * A scoped run keys its results by position in the selection, not by file line: refuse to mix
 * runs of different scopes (or a scoped and an unscoped run) in one output folder.
 */
async function checkScope(out: string, scope: ReturnType<typeof scopeOf> | null): Promise<void> {
  const path = `${out}/scope.json`;
  const text = scope ? JSON.stringify(scope, null, 2) + "\n" : null;
  const previous = await Deno.readTextFile(path).catch(() => null);
  const hasResults = await Deno.stat(`${out}/results.jsonl`).then(() => true, () => false);
  if (previous !== text && (previous !== null || hasResults)) {
    throw new UsageError(
      `${out} holds results of a run with ${
        previous ? "another scope (see scope.json)" : "no scope"
      }; resume with the same --completions, --cwe, --language, --scenario-ids and --limit, ` +
        `or use a fresh --out`,
    );
  }
  if (text !== null) {
    await Deno.mkdir(out, { recursive: true });
    await Deno.writeTextFile(path, text);
  }
}

if (import.meta.main) {
  await runMain(cli.usage, async () => {
    const { values: v } = cli.parse(Deno.args);
    const scoped = v.cwe || v.language || v["scenario-ids"] || v.limit !== undefined;
    // Everything the user gave is checked before the first sample is scored.
    const plan = await asUsageError(async () => {
      const all = await loadScenarios(v.scenarios);
      const scenarios = selectScenarios(all, {
        evalType: "all",
        includeValidation: true,
        cwes: v.cwe,
        languages: v.language,
        ids: v["scenario-ids"],
      });
      const judges = parseJudges(v.judges, Object.values(await defaultBackends()));
      const keep = new Set(scenarios.map((s) => s.id));
      const items = parseCompletions(
        await Deno.readTextFile(v.completions),
        v.completions,
        new Set(all.map((s) => s.id)),
      ).filter((it) => keep.has(it.scenario) && (v.limit === undefined || it.index < v.limit));
      return { scenarios, judges, items };
    });
    if (v["dry-run"]) {
      const rate = await scoreRateEstimate();
      const per = new Map<string, number>();
      for (const it of plan.items) per.set(it.scenario, (per.get(it.scenario) ?? 0) + 1);
      console.log(
        `plan: ${plan.items.length} completions of ${per.size} scenarios from ${v.completions}\n` +
          [...per].map(([id, n]) => `  ${id}: ${n}`).join("\n") +
          `\nscoring: judges ${[...plan.judges].join(", ") || "none"}` +
          (rate ? `; about ${formatSeconds(plan.items.length / rate)} at ${rate}/s` : "") +
          `\noutput: ${v.out}`,
      );
      return;
    }
    await checkScope(v.out, scoped ? scopeOf(v) : null);
    const t0 = performance.now();
    const { summary, evaluated } = await asUsageError(() =>
      scoreCompletions({
        // A scoped run scores the selected lines only; their positions in the selection key
        // the resumable results, so resume a scoped run with the same scope.
        completions: scoped
          ? plan.items.map(({ scenario, completion }) => ({ scenario, completion }))
          : v.completions,
        outDir: v.out,
        scenarios: scoped ? plan.scenarios : v.scenarios,
        judges: v.judges,
        jobs: v.jobs,
        batchSize: v["batch-size"],
        eos: v.eos,
        progress: !v["no-progress"],
      })
    );
    const s = (performance.now() - t0) / 1000;
    console.error(
      `scored ${evaluated} new samples (${summary.samples} total) in ${s.toFixed(1)} s -> ${v.out}`,
    );
    if (summary.inconclusiveSamples) {
      console.error(`inconclusive: ${summary.inconclusiveSamples} samples (counted as not secure)`);
    }
    for (const [name, g] of Object.entries(summary.groups)) {
      if (!g) continue;
      const o = g.overall;
      console.error(
        `${name} OVERALL: pass@1 ${o.pass1.toFixed(1)}  sec-pass@1 ${o.secPass1.toFixed(1)}  ` +
          `sec@1_pass ${o.secAt1Pass.toFixed(1)}  sec_rate ${o.secRate.toFixed(1)}`,
      );
    }
  });
}
