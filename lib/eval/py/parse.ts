/**
 * Python parse check (`ast.parse`, as upstream) for many programs at once, run in
 * the sandbox by data_eval/py/parse_batch.py.
 *
 * @module
 */

import { runSandboxed } from "../sandbox.ts";
import { PY_DATA_DIR, pythonRoBinds, venvPython } from "./paths.ts";

/** Parse outcome of one program. */
export interface ParseResult {
  ok: boolean;
  message: string;
}

/** `ast.parse` every program; results in input order. */
export async function parseCheckPython(programs: readonly string[]): Promise<ParseResult[]> {
  if (programs.length === 0) return [];
  const dir = await Deno.makeTempDir({ prefix: "dg-parse-" });
  try {
    const res = await runSandboxed([venvPython(), "-I", "-B", `${PY_DATA_DIR}/parse_batch.py`], {
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
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
