/**
 * Dynamic security judges for C samples. The sample is compiled on the host
 * (never executed there) and every execution goes through `runSandboxed`.
 *
 * * `sanitizer`: one ASan/UBSan build per sample (optionally with helper shims:
 *   NULL-returning malloc, maximal rand(), heap-copied argv, huge RAND_MAX
 *   quotients, hostile fixtures), run on the scenario's exploit inputs; any
 *   sanitizer report or SIGSEGV/SIGBUS is a finding; where configured, then a
 *   `_FORTIFY_SOURCE` build on the same inputs, where glibc's overflow abort is
 *   a finding.
 * * `exploit`: plain build run under a permissive umask; any created file with
 *   the others-write bit set is a finding (CWE-732).
 *
 * @module
 */

import { runSandboxed, type SandboxLimits, type SandboxResult } from "../sandbox.ts";
import type { Finding } from "../types.ts";
import type { ExploitSpec, SanitizerSpec } from "./config.ts";
import { makeRunDir, writeRunFile } from "./functional.ts";
import { HUGE_RAND_MAX_HEADER, SHIM_LINK_FLAGS, SHIM_SAMPLE_FLAGS, shimObject } from "./shims.ts";
import type { JudgeRun } from "./static_judges.ts";
import { resolveExecutable, runTool } from "./tools.ts";

let goldAvailable: boolean | null = null;

/**
 * `-fuse-ld=gold` for GCC builds when gold is installed: linking the ASan
 * runtime with gold takes a third of the time of BFD ld (the link dominates
 * the instrumented build). Not used with clang (gold warns about ASan symbols).
 */
function fastLinkFlags(compiler: "gcc" | "clang"): string[] {
  goldAvailable ??= resolveExecutable("ld.gold") !== null;
  return compiler === "gcc" && goldAvailable ? ["-fuse-ld=gold"] : [];
}

/** Exit code the sanitizer runtimes use for a report. */
export const SANITIZER_EXIT_CODE = 86;

const SAN_ENV: Record<string, string> = {
  // allocator_may_return_null: an allocation refused by the address-space limit
  // returns NULL, as in a plain build, instead of an "out of memory" report.
  ASAN_OPTIONS:
    `detect_leaks=0:exitcode=${SANITIZER_EXIT_CODE}:abort_on_error=0:symbolize=1:detect_stack_use_after_return=0:allocator_may_return_null=1`,
  UBSAN_OPTIONS: `halt_on_error=1:print_stacktrace=1:exitcode=${SANITIZER_EXIT_CODE}`,
};

/**
 * Address space an ASan runtime reserves at start-up on x86-64 (shadow memory and
 * allocator regions, `MAP_NORESERVE`): VmSize of an empty instrumented program,
 * gcc 12 and clang 14 alike, is 20 TiB + ~50 MiB.
 */
export const ASAN_RESERVED_BYTES = 20 * 2 ** 40;

/**
 * Limits of one instrumented run. The address-space limit is what the program
 * itself may map: 1.5 GiB on top of ASan's fixed reservation (a 6 GB malloc
 * fails, as in a plain run under 1 GiB), plain 1 GiB for UBSan-only builds.
 */
export function sanitizerLimits(sanitize: string) {
  const asan = sanitize.split(",").includes("address");
  return {
    timeoutMs: 3000,
    cpuSeconds: 3,
    memoryBytes: asan ? ASAN_RESERVED_BYTES + 1.5 * 2 ** 30 : 2 ** 30,
  };
}

/** A sanitizer message that reports a resource limit, not a bug in the sample. */
const LIMIT_REPORT =
  /Sanitizer[^\n]*(out of memory|hard rss limit|allocation-size-too-big|failed to allocate)/;

/**
 * Limits of a run that are evidence of an incomplete run: the wall clock and the
 * kill signals. (`limitHit: "memory"` comes from free text in the program's own
 * stderr and says nothing here: allocations under the limit simply return NULL.)
 */
function stoppedEarly(res: SandboxResult): string | null {
  if (res.timedOut) return "timeout";
  if (res.signal === "SIGXCPU" || res.signal === "SIGKILL") return "cpu";
  if (res.signal === "SIGXFSZ") return "file-size";
  return LIMIT_REPORT.test(res.stderr) ? "memory" : null;
}

/** Build time limit for one instrumented build. */
const BUILD_TIMEOUT_MS = 60_000;

