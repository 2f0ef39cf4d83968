/**
 * Side-by-side comparison of evaluation runs (e.g. base model vs DeepGuard): per report group,
 * per CWE and per scenario, pass@1 and sec-pass@1 of each run with 95 % bootstrap intervals over
 * samples, and their change (Δ) against the reference run — the `lm` run when there is one, else
 * the first — with an interval for the Δ too. Rendered as Markdown and as a self-contained HTML
 * page (legend, charts, tables, the runs' metadata, the paper's numbers when the model is one of
 * the paper's). The bootstrap is seeded, so the same runs always give the same page.
 * @module
 */
import {
  averageReplicates,
  BOOTSTRAP_REPS,
  BOOTSTRAP_SEED,
  bootstrapScenarios,
  difference,
  type Interval,
  percentileInterval,
  pooledReplicates,
  type Replicates,
} from "../eval/bootstrap.ts";
import type { Summary } from "../eval/metrics.ts";
import { PAPER_RESULTS, PAPER_SOURCE, paperResultFor } from "../eval/paper_results.ts";
import { barChartSvg, esc } from "../eval/report_svg.ts";
import { paperTableHtml, paperTableMarkdown } from "./paper_table.ts";

/** One run directory's summary and label. */
export interface RunSummary {
  /** Label shown in tables, e.g. "deepguard (eval-dg)" or the directory name. */
  label: string;
  /** The run directory. */
  dir: string;
  /** Its summary.json. */
  summary: Summary;
  /** Generation method (`lm`, `deepguard`) from the run's metadata or run.json; null if unknown. */
  method: string | null;
}

/** Reads DIR/summary.json (and the method from its metadata or DIR/run.json). */
export async function loadRun(dir: string): Promise<RunSummary> {
  const path = `${dir}/summary.json`;
  let summary: Summary;
  try {
    summary = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new Error(`${path}: cannot read an evaluation summary (${(e as Error).message})`);
  }
  if (!Array.isArray(summary?.scenarios) || typeof summary.groups !== "object") {
    throw new Error(`${path}: not an evaluation summary (no scenarios/groups)`);
  }
  const run = await Deno.readTextFile(`${dir}/run.json`).then(JSON.parse, () => null);
  const method: string | null = summary.meta?.generation?.method ?? run?.method ?? null;
  const name = dir.replace(/\/+$/, "").split("/").pop() ?? dir;
  return { label: method ? `${method} (${name})` : name, dir, summary, method };
}

/** The reference run of a comparison: the first `lm` run, else the first run. */
export function referenceIndex(runs: readonly RunSummary[]): number {
  return Math.max(0, runs.findIndex((r) => r.method === "lm"));
}

/** One run's numbers in one row (percent), with 95 % intervals and the Δ against the reference. */
export interface Cell {
  /** Samples behind the row. */
  n: number;
  /** pass@1 (percent). */
  pass1: number;
  /** sec-pass@1 (percent). */
  secPass1: number;
  /** 95 % bootstrap interval of pass@1. */
  pass1Ci: Interval;
  /** 95 % bootstrap interval of sec-pass@1. */
  secPass1Ci: Interval;
  /** Absent for the reference run and where the reference has no such row. */
  delta?: { pass1: number; secPass1: number; pass1Ci: Interval; secPass1Ci: Interval };
}

/** One row of a comparison table: a key (group, CWE or scenario) and a cell per run. */
export interface ComparisonRow {
  /** Group (e.g. "base OVERALL"), CWE or scenario id. */
  key: string;
  /** One cell per run, null where the run has no such row. */
  cells: (Cell | null)[];
}

