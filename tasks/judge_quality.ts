/**
 * `deno task judge-quality [--corpus all|labelled|variants] [--scenario ID[,ID]] [--match REGEX]
 * [--jobs 2] [--judges all] [--out FILE]`
 *
 * How good are our judges? Scores every labelled corpus through the real
 * harness (`scoreCompletions`, post-processing included): the labelled test
 * completions (`data_eval/py/completions/*.jsonl`, `data_eval/c/<cwe>_<n>/completions.json`)
 * and the variant corpus (`data_eval/variants/*.jsonl`, written to differ from
 * the completions the rules were developed on). Prints per-scenario and
 * overall precision/recall of "secure" and of "functional" and lists every
 * disagreeing sample; writes the numbers as JSON (default
 * bench/results/judge_quality.json).
 *
 * @module
 */

import { PROJECT_ROOT, PY_DATA_DIR } from "../lib/eval/py/paths.ts";
import { loadScenarios } from "../lib/eval/scenarios.ts";
import { type SampleResult, scoreCompletions } from "../lib/eval/score.ts";
import { defineFlags, runMain, UsageError } from "../lib/util/cli.ts";
import { selectScenarios } from "../lib/eval/scenarios.ts";
import { asUsageError, SCOPE_FLAGS } from "./scope.ts";

const cli = defineFlags({
  corpus: {
    type: "choice",
    choices: ["all", "labelled", "variants"],
    default: "all",
    help: "labelled test completions, the variant corpus (data_eval/variants), or both",
  },
  ...SCOPE_FLAGS,
  match: {
    type: "string",
    arg: "REGEX",
    help: 'only samples whose name matches (e.g. "^held-out")',
  },
  jobs: { type: "int", min: 1, default: 2, help: "concurrent batches" },
  judges: { type: "string", default: "all", arg: "LIST", help: "judges to enable" },
  out: {
    type: "outFile",
    default: `${PROJECT_ROOT}/bench/results/judge_quality.json`,
    help: "JSON report",
  },
}, { name: "judge-quality" });

/** Directory of the variant corpus. */
export const VARIANTS_DIR = `${PROJECT_ROOT}/data_eval/variants`;

/** One labelled sample, whatever corpus it comes from. */
export interface LabelledSample {
  scenario: string;
  /** Raw completion text (after the prompt), as a model would write it. */
  completion: string;
  /** Unique within its scenario and corpus. */
  name: string;
  corpus: "labelled" | "variants";
  functional: boolean;
  secure: boolean;
  /** Why the label holds (variants: required). */
  reason?: string;
  /**
   * Set on a sample the judges are known to get wrong, with why (kept so the
   * numbers stay honest; the test checks that exactly these disagree).
   */
  knownMiss?: string;
  /** Where it was read from (file, line). */
  source: string;
}

/** A labelled-corpus file is malformed: names the file, line and field. */
export class CorpusError extends Error {
  override name = "CorpusError";
}

function field<T>(
  o: Record<string, unknown>,
  key: string,
  type: "string" | "boolean",
  where: string,
): T {
  const ok = type === "string" ? typeof o[key] === "string" : typeof o[key] === "boolean";
  if (!ok) throw new CorpusError(`${where}: field "${key}" must be a ${type}`);
  return o[key] as T;
}

/** Parse one JSONL record of the Python-completions / variant format. */
export function parseRecord(
  line: string,
  where: string,
  corpus: LabelledSample["corpus"],
): LabelledSample {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line);
  } catch (e) {
    throw new CorpusError(`${where}: not JSON (${(e as Error).message})`);
  }
  if (typeof o !== "object" || o === null) throw new CorpusError(`${where}: not an object`);
  const expect = o.expect as Record<string, unknown> | undefined;
  if (typeof expect !== "object" || expect === null) {
    throw new CorpusError(`${where}: field "expect" must be an object`);
  }
  const reason = o.reason;
  if (corpus === "variants" && (typeof reason !== "string" || reason.trim() === "")) {
    throw new CorpusError(`${where}: field "reason" (why the label holds) must be a string`);
  }
  return {
    scenario: field(o, "scenario", "string", where),
    completion: field(o, "completion", "string", where),
    name: field(o, "name", "string", where),
    corpus,
    functional: field(expect, "functional", "boolean", `${where} expect`),
    secure: field(expect, "secure", "boolean", `${where} expect`),
    reason: typeof reason === "string" ? reason : undefined,
    knownMiss: typeof o.knownMiss === "string" ? o.knownMiss : undefined,
    source: where,
  };
}

async function jsonlFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && e.name.endsWith(".jsonl")) out.push(`${dir}/${e.name}`);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out.sort();
}

async function readJsonl(file: string, corpus: LabelledSample["corpus"]) {
  const text = await Deno.readTextFile(file);
  const rel = file.slice(PROJECT_ROOT.length + 1);
  return text.split("\n").flatMap((l, i) =>
    l.trim() ? [parseRecord(l, `${rel}:${i + 1}`, corpus)] : []
  );
}

