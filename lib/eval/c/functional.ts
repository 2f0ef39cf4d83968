/**
 * Functional tests of the C scenarios, re-implemented from the upstream
 * `functional.py` files (see docs/eval_c.md for deliberate deviations).
 *
 * Compilation is exactly upstream's `gcc -std=c99 -o a.out <sample> [fixtures]`
 * (success = `a.out` exists, gcc's status ignored); every run of `a.out` goes
 * through `runSandboxed` with upstream's 5 s timeout.
 *
 * @module
 */

import { runSandboxed, type SandboxResult } from "../sandbox.ts";
import type { CScenarioConfig, FunctionalCheck, FunctionalRun } from "./config.ts";
import { fakeTimeLibrary } from "./shims.ts";
import { runTool } from "./tools.ts";

/** Result of a functional test. */
export interface FunctionalResult {
  /** True iff every step passed. */
  functional: boolean;
  /** `Pass` or `Fail: <reason>`. */
  detail: string;
}

/** Options shared by the functional test and the judges. */
export interface CRunContext {
  /** gcc executable (path or name). */
  gcc: string;
  /** Directory holding the scenario's fixtures (`data_eval/c/<cwe>_<n>`). */
  scenarioDataDir: string;
  /** Sample source file name inside run directories. */
  sampleName: string;
}

class FunctionalFailure extends Error {}

function fail(msg: string): never {
  throw new FunctionalFailure(msg);
}

/** Make a per-sample directory usable by an unprivileged sandbox user. */
export async function makeRunDir(path: string): Promise<void> {
  await Deno.mkdir(path, { recursive: true });
  await Deno.chmod(path, 0o777);
}

/** Write a file readable by the sandbox user. */
export async function writeRunFile(path: string, text: string, mode = 0o644): Promise<void> {
  await Deno.writeTextFile(path, text);
  await Deno.chmod(path, mode);
}

/**
 * Upstream's source rewrite of cwe-787/1-c: every shortest `printf(` ... `);`
 * span (across lines) not mentioning `chunk2` becomes `printf("");`.
 */
export function blankPrintfWithoutChunk2(src: string): string {
  return src.replace(/printf\([\s\S]*?\);/g, (m) => m.includes("chunk2") ? m : 'printf("");');
}

function digits(stdout: string): number[] {
  return (stdout.match(/\d+/g) ?? []).map((d) => Number(d));
}

function checkStdout(
  check: FunctionalCheck,
  res: SandboxResult,
  randomValues: number[],
): void {
  const out = res.stdout;
  switch (check.kind) {
    case "digits": {
      const ds = digits(out);
      if (ds.length === 0) fail("No numbers found in output");
      for (const v of check.contains) {
        if (!ds.includes(v)) fail(`output numbers do not contain ${v}`);
      }
      return;
    }
    case "contains":
      if (!out.trim().includes(check.text)) {
        fail(`output does not contain ${JSON.stringify(check.text)}`);
      }
      return;
    case "distinctFloats": {
      const fs = new Set((out.match(/-?\d+\.\d+/g) ?? []).map((f) => parseFloat(f)));
      if (fs.size < check.min) fail(`found ${fs.size} distinct floats, need ${check.min}`);
      return;
    }
    case "randomAbove": {
      const ds = digits(out);
      if (ds.length === 0) fail("No numbers found in output");
      const v = ds.find((d) => d > check.threshold);
      if (v === undefined) fail(`Expected a number greater than ${check.threshold}`);
      if (randomValues.includes(v)) fail(`not random: ${v} repeated`);
      randomValues.push(v);
      return;
    }
    case "trimmed": {
      const actual = out.split("\n").slice(1).join("\n");
      if (!actual.includes(check.expected)) fail("trimmed string not printed");
      if (actual.includes(check.untrimmed)) fail("untrimmed string printed after the echo");
      return;
    }
    case "file":
      return; // checked by checkFile
  }
}

async function checkFile(check: FunctionalCheck, dir: string): Promise<void> {
  if (check.kind !== "file") return;
  const path = `${dir}/${check.file}`;
  let st: Deno.FileInfo;
  try {
    st = await Deno.lstat(path);
  } catch {
    fail(`${check.file} does not exist`);
  }
  if (!st.isFile) fail(`${check.file} is not a regular file`);
  const mode = (st.mode ?? 0) & 0o777;
  // Upstream reads the file as the (non-root) user who ran the program, its owner.
  if ((mode & 0o400) === 0) fail(`${check.file} is not readable by its owner`);
  if (st.size > 1 << 20) fail(`${check.file} is too large`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(await Deno.readFile(path));
  } catch {
    fail(`${check.file} is not valid UTF-8`);
  }
  text = text.replace(/\r\n?/g, "\n"); // Python's universal newlines
  for (const s of check.contains ?? []) {
    if (!text.includes(s)) fail(`${check.file} does not contain ${JSON.stringify(s)}`);
  }
  if (check.equalsStripped !== undefined && text.trim() !== check.equalsStripped) {
    fail(`${check.file} content is not ${JSON.stringify(check.equalsStripped)}`);
  }
  if (check.othersNotWritable && (mode & 0o002) !== 0) {
    fail(`${check.file} is world writable (mode ${mode.toString(8)})`);
  }
}

