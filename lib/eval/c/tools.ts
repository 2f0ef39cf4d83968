/**
 * Host-side tool execution for the C backend: compilers and static analysers.
 *
 * These tools never execute the sample (they only read the source), so they run
 * on the host, but always with a wall-clock timeout and a bounded output.
 * Every execution of a compiled sample goes through `runSandboxed` instead.
 *
 * @module
 */

/** External tools the C backend may use. */
export type CTool = "gcc" | "clang" | "cppcheck" | "codeql";

/** Result of one host-side tool execution. */
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
}

const MAX_OUTPUT = 1 << 20;

/**
 * Run a host tool with a timeout. A missing executable yields `notFound: true`
 * instead of throwing. `LC_ALL=C` keeps diagnostics ASCII and parseable.
 */
export async function runTool(
  cmd: string,
  args: string[],
  opts: { cwd: string; timeoutMs: number; stdin?: string; env?: Record<string, string> },
): Promise<ToolResult> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(cmd, {
      args,
      cwd: opts.cwd,
      env: { LC_ALL: "C", LANG: "C", ...opts.env },
      stdin: opts.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.PermissionDenied) {
      return { code: null, stdout: "", stderr: String(e), timedOut: false, notFound: true };
    }
    throw e;
  }
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin)).catch(() => {});
    await w.close().catch(() => {});
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* already exited */ }
  }, opts.timeoutMs);
  const out = await child.output();
  clearTimeout(timer);
  const dec = new TextDecoder();
  return {
    code: out.signal ? null : out.code,
    stdout: dec.decode(out.stdout.subarray(0, MAX_OUTPUT)),
    stderr: dec.decode(out.stderr.subarray(0, MAX_OUTPUT)),
    timedOut,
    notFound: false,
  };
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
