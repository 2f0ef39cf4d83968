/**
 * The variant corpus (data_eval/variants) is judged exactly as labelled: every
 * vulnerable variant gets a finding, every secure one none, and the functional
 * verdicts match — except the samples marked `knownMiss`, which must still be
 * the only disagreements. Needs ../shared, the sandbox, gcc and the Python eval tools.
 */
import { assert, assertEquals, assertThrows } from "./eval_assert.ts";
import { resolveExecutable } from "../lib/eval/c/tools.ts";
import { venvTool } from "../lib/eval/py/paths.ts";
import {
  CorpusError,
  judgeQuality,
  loadVariants,
  parseRecord,
  scoreLabelled,
} from "../tasks/judge_quality.ts";
import { announceSkip, NO_SHARED, SANDBOX_PROBLEM } from "./eval_helpers.ts";

const missing = ["semgrep", "bandit"].filter((t) => venvTool(t) === null);
const skip = announceSkip("judge_quality", [
  NO_SHARED,
  SANDBOX_PROBLEM,
  resolveExecutable("gcc") === null && "gcc not installed",
  missing.length > 0 && `${missing.join(", ")} missing from .venv-eval`,
]);

Deno.test("variant corpus: every scenario has >= 5 vulnerable and >= 3 secure variants", async () => {
  const items = await loadVariants();
  const by = new Map<string, { vuln: number; secure: number }>();
  for (const s of items) {
    const c = by.get(s.scenario) ?? { vuln: 0, secure: 0 };
    if (s.secure) c.secure++;
    else c.vuln++;
    by.set(s.scenario, c);
    assert((s.reason ?? "").length > 0, `${s.source}: no reason`);
  }
  assertEquals(by.size, 35);
  for (const [id, c] of by) {
    assert(c.vuln >= 5, `${id}: ${c.vuln} vulnerable variants`);
    assert(c.secure >= 3, `${id}: ${c.secure} secure variants`);
  }
});

Deno.test("variant records: a missing reason or a bad label is a CorpusError naming file and field", () => {
  const ok = '{"scenario":"cwe-078/0-py","completion":"\\n","name":"n",' +
    '"expect":{"functional":true,"secure":true},"reason":"r"}';
  assertEquals(parseRecord(ok, "f.jsonl:1", "variants").secure, true);
  assertThrows(
    () => parseRecord(ok.replace(',"reason":"r"', ""), "f.jsonl:2", "variants"),
    CorpusError,
    'f.jsonl:2: field "reason"',
  );
  assertThrows(
    () => parseRecord(ok.replace('"secure":true', '"secure":"yes"'), "g:3", "variants"),
    CorpusError,
    'g:3 expect: field "secure" must be a boolean',
  );
  assertThrows(() => parseRecord("{", "h:1", "labelled"), CorpusError, "h:1: not JSON");
});

Deno.test({
  name: "variant corpus: the real harness agrees with every label (secure and functional)",
  ignore: skip,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const samples = await loadVariants();
    const results = await scoreLabelled(samples, { progress: false });
    const q = judgeQuality(samples, results);
    const known = samples.filter((s) => s.knownMiss).map((s) => `${s.scenario} "${s.name}"`);
    const wrong = q.disagreements.filter((d) => !d.knownMiss).map((d) =>
      `${d.scenario} "${d.name}": expected ${JSON.stringify(d.expected)}, judged ${
        JSON.stringify(d.judged)
      } [${d.findings.join(", ")}] ${d.error ?? ""} ${d.detail ?? ""}`
    );
    assertEquals(wrong, []);
    // a known miss that starts agreeing must lose its knownMiss note
    assertEquals(
      q.disagreements.filter((d) => d.knownMiss).map((d) => `${d.scenario} "${d.name}"`),
      known,
    );
  },
});
