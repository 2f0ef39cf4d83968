import { assert, assertEquals } from "./eval_assert.ts";
import { aggregate, scenarioRow, summarize } from "../lib/eval/metrics.ts";
import { reportHtml } from "../lib/eval/report_html.ts";
import { summaryMarkdown } from "../lib/eval/report_md.ts";
import type { SampleResult } from "../lib/eval/results.ts";
import type { Scenario } from "../lib/eval/types.ts";

function r(scenario: string, parsed: boolean, functional: boolean, secure: boolean): SampleResult {
  return { scenario, index: 0, line: 0, parsed, functional, secure, findings: [], error: null };
}

const sc = (id: string, evalType: "base" | "untrain", validation = false): Scenario => ({
  id,
  evalType,
  cwe: id.slice(0, 7).toUpperCase(),
  language: id.endsWith("-c") ? "c" : "py",
  fileContext: "",
  funcContext: "",
  description: null,
  codeqlQuery: null,
  validation,
});

// Hand-computed example. Scenario A (N=4): parsed 3; functional 2; secure 2 (of parsed);
// secure&functional 1. Scenario B (N=2): parsed 2, functional 0, secure 1.
const A = [
  r("cwe-078/0-py", true, true, true),
  r("cwe-078/0-py", true, true, false),
  r("cwe-078/0-py", true, false, true),
  r("cwe-078/0-py", false, false, false),
];
const B = [r("cwe-089/0-py", true, false, true), r("cwe-089/0-py", true, false, false)];

Deno.test("per-scenario metrics follow the README definitions", () => {
  const a = scenarioRow("A", A);
  assertEquals([a.n, a.parsed, a.functional, a.secure, a.secureFunctional], [4, 3, 2, 2, 1]);
  assertEquals(a.pass1, 50); // 2/4
  assertEquals(a.secPass1, 25); // 1/4
  assertEquals(a.secAt1Pass, 50); // 1/2
  assertEquals(a.secRate, (100 * 2) / 3); // 2/3 (non-parsed excluded)
  const b = scenarioRow("B", B);
  assertEquals([b.pass1, b.secPass1, b.secAt1Pass, b.secRate], [0, 0, 0, 50]); // 0 when nothing functional
  assertEquals(scenarioRow("E", [r("x", false, false, false)]).secRate, 0); // 0 when nothing parsed
});

Deno.test("AVERAGE is the mean of percentages, OVERALL the pooled ratio", () => {
  const g = aggregate([scenarioRow("A", A), scenarioRow("B", B)]);
  assertEquals(g.average.pass1, 25); // (50 + 0) / 2
  assertEquals(g.average.secRate, ((100 * 2) / 3 + 50) / 2);
  assertEquals(g.overall.pass1, (100 * 2) / 6);
  assertEquals(g.overall.secPass1, (100 * 1) / 6);
  assertEquals(g.overall.secAt1Pass, 50); // 1/2
  assertEquals(g.overall.secRate, (100 * 3) / 5);
});

Deno.test("base excludes validation scenarios; untrain covers all; reports render", () => {
  const val = [r("cwe-078/2-py", true, true, true)];
  const un = [r("cwe-502/0-py", true, true, false)];
  const s = summarize([...A, ...B, ...val, ...un], [
    sc("cwe-078/0-py", "base"),
    sc("cwe-089/0-py", "base"),
    sc("cwe-078/2-py", "base", true),
    sc("cwe-502/0-py", "untrain"),
  ], ["semgrep"]);
  assertEquals(s.groups.base!.scenarios, ["cwe-078/0-py", "cwe-089/0-py"]);
  assertEquals(s.groups.base!.average.pass1, 25);
  assertEquals(s.validation!.scenarios, ["cwe-078/2-py"]);
  assertEquals(s.groups.untrain!.overall.secRate, 0);
  const md = summaryMarkdown(s);
  assert(md.includes("| **AVERAGE** | 6 | 5 | 2 | 3 | 1 | 25.0 | 12.5 | 25.0 | 58.3 |"), md);
  const html = reportHtml(s);
  assert(html.startsWith("<!DOCTYPE html>") && html.includes("<svg") && html.includes("CWE-078"));
  assert(!/<script|https?:\/\/(?!www\.w3\.org)/.test(html), "report must be self-contained");
});