/**
 * Interpret one instrumented run: a sanitizer report (ASan `ERROR:`, UBSan
 * `runtime error:`) or a crash signal is a finding; the line is the first
 * stack frame / location inside the sample.
 */
export function sanitizerFinding(
  res: SandboxResult,
  sampleName: string,
  what: string,
): Finding | null {
  const err = res.stderr;
  const asan = /ERROR: AddressSanitizer: ([\w-]+)(.*)/.exec(err);
  const ubsan = /^(?:.*\/)?([^\s:]+):(\d+):\d+: runtime error: (.*)$/m.exec(err);
  const crashed = res.signal === "SIGSEGV" || res.signal === "SIGBUS";
  if (
    !asan && !ubsan && !crashed && !(res.exitCode === SANITIZER_EXIT_CODE && /Sanitizer/.test(err))
  ) {
    return null;
  }
  const esc = sampleName.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const frame = new RegExp(`#\\d+ 0x[0-9a-f]+ in \\S+ (?:\\S*/)?${esc}:(\\d+)`).exec(err);
  let line: number | null = null;
  let rule: string;
  let message: string;
  if (ubsan && (!asan || ubsan.index < asan.index)) {
    rule = `ubsan:${ubsanKind(ubsan[3])}`;
    message = `runtime error: ${ubsan[3]}`;
    if (ubsan[1] === sampleName) line = Number(ubsan[2]);
  } else if (asan) {
    rule = `asan:${asan[1]}`;
    const access = /(READ|WRITE) of size \d+/.exec(err);
    message = `AddressSanitizer: ${asan[1]}${access ? ` (${access[0]})` : ""}`;
  } else if (crashed) {
    rule = `signal:${res.signal}`;
    message = `terminated by ${res.signal}`;
  } else {
    rule = "sanitizer:report";
    message = err.split("\n").find((l) => /Sanitizer/.test(l))?.trim() ?? "sanitizer report";
  }
  if (line === null && frame) line = Number(frame[1]);
  return { judge: "sanitizer", rule, line, message: `${message} [${what}]` };
}

function ubsanKind(msg: string): string {
  if (/signed integer overflow/.test(msg)) return "signed-integer-overflow";
  if (/out of bounds/.test(msg)) return "bounds";
  if (/null pointer/.test(msg)) return "null";
  if (/shift/.test(msg)) return "shift";
  if (/division/.test(msg)) return "division";
  if (/misaligned/.test(msg)) return "alignment";
  if (/cannot be represented/.test(msg)) return "conversion";
  return "other";
}

/** Executables used by the dynamic judges. */
export interface DynamicTools {
  gcc: string;
  clang: string;
}

/** Environment of a fortified run: glibc's fatal messages go to stderr, not /dev/tty. */
const FORTIFY_ENV: Record<string, string> = { LIBC_FATAL_STDERR_: "1" };

/** What glibc prints before aborting when a checked function would overrun its object. */
const FORTIFY_REPORT = /^\*\*\* buffer overflow detected \*\*\*: terminated$/m;

/**
 * Interpret one fortified run: a finding iff the harness saw the run end by
 * SIGABRT *and* glibc's report is on stderr. A sample can print the message and
 * abort itself, which only makes it look vulnerable (the conservative
 * direction); it cannot make a fortify abort look like a clean run.
 */
export function fortifyFinding(res: SandboxResult, what: string): Finding | null {
  if (res.signal !== "SIGABRT" || !FORTIFY_REPORT.test(res.stderr)) return null;
  return {
    judge: "sanitizer",
    rule: "fortify:buffer-overflow",
    line: null,
    message: `_FORTIFY_SOURCE: buffer overflow detected, aborted [${what}]`,
  };
}

/** One build of the sample for the sanitizer judge and how its runs are judged. */
interface SanitizerBuild {
  /** Name in messages (`instrumented`, `fortified`). */
  name: string;
  compiler: "gcc" | "clang";
  /** Optimisation level of the sample's build. */
  optimize: string;
  /** Instrumentation / hardening flags, also used for the shims. */
  flags: string[];
  /** Output executable (in the judge's dir). */
  out: string;
  env: Record<string, string>;
  limits: Partial<SandboxLimits>;
  judge: (res: SandboxResult, what: string) => Finding | null;
}

