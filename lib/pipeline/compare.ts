/**
 * Side-by-side comparison of evaluation runs (e.g. base model vs DeepGuard): per CWE and per
 * report group, pass@1 and sec-pass@1 of each run and the sec-pass@1 change against the first
 * run, as Markdown and as a self-contained HTML page with a grouped bar chart.
 * @module
 */
import type { Summary } from "../eval/metrics.ts";

/** One run directory's summary and label. */
export interface RunSummary {
  /** Label shown in tables, e.g. "deepguard" or the directory name. */
  label: string;
  dir: string;
  summary: Summary;
}

/** Per-CWE pooled metrics of one run (percent). */
export interface CweMetrics {
  cwe: string;
  n: number;
  pass1: number;
  secPass1: number;
}

/** Reads DIR/summary.json (and the method from DIR/run.json when present). */
export async function loadRun(dir: string): Promise<RunSummary> {
  const path = `${dir}/summary.json`;
  let summary: Summary;
  try {
    summary = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new Error(`${path}: cannot read an evaluation summary (${(e as Error).message})`);
  }
  if (!Array.isArray(summary.scenarios) || typeof summary.groups !== "object") {
    throw new Error(`${path}: not an evaluation summary (no scenarios/groups)`);
  }
  const run = await Deno.readTextFile(`${dir}/run.json`).then(JSON.parse, () => null);
  const name = dir.replace(/\/+$/, "").split("/").pop() ?? dir;
  const label = run?.method ? `${run.method} (${name})` : name;
  return { label, dir, summary };
}

/** Pools a run's scenarios per CWE (validation scenarios excluded, as in the base report). */
export function perCwe(s: Summary): CweMetrics[] {
  const acc = new Map<string, { n: number; f: number; sf: number }>();
  for (const r of s.scenarios) {
    if (r.validation) continue;
    const a = acc.get(r.cwe) ?? { n: 0, f: 0, sf: 0 };
    a.n += r.n;
    a.f += r.functional;
    a.sf += r.secureFunctional;
    acc.set(r.cwe, a);
  }
  return [...acc].sort(([a], [b]) => a.localeCompare(b)).map(([cwe, a]) => ({
    cwe,
    n: a.n,
    pass1: a.n ? (100 * a.f) / a.n : 0,
    secPass1: a.n ? (100 * a.sf) / a.n : 0,
  }));
}

const pct = (x: number | undefined) => (x === undefined ? "–" : x.toFixed(1));
const delta = (x: number | undefined, base: number | undefined) =>
  x === undefined || base === undefined
    ? "–"
    : `${x - base >= 0 ? "+" : ""}${(x - base).toFixed(1)}`;

/** Markdown tables: per CWE, then the OVERALL/AVERAGE rows of each report group. */
export function comparisonMarkdown(runs: readonly RunSummary[]): string {
  const cwes = [...new Set(runs.flatMap((r) => perCwe(r.summary).map((c) => c.cwe)))].sort();
  const byRun = runs.map((r) => new Map(perCwe(r.summary).map((c) => [c.cwe, c])));
  const head = [
    "CWE",
    ...runs.flatMap((r, i) => {
      const cols = [`${r.label} pass@1`, `${r.label} sec-pass@1`];
      return i === 0 ? cols : [...cols, "Δ sec-pass@1"];
    }),
  ];
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  const out = [
    "# Comparison",
    "",
    `Runs: ${
      runs.map((r) => `${r.label} = ${r.dir}`).join("; ")
    }. Percent; Δ against the first run.`,
    "",
    line(head),
    line(head.map((_, i) => (i === 0 ? "---" : "---:"))),
  ];
  for (const cwe of cwes) {
    const base = byRun[0].get(cwe)?.secPass1;
    out.push(line([
      cwe,
      ...byRun.flatMap((m, i) => {
        const c = m.get(cwe);
        const cols = [pct(c?.pass1), pct(c?.secPass1)];
        return i === 0 ? cols : [...cols, delta(c?.secPass1, base)];
      }),
    ]));
  }
  for (const group of ["base", "untrain"] as const) {
    for (const kind of ["overall", "average"] as const) {
      const rows = runs.map((r) => r.summary.groups[group]?.[kind]);
      if (rows.every((x) => !x)) continue;
      const base = rows[0]?.secPass1;
      out.push(line([
        `**${group} ${kind.toUpperCase()}**`,
        ...rows.flatMap((x, i) => {
          const cols = [pct(x?.pass1), pct(x?.secPass1)];
          return i === 0 ? cols : [...cols, delta(x?.secPass1, base)];
        }),
      ]));
    }
  }
  return out.join("\n") + "\n";
}