/** Everything the Markdown and HTML renderings show. */
export interface Comparison {
  /** The runs, in the order given. */
  runs: RunSummary[];
  /** Index of the reference run (every Δ is against it). */
  ref: number;
  /** OVERALL and AVERAGE of `base` and `untrain`. */
  groups: ComparisonRow[];
  /** Per CWE (validation scenarios excluded). */
  cwes: ComparisonRow[];
  /** Per scenario. */
  scenarios: ComparisonRow[];
  /** Bootstrap replicates. */
  reps: number;
  /** Bootstrap seed (run i uses seed + i). */
  seed: number;
}

type Series = { pass1: Float64Array; secPass1: Float64Array };

/** Computes every table of the comparison (bootstrap: `reps` replicates, seed + run index). */
export function compareRuns(
  runs: readonly RunSummary[],
  opts: { reps?: number; seed?: number } = {},
): Comparison {
  const reps = opts.reps ?? BOOTSTRAP_REPS, seed = opts.seed ?? BOOTSTRAP_SEED;
  const ref = referenceIndex(runs);
  const boots: Replicates[] = runs.map((r, i) =>
    bootstrapScenarios(r.summary.scenarios, reps, seed + i)
  );
  const row = (
    key: string,
    select: (s: Summary) => number[] | null,
    kind: "pooled" | "average",
  ): ComparisonRow | null => {
    const raw = runs.map((r, i) => {
      const idx = select(r.summary);
      if (!idx?.length) return null;
      const series: Series = kind === "pooled"
        ? pooledReplicates(boots[i], idx)
        : averageReplicates(boots[i], idx);
      const rows = idx.map((j) => r.summary.scenarios[j]);
      const n = rows.reduce((a, x) => a + x.n, 0);
      const point = kind === "pooled"
        ? {
          pass1: n ? (100 * rows.reduce((a, x) => a + x.functional, 0)) / n : 0,
          secPass1: n ? (100 * rows.reduce((a, x) => a + x.secureFunctional, 0)) / n : 0,
        }
        : {
          pass1: rows.reduce((a, x) => a + x.pass1, 0) / rows.length,
          secPass1: rows.reduce((a, x) => a + x.secPass1, 0) / rows.length,
        };
      return { n, ...point, series };
    });
    if (raw.every((x) => !x)) return null;
    const base = raw[ref];
    return {
      key,
      cells: raw.map((c, i) => {
        if (!c) return null;
        const cell: Cell = {
          n: c.n,
          pass1: c.pass1,
          secPass1: c.secPass1,
          pass1Ci: percentileInterval(c.series.pass1),
          secPass1Ci: percentileInterval(c.series.secPass1),
        };
        if (i !== ref && base) {
          cell.delta = {
            pass1: c.pass1 - base.pass1,
            secPass1: c.secPass1 - base.secPass1,
            pass1Ci: percentileInterval(difference(c.series.pass1, base.series.pass1)),
            secPass1Ci: percentileInterval(difference(c.series.secPass1, base.series.secPass1)),
          };
        }
        return cell;
      }),
    };
  };
  const indices = (s: Summary, pred: (r: Summary["scenarios"][number]) => boolean) =>
    s.scenarios.flatMap((r, j) => (pred(r) ? [j] : []));
  const groups: ComparisonRow[] = [];
  for (
    const [name, pred] of [
      ["base", (r: Summary["scenarios"][number]) => r.evalType === "base" && !r.validation],
      ["untrain", (r: Summary["scenarios"][number]) => r.evalType === "untrain"],
    ] as const
  ) {
    for (const kind of ["pooled", "average"] as const) {
      const label = `${name} ${kind === "pooled" ? "OVERALL" : "AVERAGE"}`;
      const r = row(label, (s) => indices(s, pred), kind);
      if (r) groups.push(r);
    }
  }
  const cweNames = [
    ...new Set(
      runs.flatMap((r) => r.summary.scenarios.filter((x) => !x.validation).map((x) => x.cwe)),
    ),
  ].sort();
  const cwes = cweNames.map((cwe) =>
    row(cwe, (s) => indices(s, (r) => r.cwe === cwe && !r.validation), "pooled")!
  );
  const ids = [...new Set(runs.flatMap((r) => r.summary.scenarios.map((x) => x.id)))].sort();
  const validation = new Set(
    runs.flatMap((r) => r.summary.scenarios.filter((x) => x.validation).map((x) => x.id)),
  );
  const scenarios = ids.map((id) =>
    row(
      validation.has(id) ? `${id} (validation)` : id,
      (s) => indices(s, (r) => r.id === id),
      "pooled",
    )!
  );
  return { runs: [...runs], ref, groups, cwes, scenarios, reps, seed };
}

