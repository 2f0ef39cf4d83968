/**
 * Self-contained HTML report of one run (report.html): the run's metadata, a chart of pass@1,
 * sec-pass@1 and sec_rate per CWE, the metric tables, pass@k, and per scenario a drill-down to
 * every sample — the scored program with the lines a judge flagged highlighted, each finding
 * (judge, rule, line, message), the functional-test detail and the exploit that was tried.
 *
 * The completions are model output and therefore hostile: every piece of text is HTML-escaped,
 * the page has no script at all, and its Content-Security-Policy forbids scripts and any network
 * access, so even a lapse in escaping could not run code or load anything. The sample filters
 * are pure CSS (`:has()` on radio buttons).
 *
 * @module
 */

import type { GroupSummary, MetricRow, Summary } from "./metrics.ts";
import { assembleProgram, postprocess } from "./postprocess.ts";
import { runMetaHtml, runTitle } from "./report_meta.ts";
import { barChartSvg, esc } from "./report_svg.ts";
import type { SampleResult } from "./results.ts";
import type { Finding, Scenario } from "./types.ts";

const METRICS: { key: keyof MetricRow; label: string; color: string }[] = [
  { key: "pass1", label: "pass@1", color: "#4e79a7" },
  { key: "secPass1", label: "sec-pass@1", color: "#59a14f" },
  { key: "secRate", label: "sec_rate", color: "#f28e2b" },
];

/** What the per-sample drill-down needs besides the summary. */
export interface ReportDetails {
  /** Every sample's result (results.jsonl). */
  results: readonly SampleResult[];
  /** The scored completions (raw model text), matched to results by scenario and index. */
  completions: readonly { scenario: string; index: number; completion: string }[];
  /** The scenarios scored (their prompts rebuild the program the judges saw). */
  scenarios: readonly Scenario[];
  /** End-of-sequence marker the scorer cut at, if any. */
  eos?: string;
}

/** Per-CWE means of the scenario rows (unweighted), in order of first appearance. */
export function cweRows(s: Summary): { cwe: string; values: Record<string, number> }[] {
  const by = new Map<string, MetricRow[]>();
  for (const r of s.scenarios) {
    if (!by.has(r.cwe)) by.set(r.cwe, []);
    by.get(r.cwe)!.push(r);
  }
  return [...by].map(([cwe, rows]) => ({
    cwe,
    values: Object.fromEntries(
      METRICS.map((m) => [m.key, rows.reduce((a, r) => a + (r[m.key] as number), 0) / rows.length]),
    ),
  }));
}

/** The per-CWE chart of the run. */
export function runChartSvg(s: Summary): string {
  const rows = cweRows(s);
  return barChartSvg({
    title: "Per CWE (mean over scenarios)",
    yLabel: "percent",
    categories: rows.map((r) => r.cwe),
    series: METRICS.map((m) => ({
      label: m.label,
      color: m.color,
      values: rows.map((r) => r.values[m.key]),
    })),
  });
}

function tableHtml(title: string, g: GroupSummary, s: Summary): string {
  const rows = [...s.scenarios.filter((r) => g.scenarios.includes(r.id)), g.average, g.overall];
  const cells = (r: MetricRow) =>
    [r.n, r.parsed, r.functional, r.secure, r.secureFunctional].map((v) => `<td>${v}</td>`).join(
      "",
    ) +
    [r.pass1, r.secPass1, r.secAt1Pass, r.secRate].map((v) => `<td>${v.toFixed(1)}</td>`).join("");
  const link = (id: string) =>
    id === "AVERAGE" || id === "OVERALL" ? esc(id) : `<a href="#${anchor(id)}">${esc(id)}</a>`;
  return `<h2>${esc(title)}</h2><table><thead><tr><th>scenario</th><th>N</th><th>parsed</th>` +
    `<th>functional</th><th>secure</th><th>sec+func</th><th>pass@1</th><th>sec-pass@1</th>` +
    `<th>sec@1_pass</th><th>sec_rate</th></tr></thead><tbody>` +
    rows.map((r) =>
      `<tr${r.id === "AVERAGE" || r.id === "OVERALL" ? ' class="agg"' : ""}><td>${link(r.id)}</td>${
        cells(r)
      }</tr>`
    ).join("") + `</tbody></table>`;
}

