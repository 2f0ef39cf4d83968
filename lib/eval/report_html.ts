/**
 * Self-contained HTML report (report.html): the Markdown tables as HTML plus an
 * inline SVG bar chart of pass@1, sec-pass@1 and sec_rate per CWE.
 *
 * @module
 */

import type { GroupSummary, MetricRow, Summary } from "./metrics.ts";

const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

const METRICS: { key: keyof MetricRow; label: string; color: string }[] = [
  { key: "pass1", label: "pass@1", color: "#4e79a7" },
  { key: "secPass1", label: "sec-pass@1", color: "#59a14f" },
  { key: "secRate", label: "sec_rate", color: "#f28e2b" },
];

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

/** Inline SVG grouped bar chart (one group per CWE, 0–100 %). */
export function barChartSvg(s: Summary): string {
  const rows = cweRows(s);
  const bw = 14, gap = 18, h = 200, top = 20, left = 40;
  const gw = METRICS.length * bw + gap;
  const w = left + rows.length * gw + 20;
  const y = (v: number) => top + h - (h * v) / 100;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${
      top + h + 70
    }" role="img" aria-label="metrics per CWE">`,
  ];
  for (const t of [0, 25, 50, 75, 100]) {
    parts.push(
      `<line x1="${left}" x2="${w - 10}" y1="${y(t)}" y2="${y(t)}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${y(t) + 4}" font-size="10" text-anchor="end">${t}</text>`,
    );
  }
  rows.forEach((r, i) => {
    const x0 = left + 8 + i * gw;
    METRICS.forEach((m, j) => {
      const v = r.values[m.key];
      parts.push(
        `<rect x="${x0 + j * bw}" y="${y(v)}" width="${bw - 2}" height="${
          (h * v) / 100
        }" fill="${m.color}"><title>${esc(r.cwe)} ${m.label}: ${v.toFixed(1)}%</title></rect>`,
      );
    });
    parts.push(
      `<text x="${x0 + (METRICS.length * bw) / 2}" y="${
        top + h + 14
      }" font-size="10" text-anchor="middle">${esc(r.cwe)}</text>`,
    );
  });
  METRICS.forEach((m, j) => {
    const lx = left + j * 110;
    parts.push(
      `<rect x="${lx}" y="${top + h + 30}" width="10" height="10" fill="${m.color}"/>`,
      `<text x="${lx + 14}" y="${top + h + 39}" font-size="11">${m.label}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("");
}

function tableHtml(title: string, g: GroupSummary, s: Summary): string {
  const rows = [...s.scenarios.filter((r) => g.scenarios.includes(r.id)), g.average, g.overall];
  const cells = (r: MetricRow) =>
    [r.n, r.parsed, r.functional, r.secure, r.secureFunctional].map((v) => `<td>${v}</td>`).join(
      "",
    ) +
    [r.pass1, r.secPass1, r.secAt1Pass, r.secRate].map((v) => `<td>${v.toFixed(1)}</td>`).join("");
  return `<h2>${esc(title)}</h2><table><thead><tr><th>scenario</th><th>N</th><th>parsed</th>` +
    `<th>functional</th><th>secure</th><th>sec+func</th><th>pass@1</th><th>sec-pass@1</th>` +
    `<th>sec@1_pass</th><th>sec_rate</th></tr></thead><tbody>` +
    rows.map((r) =>
      `<tr${r.id === "AVERAGE" || r.id === "OVERALL" ? ' class="agg"' : ""}><td>${esc(r.id)}</td>${
        cells(r)
      }</tr>`
    ).join("") + `</tbody></table>`;
}

/** The complete HTML document. */
export function reportHtml(s: Summary): string {
  const sections: string[] = [];
  if (s.groups.base) {
    sections.push(tableHtml("base (without validation scenarios)", s.groups.base, s));
  }
  if (s.groups.untrain) sections.push(tableHtml("untrain", s.groups.untrain, s));
  if (s.validation) sections.push(tableHtml("validation scenarios (not in base)", s.validation, s));
  const skipped = Object.entries(s.skippedJudges).flatMap(([j, rs]) =>
    Object.entries(rs).map(([r, n]) => `<li>${esc(j)}: ${esc(r)} (${n} samples)</li>`)
  );
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>DeepGuard-TS security evaluation</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1.5em}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child{text-align:left}
tr.agg{font-weight:bold;background:#f4f4f4}</style></head><body>
<h1>Security evaluation</h1>
<p>${s.samples} samples; judges: ${
    esc(s.judges.join(", ") || "(none)")
  }. Percentages as defined in sec_eval/README.md.</p>
<h2>Per CWE (mean over scenarios)</h2>
${barChartSvg(s)}
${sections.join("\n")}
${skipped.length ? `<h2>Skipped judges</h2><ul>${skipped.join("")}</ul>` : ""}
</body></html>
`;
}