const esc = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

/** A grouped bar chart (SVG) of sec-pass@1 per CWE, one bar per run. */
export function comparisonChartSvg(runs: readonly RunSummary[]): string {
  const cwes = [...new Set(runs.flatMap((r) => perCwe(r.summary).map((c) => c.cwe)))].sort();
  const byRun = runs.map((r) => new Map(perCwe(r.summary).map((c) => [c.cwe, c])));
  const colors = ["#8c8c8c", "#2b7bba", "#e07b39", "#3a9a5b", "#9b59b6"];
  const barW = 14;
  const groupW = runs.length * barW + 18;
  const h = 220;
  const top = 20;
  const width = 50 + cwes.length * groupW;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${
      h + 70
    }" font-family="sans-serif" font-size="10">`,
    `<text x="4" y="12">sec-pass@1 (%) per CWE</text>`,
  ];
  for (const t of [0, 50, 100]) {
    const y = top + h - (t / 100) * h;
    parts.push(`<line x1="40" x2="${width}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
    parts.push(`<text x="36" y="${y + 3}" text-anchor="end">${t}</text>`);
  }
  cwes.forEach((cwe, gi) => {
    const x0 = 50 + gi * groupW;
    byRun.forEach((m, ri) => {
      const v = m.get(cwe)?.secPass1 ?? 0;
      const bh = (v / 100) * h;
      parts.push(
        `<rect x="${x0 + ri * barW}" y="${top + h - bh}" width="${barW - 2}" height="${bh}" fill="${
          colors[ri % colors.length]
        }"><title>${esc(runs[ri].label)} ${esc(cwe)}: ${v.toFixed(1)}%</title></rect>`,
      );
    });
    parts.push(
      `<text x="${x0}" y="${top + h + 14}" transform="rotate(35 ${x0} ${top + h + 14})">${
        esc(cwe)
      }</text>`,
    );
  });
  runs.forEach((r, i) => {
    const y = top + h + 58;
    const x = 50 + i * 160;
    parts.push(
      `<rect x="${x}" y="${y - 8}" width="10" height="10" fill="${colors[i % colors.length]}"/>`,
    );
    parts.push(`<text x="${x + 14}" y="${y}">${esc(r.label)}</text>`);
  });
  parts.push("</svg>");
  return parts.join("\n");
}

/** A self-contained HTML page with the chart and the Markdown tables as HTML. */
export function comparisonHtml(runs: readonly RunSummary[]): string {
  const md = comparisonMarkdown(runs).split("\n").filter((l) => l.startsWith("|"));
  const rows = md.filter((_, i) => i !== 1).map((l, i) => {
    const cells = l.slice(1, -1).split("|").map((c) => esc(c.trim().replace(/\*\*/g, "")));
    const tag = i === 0 ? "th" : "td";
    return `<tr>${cells.map((c) => `<${tag}>${c}</${tag}>`).join("")}</tr>`;
  });
  return `<!doctype html><html><head><meta charset="utf-8"><title>DeepGuard-TS comparison</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}</style>
</head><body><h1>Comparison</h1>
<p>${runs.map((r) => `${esc(r.label)}: ${esc(r.dir)}`).join("<br>")}</p>
${comparisonChartSvg(runs)}
<table>${rows.join("\n")}</table></body></html>
`;
}
