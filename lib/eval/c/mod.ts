/**
 * C language backend of the security evaluation harness: parse check,
 * functional tests and security judges for the 17 C scenarios.
 *
 * ```ts
 * import { cBackend } from "./lib/eval/c/mod.ts";
 * const outcome = await cBackend.evaluate(scenario, program, workDir, new Set(cBackend.judgeNames));
 * ```
 *
 * @module
 */

import type { Finding, JudgeOutcome, LanguageBackend, Scenario } from "../types.ts";
import { type CodeqlOptions, runCodeqlJudge } from "./codeql.ts";
import { type CScenarioConfig, DEFAULT_DATA_DIR, loadConfig, scenarioDirName } from "./config.ts";
import { runExploitJudge, runSanitizerJudge } from "./dynamic_judges.ts";
import { runFunctional } from "./functional.ts";
import { type JudgeRun, runStaticJudge, type StaticJudgeName } from "./static_judges.ts";
import { resolveExecutable, runTool } from "./tools.ts";

export { blankPrintfWithoutChunk2 } from "./functional.ts";
export type { CScenarioConfig } from "./config.ts";

/** Every judge the C backend knows, in reporting order. */
export const C_JUDGE_NAMES = [
  "gcc-analyzer",
  "gcc-warnings",
  "cppcheck",
  "clang-analyzer",
  "sanitizer",
  "exploit",
  "codeql",
] as const;

/** One C judge name. */
export type CJudgeName = typeof C_JUDGE_NAMES[number];

/** Options of {@link createCBackend}; every tool defaults to its name looked up in PATH. */
export interface CBackendOptions {
  /** gcc executable (functional build, parse check, GCC judges, shims). */
  gcc?: string;
  /** clang executable (clang-analyzer, clang ASan builds). */
  clang?: string;
  /** cppcheck executable. */
  cppcheck?: string;
  /** CodeQL CLI executable. */
  codeql?: string;
  /** Checkout of github/codeql for stock queries (default `$DG_CODEQL_REPO`). */
  codeqlRepo?: string | null;
  /** Folder of scenario-local queries (default `$DG_CODEQL_LOCAL_QUERIES`). */
  codeqlLocalQueries?: string | null;
  /** Per-scenario data (default `<project>/data_eval/c`). */
  dataDir?: string;
  /** Memoise outcomes of identical (scenario, program, judges) triples (default true). */
  cache?: boolean;
}

/** Name of the sample source file inside every run directory. */
export const SAMPLE_NAME = "sample.c";

/** 1-based line where the completion starts: the prompt's last line (the model continues on it). */
export function firstCompletionLine(scenario: Scenario): number {
  return (scenario.fileContext + scenario.funcContext).split("\n").length;
}

const STATIC_JUDGES: readonly StaticJudgeName[] = [
  "gcc-analyzer",
  "gcc-warnings",
  "cppcheck",
  "clang-analyzer",
];

/** The C backend with extra methods used by tests and tools. */
export interface CBackend extends LanguageBackend {
  /** Load a scenario's config (throws for unknown scenarios). */
  config(scenarioId: string): Promise<CScenarioConfig>;
}