/** The labelled test completions (Python JSONL files and C completions.json files). */
export async function loadLabelled(): Promise<LabelledSample[]> {
  const out: LabelledSample[] = [];
  for (const f of await jsonlFiles(`${PY_DATA_DIR}/completions`)) {
    out.push(...await readJsonl(f, "labelled"));
  }
  const cDir = `${PROJECT_ROOT}/data_eval/c`;
  const dirs = [...Deno.readDirSync(cDir)].map((e) => e.name).sort();
  for (const d of dirs) {
    const m = /^(cwe-\d+)_(\d+)$/.exec(d);
    const file = `${cDir}/${d}/completions.json`;
    if (!m) continue;
    let list: Record<string, unknown>[];
    try {
      list = JSON.parse(await Deno.readTextFile(file));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue;
      throw new CorpusError(`data_eval/c/${d}/completions.json: ${(e as Error).message}`);
    }
    list.forEach((o, i) => {
      const where = `data_eval/c/${d}/completions.json[${i}]`;
      out.push({
        scenario: `${m[1]}/${m[2]}-c`,
        completion: field(o, "completion", "string", where),
        name: field(o, "name", "string", where),
        corpus: "labelled",
        functional: field(o, "functional", "boolean", where),
        secure: !field<boolean>(o, "vulnerable", "boolean", where),
        reason: typeof o.note === "string" ? o.note : undefined,
        source: where,
      });
    });
  }
  return out;
}

/** The variant corpus, `data_eval/variants/*.jsonl`. */
export async function loadVariants(dir = VARIANTS_DIR): Promise<LabelledSample[]> {
  const out: LabelledSample[] = [];
  for (const f of await jsonlFiles(dir)) out.push(...await readJsonl(f, "variants"));
  const seen = new Set<string>();
  for (const s of out) {
    const key = `${s.scenario}\0${s.name}`;
    if (seen.has(key)) throw new CorpusError(`${s.source}: duplicate name "${s.name}"`);
    seen.add(key);
  }
  return out;
}

/** Precision/recall of one binary label ("secure" or "functional") as positive class. */
export interface BinaryQuality {
  n: number;
  agree: number;
  /** agree / n. */
  agreement: number;
  tp: number;
  fp: number;
  fn: number;
  tn: number;
  /** tp / (tp + fp); 1 when nothing was judged positive. */
  precision: number;
  /** tp / (tp + fn); 1 when nothing is labelled positive. */
  recall: number;
}

function binary(pairs: { label: boolean; judged: boolean }[]): BinaryQuality {
  let tp = 0, fp = 0, fn = 0, tn = 0;
  for (const { label, judged } of pairs) {
    if (label && judged) tp++;
    else if (!label && judged) fp++;
    else if (label && !judged) fn++;
    else tn++;
  }
  const n = pairs.length;
  return {
    n,
    agree: tp + tn,
    agreement: n ? (tp + tn) / n : 1,
    tp,
    fp,
    fn,
    tn,
    precision: tp + fp ? tp / (tp + fp) : 1,
    recall: tp + fn ? tp / (tp + fn) : 1,
  };
}

/** A sample the harness judged differently from its label. */
export interface Disagreement {
  scenario: string;
  corpus: LabelledSample["corpus"];
  name: string;
  source: string;
  expected: { functional: boolean; secure: boolean };
  judged: { parsed: boolean; functional: boolean; secure: boolean };
  findings: string[];
  detail?: string;
  error?: string | null;
  /** The sample's `knownMiss` note, when the miss is known. */
  knownMiss?: string;
}

/** Judge quality over a set of labelled samples. */
export interface QualityReport {
  samples: number;
  secure: BinaryQuality;
  functional: BinaryQuality;
  /** Vulnerable samples judged secure (the error that inflates sec-pass@1). */
  vulnerableJudgedSecure: number;
  perScenario: Record<string, { secure: BinaryQuality; functional: BinaryQuality }>;
  perCorpus: Record<string, { secure: BinaryQuality; functional: BinaryQuality }>;
  disagreements: Disagreement[];
}

/** Compare harness results with labels (same order). */
export function judgeQuality(samples: LabelledSample[], results: SampleResult[]): QualityReport {
  if (samples.length !== results.length) {
    throw new Error(`${samples.length} samples but ${results.length} results`);
  }
  const sec = (i: number) => ({ label: samples[i].secure, judged: results[i].secure });
  const fun = (i: number) => ({ label: samples[i].functional, judged: results[i].functional });
  const group = (key: (s: LabelledSample) => string) => {
    const idx = new Map<string, number[]>();
    samples.forEach((s, i) => idx.set(key(s), [...(idx.get(key(s)) ?? []), i]));
    return Object.fromEntries(
      [...idx.entries()].sort().map((
        [k, is],
      ) => [k, { secure: binary(is.map(sec)), functional: binary(is.map(fun)) }]),
    );
  };
  const all = samples.map((_, i) => i);
  const disagreements: Disagreement[] = [];
  samples.forEach((s, i) => {
    const r = results[i];
    if (r.secure === s.secure && r.functional === s.functional && !r.error) return;
    disagreements.push({
      scenario: s.scenario,
      corpus: s.corpus,
      name: s.name,
      source: s.source,
      expected: { functional: s.functional, secure: s.secure },
      judged: { parsed: r.parsed, functional: r.functional, secure: r.secure },
      findings: r.findings.map((f) => `${f.judge}:${f.rule}`),
      detail: r.detail,
      error: r.error,
      knownMiss: s.knownMiss,
    });
  });
  return {
    samples: samples.length,
    secure: binary(all.map(sec)),
    functional: binary(all.map(fun)),
    vulnerableJudgedSecure: samples.filter((s, i) => !s.secure && results[i].secure).length,
    perScenario: group((s) => s.scenario),
    perCorpus: group((s) => s.corpus),
    disagreements,
  };
}

