/**
 * Builds bubblewrap (`bwrap`) command lines for the evaluation sandbox.
 *
 * The sandbox root is a fresh tmpfs: only system directories (read-only), the
 * Python installation used by the harness (read-only) and explicitly named
 * paths are visible. It has its own network (loopback only), PID, IPC and UTS
 * namespaces. Privileges are dropped to an unprivileged uid by the program
 * started inside (setpriv or the Python harness), because bwrap is run by root
 * without a user namespace so that real uids (and RLIMIT_NPROC) apply.
 *
 * @module
 */

/** Options for {@link bwrapArgs}. */
export interface BwrapOptions {
  /** Extra host paths bound read-only at the same place. */
  roBinds?: string[];
  /** Host paths bound read-write at the same place. */
  rwBinds?: string[];
  /** Private tmpfs mounts (sandbox-only), with a size limit in bytes. */
  tmpfs?: { path: string; sizeBytes: number }[];
  /** Working directory inside the sandbox. */
  chdir: string;
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

/** Absolute path of the bwrap binary, or `null` when it is not installed. */
export function findBwrap(): string | null {
  for (const p of ["/usr/bin/bwrap", "/usr/local/bin/bwrap", "/bin/bwrap"]) {
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch { /* next */ }
  }
  return null;
}

/** Arguments for bwrap (everything before the `--` that precedes the program). */
export function bwrapArgs(opts: BwrapOptions): string[] {
  const args = [
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
    "--dev",
    "/dev",
  ];
  const tmpfs = opts.tmpfs ?? [{ path: "/tmp", sizeBytes: 256 << 20 }];
  for (const t of tmpfs) args.push("--size", String(t.sizeBytes), "--tmpfs", t.path);
  const binds = [...(opts.roBinds ?? []), ...(opts.rwBinds ?? [])];
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
  for (const p of opts.roBinds ?? []) args.push("--ro-bind", p, p);
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
