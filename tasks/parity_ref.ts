/**
 * Helper shared by `deno task parity` and the parity tests: produce (once per version of
 * tools/parity_ref.py) the Python reference directory, cached under the system temp dir.
 *
 * @module
 */

import { PROJECT_ROOT as ROOT } from "../lib/util/paths.ts";
import { haveVenvPython, runVenvPython } from "../lib/util/python.ts";

/** True when the venv Python and tools/parity_ref.py exist. */
export function haveOracle(): boolean {
  try {
    Deno.statSync(`${ROOT}/tools/parity_ref.py`);
    return haveVenvPython();
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
