/**
 * Temporary directories of the evaluation harness, removed on exit and swept
 * after a crash.
 *
 * Every directory is named `<prefix><pid>.<start>-XXXX` in the system temp dir,
 * where `<start>` is the owning process's start time (field 22 of
 * /proc/<pid>/stat), so that a later run can tell a leftover of a dead process
 * (swept by {@link sweepStaleTempDirs}) from one of a live run (kept), even when
 * the pid was reused. Directories are removed when the process exits normally
 * (`unload`) and, while {@link withCleanupOnSignal} is active, on SIGINT/SIGTERM.
 *
 * @module
 */

/** Prefixes of every temp dir this harness creates. */
export const EVAL_TMP_PREFIXES = [
  "dg-score-",
  "dg-c-shims-",
  "dg-bwrap-",
  "dg-parse-",
  "dg-pystatic-",
  "dg-codeql-",
] as const;

const live = new Set<string>();
let unloadHooked = false;

function procStart(pid: number | string): string | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // comm (field 2) may contain spaces: fields after the last ')' are fixed.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return rest[19] ?? null; // field 22 = index 19 after "state"
  } catch {
    return null;
  }
}

const TAG = `${Deno.pid}.${procStart("self") ?? "0"}`;

/**
 * Remove `path` recursively. In rootless mode a sample's files are ours, and a
 * sample may have left a directory it made unreadable (mode 000) that plain
 * removal cannot list: such directories are reopened (0700, never through a
 * symlink) and the removal retried. Throws what the retry throws.
 */
export function removeTreeSync(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
    return;
  } catch (e) {
    if (!(e instanceof Deno.errors.PermissionDenied)) throw e;
  }
  const reopen = (p: string): void => {
    try {
      if (!Deno.lstatSync(p).isDirectory) return;
      Deno.chmodSync(p, 0o700);
      for (const e of Deno.readDirSync(p)) if (e.isDirectory) reopen(`${p}/${e.name}`);
    } catch { /* not ours: the retry reports it */ }
  };
  reopen(path);
  Deno.removeSync(path, { recursive: true });
}

function removeAllSync(): void {
  for (const d of live) {
    try {
      removeTreeSync(d);
    } catch { /* already gone */ }
  }
  live.clear();
}

function track(dir: string): string {
  live.add(dir);
  if (!unloadHooked) {
    unloadHooked = true;
    globalThis.addEventListener("unload", removeAllSync);
  }
  return dir;
}

/** Create a tracked temp dir (mode 0700) whose name records the owning process. */
export async function evalTempDir(prefix: string): Promise<string> {
  return track(await Deno.makeTempDir({ prefix: `${prefix}${TAG}-` }));
}

/** Synchronous {@link evalTempDir}. */
export function evalTempDirSync(prefix: string): string {
  return track(Deno.makeTempDirSync({ prefix: `${prefix}${TAG}-` }));
}

/** Remove a tracked temp dir now (ignores a missing one). */
export function removeEvalTempDir(dir: string): Promise<void> {
  live.delete(dir);
  try {
    removeTreeSync(dir);
  } catch { /* already gone */ }
  return Promise.resolve();
}

/**
 * Remove leftovers of dead evaluation processes from the temp dir: directories
 * with one of {@link EVAL_TMP_PREFIXES} whose owner (pid + start time) is no
 * longer running. Returns the removed paths.
 */
export function sweepStaleTempDirs(tmp = Deno.env.get("TMPDIR") ?? "/tmp"): string[] {
  const removed: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(tmp)];
  } catch {
    return removed;
  }
  for (const e of entries) {
    const prefix = EVAL_TMP_PREFIXES.find((p) => e.name.startsWith(p));
    if (!prefix || !e.isDirectory) continue;
    const m = /^(\d+)\.(\d+)-/.exec(e.name.slice(prefix.length));
    if (!m) continue;
    if (procStart(m[1]) === m[2]) continue; // owner alive
    try {
      removeTreeSync(`${tmp}/${e.name}`);
      removed.push(`${tmp}/${e.name}`);
    } catch { /* another sweeper or not ours to remove */ }
  }
  return removed;
}

/**
 * Run `fn` with SIGINT/SIGTERM handlers that remove every tracked temp dir and
 * exit (130 / 143); the handlers are removed afterwards.
 */
export async function withCleanupOnSignal<T>(fn: () => Promise<T>): Promise<T> {
  const handlers: [Deno.Signal, () => void][] = [
    ["SIGINT", () => (removeAllSync(), Deno.exit(130))],
    ["SIGTERM", () => (removeAllSync(), Deno.exit(143))],
  ];
  for (const [s, h] of handlers) Deno.addSignalListener(s, h);
  try {
    return await fn();
  } finally {
    for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
  }
}