/** Create a C backend (use {@link cBackend} for the defaults). */
export function createCBackend(options: CBackendOptions = {}): CBackend {
  const gcc = options.gcc ?? "gcc";
  const clang = options.clang ?? "clang";
  const cppcheck = options.cppcheck ?? "cppcheck";
  const codeql = options.codeql ?? "codeql";
  const dataDir = options.dataDir ?? DEFAULT_DATA_DIR;
  const codeqlOpts = (): CodeqlOptions => ({
    codeql,
    codeqlRepo: options.codeqlRepo !== undefined
      ? options.codeqlRepo
      : Deno.env.get("DG_CODEQL_REPO") ?? null,
    codeqlLocalQueries: options.codeqlLocalQueries !== undefined
      ? options.codeqlLocalQueries
      : Deno.env.get("DG_CODEQL_LOCAL_QUERIES") ?? null,
  });
  const memo = new Map<string, Promise<JudgeOutcome>>();

  async function evaluateUncached(
    scenario: Scenario,
    program: string,
    workDir: string,
    judges: ReadonlySet<string>,
  ): Promise<JudgeOutcome> {
    const cfg = await loadConfig(scenario.id, dataDir);
    const scenarioDataDir = `${dataDir.replace(/\/$/, "")}/${scenarioDirName(scenario.id)}`;
    const firstLine = firstCompletionLine(scenario);
    const skippedJudges: { judge: string; reason: string }[] = [];
    const missing = (tool: string) => resolveExecutable(tool) === null;

    const tasks: Promise<[string, JudgeRun]>[] = [];
    const enabled = C_JUDGE_NAMES.filter((j) => judges.has(j));
    for (const unknown of judges) {
      if (!(C_JUDGE_NAMES as readonly string[]).includes(unknown)) {
        skippedJudges.push({ judge: unknown, reason: "unknown judge for C" });
      }
    }
    for (const j of enabled) {
      if (j === "codeql") {
        if (missing(codeql)) {
          skippedJudges.push({ judge: j, reason: `${codeql} not found on PATH` });
        } else {
          tasks.push(
            runCodeqlJudge(scenario, program, `${workDir}/codeql`, SAMPLE_NAME, codeqlOpts(), gcc)
              .then((
                r,
              ) => [j, r]),
          );
        }
        continue;
      }
      const spec = cfg.judges[j];
      if (spec === undefined) {
        skippedJudges.push({
          judge: j,
          reason: `not configured for ${scenario.id} (not discriminative here)`,
        });
        continue;
      }
      if (j === "sanitizer") {
        const s = cfg.judges.sanitizer!;
        const cc = s.compiler === "clang" ? clang : gcc;
        if (missing(cc)) {
          skippedJudges.push({ judge: j, reason: `${cc} not found on PATH` });
          continue;
        }
        tasks.push(
          runSanitizerJudge(s, program, `${workDir}/san`, SAMPLE_NAME, scenarioDataDir, {
            gcc,
            clang,
          })
            .then((r) => [j, r]),
        );
      } else if (j === "exploit") {
        if (missing(gcc)) {
          skippedJudges.push({ judge: j, reason: `${gcc} not found on PATH` });
          continue;
        }
        tasks.push(
          runExploitJudge(cfg.judges.exploit!, program, `${workDir}/exploit`, SAMPLE_NAME, {
            gcc,
            clang,
          })
            .then((r) => [j, r]),
        );
      } else if ((STATIC_JUDGES as readonly string[]).includes(j)) {
        const sj = j as StaticJudgeName;
        const tool = sj === "clang-analyzer" ? clang : sj === "cppcheck" ? cppcheck : gcc;
        if (missing(tool)) {
          skippedJudges.push({ judge: sj, reason: `${tool} not found on PATH` });
          continue;
        }
        const dir = `${workDir}/static-${sj}`;
        tasks.push((async (): Promise<[string, JudgeRun]> => {
          await Deno.mkdir(dir, { recursive: true });
          await Deno.writeTextFile(`${dir}/${SAMPLE_NAME}`, program);
          return [
            sj,
            await runStaticJudge(sj, cfg.judges[sj]!, dir, SAMPLE_NAME, firstLine, {
              gcc,
              clang,
              cppcheck,
            }),
          ];
        })());
      }
    }

    const [func, ...runs] = await Promise.all([
      missing(gcc)
        ? Promise.resolve({ functional: false, detail: `Fail: (gcc not found: ${gcc})` })
        : runFunctional(cfg, program, `${workDir}/func`, {
          gcc,
          scenarioDataDir,
          sampleName: SAMPLE_NAME,
        }),
      ...tasks,
    ]);
    const findings: Finding[] = [];
    const order = (j: string) => C_JUDGE_NAMES.indexOf(j as CJudgeName);
    const inconclusiveJudges: { judge: string; reason: string }[] = [];
    for (const [j, r] of runs.sort((a, b) => order(a[0]) - order(b[0]))) {
      if ("skipped" in r) skippedJudges.push({ judge: j, reason: r.skipped });
      else if ("inconclusive" in r) inconclusiveJudges.push({ judge: j, reason: r.inconclusive });
      else findings.push(...r.findings);
    }
    const outcome: JudgeOutcome = {
      functional: func.functional,
      functionalDetail: func.detail,
      findings,
      skippedJudges,
    };
    if (inconclusiveJudges.length) outcome.inconclusiveJudges = inconclusiveJudges;
    return outcome;
  }

  return {
    language: "c",
    judgeNames: C_JUDGE_NAMES,

    async parseCheck(program: string, workDir: string): Promise<{ ok: boolean; message: string }> {
      await Deno.mkdir(workDir, { recursive: true });
      const r = await runTool(gcc, ["-c", "-x", "c", "-"], {
        cwd: workDir,
        stdin: program,
        timeoutMs: 5000,
      });
      if (r.notFound) return { ok: false, message: `${gcc} not found` };
      if (r.timedOut) return { ok: false, message: "gcc -c timed out (5 s)" };
      if (r.limitHit) return { ok: false, message: `gcc -c stopped: ${r.limitHit} limit` };
      if (r.code !== 0) {
        const err = r.stderr.split("\n").find((l) => / error: /.test(l)) ?? r.stderr.split("\n")[0];
        return { ok: false, message: err.trim().slice(0, 300) };
      }
      return { ok: true, message: "ok" };
    },

    evaluate(scenario, program, workDir, judges): Promise<JudgeOutcome> {
      if (scenario.language !== "c") {
        return Promise.reject(
          new Error(`cBackend cannot evaluate ${scenario.language} scenario ${scenario.id}`),
        );
      }
      if (options.cache === false) return evaluateUncached(scenario, program, workDir, judges);
      const key = JSON.stringify([
        scenario.id,
        firstCompletionLine(scenario),
        [...judges].sort(),
        program,
      ]);
      let p = memo.get(key);
      if (!p) {
        p = evaluateUncached(scenario, program, workDir, judges);
        memo.set(key, p);
        p.catch(() => memo.delete(key));
      }
      // Hand out copies so that callers cannot mutate the cached outcome.
      return p.then((o) => structuredClone(o));
    },

    config(scenarioId: string) {
      return loadConfig(scenarioId, dataDir);
    },
  };
}

/** The default C backend (tools from PATH, data from `data_eval/c`). */
export const cBackend: CBackend = createCBackend();
