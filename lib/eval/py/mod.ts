/**
 * Python language backend: parse check, functional test (data_eval/py checks,
 * sandboxed), exploit test, Semgrep, Bandit and (optional) CodeQL judges.
 *
 * @module
 */

import type { Finding, JudgeOutcome, LanguageBackend, Scenario } from "../types.ts";
import { evalTempDir, removeEvalTempDir } from "../tmp.ts";
import { runCodeql } from "./codeql.ts";
import { hasCheck, type Phase, runPyBatch } from "./dynamic.ts";
import { parseCheckPython } from "./parse.ts";
import { runBandit, runSemgrep, type StaticRun } from "./static.ts";

/** Judges of the Python backend. */
export const PY_JUDGE_NAMES = ["semgrep", "bandit", "exploit", "codeql"] as const;

async function writeBatch(programs: readonly string[]): Promise<{ dir: string; files: string[] }> {
  const dir = await evalTempDir("dg-pystatic-");
  const files: string[] = [];
  for (let i = 0; i < programs.length; i++) {
    const f = `${dir}/s${String(i).padStart(4, "0")}.py`;
    await Deno.writeTextFile(f, programs[i]);
    files.push(f);
  }
  return { dir, files };
}

/** Evaluate many parsed programs of one Python scenario; outcomes in input order. */
export async function evaluatePyBatch(
  scenario: Scenario,
  programs: readonly string[],
  judges: ReadonlySet<string>,
): Promise<JudgeOutcome[]> {
  if (!hasCheck(scenario.id)) {
    throw new Error(`no functional test for ${scenario.id} in data_eval/py/checks`);
  }
  const outcomes: JudgeOutcome[] = programs.map(() => ({
    functional: false,
    functionalDetail: "",
    findings: [],
    skippedJudges: [],
  }));
  const addStatic = (judge: string, run: StaticRun) => {
    for (let i = 0; i < programs.length; i++) {
      const o = outcomes[i];
      if (run.ok) o.findings.push(...run.findings[i]);
      else if (run.inconclusive) {
        (o.inconclusiveJudges ??= []).push({ judge, reason: run.reason });
      } else o.skippedJudges.push({ judge, reason: run.reason });
    }
  };
  if (judges.has("semgrep") || judges.has("bandit")) {
    const { dir, files } = await writeBatch(programs);
    try {
      if (judges.has("semgrep")) addStatic("semgrep", await runSemgrep(scenario.id, files));
      if (judges.has("bandit")) addStatic("bandit", await runBandit(scenario.id, files));
    } finally {
      await removeEvalTempDir(dir);
    }
  }
  if (judges.has("codeql")) addStatic("codeql", await runCodeql(scenario, programs));
  const phases: Phase[] = judges.has("exploit") ? ["functional", "exploit"] : ["functional"];
  const reports = await runPyBatch(scenario.id, programs, phases);
  for (let i = 0; i < programs.length; i++) {
    const f = reports[i].get("functional")!;
    const o = outcomes[i];
    const inconclusive: { judge: string; reason: string }[] = [];
    o.functional = f.verdict.functional === true && !f.error;
    o.functionalDetail = f.error ?? f.verdict.detail ?? f.verdict.harnessError ?? "no verdict";
    if (f.limit) o.functionalDetail += ` [limit: ${f.limit}]`;
    // A forged or tampered functional run says nothing trustworthy about the sample.
    if (f.error && /^(tampering|verdict channel)/.test(f.error)) {
      inconclusive.push({ judge: "harness", reason: f.error });
    }
    const e = reports[i].get("exploit");
    if (e) {
      if (Array.isArray(e.verdict.findings) && !e.error) {
        o.findings.push(...e.verdict.findings.map((x): Finding => ({
          judge: "exploit",
          rule: String(x.rule),
          line: null,
          message: String(x.message),
        })));
      }
      // The exploit run did not finish (or an attack was cut short by SystemExit & co.): not
      // evidence of a vulnerability, but not a pass either.
      const why = e.error ?? e.verdict.harnessError ?? e.limit ?? e.incomplete?.join("; ");
      if (why && o.findings.every((x) => x.judge !== "exploit")) {
        inconclusive.push({ judge: "exploit", reason: `exploit test did not complete: ${why}` });
      }
    }
    if (inconclusive.length) (o.inconclusiveJudges ??= []).push(...inconclusive);
  }
  return outcomes;
}

/** The Python backend. */
export const pyBackend: LanguageBackend = {
  language: "py",
  judgeNames: PY_JUDGE_NAMES,
  async parseCheck(program: string, _workDir: string) {
    return (await parseCheckPython([program]))[0];
  },
  async evaluate(scenario, program, _workDir, judges) {
    return (await evaluatePyBatch(scenario, [program], judges))[0];
  },
  evaluateBatch(scenario, samples, judges) {
    return evaluatePyBatch(scenario, samples.map((s) => s.program), judges);
  },
};
pyBackend.parseCheckBatch = (programs) => parseCheckPython(programs);
