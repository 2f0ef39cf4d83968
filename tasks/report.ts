/**
 * `deno task report DIR… [--out DIR]`: puts several evaluation runs side by side (e.g. every
 * method on one model): Markdown on stdout, comparison.md and comparison.html — first the paper's
 * table (runs by model and method × CWE, OVERALL, AVERAGE; base and untrain; Δ against the model's
 * `lm` run), then per report group, CWE and scenario pass@1 and sec-pass@1 with 95 % bootstrap
 * intervals, charts, the runs' metadata and the paper's numbers when the model is one of the
 * paper's. (Each run's own report.html is written by `eval`/`score`.)
 * @module
 */
import {
  compareRuns,
  comparisonHtml,
  comparisonMarkdown,
  loadRun,
} from "../lib/pipeline/compare.ts";
import { defineFlags, runMain, UsageError } from "../lib/util/cli.ts";
import { mergeShardRuns } from "../lib/pipeline/merge_shards.ts";
import { summaryMarkdown } from "../lib/eval/report_md.ts";

const cli = defineFlags({
  out: {
    type: "outDir",
    help: "where comparison.md and comparison.html go (default: the first RUN_DIR)",
  },
  merge: {
    type: "outDir",
    help: "instead: join the RUN_DIRs, shards of one `eval --shard I/N` run, into this run\n" +
      "directory (completions, results, summary, report.html)",
  },
}, {
  name: "report",
  positionals: "RUN_DIR [RUN_DIR…]",
  about: "RUN_DIR: an output directory of `deno task eval` (or `score`) holding summary.json.\n" +
    "The paper's table comes first: a row per run (by model, labelled by method), Δ against the\n" +
    "lm run of the same model. In the interval tables Δ is against the first lm run (else the\n" +
    "first run); intervals are 95% bootstrap intervals over samples (seeded: the same runs always\n" +
    "give the same numbers).",
  check: (_v, positionals) => {
    if (!positionals.length) throw new UsageError("give at least one run directory");
  },
});

await runMain(cli.usage, async () => {
  const { values, positionals } = cli.parse(Deno.args);
  if (values.merge) {
    const summary = await mergeShardRuns(values.merge, positionals);
    console.log(summaryMarkdown(summary));
    console.log(`report: ${values.merge}/report.html`);
    return;
  }
  const runs = await Promise.all(positionals.map(loadRun));
  const out = values.out ?? positionals[0];
  await Deno.mkdir(out, { recursive: true });
  const comparison = compareRuns(runs);
  const md = comparisonMarkdown(comparison);
  await Deno.writeTextFile(`${out}/comparison.md`, md);
  await Deno.writeTextFile(`${out}/comparison.html`, comparisonHtml(comparison));
  console.log(md);
  console.log(`report: ${out}/comparison.html`);
});
