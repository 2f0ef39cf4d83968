/**
 * The paper's table: evaluation runs as rows (grouped by model, each labelled by its method), the
 * CWEs of a report group as columns, then OVERALL and AVERAGE — for `base` and `untrain`, for
 * sec-pass@1 and pass@1 — with each run's Δ against the `lm` run of the same model. This is the
 * layout of the DeepGuard paper's result tables, so a set of runs reads as one table.
 *
 * OVERALL and AVERAGE follow upstream's `runs/correctness_eval.py`: OVERALL pools the samples of
 * the group's scenarios (Σ functional / Σ N, `flatten_results`), AVERAGE is the mean of the
 * scenarios' percentages (`print_csv`: the mean of the per-scenario rows). A CWE column pools the
 * CWE's scenarios. Validation scenarios are excluded, as upstream's `base` report excludes them.
 * @module
 */
import { aggregate, type MetricRow, type Summary } from "../eval/metrics.ts";
import { esc } from "../eval/report_svg.ts";
import type { RunSummary } from "./compare.ts";

/** Methods in the paper's row order (base model, baselines, DeepGuard); others follow. */
export const METHOD_ORDER = ["lm", "text", "prefix", "cosec", "deepguard"] as const;

/** The two report groups, as upstream's `--eval_type`. */
export const PAPER_GROUPS = ["base", "untrain"] as const;

/** One run's two metrics in one column (percent), and its Δ against the model's lm run. */
export interface PaperCell {
  /** pass@1, percent. */
  pass1: number;
  /** sec-pass@1, percent. */
  secPass1: number;
  /**
   * Points against the lm run of the same model; null for that lm run itself, when the model has
   * no lm run, or when the two runs cover different scenarios in this column.
   */
  delta: { pass1: number; secPass1: number } | null;
}

/** One row: a run. */
export interface PaperRow {
  /** The model's label (its directory name; "unknown model" when the run does not record it). */
  model: string;
  /** The method's label, distinct within the model (`deepguard`, `deepguard (run-b)`). */
  label: string;
  /** The method as recorded (null when the run does not say). */
  method: string | null;
  /** Index of the run in the runs given. */
  run: number;
  /** True for the model's reference: its first `lm` run. */
  reference: boolean;
  /** One cell per column of the group, null where the run has no scenario in it. */
  cells: (PaperCell | null)[];
}

/** The table of one report group. */
export interface PaperGroup {
  /** `base` or `untrain`. */
  group: (typeof PAPER_GROUPS)[number];
  /** The CWEs present (sorted), then `OVERALL` and `AVERAGE`. */
  columns: string[];
  /** Runs that have scenarios in the group, by model, in {@link METHOD_ORDER}. */
  rows: PaperRow[];
}

type ScenarioRow = Summary["scenarios"][number];

const inGroup = (g: string) => (r: ScenarioRow) => r.evalType === g && !r.validation;

/** Model label and identity: same directory name and same config.json hash = same model. */
function modelOf(r: RunSummary): { key: string; model: string } {
  const m = r.summary.meta?.generation?.model;
  if (!m) return { key: "", model: "unknown model" };
  const model = baseName(m.path);
  return { key: `${model}\0${m.configSha256 ?? ""}`, model };
}

const baseName = (p: string) => p.replace(/\/+$/, "").split("/").pop() || p;

/**
 * The runs in the paper's order, each with its model, a method label unique within the model
 * (the directory name added where a model has two runs of a method, a number where even that
 * repeats) and its reference: the model's first lm run.
 */