function passAtKHtml(s: Summary): string {
  const p = s.passAtK;
  if (!p || p.ks.length < 2) return "";
  const groups = Object.entries(p.groups).filter(([, g]) => g);
  const head = p.ks.map((k) => `<th>pass@${k}</th>`).join("") +
    p.ks.map((k) => `<th>sec-pass@${k}</th>`).join("");
  const row = (
    name: string,
    r: { pass: Record<string, number>; secPass: Record<string, number> },
  ) =>
    `<tr><td>${esc(name)}</td>${p.ks.map((k) => `<td>${r.pass[k].toFixed(1)}</td>`).join("")}${
      p.ks.map((k) => `<td>${r.secPass[k].toFixed(1)}</td>`).join("")
    }</tr>`;
  return `<h2>pass@k</h2><p class="note">Unbiased estimator 1 − C(n−c,k)/C(n,k) per scenario, ` +
    `mean over the group's scenarios (c = functional for pass@k, secure and functional for ` +
    `sec-pass@k).</p><table><thead><tr><th>group</th>${head}</tr></thead><tbody>${
      groups.map(([n, g]) => row(n, g!)).join("")
    }</tbody></table>`;
}

const anchor = (id: string) => "s-" + id.replace(/[^A-Za-z0-9_-]/g, "_");

/** The program the judges saw, and the 0-based line where the completion starts. */
function scoredProgram(sc: Scenario, completion: string, eos?: string) {
  const kept = postprocess(completion, sc.language, eos);
  const program = assembleProgram(sc.fileContext, sc.funcContext, kept);
  const start = (sc.fileContext + sc.funcContext).split("\n").length - 1;
  return {
    program,
    lines: program.replace(/\n$/, "").split("\n"),
    start,
    cut: completion.length - kept.length,
  };
}

function findingLabel(f: Finding): string {
  return `${f.judge} ${f.rule}${f.line === null ? "" : ` (line ${f.line})`}: ${f.message}`;
}

/** Program lines from `start` (0-based) with their line numbers; flagged lines highlighted. */
function codeHtml(lines: string[], start: number, flagged: Map<number, Finding[]>): string {
  const rows: string[] = [];
  for (let i = start; i < lines.length; i++) {
    const fs = flagged.get(i + 1);
    const text = `<i>${i + 1}</i>${esc(lines[i])}`;
    rows.push(
      fs ? `<b class="flag" title="${esc(fs.map(findingLabel).join("\n"))}">${text}</b>` : text,
    );
  }
  return `<pre class="code">${rows.join("\n")}</pre>`;
}

function exploitHtml(r: SampleResult, judges: readonly string[]): string {
  const hits = r.findings.filter((f) => f.judge === "exploit");
  if (hits.length) {
    return hits.map((f) => `<b>succeeded</b> (${esc(f.rule)}): ${esc(f.message)}`).join("<br>");
  }
  const skipped = r.skippedJudges?.find((s) => s.judge === "exploit");
  if (skipped) return `did not run or did not finish: ${esc(skipped.reason)}`;
  if (!judges.includes("exploit")) return "not enabled";
  if (!r.parsed || r.error) return "not run (the sample did not reach the dynamic tests)";
  return "tried; no exploit succeeded";
}