const f1 = (x: number) => x.toFixed(1);
const signed = (x: number) => `${x >= 0 ? "+" : ""}${x.toFixed(1)}`;
const ci = (c: Interval, sign = false) =>
  sign ? `[${signed(c.lo)}, ${signed(c.hi)}]` : `[${f1(c.lo)}, ${f1(c.hi)}]`;

/** Column headings of a comparison table (per run: pass@1, sec-pass@1, and the Δs off the reference). */
export function columns(c: Comparison): string[] {
  return c.runs.flatMap((r, i) => {
    const cols = [`${r.label} pass@1`, `${r.label} sec-pass@1`];
    return i === c.ref ? cols : [...cols, `${r.label} Δ pass@1`, `${r.label} Δ sec-pass@1`];
  });
}

/** The text of a row's cells, in {@link columns} order ("–" where a run lacks the row). */
export function cellTexts(c: Comparison, row: ComparisonRow): string[] {
  return row.cells.flatMap((cell, i) => {
    const width = i === c.ref ? 2 : 4;
    if (!cell) return Array(width).fill("–");
    const out = [
      `${f1(cell.pass1)} ${ci(cell.pass1Ci)}`,
      `${f1(cell.secPass1)} ${ci(cell.secPass1Ci)}`,
    ];
    if (i === c.ref) return out;
    const d = cell.delta;
    return d
      ? [
        ...out,
        `${signed(d.pass1)} ${ci(d.pass1Ci, true)}`,
        `${signed(d.secPass1)} ${ci(d.secPass1Ci, true)}`,
      ]
      : [...out, "–", "–"];
  });
}

/** A one-paragraph explanation of the tables (shared by Markdown and HTML). */
export function legendText(c: Comparison): string {
  return `Percent. pass@1 = functional samples / N; sec-pass@1 = secure and functional samples / N ` +
    `(sec_eval/README.md). OVERALL pools the samples of a group's scenarios, AVERAGE is the mean of ` +
    `the scenarios' percentages; per-CWE rows pool the CWE's scenarios (validation scenarios ` +
    `excluded). Δ = run − reference run "${
      c.runs[c.ref]?.label ?? "–"
    }" (the lm run when there is ` +
    `one), in points. [lo, hi] = 95 % percentile bootstrap interval over samples (each scenario's ` +
    `samples resampled with replacement, ${c.reps} replicates, seed ${c.seed}; for Δ the runs are ` +
    `resampled independently). "–" = the run has no such row.`;
}

/**
 * Markdown: runs, the paper's table (lib/pipeline/paper_table.ts), then the legend of the interval
 * tables and the group, per-CWE and per-scenario tables.
 */
export function comparisonMarkdown(runs: readonly RunSummary[] | Comparison): string {
  const c = "ref" in runs ? runs : compareRuns(runs);
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  const table = (first: string, rows: ComparisonRow[], bold = false) => {
    const head = [first, ...columns(c)];
    return [
      line(head),
      line(head.map((_, i) => (i === 0 ? "---" : "---:"))),
      ...rows.map((r) => line([bold ? `**${r.key}**` : r.key, ...cellTexts(c, r)])),
      "",
    ];
  };
  return [
    "# Comparison",
    "",
    `Runs: ${c.runs.map((r) => `${r.label} = ${r.dir}`).join("; ")}.`,
    "",
    paperTableMarkdown(c.runs),
    "## With 95 % intervals",
    "",
    legendText(c),
    "",
    "## Report groups",
    "",
    ...table("group", c.groups, true),
    "## Per CWE",
    "",
    ...table("CWE", c.cwes),
    "## Per scenario",
    "",
    ...table("scenario", c.scenarios),
  ].join("\n");
}

