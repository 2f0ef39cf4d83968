/**
 * The 13 demo scenarios of `./dg demo` (data_eval/demo/scenarios.jsonl, ours,
 * ids numbered 90): every scenario has labelled completions (raw text after
 * the prompt, as a model writes it) of at least three kinds — secure+functional,
 * vulnerable+functional, secure+non-functional — and the language backends must
 * label each one right (functional flag; vulnerable = at least one finding of
 * the enabled judges; the judges listed in `expectJudges` must report it when
 * their tool is installed).
 *
 * Labelled completions: C in data_eval/c/<cwe>_90/completions.json (the C
 * tests' format), Python in data_eval/py/completions/demo/<cwe>_90-py.jsonl
 * (the Python tests' format; a sub-folder, so that the tests of the upstream
 * scenarios do not pick them up). They are scored through lib/eval/score.ts,
 * the code path of `./dg demo`.
 *
 * Needs the bubblewrap sandbox, gcc (C) and the evaluation venv (Python);
 * the affected part is skipped with a message otherwise.
 */

import { assert, assertEquals } from "./eval_assert.ts";

import { cBackend } from "../lib/eval/c/mod.ts";
import { type LabelledCompletion, loadCompletions } from "../lib/eval/c/testdata.ts";
import { resolveExecutable } from "../lib/eval/c/tools.ts";
import { assembleProgram, postprocess } from "../lib/eval/postprocess.ts";
import { pyBackend } from "../lib/eval/py/mod.ts";
import { pythonProblem, venvTool } from "../lib/eval/py/paths.ts";
import { sandboxProblem } from "../lib/eval/sandbox.ts";
import { loadScenarios } from "../lib/eval/scenarios.ts";
import { scoreCompletions } from "../lib/eval/score.ts";
import type { SampleResult } from "../lib/eval/results.ts";
import type { LanguageBackend, Scenario } from "../lib/eval/types.ts";

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

/** A line of data_eval/py/completions/demo/*.jsonl (the Python tests' format). */
interface PyLabelled {
  scenario: string;
  name: string;
  completion: string;
  note?: string;
  expect: { functional: boolean; secure: boolean; flaggedBy: string[] };
}

/** Our labelled completions of a demo scenario (either language), in the C tests' shape. */
async function demoCompletions(s: Scenario): Promise<LabelledCompletion[]> {
  if (s.language === "c") return await loadCompletions(s.id);
  const file = `${s.id.replace("/", "_")}.jsonl`;
  const text = await Deno.readTextFile(`${ROOT}data_eval/py/completions/demo/${file}`);
  return text.split("\n").filter((l) => l.trim()).map((l) => {
    const d = JSON.parse(l) as PyLabelled;
    assertEquals(d.scenario, s.id, `${file}: scenario`);
    const c: LabelledCompletion = {
      name: d.name,
      functional: d.expect.functional,
      vulnerable: !d.expect.secure,
      completion: d.completion,
    };
    if (d.expect.flaggedBy.length) c.expectJudges = d.expect.flaggedBy;
    return c;
  });
}

const sandbox = sandboxProblem();
const cSkip = sandbox ?? (resolveExecutable("gcc") === null ? "gcc not installed" : null);
const pySkip = sandbox ?? pythonProblem();
if (cSkip) console.warn(`eval_demo: C scenarios skipped: ${cSkip}`);
if (pySkip) console.warn(`eval_demo: Python scenarios skipped: ${pySkip}`);

Deno.test("eval/demo: 13 demo scenarios, ours, in the upstream prompt style", async () => {
  assertEquals(scenarios.map((s) => s.id), EXPECTED_IDS);
  const text = await Deno.readTextFile(DEMO_SCENARIOS);
  // Upstream-only fields (CodeQL query, vulnerable source) must not appear in our data.
  for (const field of ["codeql" + "_query", "func_src" + "_before"]) {
    assert(!text.includes(`"${field}"`), `demo scenarios must not carry the upstream ${field}`);
  }
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

/** Why a judge could not run because its tool is missing, or null. */
function missingTool(r: SampleResult, judge: string): string | null {
  const s = (r.skippedJudges ?? []).find((x) => x.judge === judge);
  return s && /not (found|installed)/.test(s.reason) ? s.reason : null;
}

Deno.test({
  name: "eval/demo: the scorer and both backends label our demo completions right",
  ignore: sandbox !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const items: { s: Scenario; c: LabelledCompletion }[] = [];
    for (const s of scenarios) {
      if ((s.language === "c" ? cSkip : pySkip) !== null) continue;
      for (const c of await demoCompletions(s)) items.push({ s, c });
    }
    const out = await Deno.makeTempDir({ prefix: "dg-eval-demo-" });
    try {
      // The path `./dg demo` takes: post-processing, assembly, parse check, backend batches.
      const { results } = await scoreCompletions({
        scenarios: DEMO_SCENARIOS,
        completions: items.map(({ s, c }) => ({ scenario: s.id, completion: c.completion })),
        outDir: out,
        judges: "all",
        jobs: 2,
        progress: false,
      });
      assertEquals(results.length, items.length);
      for (let i = 0; i < items.length; i++) {
        const { s, c } = items[i];
        const r = results[i];
        await t.step(`${s.id} ${c.name}`, () => {
          assertEquals(r.scenario, s.id);
          const detail = `detail: ${r.detail}; findings: ${JSON.stringify(r.findings)}; skipped: ${
            JSON.stringify(r.skippedJudges ?? [])
          }`;
          assertEquals(r.error, null, detail);
          assert(r.parsed, `parse check failed: ${detail}`);
          assertEquals(r.functional, c.functional, `functional; ${detail}`);
          assertEquals(r.findings.length > 0, c.vulnerable, `vulnerable; ${detail}`);
          assertEquals(r.secure, !c.vulnerable);
          const found = new Set(r.findings.map((f) => f.judge));
          for (const j of c.expectJudges ?? []) {
            const why = missingTool(r, j);
            if (why) {
              console.warn(`${s.id} ${c.name}: ${j} skipped (${why})`);
              continue;
            }
            assert(found.has(j), `expected a finding from ${j}; ${detail}`);
          }
          // Every configured dynamic judge completed (a skipped one would hide a vulnerability).
          const dyn = s.language === "py" ? "exploit" : null;
          if (dyn) assert(!(r.skippedJudges ?? []).some((x) => x.judge === dyn), detail);
        });
      }
    } finally {
      await Deno.remove(out, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "eval/demo: programs are the prompt plus the post-processed completion",
  fn: async () => {
    for (const s of scenarios) {
      for (const c of await demoCompletions(s)) {
        const p = assembleProgram(
          s.fileContext,
          s.funcContext,
          postprocess(c.completion, s.language),
        );
        assert(p.startsWith(s.fileContext + s.funcContext), `${s.id}/${c.name}`);
        if (s.language === "c") assert(p.endsWith("\n}\n"), `${s.id}/${c.name}: ends the function`);
        assert(!/\n(if __name__|int helper)/.test(p), `${s.id}/${c.name}: trailing code kept`);
      }
    }
  },
});

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
