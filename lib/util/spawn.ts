/**
 * Running a child process with a wall-clock limit: the one spawn-with-timeout-and-kill of the
 * toolkit. The child is killed with SIGKILL when the limit passes; the result says so.
 * @module
 */

/** Options of {@link runWithTimeout}. */
export interface RunOptions {
  /** Wall-clock limit in milliseconds (none when omitted). */
  timeoutMs?: number;
  /** Working directory. */
  cwd?: string;
  /** Environment; with `clearEnv` the only variables the child sees. */
  env?: Record<string, string>;
  /** Start from an empty environment instead of this process's. */
  clearEnv?: boolean;
  /** Text written to the child's stdin (stdin is /dev/null when omitted). */
  stdin?: string;
  /** Where the child's stdout/stderr go (default piped and returned). */
  stdout?: "piped" | "inherit" | "null";
  /** Where the child's stderr goes (default piped and returned). */
  stderr?: "piped" | "inherit" | "null";
}

/** Outcome of {@link runWithTimeout}. */
export interface RunResult {
  /** Exit code (null when killed by a signal). */
  code: number | null;
  /** The signal that ended the child, if any. */
  signal: Deno.Signal | null;
  /** Captured stdout (empty unless piped). */
  stdout: Uint8Array;
  /** Captured stderr (empty unless piped). */
  stderr: Uint8Array;
  /** The limit passed and the child was killed. */
  timedOut: boolean;
  /** Exit code 0 and no signal. */
  success: boolean;
}

/** Spawns `cmd args`, waits for it (killing it at `timeoutMs`) and returns its output. */
export async function runWithTimeout(
  cmd: string,
  args: readonly string[],
  opts: RunOptions = {},
): Promise<RunResult> {
  const child = new Deno.Command(cmd, {
    args: [...args],
    cwd: opts.cwd,
    env: opts.env,
    clearEnv: opts.clearEnv,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: opts.stdout ?? "piped",
    stderr: opts.stderr ?? "piped",
  }).spawn();
  let timedOut = false;
  const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, opts.timeoutMs);
  try {
    if (opts.stdin !== undefined) {
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(opts.stdin)).catch(() => {});
      await w.close().catch(() => {});
    }
    const out = await child.output();
    return {
      code: out.signal ? null : out.code,
      signal: out.signal,
      stdout: out.stdout ?? new Uint8Array(),
      stderr: out.stderr ?? new Uint8Array(),
      timedOut,
      success: out.success,
    };
  } finally {
    clearTimeout(timer);
  }
}
