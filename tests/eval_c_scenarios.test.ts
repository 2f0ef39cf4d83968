/**
 * End-to-end labels of the C backend on our own completions: for each of the
 * 17 C scenarios, secure+functional, vulnerable+functional and
 * secure+non-functional completions (plus a few extra corner cases) must get
 * the expected functional flag and security verdict, and the vulnerable ones
 * must be caught by the judges listed in completions.json.
 *
 * Needs ../shared (upstream scenarios), gcc and the bubblewrap sandbox; skips
 * with a message otherwise.
 */

import assert from "node:assert/strict";

const assertEquals = <T>(a: T, b: T, msg?: string) => assert.deepStrictEqual(a, b, msg);
import { cBackend, type CJudgeName, createCBackend } from "../lib/eval/c/mod.ts";
import {
  assembleProgram,
  type LabelledCompletion,
  loadCompletions,
  loadCScenarios,
} from "../lib/eval/c/testdata.ts";
import { resolveExecutable } from "../lib/eval/c/tools.ts";
import { sandboxProblem } from "../lib/eval/sandbox.ts";
import type { JudgeOutcome, Scenario } from "../lib/eval/types.ts";

const scenarios = await loadCScenarios();
const sandbox = sandboxProblem();
const gcc = resolveExecutable("gcc");
const ignoreReason = scenarios === null
  ? "../shared/data/sec_eval/scenarios.jsonl not found (upstream data absent)"
  : sandbox !== null
  ? `sandbox unavailable: ${sandbox}`
  : gcc === null
  ? "gcc not installed"
  : null;
if (ignoreReason) console.warn(`eval_c_scenarios: skipped: ${ignoreReason}`);

/** Run `jobs` with at most `n` in flight; results in input order. */
function pool<T>(jobs: (() => Promise<T>)[], n: number): Promise<T>[] {
  const out: Promise<T>[] = [];
  let running = 0;
  const queue: (() => void)[] = [];
  for (const job of jobs) {
    out.push(
      (async () => {
        if (running >= n) await new Promise<void>((r) => queue.push(r));
        running++;
        try {
          return await job();
        } finally {
          running--;
          queue.shift()?.();
        }
      })(),
    );
  }
  return out;
}

Deno.test({
  name: "eval/c: every C scenario has labelled completions of each required kind",
  ignore: scenarios === null,
  async fn() {
    assertEquals(scenarios!.length, 17);
    for (const s of scenarios!) {
      const cs = await loadCompletions(s.id);
      const names = new Set(cs.map((c) => c.name));
      assertEquals(names.size, cs.length, `${s.id}: duplicate completion names`);
      assert(
        cs.some((c) => c.functional && !c.vulnerable),
        `${s.id}: no secure+functional completion`,
      );
      assert(
        cs.some((c) => c.functional && c.vulnerable),
        `${s.id}: no vulnerable+functional completion`,
      );
      assert(
        cs.some((c) => !c.functional && !c.vulnerable),
        `${s.id}: no secure+non-functional completion`,
      );
      const cfg = await cBackend.config(s.id);
      assertEquals(cfg.id, s.id);
      for (const c of cs.filter((c) => c.vulnerable)) {
        assert(
          (c.expectJudges ?? []).length > 0,
          `${s.id}/${c.name}: vulnerable without expected judges`,
        );
        for (const j of c.expectJudges!) {
          assert(j in cfg.judges, `${s.id}/${c.name}: expected judge ${j} is not configured`);
        }
      }
    }
  },
});

interface Case {
  scenario: Scenario;
  c: LabelledCompletion;
  outcome: Promise<{ parsed: { ok: boolean; message: string }; o: JudgeOutcome }>;
}

