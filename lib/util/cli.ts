/**
 * Command-line flags, declared once per task. A task writes one {@link FlagSpec} (name → type,
 * default, range or choices, help); {@link defineFlags} derives the usage text, the strict parser
 * and the validation from it, so a bad flag is rejected before any heavy work (model loading,
 * sampling, scoring) starts. A user error is a {@link UsageError}: {@link runMain} prints it with
 * the usage text on stderr and exits 2, never with a stack trace; `--help` / `-h` prints the usage
 * on stdout and exits 0.
 *
 * Validation runs in three passes so that the cheapest, most specific message wins: each given
 * value against its type and range; required flags and the task's cross-flag check; then the
 * file system (paths that must exist, output paths that must be creatable).
 * @module
 */
import { parseArgs } from "node:util";
import type { Device } from "../../ffi/dtype.ts";
import { parseDevice } from "./device.ts";

/** A bad command line: unknown flag, missing value, value of the wrong type or range. */
export class UsageError extends Error {
  /** Error class name. */
  override name = "UsageError";
}

/** `--help` or `-h` was given: {@link runMain} prints the usage on stdout and exits 0. */
export class HelpRequested extends Error {
  /** Error class name. */
  override name = "HelpRequested";
  /** No message: the usage text is the answer. */
  constructor() {
    super("help requested");
  }
}

/** What every flag declares. */
export interface FlagBase {
  /** One line (or a few) of help text. */
  help: string;
  /** The flag must be given. */
  required?: boolean;
  /** Other accepted spellings (without `--`), kept for old command lines. */
  alias?: readonly string[];
  /** Placeholder in the usage text (default from the type: N, X, DIR, FILE, LIST, …). */
  arg?: string;
}

/** One flag's declaration. */
export type FlagDef =
  | FlagBase & { type: "string"; default?: string }
  /** A path that must exist: `kind` says whether a file, a directory, or either. */
  | FlagBase & { type: "path"; kind: "file" | "dir" | "any"; default?: string }
  /** An output directory: created if missing; an existing non-directory or an unwritable
   * parent is an error before work starts. */
  | FlagBase & { type: "outDir"; default?: string }
  /** An output file: its directory is created if missing; an existing directory is an error. */
  | FlagBase & { type: "outFile"; default?: string }
  /** A safe integer in [min, max]; `expect` words the range in errors ("a positive integer"). */
  | FlagBase & { type: "int"; default?: number; min?: number; max?: number; expect?: string }
  /** A finite number in [min, max] (`above`: strictly greater than). */
  | FlagBase & {
    type: "float";
    default?: number;
    min?: number;
    max?: number;
    above?: number;
    expect?: string;
  }
  | FlagBase & { type: "boolean" }
  | FlagBase & { type: "choice"; choices: readonly string[]; default?: string }
  /** A comma-separated list (blank items dropped); `choices` restricts the items. */
  | FlagBase & { type: "list"; choices?: readonly string[]; default?: readonly string[] }
  /** A comma-separated list of integers ≥ `min`. */
  | FlagBase & { type: "intList"; min?: number; default?: readonly number[] }
  /** `cpu`, `cuda` or `cuda:N` (default `cpu`). */
  | FlagBase & { type: "device"; default?: Device };

/** A task's flags: name (without `--`) → declaration. */
export type FlagSpec = Readonly<Record<string, FlagDef>>;

/** The value type of a flag of declaration `D`, when given. */
export type BaseValue<D> = D extends { type: "int" | "float" } ? number
  : D extends { type: "boolean" } ? boolean
  : D extends { type: "choice"; choices: readonly (infer C)[] } ? C
  : D extends { type: "list"; choices: readonly (infer C)[] } ? C[]
  : D extends { type: "list" } ? string[]
  : D extends { type: "intList" } ? number[]
  : D extends { type: "device" } ? Device
  : string;

