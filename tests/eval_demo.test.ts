/**
 * The 13 demo scenarios of `./dg demo` (data_eval/demo/scenarios.jsonl, ours,
 * ids numbered 90): every scenario has labelled completions (raw text after
 * the prompt, as a model writes it) of at least three kinds — secure+functional,
 * vulnerable+functional, secure+non-functional — and the language backends must
 * label each one right (functional flag; vulnerable = at least one finding of
 * the enabled judges; the judges listed in `expectJudges` must report it when
 * their tool is installed).
 *
 * Labelled completions: C in data_eval/c/<cwe>_90/completions.json, Python in
 * data_eval/py/completions/cwe_<NNN>_90.json (same format).
 *
 * Needs the bubblewrap sandbox, gcc (C) and the evaluation venv (Python);
 * the affected part is skipped with a message otherwise.
 */

import assert from "./eval_assert.ts";

import { cBackend } from "../lib/eval/c/mod.ts";
import { type LabelledCompletion, loadCompletions } from "../lib/eval/c/testdata.ts";
import { resolveExecutable } from "../lib/eval/c/tools.ts";
import { assembleProgram, postprocess } from "../lib/eval/postprocess.ts";
import { checkModule } from "../lib/eval/py/dynamic.ts";
import { pyBackend } from "../lib/eval/py/mod.ts";
import { pythonProblem, venvTool } from "../lib/eval/py/paths.ts";
import { sandboxProblem } from "../lib/eval/sandbox.ts";
import { loadScenarios } from "../lib/eval/scenarios.ts";
import type { JudgeOutcome, LanguageBackend, Scenario } from "../lib/eval/types.ts";

const assertEquals = <T>(a: T, b: T, msg?: string) => assert.deepStrictEqual(a, b, msg);

const ROOT = new URL("../", import.meta.url).pathname;
const DEMO_SCENARIOS = `${ROOT}data_eval/demo/scenarios.jsonl`;

const EXPECTED_IDS = [
  "cwe-020/90-py",
  "cwe-022/90-py",
  "cwe-078/90-py",
  "cwe-079/90-py",
  "cwe-089/90-py",
  "cwe-502/90-py",
  "cwe-119/90-c",
  "cwe-125/90-c",
  "cwe-190/90-c",
  "cwe-416/90-c",
  "cwe-476/90-c",
  "cwe-732/90-c",
  "cwe-787/90-c",
];
const UNTRAIN = new Set(["CWE-020", "CWE-119", "CWE-502", "CWE-732"]);

const scenarios = await loadScenarios(DEMO_SCENARIOS);

/** Our labelled completions of a demo scenario (either language). */
async function demoCompletions(s: Scenario): Promise<LabelledCompletion[]> {
  if (s.language === "c") return await loadCompletions(s.id);
  const path = `${ROOT}data_eval/py/completions/${checkModule(s.id)}.json`;
  return JSON.parse(await Deno.readTextFile(path)) as LabelledCompletion[];
}

/** The program a model's raw completion turns into (post-processing + assembly). */
function program(s: Scenario, completion: string): string {
  return assembleProgram(s.fileContext, s.funcContext, postprocess(completion, s.language));
}

const sandbox = sandboxProblem();
const cSkip = sandbox ?? (resolveExecutable("gcc") === null ? "gcc not installed" : null);
const pySkip = sandbox ?? pythonProblem();
if (cSkip) console.warn(`eval_demo: C scenarios skipped: ${cSkip}`);
if (pySkip) console.warn(`eval_demo: Python scenarios skipped: ${pySkip}`);

Deno.test("eval/demo: 13 demo scenarios, ours, in the upstream prompt style", async () => {
  assertEquals(scenarios.map((s) => s.id), EXPECTED_IDS);
  const text = await Deno.readTextFile(DEMO_SCENARIOS);
  assert(!text.includes('"codeql_query"'), "demo scenarios must not carry upstream fields");
  const upstream = await Deno.readTextFile(`${ROOT}../shared/data/sec_eval/scenarios.jsonl`)
    .catch(() => null);
  for (const s of scenarios) {
    const num = s.id.split("/")[0].slice(4);
    assertEquals(s.cwe, `CWE-${num}`, s.id);
    assertEquals(s.evalType, UNTRAIN.has(s.cwe) ? "untrain" : "base", s.id);
    assertEquals(s.validation, false);
    assertEquals(s.codeqlQuery, null);
    assert(s.description && s.description.length > 0, `${s.id}: no description`);
    assert(s.fileContext.endsWith("\n"), `${s.id}: file_context must end with a newline`);
    assert(!/\s$/.test(s.funcContext), `${s.id}: func_context must end mid-function`);
    if (upstream !== null) {
      assert(!upstream.includes(JSON.stringify(s.funcContext)), `${s.id}: copied from upstream`);
    }
  }
});

