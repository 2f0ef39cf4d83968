/**
 * Builds bubblewrap (`bwrap`) command lines for the evaluation sandbox.
 *
 * The sandbox root is a fresh tmpfs: only system directories (read-only), the
 * Python installation used by the harness (read-only) and explicitly named
 * paths are visible. It has its own network (loopback only), PID, IPC and UTS
 * namespaces. As root, privileges are dropped to an unprivileged uid by the
 * program started inside (setpriv or the Python harness), because bwrap is run
 * without a user namespace so that real uids (and RLIMIT_NPROC) apply. Without
 * root (rootless mode, lib/eval/rootless.ts) the sandbox also gets its own user
 * namespace, which it may not nest (`--disable-userns`).
 *
 * @module
 */

import { evalTempDirSync } from "./tmp.ts";

/** Options for {@link bwrapArgs}. */
export interface BwrapOptions {
  /** Extra host paths bound read-only: at the same place, or `[host, inside]`. */
  roBinds?: (string | [string, string])[];
  /** Host paths bound read-write at the same place. */
  rwBinds?: string[];
  /** Private tmpfs mounts (sandbox-only), with a size limit in bytes. */
  tmpfs?: { path: string; sizeBytes: number }[];
  /** Working directory inside the sandbox. */
  chdir: string;
  /** Only /dev/null in /dev (no /dev/zero, /dev/urandom, /dev/stdin, ...). */
  minimalDev?: boolean;
}

const SYSTEM_DIRS = ["/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

function systemArgs(): string[] {
  const args: string[] = [];
  for (const p of SYSTEM_DIRS) {
    let info: Deno.FileInfo;
    try {
      info = Deno.lstatSync(p);
    } catch {
      continue;
    }
    if (info.isSymlink) args.push("--symlink", Deno.readLinkSync(p), p);
    else args.push("--ro-bind", p, p);
  }
  return args;
}

/**
 * Start bwrap. The options (`args`: everything up to the program, bind sources
 * included) are passed on a file descriptor (`--args 3`), not on the command
 * line: the sandbox's PID 1 is a copy of bwrap, and its /proc/1/cmdline would
 * otherwise show every host path that was bound. Only `command` (the program and
 * its arguments, which callers keep free of host paths, see {@link SANDBOX_MOUNTS})
 * stays visible. The option file is private to this process (mode 0600 under a
 * tracked temp dir) and unlinked before bwrap runs.
 */
export function spawnBwrap(
  args: readonly string[],
  command: readonly string[],
  opts: Omit<Deno.CommandOptions, "args">,
): Deno.ChildProcess {
  const bwrap = findBwrap();
  if (!bwrap) {
    throw new Error("bubblewrap (bwrap) is not installed; run: bash scripts/setup-eval.sh");
  }
  const file = `${privateDir()}/args-${++argFileCounter}`;
  Deno.writeFileSync(file, new TextEncoder().encode(args.map((a) => a + "\0").join("")), {
    mode: 0o600,
  });
  return new Deno.Command("/bin/bash", {
    ...opts,
    args: [
      "-c",
      // Close every inherited descriptor above stderr (the sample must not reach a
      // pipe of whoever started us), then open the option file on fd 3 and unlink it.
      'for p in /proc/$$/fd/*; do n=${p##*/}; [ "$n" -gt 2 ] 2>/dev/null && eval "exec $n>&-" 2>/dev/null; done; ' +
      'f="$1"; shift; exec 3<"$f" && rm -f "$f" && exec "$0" --args 3 -- "$@"',
      bwrap,
      file,
      ...command,
    ],
  }).spawn();
}

/**
 * Neutral places where the evaluation assets are mounted inside the sandbox, so
 * that command lines seen there (e.g. /proc/1/cmdline) hold no host path.
 */
export const SANDBOX_MOUNTS = { venv: "/opt/dg/venv", py: "/opt/dg/py", rules: "/opt/dg/rules" };

let argFileCounter = 0;
let privDir: string | null = null;

function privateDir(): string {
  privDir ??= evalTempDirSync("dg-bwrap-");
  return privDir;
}

/** Absolute path of the bwrap binary, or `null` when it is not installed. */
export function findBwrap(): string | null {
  for (const p of ["/usr/bin/bwrap", "/usr/local/bin/bwrap", "/bin/bwrap"]) {
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch { /* next */ }
  }
  return null;
}

/**
 * True when the sandbox runs in rootless mode (the harness is not root): one
 * user namespace per sandbox instead of a fresh uid per sample.
 */
export function isRootless(): boolean {
  return Deno.uid() !== 0;
}

/** Arguments for bwrap (everything before the `--` that precedes the program). */
export function bwrapArgs(opts: BwrapOptions): string[] {
  const args = [
    // A fixed uid/gid inside: the host uid stays hidden and the checks may chown to (uid, uid).
    ...(isRootless()
      ? ["--unshare-user", "--disable-userns", "--uid", "1000", "--gid", "1000"]
      : []),
    "--die-with-parent",
    "--new-session",
    "--unshare-net",
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
    "--hostname",
    "sandbox",
    ...systemArgs(),
    "--proc",
    "/proc",
    ...(opts.minimalDev
      ? ["--dir", "/dev", "--dev-bind", "/dev/null", "/dev/null"]
      : ["--dev", "/dev"]),
  ];
  const tmpfs = opts.tmpfs ?? [{ path: "/tmp", sizeBytes: 256 << 20 }];
  for (const t of tmpfs) args.push("--size", String(t.sizeBytes), "--tmpfs", t.path);
  const dest = (b: string | [string, string]) => (typeof b === "string" ? b : b[1]);
  const binds = [...(opts.roBinds ?? []).map(dest), ...(opts.rwBinds ?? [])];
  // bwrap creates missing parent directories with mode 0700, which would hide the
  // bound paths from the unprivileged sandbox user: create them 0755 first.
  const made = new Set<string>(tmpfs.map((t) => t.path));
  for (const p of binds) {
    const parts = p.split("/").filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      const anc = "/" + parts.slice(0, i).join("/");
      if (made.has(anc) || SYSTEM_DIRS.some((d) => anc === d || anc.startsWith(d + "/"))) continue;
      made.add(anc);
      args.push("--perms", "0755", "--dir", anc);
    }
  }
  for (const b of opts.roBinds ?? []) {
    args.push("--ro-bind", typeof b === "string" ? b : b[0], dest(b));
  }
  for (const p of opts.rwBinds ?? []) args.push("--bind", p, p);
  args.push("--chdir", opts.chdir);
  return args;
}

let uidCounter = 0;

/**
 * Allocate `n` consecutive unprivileged uids unique to this process (derived from
 * the process id), so that concurrent sandboxes never share a uid and therefore
 * never share an RLIMIT_NPROC budget or a `kill(-1)` cleanup.
 */
export function allocUids(n: number): number {
  if (n > 4096) throw new RangeError("allocUids: at most 4096 uids at once");
  const block = 1 << 16; // uids per process
  if (uidCounter + n > block) uidCounter = 0;
  const base = 200_000 + (Deno.pid % 60_000) * block + uidCounter;
  uidCounter += n;
  return base;
}