/** The parsed value of one flag: absent only when it has no default and is not required. */
export type FlagValue<D> = D extends { type: "boolean" | "device" } ? BaseValue<D>
  : D extends { required: true } ? BaseValue<D>
  : D extends { default: unknown } ? BaseValue<D>
  : BaseValue<D> | undefined;

/** Parsed flags, typed from the spec. */
export type FlagValues<S extends FlagSpec> = { -readonly [K in keyof S]: FlagValue<S[K]> };

/** Options of {@link defineFlags}. */
export interface CommandOptions<S extends FlagSpec> {
  /** `deno task NAME`. */
  name: string;
  /** One paragraph said after the synopsis (what the task does). */
  about?: string;
  /** Synopsis of positional arguments, e.g. `RUN_DIR...` (positionals are refused without it). */
  positionals?: string;
  /** Cross-flag rules, run after the per-flag checks and before the file-system checks; throw a
   * {@link UsageError}. */
  check?: (values: FlagValues<S>, positionals: string[]) => void;
}

/** A task's command line: its usage text and its parser. */
export interface Command<S extends FlagSpec> {
  /** The usage text, derived from the spec. */
  usage: string;
  /** Parses and validates `args`; throws {@link UsageError} / {@link HelpRequested}. */
  parse(args: string[]): { values: FlagValues<S>; positionals: string[] };
}

function placeholder(d: FlagDef): string {
  if (d.arg) return d.arg;
  switch (d.type) {
    case "int":
      return "N";
    case "float":
      return "X";
    case "path":
      return d.kind === "file" ? "FILE" : d.kind === "dir" ? "DIR" : "PATH";
    case "outDir":
      return "DIR";
    case "outFile":
      return "FILE";
    case "choice":
      return d.choices.join("|");
    case "list":
    case "intList":
      return "LIST";
    case "device":
      return "cpu|cuda[:N]";
    default:
      return "TEXT";
  }
}

function describeDefault(d: FlagDef): string {
  if (d.type === "boolean" || d.required) return "";
  const def = d.type === "device" ? d.default ?? "cpu" : d.default;
  if (def === undefined) return "";
  const s = Array.isArray(def) ? def.join(",") : String(def);
  return s === "" ? "" : ` (default ${s})`;
}

function usageText<S extends FlagSpec>(spec: S, opts: CommandOptions<S>): string {
  const req = Object.entries(spec).filter(([, d]) => d.required);
  const synopsis = [
    `usage: deno task ${opts.name}`,
    ...req.map(([n, d]) => `--${n} ${placeholder(d)}`),
    ...(Object.keys(spec).length > req.length ? ["[options]"] : []),
    ...(opts.positionals ? [opts.positionals] : []),
  ].join(" ");
  const rows = Object.entries(spec).map(([n, d]) => {
    const left = `  --${n}${d.type === "boolean" ? "" : ` ${placeholder(d)}`}`;
    const alias = d.alias?.length ? ` (also --${d.alias.join(", --")})` : "";
    const help = `${d.help}${describeDefault(d)}${alias}`.split("\n");
    const pad = left.length < 26 ? left.padEnd(26) : `${left}\n${" ".repeat(26)}`;
    return pad + help.join(`\n${" ".repeat(26)}`);
  });
  return [synopsis, ...(opts.about ? ["", opts.about] : []), "", ...rows].join("\n");
}

function numberValue(name: string, raw: string, d: FlagDef & { type: "int" | "float" }): number {
  const v = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(v)) {
    throw new UsageError(`--${name} expects a number, got "${raw}"`);
  }
  if (d.type === "int" && !Number.isSafeInteger(v)) {
    throw new UsageError(
      Number.isInteger(v)
        ? `--${name} must be an integer of at most ${Number.MAX_SAFE_INTEGER} in magnitude, got ${raw}`
        : `--${name} expects an integer, got ${raw}`,
    );
  }
  const fail = (words: string) => {
    throw new UsageError(`--${name} must be ${d.expect ?? words}, got ${raw}`);
  };
  if (d.min !== undefined && v < d.min) fail(`at least ${d.min}`);
  if (d.type === "float" && d.above !== undefined && !(v > d.above)) {
    fail(`greater than ${d.above}`);
  }
  if (d.max !== undefined && v > d.max) fail(`at most ${d.max}`);
  return v;
}