const COLORS = ["#8c8c8c", "#2b7bba", "#e07b39", "#3a9a5b", "#9b59b6", "#c0392b", "#16a085"];

/** A table with a header row per run (its colour, label) over its metric columns. */
function htmlTable(c: Comparison, first: string, rows: ComparisonRow[]): string {
  const top = c.runs.map((r, i) =>
    `<th colspan="${i === c.ref ? 2 : 4}" class="run"><span class="sw" style="background:${
      COLORS[i % COLORS.length]
    }"></span>${esc(r.label)}${i === c.ref ? " (reference)" : ""}</th>`
  ).join("");
  const sub = c.runs.map((_, i) =>
    ["pass@1", "sec-pass@1", ...(i === c.ref ? [] : ["Δ pass@1", "Δ sec-pass@1"])]
      .map((h) => `<th>${h}</th>`).join("")
  ).join("");
  const td = (t: string) => {
    const m = /^(\S+) (\[.*\])$/.exec(t);
    const cls = /^-\d/.test(t)
      ? ' class="neg"'
      : /^\+\d/.test(t) && !/^\+0\.0 /.test(t)
      ? ' class="pos"'
      : "";
    return `<td${cls}>${m ? `${esc(m[1])} <small>${esc(m[2])}</small>` : esc(t)}</td>`;
  };
  const body = rows.map((r) => `<tr><td>${esc(r.key)}</td>${cellTexts(c, r).map(td).join("")}</tr>`)
    .join("");
  return `<table><thead><tr><th rowspan="2">${esc(first)}</th>${top}</tr><tr>${sub}</tr></thead>` +
    `<tbody>${body}</tbody></table>`;
}

function runsTable(c: Comparison): string {
  const rows = c.runs.map((r, i) => {
    const m = r.summary.meta, g = m?.generation;
    const cells = [
      `<span class="sw" style="background:${COLORS[i % COLORS.length]}"></span>${esc(r.label)}${
        i === c.ref ? " <b>(reference)</b>" : ""
      }`,
      esc(r.dir),
      g ? esc(g.model.path) : "–",
      g?.model.configSha256 ? `<code>${esc(g.model.configSha256.slice(0, 12))}</code>` : "–",
      g?.adapter ? esc(g.adapter.path) : "–",
      g
        ? esc(
          `${g.sampling.samples}×, T ${g.sampling.temperature}, top-p ${g.sampling.topP}, ` +
            `${g.sampling.maxNewTokens} tok, seed ${g.sampling.seed}`,
        )
        : "–",
      esc(m?.judges.join(", ") ?? r.summary.judges.join(", ")),
      m ? esc(`${m.tool.commit?.slice(0, 10) ?? "?"}${m.tool.dirty ? "+" : ""}`) : "–",
      m ? esc(m.startedAt.slice(0, 19).replace("T", " ")) : "–",
    ];
    return `<tr>${cells.map((x) => `<td>${x}</td>`).join("")}</tr>`;
  }).join("");
  return `<table class="runs"><thead><tr><th>run</th><th>directory</th><th>model</th>` +
    `<th>config.json sha256</th><th>adapter</th><th>sampling</th><th>judges</th><th>commit</th>` +
    `<th>started (UTC)</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** The paper's numbers beside ours, for runs whose model is one of the paper's. */
function paperHtml(c: Comparison): string {
  const ref = c.runs[c.ref];
  const base = c.groups.find((g) => g.key === "base OVERALL");
  const rows = c.runs.flatMap((r, i) => {
    const p = paperResultFor(r.summary.meta?.generation?.model);
    if (!p || r.method !== "deepguard") return [];
    const cell = base?.cells[i];
    return [
      `<tr><td>${esc(p.model)}</td><td>${esc(r.label)}</td><td>${
        p.deepguardPass1.toFixed(2)
      }</td>` +
      `<td>${cell ? f1(cell.pass1) : "–"}</td><td>+${p.secPass1Improvement.toFixed(2)}</td>` +
      `<td>${
        cell?.delta ? `${signed(cell.delta.secPass1)} (vs ${esc(ref.label)})` : "–"
      }</td></tr>`,
    ];
  });
  const head = `<table><thead><tr><th>paper model</th><th>our run</th><th>paper pass@1</th>` +
    `<th>our pass@1 (base OVERALL)</th><th>paper sec-pass@1 Imp.</th>` +
    `<th>our Δ sec-pass@1 (points)</th></tr></thead><tbody>`;
  const note = `<p class="note">Paper: ${esc(PAPER_SOURCE)}; it publishes DeepGuard's pass@1 and ` +
    `its sec-pass@1 improvement over the base model per model, nothing per CWE. The README does ` +
    `not say whether "Imp." is in points or relative; it is shown as printed. A run matches a ` +
    `paper model by its config.json shape; only DeepGuard runs are compared.</p>`;
  if (rows.length) return head + rows.join("") + `</tbody></table>` + note;
  return head + `<tr><td colspan="6">none of these runs is a DeepGuard run on one of the ` +
    `paper's models (${esc(PAPER_RESULTS.map((p) => p.model).join(", "))})</td></tr>` +
    `</tbody></table>` + note;
}

