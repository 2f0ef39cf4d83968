/**
 * Optional CodeQL judge for Python: builds one database over a batch of samples
 * and runs the scenario's query, as upstream does. Used only when `codeql` is on
 * PATH and the query can be located; otherwise it reports why it was skipped.
 *
 * Query lookup: stock queries under `$DG_CODEQL_REPO` (a checkout of github/codeql
 * at tag codeql-cli-2.15.0), scenario-local `.ql` files under
 * `$DG_CODEQL_LOCAL_QUERIES/<cwe>/<scenario>/`.
 *
 * @module
 */

import { runTool } from "../c/tools.ts";
import { evalTempDir, removeEvalTempDir } from "../tmp.ts";
import type { Finding, Scenario } from "../types.ts";
import type { StaticRun } from "./static.ts";

/** Absolute path of `codeql` on PATH, or null. */
export function findCodeql(): string | null {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    try {
      const p = `${dir}/codeql`;
      if (Deno.statSync(p).isFile) return p;
    } catch { /* next */ }
  }
  return null;
}

/** Where the scenario's query file is, or why it cannot be found. */
export function locateQuery(s: Scenario): { path: string } | { reason: string } {
  if (!s.codeqlQuery) return { reason: "the scenario names no CodeQL query" };
  if (s.codeqlQuery.includes("/")) {
    const repo = Deno.env.get("DG_CODEQL_REPO");
    if (!repo) return { reason: "DG_CODEQL_REPO (checkout of github/codeql) is not set" };
    return { path: `${repo}/${s.codeqlQuery}` };
  }
  const local = Deno.env.get("DG_CODEQL_LOCAL_QUERIES");
  if (!local) return { reason: "DG_CODEQL_LOCAL_QUERIES is not set for a scenario-local query" };
  return { path: `${local}/${s.id}/${s.codeqlQuery}` };
}

/** CSV line parser for CodeQL's `--format=csv` (quoted fields, doubled quotes). */
export function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let q = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (q) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') q = false;
      else cur += c;
    } else if (c === '"') q = true;
    else if (c === ",") {
      out.push(cur);
      cur = "";
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/**
 * DeepGuard's cwe-078 false-positive filter: true iff the alert covers exactly a
 * bare name that the file assigns a list literal starting with a string literal.
 */
export function isListVariableAlert(program: string, line: number, col: number, endCol: number) {
  const text = program.split("\n")[line - 1] ?? "";
  const name = text.slice(col - 1, endCol);
  if (!/^[A-Za-z_]\w*$/.test(name)) return false;
  return new RegExp(`^\\s*${name}\\s*=\\s*\\[\\s*[rbuf]*['"]`, "m").test(program);
}

/** Run the scenario's CodeQL query over the programs (one database for the batch). */
export async function runCodeql(
  s: Scenario,
  programs: readonly string[],
): Promise<StaticRun> {
  const exe = findCodeql();
  if (!exe) return { ok: false, reason: "codeql is not on PATH" };
  const q = locateQuery(s);
  if ("reason" in q) return { ok: false, reason: q.reason };
  const dir = await evalTempDir("dg-codeql-");
  try {
    const src = `${dir}/src`;
    await Deno.mkdir(src);
    const names = programs.map((_, i) => `${String(i).padStart(2, "0")}.py`);
    for (let i = 0; i < programs.length; i++) {
      await Deno.writeTextFile(`${src}/${names[i]}`, programs[i]);
    }
    // In the sandbox like every tool that reads a sample: the CodeQL distribution and the
    // query checkouts are visible read-only, the batch dir is the only writable path.
    const distDir = Deno.realPathSync(exe).replace(/\/[^/]+$/, "");
    const roBinds = [
      distDir,
      Deno.env.get("DG_CODEQL_REPO"),
      Deno.env.get("DG_CODEQL_LOCAL_QUERIES"),
    ].filter((p): p is string => !!p);
    const run = async (args: string[]) => {
      const o = await runTool(exe, args, {
        cwd: dir,
        timeoutMs: 600_000,
        roBinds,
        limits: { memoryBytes: 32 * 2 ** 30, maxProcesses: 256 },
      });
      return { code: o.code, err: o.stderr };
    };
    const db = `${dir}/db`;
    let r = await run([
      "database",
      "create",
      db,
      "--language=python",
      `--source-root=${src}`,
      "--overwrite",
    ]);
    if (r.code !== 0) {
      return { ok: false, reason: `codeql database create failed: ${r.err.slice(-300)}` };
    }
    const csv = `${dir}/out.csv`;
    r = await run(["database", "analyze", db, q.path, "--format=csv", `--output=${csv}`]);
    if (r.code !== 0) return { ok: false, reason: `codeql analyze failed: ${r.err.slice(-300)}` };
    const findings: Finding[][] = programs.map(() => []);
    for (const line of (await Deno.readTextFile(csv)).split("\n")) {
      if (!line.trim()) continue;
      const f = parseCsvLine(line);
      // name, description, severity, message, path, startLine, startCol, endLine, endCol
      const i = names.indexOf(f[4].replace(/^\//, ""));
      if (i < 0) continue;
      const [ln, c1, c2] = [Number(f[5]), Number(f[6]), Number(f[8])];
      if (s.cwe === "CWE-078" && isListVariableAlert(programs[i], ln, c1, c2)) continue;
      findings[i].push({ judge: "codeql", rule: f[0], line: ln, message: f[3] });
    }
    return { ok: true, findings };
  } finally {
    await removeEvalTempDir(dir);
  }
}