function listValue(raw: string): string[] {
  return raw.split(",").map((s) => s.trim()).filter(Boolean);
}

/** Converts one given string to its typed value; throws {@link UsageError}. */
function convert(name: string, raw: string | boolean, d: FlagDef): unknown {
  if (d.type === "boolean") return raw === true;
  const s = raw as string;
  switch (d.type) {
    case "int":
    case "float":
      return numberValue(name, s, d);
    case "choice":
      if (!d.choices.includes(s)) {
        throw new UsageError(`--${name} must be one of ${d.choices.join(", ")}, got "${s}"`);
      }
      return s;
    case "list": {
      const items = listValue(s);
      if (!items.length) throw new UsageError(`--${name} expects a comma-separated list`);
      const bad = d.choices ? items.filter((i) => !d.choices!.includes(i)) : [];
      if (bad.length) {
        throw new UsageError(
          `--${name}: unknown ${bad.map((b) => `"${b}"`).join(", ")}; expected ${
            d.choices!.join(", ")
          }`,
        );
      }
      return items;
    }
    case "intList": {
      const items = listValue(s).map(Number);
      if (!items.length || items.some((n) => !Number.isSafeInteger(n) || n < (d.min ?? 1))) {
        throw new UsageError(
          `--${name} expects comma-separated integers of at least ${d.min ?? 1}, got "${s}"`,
        );
      }
      return items;
    }
    case "device": {
      const dev = parseDevice(s);
      if (!dev) throw new UsageError(`--${name} must be cpu, cuda or cuda:N, got "${s}"`);
      return dev;
    }
    default:
      if (s === "") throw new UsageError(`--${name} expects a value`);
      return s;
  }
}

function statOrNull(p: string): Deno.FileInfo | null {
  try {
    return Deno.statSync(p);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return null;
    throw new UsageError(`${p}: ${(e as Error).message}`);
  }
}

/** The nearest existing ancestor of `p` (for "cannot create" messages). */
function existingAncestor(p: string): string {
  let dir = p.replace(/\/+$/, "");
  for (;;) {
    const i = dir.lastIndexOf("/");
    dir = i > 0 ? dir.slice(0, i) : i === 0 ? "/" : ".";
    if (statOrNull(dir) || dir === "/" || dir === ".") return dir;
  }
}

