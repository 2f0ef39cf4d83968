/**
 * Scoring pipeline: post-process completions, parse-check, run functional tests
 * and security judges through the language backends, write results.jsonl
 * (resumable), summary.json, summary.md and report.html.
 *
 * @module
 */

import { type CompletionItem, parseCompletions } from "./completions.ts";
import { parseJudges } from "./judges.ts";
import { summarize, type Summary } from "./metrics.ts";
import { assembleProgram, postprocess } from "./postprocess.ts";
import { ProgressBar } from "../util/progress.ts";
import { pyBackend } from "./py/mod.ts";
import { reportHtml } from "./report_html.ts";
import { summaryMarkdown } from "./report_md.ts";
import type { SampleResult } from "./results.ts";
import { beginRunMeta, type GenerationMeta } from "./run_meta.ts";
import { sandboxProblem, SandboxUnavailableError } from "./sandbox.ts";
import { loadScenarios } from "./scenarios.ts";
import { evalTempDir, removeEvalTempDir, sweepStaleTempDirs, withCleanupOnSignal } from "./tmp.ts";
import type { Language, LanguageBackend, Scenario } from "./types.ts";

export type { SampleResult } from "./results.ts";
export { summarize } from "./metrics.ts";

/** Options of {@link scoreCompletions}. */
export interface ScoreOptions {
  /** Output folder (created); results.jsonl there is resumed. */
  outDir: string;
  /** Completions: a JSONL file path or already-parsed items. */
  completions: string | { scenario: string; completion: string }[];
  /** Scenarios (path or loaded list); default: ../shared/data/sec_eval/scenarios.jsonl. */
  scenarios?: string | Scenario[];
  /** Comma-separated judge names, `all` (default) or `none`. */
  judges?: string;
  /** Concurrent batches (default 2). */
  jobs?: number;
  /** Samples per batch (default 100). */
  batchSize?: number;
  /** End-of-sequence marker to cut at before truncation. */
  eos?: string;
  /** Show the progress bar on stderr (default true). */
  progress?: boolean;
  /** Backends to use (default: Python + the C engineer's cBackend). */
  backends?: Partial<Record<Language, LanguageBackend>>;
  /** What generated the completions and when the run started (recorded in summary.json). */
  run?: { generation: GenerationMeta; startedAt: Date };
}

/** What {@link scoreCompletions} returns. */
export interface ScoreOutcome {
  /** Every scored sample, resumed ones included. */
  results: SampleResult[];
  /** The metrics written to summary.json. */
  summary: Summary;
  /** Samples evaluated in this run (the rest were resumed from results.jsonl). */
  evaluated: number;
}

/** Load the default backends: Python (ours) and C (lib/eval/c/mod.ts). */
export async function defaultBackends(): Promise<Partial<Record<Language, LanguageBackend>>> {
  const out: Partial<Record<Language, LanguageBackend>> = { py: pyBackend };
  try {
    const mod = await import("./c/mod.ts");
    if (mod.cBackend) out.c = mod.cBackend as LanguageBackend;
  } catch (e) {
    console.error(`warning: C backend unavailable: ${(e as Error).message}`);
  }
  return out;
}

function failure(item: CompletionItem, error: string, retry: boolean): SampleResult {
  return {
    scenario: item.scenario,
    index: item.index,
    line: item.line,
    parsed: false,
    functional: false,
    secure: false,
    findings: [],
    error,
    retry,
  };
}

/**
 * Score one batch of completions of one scenario with its backend (no files
 * written). Exported for the generation pipeline.
 */