Deno.test({
  name: "eval/c: backend labels our completions (functional flag, vulnerable, catching judges)",
  ignore: ignoreReason !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const root = await Deno.makeTempDir({ prefix: "dg-eval-c-test-" });
    const all = new Set<string>(cBackend.judgeNames);
    const cases: { scenario: Scenario; c: LabelledCompletion }[] = [];
    for (const s of scenarios!) {
      for (const c of await loadCompletions(s.id)) cases.push({ scenario: s, c });
    }
    const jobs = cases.map(({ scenario, c }, i) => async () => {
      const wd = `${root}/${i}`;
      const program = assembleProgram(scenario, c.completion);
      const parsed = await cBackend.parseCheck(program, wd);
      const o = await cBackend.evaluate(scenario, program, wd, all);
      return { parsed, o };
    });
    const results = pool(jobs, 4);
    const withResults: Case[] = cases.map((x, i) => ({ ...x, outcome: results[i] }));
    try {
      for (const { scenario, c, outcome } of withResults) {
        await t.step(`${scenario.id} ${c.name}`, async () => {
          const { parsed, o } = await outcome;
          assert(parsed.ok, `parse check failed: ${parsed.message}`);
          assertEquals(o.functional, c.functional, `functional: ${o.functionalDetail}`);
          const judgesWithFindings = new Set(o.findings.map((f) => f.judge));
          assertEquals(
            o.findings.length > 0,
            c.vulnerable,
            `vulnerable; findings: ${JSON.stringify(o.findings)}; skipped: ${
              JSON.stringify(o.skippedJudges)
            }`,
          );
          for (const j of c.expectJudges ?? []) {
            const skipped = o.skippedJudges.find((s) => s.judge === j);
            if (skipped && /not found/.test(skipped.reason)) {
              console.warn(`${scenario.id} ${c.name}: ${j} skipped (${skipped.reason})`);
              continue;
            }
            assert(
              judgesWithFindings.has(j),
              `expected a finding from ${j}: ${JSON.stringify(o.findings)}`,
            );
          }
          for (const f of o.findings) {
            assert((cBackend.judgeNames as readonly string[]).includes(f.judge));
            assert(f.rule.length > 0 && f.message.length > 0);
            assert(f.line === null || (Number.isInteger(f.line) && f.line >= 1));
          }
          const cfg = await cBackend.config(scenario.id);
          for (const s of o.skippedJudges) {
            const configured = s.judge in cfg.judges;
            assert(!configured || /not found/.test(s.reason), `${s.judge} skipped: ${s.reason}`);
          }
        });
      }
    } finally {
      await Promise.allSettled(results);
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "eval/c: judges set is honoured and outcomes are deterministic",
  ignore: ignoreReason !== null,
  async fn() {
    const s = scenarios!.find((x) => x.id === "cwe-416/1-c")!;
    const vuln = (await loadCompletions(s.id)).find((c) => c.name === "vuln_reads_freed_byte")!;
    const program = assembleProgram(s, vuln.completion);
    const root = await Deno.makeTempDir({ prefix: "dg-eval-c-test-" });
    const all = new Set<string>(cBackend.judgeNames);
    try {
      const only: CJudgeName = "clang-analyzer";
      const o1 = await cBackend.evaluate(s, program, `${root}/a`, new Set([only]));
      assert(o1.findings.length > 0 || o1.skippedJudges.some((x) => x.judge === only));
      assert(o1.findings.every((f) => f.judge === only), JSON.stringify(o1.findings));
      const none = await cBackend.evaluate(s, program, `${root}/b`, new Set());
      assertEquals(none.findings, []);
      assertEquals(none.skippedJudges, []);
      assertEquals(none.functional, true);
      const unknown = await cBackend.evaluate(s, program, `${root}/c`, new Set(["bandit"]));
      assertEquals(unknown.skippedJudges.map((x) => x.judge), ["bandit"]);
      const san = await cBackend.evaluate(
        s,
        program,
        `${root}/d`,
        new Set(["sanitizer", "cppcheck"]),
      );
      assertEquals([...new Set(san.findings.map((f) => f.judge))], ["sanitizer"]);
      assert(
        san.skippedJudges.some((x) => x.judge === "cppcheck" && /not configured/.test(x.reason)),
      );
      // Determinism without the memo cache: two fresh evaluations agree.
      const fresh = createCBackend({ cache: false });
      const r1 = await fresh.evaluate(s, program, `${root}/e`, all);
      const r2 = await fresh.evaluate(s, program, `${root}/f`, all);
      assertEquals(r1, r2);
      assert(r1.findings.length >= 4, JSON.stringify(r1.findings));
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
