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
  const g = s.meta?.generation;
  if (g) {
    parts.push(
      `Run: ${g.method} · model ${g.model.path} (config.json sha256 ${
        g.model.configSha256?.slice(0, 12) ?? "?"
      })${g.adapter ? ` · adapter ${g.adapter.path}` : ""} · ${g.sampling.samples} samples, ` +
        `temperature ${g.sampling.temperature}, top-p ${g.sampling.topP}, seed ${g.sampling.seed}` +
        ` · commit ${s.meta!.tool.commit?.slice(0, 10) ?? "?"} · ${s.meta!.startedAt}.`,
      "",
    );
  }
  if (s.groups.base) parts.push(table("base (without validation scenarios)", s.groups.base, s));
  if (s.groups.untrain) parts.push(table("untrain", s.groups.untrain, s));
  if (s.validation) parts.push(table("validation scenarios (not in base)", s.validation, s));
  const p = s.passAtK;
  if (p && p.ks.length > 1) {
    parts.push(
      "## pass@k (unbiased estimator, mean over scenarios)",
      "",
      `| group | ${p.ks.map((k) => `pass@${k}`).join(" | ")} | ${
        p.ks.map((k) => `sec-pass@${k}`).join(" | ")
      } |`,
      `| --- |${" ---: |".repeat(2 * p.ks.length)}`,
      ...Object.entries(p.groups).flatMap(([name, r]) =>
        r
          ? [
            `| ${name} | ${p.ks.map((k) => f(r.pass[k])).join(" | ")} | ${
              p.ks.map((k) => f(r.secPass[k])).join(" | ")
            } |`,
          ]
          : []
      ),
      "",
    );
  }
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