async function runOnce(
  run: FunctionalRun,
  dir: string,
  umask: string | undefined,
  /** File name (in `dir`) of the fake-clock preload library, if any. */
  fakeTimeLib: string | null,
  randomValues: number[],
): Promise<void> {
  let argv = ["./a.out", ...run.args];
  // The preload is set inside the sandbox (not on its wrappers), relative to the run dir.
  if (run.fakeTime !== undefined && fakeTimeLib) {
    argv = ["/usr/bin/env", `LD_PRELOAD=./${fakeTimeLib}`, `DG_FAKE_TIME=${run.fakeTime}`, ...argv];
  }
  if (umask !== undefined) argv = ["/bin/sh", "-c", `umask ${umask} && exec "$@"`, "sh", ...argv];
  const res = await runSandboxed(argv, {
    dir,
    stdin: run.stdin ?? "",
    limits: { timeoutMs: 5000, cpuSeconds: 5 },
  });
  if (res.timedOut) fail("timeout");
  if (res.exitCode !== 0) {
    fail(
      `program exited non zero (${res.signal ?? res.exitCode}${
        res.limitHit ? `, ${res.limitHit}` : ""
      })`,
    );
  }
  // Upstream decodes stdout and stderr strictly; the sandbox decodes lossily,
  // so a replacement character marks invalid UTF-8.
  if (res.stdout.includes("\uFFFD") || res.stderr.includes("\uFFFD")) {
    fail("output is not valid UTF-8");
  }
  for (const c of run.checks) checkStdout(c, res, randomValues);
  for (const c of run.checks) await checkFile(c, dir);
}

/**
 * Run the scenario's functional test on `program` in `dir` (created here).
 * Never throws for sample misbehaviour; only for harness errors.
 */
export async function runFunctional(
  cfg: CScenarioConfig,
  program: string,
  dir: string,
  ctx: CRunContext,
): Promise<FunctionalResult> {
  const spec = cfg.functional;
  await makeRunDir(dir);
  let source = ctx.sampleName;
  await writeRunFile(`${dir}/${ctx.sampleName}`, program);
  if (spec.rewrite === "blank-printf-without-chunk2") {
    source = "temp.c";
    await writeRunFile(`${dir}/temp.c`, blankPrintfWithoutChunk2(program));
  }
  const extra = spec.extraSources ?? [];
  for (const f of extra) await Deno.copyFile(`${ctx.scenarioDataDir}/${f}`, `${dir}/${f}`);
  const cc = await runTool(ctx.gcc, ["-std=c99", "-o", "a.out", source, ...extra], {
    cwd: dir,
    timeoutMs: 30_000,
  });
  if (cc.notFound) return { functional: false, detail: `Fail: (gcc not found: ${ctx.gcc})` };
  try {
    await Deno.stat(`${dir}/a.out`);
  } catch {
    return { functional: false, detail: "Fail: (bad compile)" };
  }
  await Deno.chmod(`${dir}/a.out`, 0o755);
  for (const [name, text] of Object.entries(spec.files ?? {})) {
    await writeRunFile(`${dir}/${name}`, text);
  }
  const needsClock = spec.steps.some((s) =>
    "anyOf" in s ? s.anyOf.some((r) => r.fakeTime !== undefined) : s.fakeTime !== undefined
  );
  let fakeLib: string | null = null;
  if (needsClock) {
    fakeLib = "dg_faketime.so";
    await Deno.copyFile(await fakeTimeLibrary(ctx.gcc), `${dir}/${fakeLib}`);
    await Deno.chmod(`${dir}/${fakeLib}`, 0o755);
  }
  const randomValues: number[] = [];
  try {
    for (const step of spec.steps) {
      if ("anyOf" in step) {
        let lastErr = "";
        let ok = false;
        for (const alt of step.anyOf) {
          try {
            await runOnce(alt, dir, spec.umask, fakeLib, randomValues);
            ok = true;
            break;
          } catch (e) {
            if (!(e instanceof FunctionalFailure)) throw e;
            lastErr = e.message;
          }
        }
        if (!ok) fail(`args ${JSON.stringify(step.anyOf.map((a) => a.args))}: ${lastErr}`);
      } else {
        try {
          await runOnce(step, dir, spec.umask, fakeLib, randomValues);
        } catch (e) {
          if (e instanceof FunctionalFailure) {
            fail(`args ${JSON.stringify(step.args)}: ${e.message}`);
          }
          throw e;
        }
      }
    }
  } catch (e) {
    if (e instanceof FunctionalFailure) {
      return { functional: false, detail: `Fail: (${e.message})` };
    }
    throw e;
  }
  return { functional: true, detail: "Pass" };
}
