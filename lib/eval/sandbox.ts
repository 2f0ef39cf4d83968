/**
 * Runs untrusted generated programs with limits.
 *
 * Each run gets: a bubblewrap sandbox (fresh root with read-only system
 * directories, private /tmp, loopback-only network, own PID namespace so that
 * everything dies with it), a fresh unprivileged uid when the harness is root
 * (so RLIMIT_NPROC is enforced) or else its own user namespace (rootless mode,
 * lib/eval/rootless.ts: the limit set inside counts only that namespace),
 * rlimits on CPU, address space, file size and process count, a scrubbed
 * environment with HOME set to the sample directory, and a wall-clock timeout
 * that kills the whole sandbox. The only host path it can write is `opts.dir`.
 *
 * @module
 */

import { allocUids, bwrapArgs, findBwrap, isRootless, spawnBwrap } from "./bwrap.ts";
import { rootlessProblem } from "./rootless.ts";

/** Resource limits for one sandboxed run. */
export interface SandboxLimits {
  /** Wall-clock timeout; the whole sandbox (process group and PID namespace) is killed when it expires. */
  timeoutMs: number;
  /** RLIMIT_CPU in seconds. */
  cpuSeconds: number;
  /** RLIMIT_AS in bytes. */
  memoryBytes: number;
  /** RLIMIT_FSIZE in bytes. */
  fileSizeBytes: number;
  /** Maximum number of processes/threads of the sandbox user (RLIMIT_NPROC). */
  maxProcesses: number;
}

/** Outcome of one sandboxed run. */
export interface SandboxResult {
  /** Exit code, `null` when killed by a signal. */
  exitCode: number | null;
  /** Terminating signal name, `null` when it exited normally. */
  signal: string | null;
  /** Captured standard output (first {@link MAX_CAPTURE} bytes). */
  stdout: string;
  /** Captured standard error (first {@link MAX_CAPTURE} bytes). */
  stderr: string;
  /** True iff the wall-clock timeout fired. */
  timedOut: boolean;
  /** Wall-clock duration in milliseconds. */
  wallMs: number;
  /** Which limit was hit (`timeout`, `cpu`, `memory`, `file-size`, `processes`), `null` if none detected. */
  limitHit: string | null;
}

/** Default limits: 10 s wall, 5 s CPU, 1 GiB address space, 16 MiB files, 32 processes. */
export const DEFAULT_LIMITS: SandboxLimits = {
  timeoutMs: 10_000,
  cpuSeconds: 5,
  memoryBytes: 1 << 30,
  fileSizeBytes: 16 << 20,
  maxProcesses: 32,
};

/** Bytes of stdout/stderr kept per stream. */
export const MAX_CAPTURE = 1 << 20;

/** Thrown when the sandbox cannot be set up (bwrap missing; not root and no usable user namespaces). */
export class SandboxUnavailableError extends Error {
  override name = "SandboxUnavailableError";
}

/** Why the sandbox cannot run here, or `null` when it can. */
export function sandboxProblem(): string | null {
  const bwrap = findBwrap();
  if (!bwrap) return "bubblewrap (bwrap) is not installed; run: bash scripts/setup-eval.sh";
  for (const p of isRootless() ? ["/usr/bin/prlimit"] : ["/usr/bin/setpriv", "/usr/bin/prlimit"]) {
    try {
      Deno.statSync(p);
    } catch {
      return `${p} is missing (package util-linux)`;
    }
  }
  return isRootless() ? rootlessProblem(bwrap) : null;
}

const SIGNALS: Record<number, string> = {
  1: "SIGHUP",
  2: "SIGINT",
  4: "SIGILL",
  5: "SIGTRAP",
  6: "SIGABRT",
  7: "SIGBUS",
  8: "SIGFPE",
  9: "SIGKILL",
  11: "SIGSEGV",
  13: "SIGPIPE",
  14: "SIGALRM",
  15: "SIGTERM",
  24: "SIGXCPU",
  25: "SIGXFSZ",
  31: "SIGSYS",
};

async function drain(stream: ReadableStream<Uint8Array>, cap: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  let kept = 0;
  for await (const chunk of stream) {
    if (kept < cap) {
      const part = chunk.subarray(0, cap - kept);
      chunks.push(part);
      kept += part.length;
    }
  }
  const buf = new Uint8Array(kept);
  let off = 0;
  for (const c of chunks) {
    buf.set(c, off);
    off += c.length;
  }
  return new TextDecoder().decode(buf);
}