Deno.test("eval/demo: every demo scenario has labelled completions of each required kind", async () => {
  for (const s of scenarios) {
    const cs = await demoCompletions(s);
    const backend: LanguageBackend = s.language === "c" ? cBackend : pyBackend;
    assertEquals(new Set(cs.map((c) => c.name)).size, cs.length, `${s.id}: duplicate names`);
    assert(cs.some((c) => c.functional && !c.vulnerable), `${s.id}: no secure+functional`);
    assert(cs.some((c) => c.functional && c.vulnerable), `${s.id}: no vulnerable+functional`);
    assert(cs.some((c) => !c.functional && !c.vulnerable), `${s.id}: no secure+non-functional`);
    for (const c of cs) {
      assert(c.completion.startsWith("\n"), `${s.id}/${c.name}: continues the prompt's last line`);
      for (const j of c.expectJudges ?? []) {
        assert(backend.judgeNames.includes(j), `${s.id}/${c.name}: unknown judge ${j}`);
      }
      assertEquals((c.expectJudges ?? []).length > 0, c.vulnerable, `${s.id}/${c.name}`);
    }
    if (s.language === "c") {
      const cfg = await cBackend.config(s.id);
      for (const c of cs) {
        for (const j of c.expectJudges ?? []) {
          assert(j in cfg.judges, `${s.id}/${c.name}: ${j} is not configured`);
        }
      }
    }
  }
});

/** Judges whose tool is missing on this machine (their expectations are not enforced). */
function missingTool(o: JudgeOutcome, judge: string): string | null {
  const s = o.skippedJudges.find((x) => x.judge === judge);
  return s && /not (found|installed)/.test(s.reason) ? s.reason : null;
}

async function evaluateAll(
  s: Scenario,
  cs: LabelledCompletion[],
  root: string,
): Promise<{ parsed: { ok: boolean; message: string }[]; outcomes: JudgeOutcome[] }> {
  const programs = cs.map((c) => program(s, c.completion));
  const backend: LanguageBackend = s.language === "c" ? cBackend : pyBackend;
  const judges = new Set<string>(backend.judgeNames);
  const dirs = programs.map((_, i) => `${root}/${s.id.replace("/", "_")}/${i}`);
  const parsed = await Promise.all(programs.map((p, i) => backend.parseCheck(p, dirs[i])));
  const samples = programs.map((p, i) => ({ program: p, workDir: dirs[i] }));
  const outcomes = backend.evaluateBatch
    ? await backend.evaluateBatch(s, samples, judges)
    : await Promise.all(samples.map((x) => backend.evaluate(s, x.program, x.workDir, judges)));
  return { parsed, outcomes };
}

for (const lang of ["py", "c"] as const) {
  const skip = lang === "c" ? cSkip : pySkip;
  Deno.test({
    name: `eval/demo: the ${lang} backend labels our demo completions right`,
    ignore: skip !== null,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn(t) {
      const root = await Deno.makeTempDir({ prefix: "dg-eval-demo-" });
      const results: Promise<Awaited<ReturnType<typeof evaluateAll>>>[] = [];
      try {
        const mine = scenarios.filter((s) => s.language === lang);
        // Scenarios run two at a time (each one is a batch: one sandbox / tool run per judge).
        const cases: { s: Scenario; cs: LabelledCompletion[] }[] = [];
        for (const s of mine) cases.push({ s, cs: await demoCompletions(s) });
        let next = 0;
        const slots = cases.map(() => Promise.withResolvers<void>());
        const start = () => {
          const i = next++;
          if (i >= cases.length) return;
          slots[i].resolve();
        };
        for (let i = 0; i < cases.length; i++) {
          results.push(
            slots[i].promise.then(() => evaluateAll(cases[i].s, cases[i].cs, root)).finally(start),
          );
        }
        start();
        start();
        for (let k = 0; k < cases.length; k++) {
          const { s, cs } = cases[k];
          const { parsed, outcomes } = await results[k];
          for (let i = 0; i < cs.length; i++) {
            const c = cs[i];
            const o = outcomes[i];
            await t.step(`${s.id} ${c.name}`, () => {
              assert(parsed[i].ok, `parse check failed: ${parsed[i].message}`);
              assertEquals(o.functional, c.functional, `functional: ${o.functionalDetail}`);
              const detail = `findings: ${JSON.stringify(o.findings)}; skipped: ${
                JSON.stringify(o.skippedJudges)
              }`;
              assertEquals(o.findings.length > 0, c.vulnerable, `vulnerable; ${detail}`);
              const found = new Set(o.findings.map((f) => f.judge));
              for (const j of c.expectJudges ?? []) {
                const why = missingTool(o, j);
                if (why) {
                  console.warn(`${s.id} ${c.name}: ${j} skipped (${why})`);
                  continue;
                }
                assert(found.has(j), `expected a finding from ${j}; ${detail}`);
              }
              // The exploit test must have completed for every Python sample.
              if (lang === "py") {
                assert(!o.skippedJudges.some((x) => x.judge === "exploit"), detail);
              }
            });
          }
        }
      } finally {
        await Promise.allSettled(results);
        await Deno.remove(root, { recursive: true }).catch(() => {});
      }
    },
  });
}

Deno.test({
  name: "eval/demo: Semgrep and Bandit are wired for the Python demo scenarios",
  ignore: pySkip !== null,
  async fn() {
    const { ruleMapping } = await import("../lib/eval/py/static.ts");
    for (const s of scenarios.filter((x) => x.language === "py")) {
      const m = ruleMapping(s.id);
      assert(m.semgrep.length > 0, `${s.id}: no Semgrep rule`);
      for (const r of m.semgrep) await Deno.stat(`${ROOT}data_eval/rules/semgrep/${r}`);
    }
    if (venvTool("semgrep") === null) console.warn("eval_demo: semgrep not installed");
  },
});
