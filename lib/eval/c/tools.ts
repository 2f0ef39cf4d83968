/**
 * Tool execution for the C backend: compilers and static analysers.
 *
 * They only read the sample, but the sample decides what they read
 * (`#include "/root/secret"`, `.incbin`, `#include "/dev/zero"`), so every tool
 * runs in the evaluation sandbox like the sample itself: its own fresh uid,
 * only its work dir writable, system directories read-only, no other host path,
 * a scrubbed environment and limits on memory, CPU, wall time, file size and
 * processes. Nothing of the host outside the system directories can end up in a
 * diagnostic.
 *
 * @module
 */

import { runSandboxed, type SandboxLimits } from "../sandbox.ts";

/** External tools the C backend may use. */
export type CTool = "gcc" | "clang" | "cppcheck" | "codeql";

/** Result of one sandboxed tool execution. */
export interface ToolResult {
  /** Exit code (`null` if killed by a signal / timeout). */
  code: number | null;
  /** Captured standard output (lossy UTF-8). */
  stdout: string;
  /** Captured standard error (lossy UTF-8). */
  stderr: string;
  /** True iff the timeout fired and the tool was killed. */
  timedOut: boolean;
  /** True iff the executable could not be found. */
  notFound: boolean;
  /** Limit the tool hit (`timeout`, `cpu`, `memory`, `file-size`, `processes`), or `null`. */
  limitHit?: string | null;
}

/**
 * Limits of one tool run: 1 GiB of address space (a normal cc1/clang run on these
 * programs needs < 200 MiB; `#include "/dev/zero"` dies within seconds instead of
 * growing without bound), CPU = the wall timeout, 64 MiB files, 64 processes.
 */
export const TOOL_LIMITS: Omit<SandboxLimits, "timeoutMs"> = {
  cpuSeconds: 30,
  memoryBytes: 1 << 30,
  fileSizeBytes: 64 << 20,
  maxProcesses: 64,
};

const SYSTEM_PREFIXES = ["/usr/", "/bin/", "/sbin/", "/lib/", "/lib64/", "/etc/"];

/** Absolute paths among `args` that exist outside `cwd` and the system dirs (bound read-only). */
function hostPathsIn(args: readonly string[], cwd: string): string[] {
  const out: string[] = [];
  for (const a of args) {
    if (!a.startsWith("/") || a.startsWith(cwd + "/")) continue;
    if (SYSTEM_PREFIXES.some((p) => a.startsWith(p))) continue;
    try {
      Deno.statSync(a);
      out.push(a);
    } catch { /* an output path or not a path */ }
  }
  return out;
}

/**
 * Run a tool in the sandbox with `cwd` as its only writable directory. A missing
 * executable yields `notFound: true` instead of throwing. `LC_ALL=C` keeps
 * diagnostics ASCII and parseable. Absolute argument paths outside `cwd` (helper
 * objects) and `roBinds` are made visible read-only.
 */
export async function runTool(
  cmd: string,
  args: string[],
  opts: {
    cwd: string;
    timeoutMs: number;
    stdin?: string;
    env?: Record<string, string>;
    roBinds?: string[];
    limits?: Partial<Omit<SandboxLimits, "timeoutMs">>;
  },
): Promise<ToolResult> {
  const exe = resolveExecutable(cmd);
  if (!exe) {
    return { code: null, stdout: "", stderr: `${cmd}: not found`, timedOut: false, notFound: true };
  }
  const cwd = await Deno.realPath(opts.cwd);
  const exeDir = exe.replace(/\/[^/]+$/, "");
  const roBinds = [...hostPathsIn(args, cwd), ...(opts.roBinds ?? [])];
  if (!SYSTEM_PREFIXES.some((p) => exe.startsWith(p))) roBinds.push(exeDir);
  const res = await runSandboxed([exe, ...args], {
    dir: cwd,
    stdin: opts.stdin,
    env: { LC_ALL: "C", LANG: "C", ...opts.env },
    roBinds,
    limits: {
      ...TOOL_LIMITS,
      cpuSeconds: Math.max(1, Math.ceil(opts.timeoutMs / 1000)),
      ...opts.limits,
      timeoutMs: opts.timeoutMs,
    },
    minimalDev: true,
  });
  return {
    code: res.signal ? null : res.exitCode,
    stdout: res.stdout,
    stderr: res.stderr,
    timedOut: res.timedOut,
    notFound: false,
    limitHit: toolLimit(res),
  };
}

/**
 * Which limit a tool run hit, from the kill signal or the tool's own out-of-memory
 * message only: diagnostics quote the sample's source, so free-text heuristics
 * ("out of memory" in a string literal) must not count.
 */
export function toolLimit(
  r: { timedOut: boolean; signal: string | null; stderr: string },
): string | null {
  if (r.timedOut) return "timeout";
  if (r.signal === "SIGXCPU") return "cpu";
  if (r.signal === "SIGXFSZ") return "file-size";
  if (
    /^[\w.+-]*(cc1|clang|cppcheck|as|ld|collect2)[\w.+-]*: (fatal error: )?(out of memory|virtual memory exhausted|cannot allocate memory)/im
      .test(r.stderr)
  ) {
    return "memory";
  }
  return null;
}

/**
 * Resolve an executable name the way a shell would: names containing a slash
 * are checked directly, others are searched in `PATH`. Returns the absolute
 * path or `null` when it does not exist / is not executable.
 */
export function resolveExecutable(
  name: string,
  pathEnv = Deno.env.get("PATH") ?? "",
): string | null {
  const candidates = name.includes("/")
    ? [name]
    : pathEnv.split(":").filter((d) => d !== "").map((d) => `${d}/${name}`);
  for (const c of candidates) {
    try {
      const st = Deno.statSync(c);
      if (st.isFile && st.mode !== null && (st.mode & 0o111) !== 0) return c;
    } catch { /* next */ }
  }
  return null;
}