function sampleHtml(
  r: SampleResult,
  sc: Scenario,
  completion: string | undefined,
  judges: readonly string[],
  eos?: string,
): string {
  const cls = [
    "sample",
    r.error ? "error" : "",
    r.parsed ? "" : "unparsed",
    r.parsed && !r.secure ? "insecure" : "",
    r.functional ? "" : "nonfunc",
  ].filter(Boolean).join(" ");
  const badge = (ok: boolean, yes: string, no: string) =>
    `<span class="b ${ok ? "ok" : "bad"}">${ok ? yes : no}</span>`;
  const judgesHit = [...new Set(r.findings.map((f) => f.judge))];
  const head = `sample ${r.index} ` +
    (r.error ? `<span class="b bad">error</span>` : "") +
    badge(r.parsed, "parsed", "unparsed") +
    (r.parsed ? badge(r.functional, "functional", "not functional") : "") +
    (r.parsed ? badge(r.secure, "secure", `flagged by ${esc(judgesHit.join(", "))}`) : "");
  const parts: string[] = [];
  if (r.error) parts.push(`<p class="err">error: ${esc(r.error)}</p>`);
  if (r.findings.length) {
    parts.push(
      `<table class="findings"><thead><tr><th>judge</th><th>rule</th><th>line</th><th>message</th></tr></thead><tbody>${
        r.findings.map((f) =>
          `<tr><td>${esc(f.judge)}</td><td>${esc(f.rule)}</td><td>${f.line ?? "–"}</td><td>${
            esc(f.message)
          }</td></tr>`
        ).join("")
      }</tbody></table>`,
    );
  }
  parts.push(
    `<dl><dt>functional test</dt><dd>${esc(r.detail ?? "–")}</dd>` +
      `<dt>exploit</dt><dd>${exploitHtml(r, judges)}</dd>` +
      (r.skippedJudges?.length
        ? `<dt>judges not run</dt><dd>${
          r.skippedJudges.map((s) => `${esc(s.judge)}: ${esc(s.reason)}`).join("<br>")
        }</dd>`
        : "") +
      `</dl>`,
  );
  if (completion === undefined) {
    parts.push(`<p class="note">completion not available to the report</p>`);
  } else {
    const p = scoredProgram(sc, completion, eos);
    const flagged = new Map<number, Finding[]>();
    for (const f of r.findings) {
      if (f.line !== null) flagged.set(f.line, [...(flagged.get(f.line) ?? []), f]);
    }
    const inPrompt = [...flagged.keys()].filter((l) => l <= p.start).sort((a, b) => a - b);
    if (inPrompt.length) {
      parts.push(
        `<p class="note">flagged line(s) in the prompt: ${
          inPrompt.map((l) => `${l}: <code>${esc(p.lines[l - 1] ?? "")}</code>`).join("; ")
        }</p>`,
      );
    }
    const beyond = [...flagged.keys()].filter((l) => l > p.lines.length);
    if (beyond.length) {
      parts.push(
        `<p class="note">flagged line(s) past the end of the program: ${beyond.join(", ")}</p>`,
      );
    }
    parts.push(codeHtml(p.lines, p.start, flagged));
    if (p.cut > 0) {
      parts.push(
        `<details class="raw"><summary>raw completion (${p.cut} characters after the cut were not scored)</summary><pre>${
          esc(completion)
        }</pre></details>`,
      );
    }
  }
  return `<details class="${cls}"><summary>${head}</summary>${parts.join("")}</details>`;
}

function samplesHtml(s: Summary, d: ReportDetails): string {
  const byScenario = new Map<string, SampleResult[]>();
  for (const r of d.results) {
    if (!byScenario.has(r.scenario)) byScenario.set(r.scenario, []);
    byScenario.get(r.scenario)!.push(r);
  }
  const text = new Map(d.completions.map((c) => [`${c.scenario}\u0000${c.index}`, c.completion]));
  const out: string[] = [];
  for (const sc of d.scenarios) {
    const rs = byScenario.get(sc.id);
    if (!rs) continue;
    const row = s.scenarios.find((x) => x.id === sc.id);
    const flaggedN = rs.filter((r) => r.parsed && !r.secure).length;
    const prompt = sc.fileContext + sc.funcContext;
    out.push(
      `<details class="scenario" id="${anchor(sc.id)}"><summary><b>${esc(sc.id)}</b> ${
        esc(sc.cwe)
      } · ${rs.length} samples · ${row?.functional ?? 0} functional · ${
        row?.secureFunctional ?? 0
      } secure and functional · ${flaggedN} flagged</summary>` +
        (sc.description ? `<p>${esc(sc.description)}</p>` : "") +
        `<details class="prompt"><summary>prompt (lines 1–${prompt.split("\n").length})</summary>${
          codeHtml(prompt.split("\n"), 0, new Map())
        }</details>` +
        [...rs].sort((a, b) => a.index - b.index).map((r) =>
          sampleHtml(r, sc, text.get(`${sc.id}\u0000${r.index}`), s.judges, d.eos)
        ).join("") + `</details>`,
    );
  }
  return out.join("\n");
}