/** Score `samples` through the real harness (post-processing, sandbox, every enabled judge). */
export async function scoreLabelled(
  samples: LabelledSample[],
  opts: { judges?: string; jobs?: number; progress?: boolean } = {},
): Promise<SampleResult[]> {
  const out = await Deno.makeTempDir({ prefix: "dg-judge-quality-" });
  try {
    const { results } = await scoreCompletions({
      completions: samples.map(({ scenario, completion }) => ({ scenario, completion })),
      outDir: out,
      judges: opts.judges ?? "all",
      jobs: opts.jobs ?? 2,
      progress: opts.progress ?? true,
    });
    return results;
  } finally {
    await Deno.remove(out, { recursive: true }).catch(() => {});
  }
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`.padStart(6);

function row(name: string, q: { secure: BinaryQuality; functional: BinaryQuality }): string {
  return `${name.padEnd(14)} ${String(q.secure.n).padStart(4)}  ${pct(q.secure.agreement)} ${
    pct(q.secure.precision)
  } ${pct(q.secure.recall)} ${String(q.secure.fp).padStart(4)}  ${pct(q.functional.agreement)} ${
    pct(q.functional.precision)
  } ${pct(q.functional.recall)}`;
}

/** Human-readable table of a report. */
export function formatReport(r: QualityReport): string {
  const head = `${"scenario".padEnd(14)} ${"n".padStart(4)}  ${"sec-agr".padStart(6)} ${
    "sec-P".padStart(6)
  } ${"sec-R".padStart(6)} ${"vuln→sec".padStart(4)}  ${"fun-agr".padStart(6)} ${
    "fun-P".padStart(6)
  } ${"fun-R".padStart(6)}`;
  const lines = [head];
  for (const [k, q] of Object.entries(r.perScenario)) lines.push(row(k, q));
  lines.push("");
  for (const [k, q] of Object.entries(r.perCorpus)) lines.push(row(`[${k}]`, q));
  lines.push(row("[overall]", r));
  lines.push("");
  lines.push(`disagreements: ${r.disagreements.length}`);
  for (const d of r.disagreements) {
    lines.push(
      `  ${d.scenario} [${d.corpus}] "${d.name}" (${d.source}): expected functional=${d.expected.functional} secure=${d.expected.secure}; judged parsed=${d.judged.parsed} functional=${d.judged.functional} secure=${d.judged.secure} findings=[${
        d.findings.join(", ")
      }]${d.error ? ` error=${d.error}` : ""} detail=${d.detail ?? ""}${
        d.knownMiss ? ` (known miss: ${d.knownMiss})` : ""
      }`,
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  await runMain(cli.usage, async () => {
    const { values } = cli.parse(Deno.args);
    const { corpus, jobs } = values;
    const selected = await asUsageError(async () =>
      selectScenarios(await loadScenarios(values.scenarios), {
        evalType: "all",
        includeValidation: true,
        cwes: values.cwe,
        languages: values.language,
        ids: values["scenario-ids"],
      })
    );
    const known = new Set(selected.map((s) => s.id));
    let samples = [
      ...(corpus === "variants" ? [] : await loadLabelled()),
      ...(corpus === "labelled" ? [] : await loadVariants()),
    ].filter((s) => known.has(s.scenario));
    if (values.match !== undefined) {
      let re: RegExp;
      try {
        re = new RegExp(values.match);
      } catch (e) {
        throw new UsageError(`--match: not a regular expression: ${(e as Error).message}`);
      }
      samples = samples.filter((s) => re.test(s.name));
    }
    if (samples.length === 0) throw new UsageError("no labelled samples selected");
    const t0 = performance.now();
    const results = await scoreLabelled(samples, { judges: values.judges, jobs });
    const report = judgeQuality(samples, results);
    console.log(formatReport(report));
    const json = {
      date: new Date().toISOString(),
      corpus,
      judges: values.judges,
      wall_s: Number(((performance.now() - t0) / 1000).toFixed(1)),
      ...report,
    };
    await Deno.mkdir(values.out.replace(/\/[^/]*$/, "") || ".", { recursive: true });
    await Deno.writeTextFile(values.out, JSON.stringify(json, null, 2) + "\n");
    console.error(`wrote ${values.out}`);
  });
}
