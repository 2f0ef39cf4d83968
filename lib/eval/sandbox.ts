/**
 * Runs untrusted generated programs with limits.
 *
 * @module
 */

/** Resource limits for one sandboxed run. */
export interface SandboxLimits {
  /** Wall-clock timeout; the whole process group is killed when it expires. */
  timeoutMs: number;
  /** RLIMIT_CPU in seconds. */
  cpuSeconds: number;
  /** RLIMIT_AS in bytes. */
  memoryBytes: number;
  /** RLIMIT_FSIZE in bytes. */
  fileSizeBytes: number;
  /** Maximum number of processes/threads of the sandbox. */
  maxProcesses: number;
}

/** Outcome of one sandboxed run. */
export interface SandboxResult {
  /** Exit code, `null` when killed by a signal. */
  exitCode: number | null;
  /** Terminating signal name, `null` when it exited normally. */
  signal: string | null;
  /** Captured standard output (truncated to a bounded size). */
  stdout: string;
  /** Captured standard error (truncated to a bounded size). */
  stderr: string;
  /** True iff the wall-clock timeout fired. */
  timedOut: boolean;
  /** Wall-clock duration in milliseconds. */
  wallMs: number;
  /** Which limit was hit (`timeout`, `cpu`, `memory`, `file-size`, `processes`), `null` if none detected. */
  limitHit: string | null;
}

/** Default limits: 10 s wall, 5 s CPU, 1 GiB address space, 16 MiB files, 64 processes. */
export const DEFAULT_LIMITS: SandboxLimits = {
  timeoutMs: 10_000,
  cpuSeconds: 5,
  memoryBytes: 1 << 30,
  fileSizeBytes: 16 << 20,
  maxProcesses: 64,
};

/**
 * Run `argv` inside `opts.dir` with the given limits (placeholder: timeout only;
 * hardened version follows).
 */
export async function runSandboxed(
  argv: string[],
  opts: {
    dir: string;
    limits?: Partial<SandboxLimits>;
    stdin?: string;
    env?: Record<string, string>;
  },
): Promise<SandboxResult> {
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const start = performance.now();
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    cwd: opts.dir,
    env: { PATH: "/usr/bin:/bin", HOME: opts.dir, ...opts.env },
    clearEnv: true,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
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
    } catch { /* already gone */ }
  }, limits.timeoutMs);
  const out = await child.output();
  clearTimeout(timer);
  const dec = new TextDecoder();
  return {
    exitCode: out.signal ? null : out.code,
    signal: out.signal,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
    timedOut,
    wallMs: performance.now() - start,
    limitHit: timedOut ? "timeout" : null,
  };
}