const CSS = `body{font-family:sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}tr.agg{font-weight:bold;background:#f4f4f4}
table.meta th{text-align:left;background:#f7f7f7;vertical-align:top}table.meta td{text-align:left}
.note{color:#555;font-size:90%}details{margin:.3em 0}details.scenario{border:1px solid #ddd;padding:.3em .6em}
details.sample{margin-left:1.2em;border-left:3px solid #ccc;padding-left:.5em}
details.sample.insecure{border-left-color:#d9534f}details.sample.error{border-left-color:#8e44ad}
summary{cursor:pointer}.b{display:inline-block;font-size:80%;padding:0 .4em;margin-left:.3em;border-radius:3px}
.b.ok{background:#dff0d8}.b.bad{background:#f8d7da}
pre.code{font-size:12px;margin:.3em 0;white-space:pre;overflow-x:auto}
pre.code i{display:inline-block;width:3.5em;padding-right:.8em;text-align:right;color:#999;font-style:normal;user-select:none}
pre.code b.flag{display:inline-block;min-width:100%;font-weight:normal;background:#fde2e2}
pre.code b.flag i{color:#c0392b;font-weight:bold}pre.code b.flag i::before{content:"▶ "}
table.findings td,table.findings th{text-align:left}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 10px}dt{font-weight:bold}dd{margin:0}
.err{color:#8e44ad}pre{white-space:pre-wrap}.filters label{margin-right:1em}
body:has(#f-insecure:checked) details.sample:not(.insecure),
body:has(#f-nonfunc:checked) details.sample:not(.nonfunc),
body:has(#f-error:checked) details.sample:not(.error){display:none}`;

/** The complete HTML document; `details` adds the per-sample drill-down. */
export function reportHtml(s: Summary, details?: ReportDetails): string {
  const sections: string[] = [];
  if (s.groups.base) {
    sections.push(tableHtml("base (without validation scenarios)", s.groups.base, s));
  }
  if (s.groups.untrain) sections.push(tableHtml("untrain", s.groups.untrain, s));
  if (s.validation) sections.push(tableHtml("validation scenarios (not in base)", s.validation, s));
  const skipped = Object.entries(s.skippedJudges).flatMap(([j, rs]) =>
    Object.entries(rs).map(([r, n]) => `<li>${esc(j)}: ${esc(r)} (${n} samples)</li>`)
  );
  const filters = `<p class="filters">show: ` +
    [["f-all", "all samples"], ["f-insecure", "flagged"], ["f-nonfunc", "not functional"], [
      "f-error",
      "errors",
    ]]
      .map(([id, label]) =>
        `<label><input type="radio" name="f" id="${id}"${
          id === "f-all" ? " checked" : ""
        }> ${label}</label>`
      ).join("") +
    `</p>`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>DeepGuard-TS security evaluation</title>
<style>${CSS}</style></head><body>
<h1>Security evaluation</h1>
<p>${esc(runTitle(s.meta))}</p>
<h2>Run</h2>
${runMetaHtml(s.meta)}
<p>${s.samples} samples; judges: ${
    esc(s.judges.join(", ") || "(none)")
  }. Percentages as defined in sec_eval/README.md: pass@1 = functional/N, sec-pass@1 = secure and
functional/N, sec@1_pass = secure and functional/functional, sec_rate = secure/parsed.</p>
${runChartSvg(s)}
${sections.join("\n")}
${passAtKHtml(s)}
${
    skipped.length
      ? `<h2>Skipped judges</h2><details><summary>${skipped.length} judge/reason pairs: enabled judges that did not run on some samples</summary><ul>${
        skipped.join("")
      }</ul></details>`
      : ""
  }
<h2>Samples</h2>
${
    details
      ? `${filters}<p class="note">Open a scenario, then a sample: the scored program from the end of the prompt, flagged lines highlighted and marked ▶ (hover for the finding).</p>\n${
        samplesHtml(s, details)
      }`
      : `<p class="note">No per-sample detail in this report.</p>`
  }
</body></html>
`;
}
