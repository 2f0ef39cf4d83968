/** Shared helpers for the FFI tests: deterministic data and the Python torch oracle. */
import { haveVenvPython, VENV_PY } from "../lib/util/python.ts";

/** Deterministic pseudo-random numbers in [lo, hi) (mulberry32). */
export function seeded(seed: number): (lo?: number, hi?: number) => number {
  let s = seed >>> 0;
  return (lo = -1, hi = 1) => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return lo + (hi - lo) * u;
  };
}

/** The project venv's python, or null (tests then skip with a message). */
export function venvPython(): string | null {
  return haveVenvPython() ? VENV_PY : null;
}

/** Runs a Python script with JSON on stdin and parses its JSON stdout. */
export async function runPythonJson(script: string, input: unknown): Promise<unknown> {
  const py = venvPython();
  if (!py) throw new Error("no .venv");
  const child = new Deno.Command(py, {
    args: [script],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(JSON.stringify(input)));
  await w.close();
  const out = await child.output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** Largest absolute difference between two equally long number arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (Number.isNaN(d)) {
      if (!(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return Infinity;
    } else if (d > m) m = d;
  }
  return m;
}
