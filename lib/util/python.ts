/**
 * Running the project venv's Python (`.venv`, torch + transformers + peft): the oracles of the
 * parity tests and the reference sides of the benchmarks.
 * @module
 */
import { PROJECT_ROOT } from "./paths.ts";
import { runWithTimeout } from "./spawn.ts";

/** The project venv's Python. */
export const VENV_PY = `${PROJECT_ROOT}/.venv/bin/python`;

/** True when the venv's Python exists. */
export function haveVenvPython(): boolean {
  try {
    Deno.statSync(VENV_PY);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs the venv's Python with `args` and returns its stdout; a missing venv or a non-zero exit
 * throws an Error naming `what`, with the tail of stderr.
 */
export async function runVenvPython(
  what: string,
  args: string[],
  timeoutMs?: number,
): Promise<string> {
  if (!haveVenvPython()) {
    throw new Error(`${what}: no ${VENV_PY} (run bash scripts/setup.sh)`);
  }
  const r = await runWithTimeout(VENV_PY, args, { timeoutMs });
  if (r.timedOut) throw new Error(`${what} timed out after ${timeoutMs} ms`);
  if (!r.success) {
    throw new Error(`${what} failed:\n${new TextDecoder().decode(r.stderr).slice(-3000)}`);
  }
  return new TextDecoder().decode(r.stdout);
}

/** {@link runVenvPython}, then the last line of stdout parsed as JSON (the scripts' result). */
export async function venvPythonJson<T>(what: string, args: string[]): Promise<T> {
  const out = await runVenvPython(what, args);
  return JSON.parse(out.trim().split("\n").pop()!) as T;
}