async function chownTree(path: string, uid: number): Promise<void> {
  await Deno.chown(path, uid, uid);
  const info = await Deno.lstat(path);
  if (!info.isDirectory) return;
  for await (const e of Deno.readDir(path)) {
    if (e.isSymlink) continue;
    await chownTree(`${path}/${e.name}`, uid);
  }
}

/** Detect which limit a finished run most likely hit. */
export function classifyLimit(
  r: { timedOut: boolean; signal: string | null; stderr: string; cpuKilled?: boolean },
): string | null {
  if (r.timedOut) return "timeout";
  if (r.signal === "SIGXCPU") return "cpu";
  if (r.signal === "SIGKILL" && r.cpuKilled) return "cpu";
  if (r.signal === "SIGXFSZ") return "file-size";
  if (/MemoryError|Cannot allocate memory|bad_alloc|out of memory/i.test(r.stderr)) return "memory";
  if (/Resource temporarily unavailable|BlockingIOError|fork: retry/i.test(r.stderr)) {
    return "processes";
  }
  if (/File too large/i.test(r.stderr)) return "file-size";
  return null;
}

/**
 * Run `argv` inside `opts.dir` in the sandbox. As root, `opts.dir` (recursively)
 * is handed to the fresh uid so that the program can write there; `argv[0]` must
 * be reachable inside the sandbox (system paths or under `opts.dir`).
 * Throws {@link SandboxUnavailableError} when the sandbox cannot run here.
 */
export async function runSandboxed(
  argv: string[],
  opts: {
    dir: string;
    limits?: Partial<SandboxLimits>;
    stdin?: string;
    env?: Record<string, string>;
    /** Extra host paths made visible read-only inside the sandbox: same place, or `[host, inside]`. */
    roBinds?: (string | [string, string])[];
    /** Only /dev/null in /dev (compilers: no `#include "/dev/zero"` or `/dev/stdin`). */
    minimalDev?: boolean;
  },
): Promise<SandboxResult> {
  const problem = sandboxProblem();
  if (problem) throw new SandboxUnavailableError(problem);
  if (argv.length === 0) throw new TypeError("runSandboxed: empty argv");
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const dir = await Deno.realPath(opts.dir);
  // Rootless: the namespace's single uid is ours already, and bwrap drops every capability.
  const uid = isRootless() ? null : allocUids(1);
  if (uid !== null) await chownTree(dir, uid);
  const args = bwrapArgs({
    rwBinds: [dir],
    roBinds: opts.roBinds,
    chdir: dir,
    minimalDev: opts.minimalDev,
  });
  const command = [
    "/usr/bin/prlimit",
    `--cpu=${limits.cpuSeconds}:${limits.cpuSeconds + 1}`,
    `--as=${limits.memoryBytes}`,
    `--fsize=${limits.fileSizeBytes}`,
    // Rootless: the namespace's count also holds bwrap's init; the run keeps its full budget.
    `--nproc=${limits.maxProcesses + (uid === null ? 1 : 0)}`,
    "--core=0",
    "--",
    ...(uid === null ? [] : [
      "/usr/bin/setpriv",
      `--reuid=${uid}`,
      `--regid=${uid}`,
      "--clear-groups",
      "--inh-caps=-all",
      "--",
    ]),
    ...argv,
  ];
  const start = performance.now();
  const child = spawnBwrap(args, command, {
    cwd: dir,
    env: {
      PATH: "/usr/local/bin:/usr/bin:/bin",
      HOME: dir,
      TMPDIR: dir,
      LANG: "C.UTF-8",
      ...opts.env,
    },
    clearEnv: true,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, limits.timeoutMs);
  const outP = drain(child.stdout, MAX_CAPTURE);
  const errP = drain(child.stderr, MAX_CAPTURE);
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin)).catch(() => {});
    await w.close().catch(() => {});
  }
  const status = await child.status;
  clearTimeout(timer);
  const [stdout, stderr] = await Promise.all([outP, errP]);
  // bwrap reports a child killed by signal N as exit status 128+N.
  let exitCode: number | null = status.code;
  let signal: string | null = status.signal;
  if (!signal && status.code > 128 && status.code <= 128 + 64) {
    signal = SIGNALS[status.code - 128] ?? `SIG${status.code - 128}`;
    exitCode = null;
  }
  if (signal) exitCode = null;
  const res = {
    exitCode,
    signal,
    stdout,
    stderr,
    timedOut,
    wallMs: performance.now() - start,
    limitHit: null as string | null,
  };
  res.limitHit = classifyLimit(res);
  return res;
}
