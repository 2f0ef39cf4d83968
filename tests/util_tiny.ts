/**
 * Shared setup of the tests that build tiny checkpoints and run tasks: temporary directories with
 * tiny models in them, task flags from an object, and running a task as a subprocess.
 */
import { PROJECT_ROOT } from "../ffi/mod.ts";
import { makeTiny, type TinyArch, type TinyOptions } from "../lib/model/tiny.ts";

/** Tiny checkpoints to make, by directory name: an architecture, or one with its own options. */
export type TinySpec = Record<string, TinyArch | [TinyArch, TinyOptions]>;

/**
 * A fresh temporary directory holding one tiny checkpoint per entry of `models`, at
 * `DIR/<name>`, made with `common` options overridden by the entry's own.
 */
export async function tinyModels(
  prefix: string,
  models: TinySpec,
  common: TinyOptions = {},
): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix });
  for (const [name, spec] of Object.entries(models)) {
    const [arch, opts] = typeof spec === "string" ? [spec, {}] : spec;
    await makeTiny(arch, `${dir}/${name}`, { ...common, ...opts });
  }
  return dir;
}

/**
 * Runs `fn` on a fresh temporary directory (with the tiny checkpoints of `models` in it, see
 * {@link tinyModels}) and removes the directory afterwards, also when `fn` throws.
 */
export async function withTinyDir<T>(
  prefix: string,
  models: TinySpec,
  fn: (dir: string) => Promise<T>,
): Promise<T> {
  const dir = await tinyModels(prefix, models);
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Command-line flags from an object, in its order: `{ model: m, "max-steps": 2, resume: true }` →
 * `["--model", m, "--max-steps", "2", "--resume"]` (`true` is a bare flag).
 */
export function flags(o: Record<string, string | number | true>): string[] {
  return Object.entries(o).flatMap(([k, v]) => v === true ? [`--${k}`] : [`--${k}`, String(v)]);
}

/** Output of {@link runDeno}. */
export interface DenoRun {
  /** Exit code. */
  code: number;
  /** True on exit code 0. */
  success: boolean;
  /** Decoded stdout. */
  stdout: string;
  /** Decoded stderr. */
  stderr: string;
}

/** Runs `deno run -A ARGS` in the project root (a task as the user runs it) and decodes its output. */
export async function runDeno(args: string[]): Promise<DenoRun> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...args],
    cwd: PROJECT_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    success: out.success,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}
