/**
 * Locations of the Python evaluation assets (venv, harness, rules) relative to
 * the project root.
 *
 * @module
 */

import { SANDBOX_MOUNTS } from "../bwrap.ts";
import { PROJECT_ROOT } from "../../util/paths.ts";

/** Project root (the directory holding deno.json), re-exported from lib/util/paths.ts. */
export { PROJECT_ROOT };

/** data_eval/py: harness.py, dgcheck.py, checks/. */
export const PY_DATA_DIR = `${PROJECT_ROOT}/data_eval/py`;

/** data_eval/rules: Semgrep rules and the per-scenario judge mapping. */
export const RULES_DIR = `${PROJECT_ROOT}/data_eval/rules`;

/** The evaluation virtualenv (`.venv-eval`), overridable with `DG_EVAL_VENV`. */
export function venvDir(): string {
  return Deno.env.get("DG_EVAL_VENV") ?? `${PROJECT_ROOT}/.venv-eval`;
}

/** Interpreter that runs (sandboxed) generated programs. */
export function venvPython(): string {
  return `${venvDir()}/bin/python`;
}

/** A tool installed in the venv (semgrep, bandit), or `null` if missing. */
export function venvTool(name: string): string | null {
  const p = `${venvDir()}/bin/${name}`;
  try {
    Deno.statSync(p);
    return p;
  } catch {
    return null;
  }
}

/**
 * Host paths the sandboxed interpreter needs read-only: the venv and data_eval/py
 * (at their neutral {@link SANDBOX_MOUNTS}) and the base Python installation the
 * venv points to (from pyvenv.cfg, at its own place: the venv's symlinks need it).
 */
export function pythonRoBinds(): (string | [string, string])[] {
  const binds: (string | [string, string])[] = [
    [venvDir(), SANDBOX_MOUNTS.venv],
    [PY_DATA_DIR, SANDBOX_MOUNTS.py],
  ];
  try {
    const cfg = Deno.readTextFileSync(`${venvDir()}/pyvenv.cfg`);
    const home = /^home\s*=\s*(.+)$/m.exec(cfg)?.[1].trim();
    if (home) {
      const base = home.replace(/\/bin\/?$/, "");
      if (!base.startsWith("/usr")) binds.push(base);
    }
  } catch { /* no venv: the caller reports it */ }
  return binds;
}

/** The venv's interpreter as seen inside the sandbox. */
export const SANDBOX_PYTHON = `${SANDBOX_MOUNTS.venv}/bin/python`;

/** Why the Python backend cannot run (missing venv), or `null`. */
export function pythonProblem(): string | null {
  try {
    Deno.statSync(venvPython());
    return null;
  } catch {
    return `no evaluation venv at ${venvDir()}; run: bash scripts/setup-eval.sh`;
  }
}