export async function scoreBatch(
  scenario: Scenario,
  items: readonly CompletionItem[],
  backend: LanguageBackend | undefined,
  judges: ReadonlySet<string>,
  eos?: string,
): Promise<SampleResult[]> {
  if (!backend) {
    return items.map((it) => failure(it, `no backend for language "${scenario.language}"`, true));
  }
  const enabled = new Set([...judges].filter((j) => backend.judgeNames.includes(j)));
  const programs = items.map((it) =>
    assembleProgram(
      scenario.fileContext,
      scenario.funcContext,
      postprocess(it.completion, scenario.language, eos),
    )
  );
  const root = await evalTempDir("dg-score-");
  try {
    let parse: { ok: boolean; message: string }[];
    try {
      parse = backend.parseCheckBatch
        ? await backend.parseCheckBatch(programs, root)
        : await Promise.all(programs.map(async (p, i) => {
          const d = `${root}/parse-${i}`;
          await Deno.mkdir(d);
          return backend.parseCheck(p, d);
        }));
    } catch (e) {
      return items.map((it) => failure(it, `parse check failed: ${(e as Error).message}`, true));
    }
    const results: SampleResult[] = items.map((it, i) => ({
      scenario: it.scenario,
      index: it.index,
      line: it.line,
      parsed: parse[i].ok,
      functional: false,
      secure: false,
      findings: [],
      error: null,
      detail: parse[i].ok ? undefined : `parse: ${parse[i].message}`,
    }));
    const todo = results.map((r, i) => (r.parsed ? i : -1)).filter((i) => i >= 0);
    if (todo.length === 0) return results;
    try {
      let outcomes;
      if (backend.evaluateBatch) {
        const samples = [];
        for (const i of todo) {
          const d = `${root}/s${i}`;
          await Deno.mkdir(d);
          samples.push({ program: programs[i], workDir: d });
        }
        outcomes = await backend.evaluateBatch(scenario, samples, enabled);
      } else {
        outcomes = [];
        for (const i of todo) {
          const d = `${root}/s${i}`;
          await Deno.mkdir(d);
          outcomes.push(await backend.evaluate(scenario, programs[i], d, enabled));
        }
      }
      todo.forEach((i, k) => {
        const o = outcomes[k];
        const r = results[i];
        r.functional = o.functional;
        r.findings = o.findings;
        r.secure = o.findings.length === 0 && !(o.inconclusiveJudges?.length);
        r.detail = o.functionalDetail;
        if (o.skippedJudges.length) r.skippedJudges = o.skippedJudges;
        if (o.inconclusiveJudges?.length) r.inconclusive = o.inconclusiveJudges;
      });
    } catch (e) {
      for (const i of todo) {
        Object.assign(results[i], {
          error: `evaluation failed: ${(e as Error).message}`,
          retry: true,
        });
      }
    }
    return results;
  } finally {
    await removeEvalTempDir(root);
  }
}

/** Score a single completion (convenience wrapper over {@link scoreBatch}). */
export async function scoreOne(
  scenario: Scenario,
  completion: string,
  opts: { judges?: string; backends?: Partial<Record<Language, LanguageBackend>>; eos?: string } =
    {},
): Promise<SampleResult> {
  const backends = opts.backends ?? await defaultBackends();
  const judges = parseJudges(opts.judges, Object.values(backends));
  const item = { scenario: scenario.id, completion, line: 1, index: 0 };
  return (await scoreBatch(scenario, [item], backends[scenario.language], judges, opts.eos))[0];
}

/** Read results already in `file` (resume); a torn last line is ignored. */
export async function readDoneResults(file: string): Promise<Map<number, SampleResult>> {
  const done = new Map<number, SampleResult>();
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch {
    return done;
  }
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as SampleResult;
      if (typeof r.line === "number" && !r.retry) done.set(r.line, r);
    } catch { /* torn line from an interrupted run */ }
  }
  return done;
}

/**
 * Stop before any work when the sandbox cannot run here (bwrap missing; not
 * root and no usable user namespaces): a run that went on would score every
 * sample as an error.
 */
export function assertSandboxUsable(): void {
  const problem = sandboxProblem();
  if (problem) throw new SandboxUnavailableError(problem);
}

