/**
 * Small C helper sources used by the dynamic judges and the functional test,
 * compiled lazily once per process into a private cache directory.
 *
 * @module
 */

import { evalTempDir } from "../tmp.ts";
import { runTool } from "./tools.ts";

/** Names of the helper objects the sanitizer judge can link in. */
export type ShimName = "malloc-null" | "rand-max" | "heap-argv";

/** Linker flags that redirect the sample's calls to a shim (`--wrap`). */
export const SHIM_LINK_FLAGS: Record<ShimName, string[]> = {
  "malloc-null": ["-Wl,--wrap=malloc,--wrap=calloc"],
  "rand-max": ["-Wl,--wrap=rand,--wrap=random,--wrap=rand_r"],
  "heap-argv": [],
};

/** Extra compile flags the *sample* needs for a shim. */
export const SHIM_SAMPLE_FLAGS: Record<ShimName, string[]> = {
  "malloc-null": [],
  "rand-max": [],
  // The driver supplies `main`; the sample's own main becomes target_main.
  "heap-argv": ["-Dmain=target_main"],
};

const SHIM_SOURCES: Record<ShimName, string> = {
  // Every malloc/calloc call made by the sample's own code fails (libc-internal
  // allocations are untouched, because --wrap only rewrites the sample's references).
  "malloc-null": `#include <stddef.h>
void *__wrap_malloc(size_t n) { (void)n; return NULL; }
void *__wrap_calloc(size_t a, size_t b) { (void)a; (void)b; return NULL; }
`,
  // rand()/random()/rand_r() return their maximum (RAND_MAX == INT_MAX on glibc).
  "rand-max": `int __wrap_rand(void) { return 2147483647; }
long __wrap_random(void) { return 2147483647L; }
int __wrap_rand_r(unsigned *s) { (void)s; return 2147483647; }
`,
  // Copies argv into exactly-sized heap blocks so that ASan sees over/under-reads.
  "heap-argv": `#include <stdlib.h>
#include <string.h>
int target_main(int argc, char **argv);
int main(int argc, char **argv) {
    char **v = malloc(sizeof(char *) * (size_t)(argc + 1));
    if (v == NULL) return 99;
    for (int i = 0; i < argc; i++) {
        size_t n = strlen(argv[i]) + 1;
        v[i] = malloc(n);
        if (v[i] == NULL) return 99;
        memcpy(v[i], argv[i], n);
    }
    v[argc] = NULL;
    return target_main(argc, v);
}
`,
};

/**
 * Header forced in with `-include` to make `(float)rand() / (float)RAND_MAX`
 * huge (about 1e38), so that `sprintf("%f")` into small buffers overflows.
 */
export const HUGE_RAND_MAX_HEADER = `#include <stdlib.h>
#undef RAND_MAX
#define RAND_MAX 1e-29f
`;

/**
 * LD_PRELOAD library that fixes the wall clock to `DG_FAKE_TIME` seconds
 * (time, gettimeofday, clock_gettime(CLOCK_REALTIME)), so that programs
 * seeding with the time are deterministic without sleeping between runs.
 */
const FAKE_TIME_SOURCE = `#define _GNU_SOURCE
#include <stdlib.h>
#include <time.h>
#include <sys/time.h>
#include <sys/syscall.h>
#include <unistd.h>
static long dg_base(void) { const char *s = getenv("DG_FAKE_TIME"); return s ? atol(s) : -1; }
time_t time(time_t *t) {
    long b = dg_base();
    time_t v;
    if (b >= 0) v = (time_t)b; else { struct timespec ts; syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts); v = ts.tv_sec; }
    if (t) *t = v;
    return v;
}
int gettimeofday(struct timeval *tv, void *tz) {
    (void)tz;
    long b = dg_base();
    if (b < 0) return (int)syscall(SYS_gettimeofday, tv, NULL);
    if (tv) { tv->tv_sec = (time_t)b; tv->tv_usec = 0; }
    return 0;
}
int clock_gettime(clockid_t id, struct timespec *ts) {
    long b = dg_base();
    if (b < 0 || (id != CLOCK_REALTIME && id != CLOCK_REALTIME_COARSE)) {
        return (int)syscall(SYS_clock_gettime, id, ts);
    }
    ts->tv_sec = (time_t)b;
    ts->tv_nsec = 0;
    return 0;
}
`;

let cacheDir: Promise<string> | null = null;
const built = new Map<string, Promise<string>>();

function getCacheDir(): Promise<string> {
  cacheDir ??= evalTempDir("dg-c-shims-");
  return cacheDir;
}

async function buildOnce(
  key: string,
  source: string,
  compiler: string,
  flags: string[],
  outName: string,
): Promise<string> {
  const dir = await getCacheDir();
  const base = key.replace(/[^A-Za-z0-9_.-]/g, "_");
  const src = `${dir}/${base}.c`;
  const out = `${dir}/${base}${outName}`;
  await Deno.writeTextFile(src, source);
  const r = await runTool(compiler, [...flags, "-o", out, src], { cwd: dir, timeoutMs: 60_000 });
  if (r.notFound) throw new Error(`${compiler} not found`);
  try {
    await Deno.stat(out);
  } catch {
    throw new Error(`building shim ${key} failed: ${r.stderr.slice(0, 500)}`);
  }
  await Deno.chmod(out, 0o755);
  return out;
}

function memo(key: string, f: () => Promise<string>): Promise<string> {
  let p = built.get(key);
  if (!p) {
    p = f();
    built.set(key, p);
    // Do not cache failures (e.g. a compiler that appears later).
    p.catch(() => built.delete(key));
  }
  return p;
}

/**
 * Object file of a shim, compiled with `compiler` and the given sanitizer flags
 * (cached per compiler/flags).
 */
export function shimObject(name: ShimName, compiler: string, sanFlags: string[]): Promise<string> {
  const key = `${name}-${compiler}-${sanFlags.join("_")}`;
  return memo(
    key,
    () => buildOnce(key, SHIM_SOURCES[name], compiler, ["-c", "-O0", "-g", ...sanFlags], ".o"),
  );
}

/** Shared object of the fake-clock LD_PRELOAD library (built with `gcc`). */
export function fakeTimeLibrary(gcc: string): Promise<string> {
  const key = `faketime-${gcc}`;
  return memo(
    key,
    () => buildOnce(key, FAKE_TIME_SOURCE, gcc, ["-shared", "-fPIC", "-O1"], ".so"),
  );
}
