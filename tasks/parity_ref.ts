/**
 * Helper shared by `deno task parity` and the parity tests: produce (once per version of
 * tools/parity_ref.py) the Python reference directory, cached under the system temp dir.
 *
 * @module
 */

/** Project root. */
export const ROOT: string = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
/** The project venv's Python. */
export const VENV_PY = `${ROOT}/.venv/bin/python`;

/**
 * Runs the project venv's Python with `args` and returns its stdout; a non-zero exit throws an
 * Error naming `what`, with the tail of stderr.
 */
export async function runVenvPython(what: string, args: string[]): Promise<string> {
  const r = await new Deno.Command(VENV_PY, { args, stdout: "piped", stderr: "piped" }).output();
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

/** True when the venv Python and tools/parity_ref.py exist. */
export function haveOracle(): boolean {
  try {
    Deno.statSync(VENV_PY);
    Deno.statSync(`${ROOT}/tools/parity_ref.py`);
    return true;
  } catch {
    return false;
  }
}

async function sha(path: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return [...new Uint8Array(d)].slice(0, 8).map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Run `tools/parity_ref.py --out DIR` unless a finished DIR for this script version exists;
 * returns DIR. Safe under concurrent callers (each builds into its own dir, then renames).
 */
export async function ensureReference(fresh = false): Promise<string> {
  const tmp = Deno.env.get("TMPDIR") ?? "/tmp";
  const dir = `${tmp}/dg_parity_ref_${await sha(`${ROOT}/tools/parity_ref.py`)}`;
  if (!fresh) {
    try {
      await Deno.stat(`${dir}/summary.json`);
      return dir;
    } catch { /* build it */ }
  }
  const work = `${dir}.${Deno.pid}.${Date.now()}`;
  await runVenvPython("tools/parity_ref.py", [`${ROOT}/tools/parity_ref.py`, "--out", work]);
  try {
    await Deno.remove(dir, { recursive: true });
  } catch { /* absent */ }
  try {
    await Deno.rename(work, dir);
  } catch {
    return work; // another process won the race; use ours
  }
  return dir;
}