/** Score a completions file end to end; see the module docs. */
export function scoreCompletions(opts: ScoreOptions): Promise<ScoreOutcome> {
  sweepStaleTempDirs();
  return withCleanupOnSignal(() => scoreAll(opts));
}

async function scoreAll(opts: ScoreOptions): Promise<ScoreOutcome> {
  const startedAt = opts.run?.startedAt ?? new Date();
  const scenarios = Array.isArray(opts.scenarios)
    ? opts.scenarios
    : await loadScenarios(opts.scenarios);
  const byId = new Map(scenarios.map((s) => [s.id, s]));
  const items = typeof opts.completions === "string"
    ? parseCompletions(
      await Deno.readTextFile(opts.completions),
      opts.completions,
      new Set(byId.keys()),
    )
    : parseCompletions(
      opts.completions.map((c) => JSON.stringify(c)).join("\n"),
      "<completions>",
      new Set(byId.keys()),
    );
  const backends = opts.backends ?? await defaultBackends();
  const judges = parseJudges(opts.judges, Object.values(backends));
  if (!opts.backends) assertSandboxUsable();
  await Deno.mkdir(opts.outDir, { recursive: true });
  const resultsPath = `${opts.outDir}/results.jsonl`;
  const done = await readDoneResults(resultsPath);
  for (const [line, r] of done) {
    const it = items.find((x) => x.line === line);
    if (!it || it.scenario !== r.scenario || it.index !== r.index) {
      throw new Error(
        `${resultsPath} holds a result for line ${line} that does not match the input; use a fresh --out`,
      );
    }
  }
  // Rewrite the kept results so that retried/torn lines do not linger.
  await Deno.writeTextFile(
    resultsPath,
    [...done.values()].map((r) => JSON.stringify(r) + "\n").join(""),
  );
  const meta = beginRunMeta({
    startedAt,
    generation: opts.run?.generation ?? null,
    judges: [...judges],
  });
  const pending = items.filter((it) => !done.has(it.line));
  const batchSize = Math.max(1, opts.batchSize ?? 100);
  const batches: { scenario: Scenario; items: CompletionItem[] }[] = [];
  for (const s of scenarios) {
    const mine = pending.filter((it) => it.scenario === s.id);
    for (let i = 0; i < mine.length; i += batchSize) {
      batches.push({ scenario: s, items: mine.slice(i, i + batchSize) });
    }
  }
  // Big/slow batches first keeps both workers busy until the end.
  batches.sort((a, b) => b.items.length - a.items.length);
  const progress = new ProgressBar("scoring", pending.length, {
    quiet: opts.progress === false,
  });
  const file = await Deno.open(resultsPath, { append: true, create: true });
  const all = new Map(done);
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      const b = batches[next++];
      const res = await scoreBatch(
        b.scenario,
        b.items,
        backends[b.scenario.language],
        judges,
        opts.eos,
      );
      await file.write(new TextEncoder().encode(res.map((r) => JSON.stringify(r) + "\n").join("")));
      for (const r of res) all.set(r.line, r);
      progress.add(res.length);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, opts.jobs ?? 2) }, worker));
  } finally {
    file.close();
    progress.end();
  }
  const results = items.map((it) => all.get(it.line)!);
  await Deno.writeTextFile(resultsPath, results.map((r) => JSON.stringify(r) + "\n").join(""));
  const summary = summarize(results, scenarios, [...judges]);
  summary.meta = await meta.finish(pending.length, results.length);
  await Deno.writeTextFile(`${opts.outDir}/summary.json`, JSON.stringify(summary, null, 2) + "\n");
  await Deno.writeTextFile(`${opts.outDir}/summary.md`, summaryMarkdown(summary));
  await Deno.writeTextFile(
    `${opts.outDir}/report.html`,
    reportHtml(summary, {
      results,
      completions: items,
      scenarios,
      eos: opts.eos,
    }),
  );
  return { results, summary, evaluated: pending.length };
}