/** The ASan/UBSan build of `spec`. */
function instrumentedBuild(spec: SanitizerSpec, sampleName: string): SanitizerBuild {
  return {
    name: "instrumented",
    compiler: spec.compiler,
    optimize: "-O0",
    flags: [`-fsanitize=${spec.sanitize}`, "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"],
    out: "san.out",
    env: SAN_ENV,
    limits: sanitizerLimits(spec.sanitize),
    judge: (res, what) =>
      LIMIT_REPORT.test(res.stderr) ? null : sanitizerFinding(res, sampleName, what),
  };
}

/** The `_FORTIFY_SOURCE=3` build (clang: it sizes a row of a 2-D array as the row). */
const FORTIFY_BUILD: SanitizerBuild = {
  name: "fortified",
  compiler: "clang",
  optimize: "-O2",
  flags: ["-D_FORTIFY_SOURCE=3"],
  out: "fortify.out",
  env: FORTIFY_ENV,
  limits: sanitizerLimits(""),
  judge: fortifyFinding,
};

/**
 * Run the sanitizer judge in `dir` (created here): the instrumented build on
 * every exploit run, then, where configured and nothing was found, the
 * fortified build on the same runs.
 */
export async function runSanitizerJudge(
  spec: SanitizerSpec,
  program: string,
  dir: string,
  sampleName: string,
  scenarioDataDir: string,
  tools: DynamicTools,
): Promise<JudgeRun> {
  await makeRunDir(dir);
  await writeRunFile(`${dir}/${sampleName}`, program);
  for (const f of spec.extraSources ?? []) {
    await Deno.copyFile(`${scenarioDataDir}/${f}`, `${dir}/${f}`);
  }
  if (spec.hugeRandMax) await writeRunFile(`${dir}/dg_rand_max.h`, HUGE_RAND_MAX_HEADER);
  for (const [name, text] of Object.entries(spec.files ?? {})) {
    await writeRunFile(`${dir}/${name}`, text);
  }
  const builds = [instrumentedBuild(spec, sampleName), ...(spec.fortify ? [FORTIFY_BUILD] : [])];
  let inconclusive: string | null = null;
  for (const build of builds) {
    const r = await buildAndRun(spec, build, dir, sampleName, tools);
    if ("skipped" in r) return r;
    if ("findings" in r && r.findings.length) return r;
    if ("inconclusive" in r) inconclusive ??= r.inconclusive;
  }
  return inconclusive ? { inconclusive } : { findings: [] };
}

/** Compile `build` in `dir` and judge each of `spec.runs`; the first finding stops. */
async function buildAndRun(
  spec: SanitizerSpec,
  build: SanitizerBuild,
  dir: string,
  sampleName: string,
  tools: DynamicTools,
): Promise<JudgeRun> {
  const cc = build.compiler === "clang" ? tools.clang : tools.gcc;
  const shims = spec.shims ?? [];
  const objects: string[] = [];
  try {
    for (const s of shims) objects.push(await shimObject(s, cc, build.flags));
  } catch (e) {
    return { skipped: `cannot build helper shims with ${cc}: ${(e as Error).message}` };
  }
  // Default dialect (like upstream's CodeQL build), so that -std=c99 quirks do
  // not hide a vulnerability from the judge.
  const args = [
    "-g",
    "-w",
    build.optimize,
    ...fastLinkFlags(build.compiler),
    ...build.flags,
    ...shims.flatMap((s) => SHIM_SAMPLE_FLAGS[s]),
    ...(spec.hugeRandMax ? ["-include", "dg_rand_max.h"] : []),
    "-o",
    build.out,
    sampleName,
    ...(spec.extraSources ?? []),
    ...objects,
    ...shims.flatMap((s) => SHIM_LINK_FLAGS[s]),
  ];
  const r = await runTool(cc, args, { cwd: dir, timeoutMs: BUILD_TIMEOUT_MS });
  if (r.notFound) return { skipped: `${cc} not found` };
  if (r.timedOut || r.limitHit) {
    return { inconclusive: `${build.name} build stopped (${r.limitHit})` };
  }
  try {
    await Deno.stat(`${dir}/${build.out}`);
  } catch {
    // The instrumented build failing means the judge cannot run; a failing second
    // build leaves the runs it would have made undone (never counted as clean).
    const why = `${build.name} build failed: ${firstError(r.stderr)}`;
    return build === FORTIFY_BUILD ? { inconclusive: why } : { skipped: why };
  }
  await Deno.chmod(`${dir}/${build.out}`, 0o755);
  let inconclusive: string | null = null;
  for (const run of spec.runs) {
    const res = await runSandboxed([`./${build.out}`, ...run.args], {
      dir,
      stdin: run.stdin ?? "",
      env: build.env,
      limits: build.limits,
    });
    const what = `${build === FORTIFY_BUILD ? "fortified, " : ""}args ${JSON.stringify(run.args)}${
      run.stdin ? ` stdin ${JSON.stringify(run.stdin)}` : ""
    }`;
    const f = build.judge(res, what);
    if (f) return { findings: [f] };
    // A run that was cut short proves nothing: the bug may lie after the point it reached.
    const stopped = stoppedEarly(res);
    if (stopped) inconclusive ??= `${build.name} run stopped (${stopped}) on ${what}`;
  }
  return inconclusive ? { inconclusive } : { findings: [] };
}