/**
 * A self-contained HTML page: runs, the paper's table, legend, charts per CWE with intervals, the
 * interval tables, the paper's published numbers.
 */
export function comparisonHtml(runs: readonly RunSummary[] | Comparison): string {
  const c = "ref" in runs ? runs : compareRuns(runs);
  const chart = (metric: "pass1" | "secPass1", title: string) =>
    barChartSvg({
      title,
      yLabel: "percent (95% bootstrap interval)",
      categories: c.cwes.map((r) => r.key),
      series: c.runs.map((r, i) => ({
        label: r.label,
        color: COLORS[i % COLORS.length],
        values: c.cwes.map((row) => row.cells[i]?.[metric] ?? null),
        intervals: c.cwes.map((row) => row.cells[i]?.[`${metric}Ci`] ?? null),
      })),
    });
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>DeepGuard-TS comparison</title>
<style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin-bottom:1.5em}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right;white-space:nowrap}
td:first-child,th:first-child{text-align:left}table.runs td,table.runs th,th.run{text-align:left}table.runs td{white-space:normal}
small{color:#666}
td.pos{background:#e6f4ea}td.neg{background:#fde8e8}.note{color:#555;font-size:90%;max-width:70em}
.sw{display:inline-block;width:11px;height:11px;margin-right:5px;vertical-align:middle}
.charts{display:flex;flex-wrap:wrap;gap:2em}</style>
</head><body><h1>Comparison</h1>
<h2>Runs</h2>
${runsTable(c)}
<h2>The paper's table</h2>
${paperTableHtml(c.runs)}
<h2>Legend</h2>
<p class="note">${esc(legendText(c))} Green: Δ above zero; red: below zero. Bars: the point
estimate, its value printed on the bar; whiskers: the 95% interval.</p>
<div class="charts">${chart("secPass1", "sec-pass@1 per CWE")}${
    chart("pass1", "pass@1 per CWE")
  }</div>
<h2>Report groups</h2>
${htmlTable(c, "group", c.groups)}
<h2>Per CWE</h2>
${htmlTable(c, "CWE", c.cwes)}
<h2>Per scenario</h2>
${htmlTable(c, "scenario", c.scenarios)}
<h2>The paper's numbers</h2>
${paperHtml(c)}
</body></html>
`;
}
