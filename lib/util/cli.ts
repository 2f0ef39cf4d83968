/**
 * Command-line helpers for the tasks: strict flag parsing with typed numbers and a usage error
 * that the task prints with its usage text (exit code 2) instead of a stack trace; `--help` / `-h`
 * prints the usage text on stdout (exit code 0).
 * @module
 */
import { parseArgs } from "node:util";
import type { Device } from "../../ffi/dtype.ts";

/** A bad command line: unknown flag, missing value, value of the wrong type or range. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** `--help` or `-h` was given: {@link runMain} prints the usage on stdout and exits 0. */
export class HelpRequested extends Error {
  override name = "HelpRequested";
  constructor() {
    super("help requested");
  }
}

/** Flag specification: name → string or boolean flag, with an optional default. */
export type FlagSpec = Record<string, { type: "string" | "boolean"; default?: string | boolean }>;

/** Parsed flags: strings or booleans, plus positional arguments. */
export interface Flags {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/**
 * Parses `args` strictly against `spec`; unknown flags raise a {@link UsageError}. A `--help` or
 * `-h` argument (before any `--`) raises {@link HelpRequested} first, whatever else is given.
 */
export function parseFlags(args: string[], spec: FlagSpec, allowPositionals = false): Flags {
  const end = args.indexOf("--");
  if ((end < 0 ? args : args.slice(0, end)).some((a) => a === "--help" || a === "-h")) {
    throw new HelpRequested();
  }
  try {
    const { values, positionals } = parseArgs({
      args,
      options: spec,
      strict: true,
      allowPositionals,
    });
    return { values: values as Flags["values"], positionals };
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** A numeric flag value, checked for integer-ness and bounds. */
export function numberFlag(
  flags: Flags,
  name: string,
  fallback: number,
  opts: { integer?: boolean; min?: number; max?: number } = {},
): number {
  const raw = flags.values[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (typeof raw !== "string" || raw.trim() === "" || !Number.isFinite(v)) {
    throw new UsageError(`--${name} expects a number, got "${raw}"`);
  }
  if (opts.integer && !Number.isInteger(v)) {
    throw new UsageError(`--${name} expects an integer, got ${raw}`);
  }
  if (opts.min !== undefined && v < opts.min) {
    throw new UsageError(`--${name} must be at least ${opts.min}, got ${raw}`);
  }
  if (opts.max !== undefined && v > opts.max) {
    throw new UsageError(`--${name} must be at most ${opts.max}, got ${raw}`);
  }
  return v;
}

/** A string flag value from a fixed set of choices. */
export function choiceFlag<C extends string>(
  flags: Flags,
  name: string,
  choices: readonly C[],
  fallback: C,
): C {
  const raw = flags.values[name];
  if (raw === undefined) return fallback;
  if (typeof raw !== "string" || !choices.includes(raw as C)) {
    throw new UsageError(`--${name} must be one of ${choices.join(", ")}, got "${raw}"`);
  }
  return raw as C;
}

/** A device flag value: `cpu`, `cuda` or `cuda:N` (default `cpu`). */
export function deviceFlag(flags: Flags, name = "device"): Device {
  const raw = flags.values[name];
  if (raw === undefined) return "cpu";
  if (typeof raw !== "string" || !/^(cpu|cuda(:\d+)?)$/.test(raw)) {
    throw new UsageError(`--${name} must be cpu, cuda or cuda:N, got "${raw}"`);
  }
  return raw as Device;
}

/** A required string flag. */
export function requiredFlag(flags: Flags, name: string): string {
  const raw = flags.values[name];
  if (typeof raw !== "string" || raw === "") throw new UsageError(`--${name} is required`);
  return raw;
}

/**
 * Runs a task's main function: {@link HelpRequested} prints the usage on stdout and exits 0; a
 * {@link UsageError} prints the message and the usage on stderr and exits 2; any other error prints
 * its name and message (no stack unless DG_DEBUG=1) and exits 1.
 */
export async function runMain(usage: string, main: () => Promise<void> | void): Promise<void> {
  try {
    await main();
  } catch (e) {
    const err = e as Error;
    if (err instanceof HelpRequested) {
      console.log(usage);
      Deno.exit(0);
    }
    if (err instanceof UsageError) {
      console.error(`error: ${err.message}\n\n${usage}`);
      Deno.exit(2);
    }
    console.error(`${err.name ?? "Error"}: ${err.message}`);
    if (Deno.env.get("DG_DEBUG")) console.error(err.stack);
    Deno.exit(1);
  }
}
