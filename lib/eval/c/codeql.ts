/**
 * Optional `codeql` judge: runs the scenario's upstream query on a one-file
 * database, when the CodeQL CLI is installed and the query can be located.
 *
 * Stock queries (`cpp/ql/src/...`) are looked up under a checkout of
 * github/codeql (`codeqlRepo`, default `$DG_CODEQL_REPO`); scenario-local
 * queries (`*.ql` file names) under `codeqlLocalQueries/<cwe>/<scenario>/`
 * (default `$DG_CODEQL_LOCAL_QUERIES`, laid out like upstream's
 * `data_eval/sec_eval/<eval_type>/`). Unlike upstream, each sample is its own
 * database (see docs/eval_c.md).
 *
 * @module
 */

import type { Finding, Scenario } from "../types.ts";
import type { JudgeRun } from "./static_judges.ts";
import { runTool } from "./tools.ts";

/** Where to find the CodeQL CLI and its queries. */
export interface CodeqlOptions {
  /** CLI executable. */
  codeql: string;
  /** Checkout of github/codeql (stock queries), or null. */
  codeqlRepo: string | null;
  /** Folder with `<cwe>/<scenario>/<query>.ql`, or null. */
  codeqlLocalQueries: string | null;
}

const CODEQL_TIMEOUT_MS = 300_000;

/** CodeQL runs in the sandbox too, with its query packs visible and a JVM-sized memory limit. */
function codeqlSandbox(opts: CodeqlOptions) {
  return {
    roBinds: [opts.codeqlRepo, opts.codeqlLocalQueries].filter((p): p is string => !!p),
    limits: { memoryBytes: 32 * 2 ** 30, maxProcesses: 256 },
  };
}

/** Resolve the query file of a scenario, or explain why it cannot be found. */
export function resolveQuery(
  scenario: Scenario,
  opts: CodeqlOptions,
): { path: string } | { missing: string } {
  const q = scenario.codeqlQuery;
  if (!q) return { missing: "scenario has no CodeQL query" };
  const exists = (p: string) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  };
  if (q.includes("/")) {
    if (!opts.codeqlRepo) return { missing: "stock query needs codeqlRepo / DG_CODEQL_REPO" };
    const p = `${opts.codeqlRepo}/${q}`;
    return exists(p) ? { path: p } : { missing: `query not found: ${p}` };
  }
  if (!opts.codeqlLocalQueries) {
    return { missing: "scenario-local query needs codeqlLocalQueries / DG_CODEQL_LOCAL_QUERIES" };
  }
  const p = `${opts.codeqlLocalQueries}/${scenario.id}/${q}`;
  return exists(p) ? { path: p } : { missing: `query not found: ${p}` };
}

/** Parse CodeQL's CSV output (name, description, severity, message, path, startLine, ...). */
export function parseCodeqlCsv(csv: string, sampleName: string): Finding[] {
  const out: Finding[] = [];
  for (const line of csv.split("\n")) {
    if (line.trim() === "") continue;
    const cells: string[] = [];
    for (const m of line.matchAll(/"((?:[^"]|"")*)"|([^,]+)|(?<=,)(?=,|$)/g)) {
      cells.push(m[1] !== undefined ? m[1].replace(/""/g, '"') : (m[2] ?? ""));
    }
    if (cells.length < 6) continue;
    const [name, , , message, path, startLine] = cells;
    if (!path.endsWith(`/${sampleName}`) && path !== sampleName) continue;
    const n = Number(startLine);
    out.push({ judge: "codeql", rule: name, line: Number.isInteger(n) ? n : null, message });
  }
  return out;
}

/** Build a database of `dir/src/<sampleName>` and run the scenario's query. */
export async function runCodeqlJudge(
  scenario: Scenario,
  program: string,
  dir: string,
  sampleName: string,
  opts: CodeqlOptions,
  gcc: string,
): Promise<JudgeRun> {
  const q = resolveQuery(scenario, opts);
  if ("missing" in q) return { skipped: q.missing };
  await Deno.mkdir(`${dir}/src`, { recursive: true });
  await Deno.writeTextFile(`${dir}/src/${sampleName}`, program);
  const create = await runTool(opts.codeql, [
    "database",
    "create",
    `${dir}/db`,
    "--language=cpp",
    `--command=${gcc} -c ${sampleName} -o sample.o`,
    "--source-root",
    `${dir}/src`,
    "--overwrite",
  ], { cwd: dir, timeoutMs: CODEQL_TIMEOUT_MS, ...codeqlSandbox(opts) });
  if (create.notFound) return { skipped: `${opts.codeql} not found` };
  if (create.code !== 0) {
    return { skipped: `codeql database create failed: ${create.stderr.slice(-300)}` };
  }
  const analyze = await runTool(opts.codeql, [
    "database",
    "analyze",
    `${dir}/db`,
    q.path,
    "--format=csv",
    `--output=${dir}/codeql.csv`,
  ], { cwd: dir, timeoutMs: CODEQL_TIMEOUT_MS, ...codeqlSandbox(opts) });
  if (analyze.code !== 0) {
    return { skipped: `codeql database analyze failed: ${analyze.stderr.slice(-300)}` };
  }
  return { findings: parseCodeqlCsv(await Deno.readTextFile(`${dir}/codeql.csv`), sampleName) };
}
