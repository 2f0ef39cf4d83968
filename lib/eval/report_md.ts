/**
 * Markdown rendering of a {@link Summary} (summary.md).
 *
 * @module
 */

import type { GroupSummary, MetricRow, Summary } from "./metrics.ts";

const f = (x: number) => x.toFixed(1);

function row(r: MetricRow): string {
  return `| ${r.id} | ${r.n} | ${r.parsed} | ${r.functional} | ${r.secure} | ${r.secureFunctional} | ${
    f(r.pass1)
  } | ${f(r.secPass1)} | ${f(r.secAt1Pass)} | ${f(r.secRate)} |`;
}

function table(title: string, g: GroupSummary, s: Summary): string {
  const rows = s.scenarios.filter((r) => g.scenarios.includes(r.id));
  return [
    `## ${title}`,
    "",
    "| scenario | N | parsed | functional | secure | sec+func | pass@1 | sec-pass@1 | sec@1_pass | sec_rate |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows.map(row),
    row(g.average).replace("| AVERAGE |", "| **AVERAGE** |"),
    row(g.overall).replace("| OVERALL |", "| **OVERALL** |"),
    "",
  ].join("\n");
}

/** Render the summary as Markdown tables (percentages with one decimal). */
export function summaryMarkdown(s: Summary): string {
  const parts = [
    "# Security evaluation",
    "",
    `${s.samples} samples; judges: ${s.judges.join(", ") || "(none)"}.`,
    "Metrics as in sec_eval/README.md: pass@1 = functional/N, sec-pass@1 = secure-and-functional/N,",
    "sec@1_pass = secure-and-functional/functional, sec_rate = secure/parsed (percent).",
    "",
  ];
  if (s.groups.base) parts.push(table("base (without validation scenarios)", s.groups.base, s));
  if (s.groups.untrain) parts.push(table("untrain", s.groups.untrain, s));
  if (s.validation) parts.push(table("validation scenarios (not in base)", s.validation, s));
  const skipped = Object.entries(s.skippedJudges);
  if (skipped.length) {
    parts.push("## Skipped judges", "");
    for (const [judge, reasons] of skipped) {
      for (const [reason, n] of Object.entries(reasons)) {
        parts.push(`- ${judge}: ${reason} (${n} samples)`);
      }
    }
    parts.push("");
  }
  const errs = s.scenarios.filter((r) => r.errors > 0);
  if (errs.length) {
    parts.push(
      "## Errors",
      "",
      ...errs.map((r) => `- ${r.id}: ${r.errors} samples with errors`),
      "",
    );
  }
  return parts.join("\n");
}
