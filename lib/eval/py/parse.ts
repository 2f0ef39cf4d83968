/**
 * Python parse check (`ast.parse`, as upstream) for many programs at once, run in
 * the sandbox by data_eval/py/parse_batch.py.
 *
 * @module
 */

import { runSandboxed } from "../sandbox.ts";
import { evalTempDir, removeEvalTempDir } from "../tmp.ts";
import { SANDBOX_MOUNTS } from "../bwrap.ts";
import { pythonRoBinds, SANDBOX_PYTHON } from "./paths.ts";

/** Parse outcome of one program. */
export interface ParseResult {
  ok: boolean;
  message: string;
}

/** `ast.parse` every program; results in input order. */
export async function parseCheckPython(programs: readonly string[]): Promise<ParseResult[]> {
  if (programs.length === 0) return [];
  const dir = await evalTempDir("dg-parse-");
  try {
    const res = await runSandboxed([
      SANDBOX_PYTHON,
      "-I",
      "-B",
      `${SANDBOX_MOUNTS.py}/parse_batch.py`,
    ], {
      dir,
      stdin: JSON.stringify(programs),
      roBinds: pythonRoBinds(),
      limits: { timeoutMs: 60_000, cpuSeconds: 50, memoryBytes: 4 * 1024 ** 3 },
    });
    let parsed: ParseResult[] | null = null;
    try {
      parsed = JSON.parse(res.stdout);
    } catch { /* below */ }
    if (!Array.isArray(parsed) || parsed.length !== programs.length) {
      throw new Error(
        `python parse check failed (exit ${res.exitCode}, ${res.limitHit ?? "no limit"}): ${
          res.stderr.slice(-300)
        }`,
      );
    }
    return parsed;
  } finally {
    await removeEvalTempDir(dir);
  }
}