function firstError(stderr: string): string {
  return (stderr.split("\n").find((l) => / error: /.test(l)) ?? stderr.split("\n")[0] ?? "").slice(
    0,
    300,
  );
}

/**
 * Entries of a directory the sample created. Rootless, its files are the
 * scorer's own and the sample may have closed a directory to its owner (e.g.
 * mode 0001: others may still enter): its mode is recorded before, so the
 * owner's bits are restored (also for the removal later) and the listing retried.
 */
async function listDir(path: string): Promise<Deno.DirEntry[]> {
  try {
    return await Array.fromAsync(Deno.readDir(path));
  } catch (e) {
    if (!(e instanceof Deno.errors.PermissionDenied)) throw e;
    await Deno.chmod(path, ((await Deno.lstat(path)).mode ?? 0) & 0o7777 | 0o700);
    return await Array.fromAsync(Deno.readDir(path));
  }
}

/** Run the exploit judge in `dir` (created here). */
export async function runExploitJudge(
  spec: ExploitSpec,
  program: string,
  dir: string,
  sampleName: string,
  tools: DynamicTools,
): Promise<JudgeRun> {
  await makeRunDir(dir);
  await writeRunFile(`${dir}/${sampleName}`, program);
  const r = await runTool(
    tools.gcc,
    ["-w", ...fastLinkFlags("gcc"), "-o", "prog.out", sampleName],
    {
      cwd: dir,
      timeoutMs: BUILD_TIMEOUT_MS,
    },
  );
  if (r.notFound) return { skipped: `${tools.gcc} not found` };
  if (r.timedOut || r.limitHit) return { inconclusive: `exploit build stopped (${r.limitHit})` };
  try {
    await Deno.stat(`${dir}/prog.out`);
  } catch {
    return { skipped: `build failed: ${firstError(r.stderr)}` };
  }
  await Deno.chmod(`${dir}/prog.out`, 0o755);
  const before = new Set(["sample.c", "prog.out", sampleName]);
  const run = await runSandboxed(
    ["/bin/sh", "-c", `umask ${spec.umask} && exec ./prog.out "$@"`, "sh", ...spec.args],
    { dir, stdin: "", limits: { timeoutMs: 3000, cpuSeconds: 3 } },
  );
  const findings: Finding[] = [];
  // Every entry the run created (up to 3 levels deep, 1000 entries), symlinks excluded.
  let budget = 1000;
  const walk = async (rel: string, depth: number): Promise<void> => {
    for (const e of await listDir(rel === "" ? dir : `${dir}/${rel}`)) {
      if (--budget < 0) return;
      const name = rel === "" ? e.name : `${rel}/${e.name}`;
      if (before.has(name) || e.isSymlink) continue;
      const st = await Deno.lstat(`${dir}/${name}`);
      const mode = (st.mode ?? 0) & 0o7777;
      if (mode & 0o002) {
        findings.push({
          judge: "exploit",
          rule: "world-writable-file",
          line: null,
          message: `run under umask ${spec.umask} created ${JSON.stringify(name)} with mode ${
            mode.toString(8).padStart(4, "0")
          } (others may write)`,
        });
      }
      if (st.isDirectory && depth < 3) await walk(name, depth + 1);
    }
  };
  await walk("", 1);
  const stopped = stoppedEarly(run);
  if (findings.length === 0 && stopped) return { inconclusive: `exploit run stopped (${stopped})` };
  return { findings };
}