function orderRuns(runs: readonly RunSummary[]) {
  const rank = (m: string | null) => {
    const i = (METHOD_ORDER as readonly (string | null)[]).indexOf(m);
    return i < 0 ? METHOD_ORDER.length : i;
  };
  const items = runs.map((r, run) => ({ r, run, ...modelOf(r) }));
  const models = [...new Set(items.map((x) => x.key))];
  // Two models of one directory name: tell them apart by their config hash.
  const clash = items.filter((x) => items.some((y) => y.model === x.model && y.key !== x.key));
  for (const x of clash) {
    x.model += ` (${x.r.summary.meta?.generation?.model.configSha256?.slice(0, 8) ?? "?"})`;
  }
  items.sort((a, b) =>
    models.indexOf(a.key) - models.indexOf(b.key) || rank(a.r.method) - rank(b.r.method) ||
    a.run - b.run
  );
  const peers = (x: (typeof items)[number]) =>
    items.filter((y) => y.key === x.key && y.r.method === x.r.method);
  const labels = items.map((x) =>
    x.r.method === null
      ? baseName(x.r.dir)
      : peers(x).length > 1
      ? `${x.r.method} (${baseName(x.r.dir)})`
      : x.r.method
  );
  return items.map((x, i) => {
    const twins = items.filter((y, j) => y.key === x.key && labels[j] === labels[i]);
    const label = twins.length > 1 ? `${labels[i]} #${twins.indexOf(x) + 1}` : labels[i];
    const lm = items.find((y) => y.key === x.key && y.r.method === "lm");
    return { ...x, label, ref: lm?.run ?? null };
  });
}

/** A column's value for a set of scenario rows: pooled (CWEs, OVERALL) or mean (AVERAGE). */
function columnRow(rows: ScenarioRow[], column: string): MetricRow | null {
  if (!rows.length) return null;
  const g = aggregate(rows);
  return column === "AVERAGE" ? g.average : g.overall;
}

/** Computes the paper's table of `runs` (see the module doc); groups no run has are left out. */
export function paperTable(runs: readonly RunSummary[]): PaperGroup[] {
  const ordered = orderRuns(runs);
  const out: PaperGroup[] = [];
  for (const group of PAPER_GROUPS) {
    const of = (r: RunSummary) => r.summary.scenarios.filter(inGroup(group));
    const cwes = [...new Set(runs.flatMap((r) => of(r).map((s) => s.cwe)))].sort();
    if (!cwes.length) continue;
    const columns = [...cwes, "OVERALL", "AVERAGE"];
    const select = (r: RunSummary, col: string) =>
      of(r).filter((s) => col === "OVERALL" || col === "AVERAGE" || s.cwe === col);
    const ids = (rows: ScenarioRow[]) => rows.map((s) => s.id).sort().join("\n");
    const rows = ordered.filter((x) => of(x.r).length).map((x): PaperRow => ({
      model: x.model,
      label: x.label,
      method: x.r.method,
      run: x.run,
      reference: x.ref === x.run,
      cells: columns.map((col) => {
        const mine = select(x.r, col);
        const v = columnRow(mine, col);
        if (!v) return null;
        let delta: PaperCell["delta"] = null;
        if (x.ref !== null && x.ref !== x.run) {
          const theirs = select(runs[x.ref], col);
          const b = columnRow(theirs, col);
          if (b && ids(theirs) === ids(mine)) {
            delta = { pass1: v.pass1 - b.pass1, secPass1: v.secPass1 - b.secPass1 };
          }
        }
        return { pass1: v.pass1, secPass1: v.secPass1, delta };
      }),
    }));
    out.push({ group, columns, rows });
  }
  return out;
}

const METRICS = [["secPass1", "sec-pass@1"], ["pass1", "pass@1"]] as const;
const GROUP_TITLES = {
  base: "base (trained CWEs)",
  untrain: "untrain (CWEs held out of training)",
};

/** A cell as text: the value, and for a non-reference run its Δ in parentheses. */
function cellText(c: PaperCell | null, metric: "pass1" | "secPass1"): string {
  if (!c) return "–";
  const d = c.delta?.[metric];
  return d === undefined ? c[metric].toFixed(1) : `${c[metric].toFixed(1)} (${signed(d)})`;
}