/** Whether this process may create entries in the directory `dir`. */
function writableDir(dir: string): boolean {
  const probe = `${dir}/.dg-write-probe-${Deno.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    Deno.writeFileSync(probe, new Uint8Array(), { createNew: true });
    Deno.removeSync(probe);
    return true;
  } catch {
    return false;
  }
}

/** File-system checks of path, outDir and outFile flags. */
function checkPath(name: string, p: string, d: FlagDef): void {
  const st = statOrNull(p);
  if (d.type === "path") {
    if (!st) {
      throw new UsageError(
        `--${name}: ${p} does not exist (expected a ${
          d.kind === "any" ? "file or directory" : d.kind === "dir" ? "directory" : "file"
        })`,
      );
    }
    if (d.kind === "dir" && !st.isDirectory) {
      throw new UsageError(`--${name}: ${p} is a file; expected a directory`);
    }
    if (d.kind === "file" && st.isDirectory) {
      throw new UsageError(`--${name}: ${p} is a directory; expected a file`);
    }
    return;
  }
  if (d.type === "outDir") {
    if (st && !st.isDirectory) {
      throw new UsageError(`--${name}: ${p} exists and is not a directory`);
    }
    const probe = st ? p : existingAncestor(p);
    const pst = statOrNull(probe);
    if (pst && !pst.isDirectory) {
      throw new UsageError(`--${name}: cannot create ${p}: ${probe} is not a directory`);
    }
    if (!writableDir(probe)) {
      throw new UsageError(`--${name}: cannot write to ${p}: ${probe} is not writable`);
    }
    return;
  }
  if (d.type === "outFile") {
    if (st?.isDirectory) throw new UsageError(`--${name}: ${p} is a directory; expected a file`);
    const parent = p.includes("/") ? p.slice(0, p.lastIndexOf("/")) || "/" : ".";
    const anc = statOrNull(parent) ? parent : existingAncestor(parent);
    const ast = statOrNull(anc);
    if (ast && !ast.isDirectory) {
      throw new UsageError(`--${name}: cannot create ${p}: ${anc} is not a directory`);
    }
    if (!writableDir(anc)) {
      throw new UsageError(`--${name}: cannot write ${p}: ${anc} is not writable`);
    }
  }
}

/**
 * Declares a task's command line once: returns the usage text and a parser that returns typed
 * values (defaults filled) or throws {@link UsageError} naming the flag and what was expected.
 */
export function defineFlags<const S extends FlagSpec>(
  spec: S,
  opts: CommandOptions<S>,
): Command<S> {
  const usage = usageText(spec, opts);
  const aliasOf = new Map<string, string>();
  const options: Record<string, { type: "string" | "boolean" }> = {};
  for (const [n, d] of Object.entries(spec)) {
    const type = d.type === "boolean" ? "boolean" : "string";
    options[n] = { type };
    for (const a of d.alias ?? []) {
      options[a] = { type };
      aliasOf.set(a, n);
    }
  }
  return {
    usage,
    parse(args) {
      const end = args.indexOf("--");
      if ((end < 0 ? args : args.slice(0, end)).some((a) => a === "--help" || a === "-h")) {
        throw new HelpRequested();
      }
      // `--x -1`: node's parser takes a value starting with "-" for a flag; a negative number
      // is the value (so that the range check, not "ambiguous argument", answers).
      const joined: string[] = [];
      for (let i = 0; i < args.length; i++) {
        const name = args[i].startsWith("--") ? args[i].slice(2) : null;
        if (
          name && options[name]?.type === "string" &&
          /^-\d|^-\.\d|^-Infinity$/.test(args[i + 1] ?? "")
        ) {
          joined.push(`${args[i]}=${args[++i]}`);
        } else joined.push(args[i]);
      }
      let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
      try {
        parsed = parseArgs({
          args: joined,
          options,
          strict: true,
          allowPositionals: opts.positionals !== undefined,
        }) as typeof parsed;
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      const raw: Record<string, string | boolean> = {};
      for (const [k, v] of Object.entries(parsed.values)) {
        if (v === undefined) continue;
        const name = aliasOf.get(k) ?? k;
        if (name in raw) throw new UsageError(`--${name} is given twice (also as --${k})`);
        raw[name] = v;
      }
      const values: Record<string, unknown> = {};
      for (const [n, d] of Object.entries(spec)) {
        if (n in raw) values[n] = convert(n, raw[n], d);
        else if (d.type === "boolean") values[n] = false;
        else if (d.type === "device") values[n] = d.default ?? "cpu";
        else if (d.default !== undefined) {
          values[n] = Array.isArray(d.default) ? [...d.default] : d.default;
        }
      }
      const missing = Object.entries(spec).filter(([n, d]) => d.required && !(n in raw));
      if (missing.length) {
        throw new UsageError(
          `${missing.map(([n]) => `--${n}`).join(", ")} ${
            missing.length > 1 ? "are" : "is"
          } required`,
        );
      }
      opts.check?.(values as FlagValues<S>, parsed.positionals);
      for (const [n, d] of Object.entries(spec)) {
        if (typeof values[n] === "string") checkPath(n, values[n] as string, d);
      }
      return { values: values as FlagValues<S>, positionals: parsed.positionals };
    },
  };
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