/** A name in a Markdown table cell (a directory name may hold a `|`). */
const mdText = (s: string) => s.replaceAll("|", "\\|");

const signed = (x: number) => `${x >= 0 ? "+" : ""}${x.toFixed(1)}`;

/** What the paper's table shows, in words (Markdown and HTML). */
export const PAPER_LEGEND =
  "Percent; rows = runs by model, in the paper's order (lm, text, prefix, cosec, deepguard); " +
  "columns = each CWE of the group (its scenarios pooled), OVERALL = the group's samples pooled " +
  "(Σ passing / Σ N), AVERAGE = the mean of the group's scenario percentages, as upstream's " +
  "runs/correctness_eval.py; validation scenarios excluded. (±x) = Δ in points against the lm " +
  "run of the same model (same directory name and config.json hash), given where both runs " +
  'cover the same scenarios. "–" = the run has no scenario there.';

/** The paper's table as Markdown: per group, a sec-pass@1 and a pass@1 table. */
export function paperTableMarkdown(runs: readonly RunSummary[] | PaperGroup[]): string {
  const groups = isTable(runs) ? runs : paperTable(runs);
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  const parts = ["## The paper's table", "", PAPER_LEGEND, ""];
  for (const g of groups) {
    for (const [metric, name] of METRICS) {
      const head = ["model", "method", ...g.columns];
      parts.push(
        `### ${GROUP_TITLES[g.group]}: ${name}`,
        "",
        line(head),
        line(head.map((_, i) => (i < 2 ? "---" : "---:"))),
        ...g.rows.map((r) =>
          line([mdText(r.model), mdText(r.label), ...r.cells.map((c) => cellText(c, metric))])
        ),
        "",
      );
    }
  }
  if (!groups.length) parts.push("No run has a `base` or `untrain` scenario.", "");
  return parts.join("\n");
}

/** The method column is text: left-aligned (the page aligns only first cells left). */
const LEFT = ' style="text-align:left"';

/** The paper's table as an HTML section (model cells span their runs; Δ coloured). */
export function paperTableHtml(runs: readonly RunSummary[] | PaperGroup[]): string {
  const groups = isTable(runs) ? runs : paperTable(runs);
  const tables = groups.flatMap((g) =>
    METRICS.map(([metric, name]) => {
      const head = `<tr><th>model</th><th${LEFT}>method</th>${
        g.columns.map((c) => `<th>${esc(c)}</th>`).join("")
      }</tr>`;
      const body = g.rows.map((r, i) => {
        const span = g.rows.filter((x) => x.model === r.model).length;
        const first = i === 0 || g.rows[i - 1].model !== r.model;
        const model = first ? `<td rowspan="${span}">${esc(r.model)}</td>` : "";
        const cells = r.cells.map((c) => {
          const d = c?.delta?.[metric];
          const cls = d === undefined || Math.abs(d) < 0.05
            ? ""
            : d > 0
            ? ' class="pos"'
            : ' class="neg"';
          const text = c
            ? `${c[metric].toFixed(1)}${d === undefined ? "" : ` <small>(${signed(d)})</small>`}`
            : "–";
          return `<td${cls}>${text}</td>`;
        }).join("");
        return `<tr>${model}<td${LEFT}>${esc(r.label)}${
          r.reference ? " <small>(Δ base)</small>" : ""
        }</td>${cells}</tr>`;
      }).join("");
      return `<h3>${esc(GROUP_TITLES[g.group])}: ${name}</h3><table><thead>${head}</thead>` +
        `<tbody>${body}</tbody></table>`;
    })
  );
  return `<p class="note">${esc(PAPER_LEGEND)}</p>${
    tables.join("\n") || "<p>No run has a <code>base</code> or <code>untrain</code> scenario.</p>"
  }`;
}

function isTable(x: readonly RunSummary[] | PaperGroup[]): x is PaperGroup[] {
  return x.length > 0 && "columns" in x[0];
}
