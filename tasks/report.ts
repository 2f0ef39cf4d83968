/**
 * `deno task report DIR… [--out DIR]`: puts several evaluation runs side by side (e.g. base vs
 * DeepGuard): a Markdown table on stdout, comparison.md and comparison.html (with a chart).
 * @module
 */
import { comparisonHtml, comparisonMarkdown, loadRun } from "../lib/pipeline/compare.ts";
import { defineFlags, runMain, UsageError } from "../lib/util/cli.ts";

const cli = defineFlags({
  out: {
    type: "outDir",
    help: "where comparison.md and comparison.html go (default: the first RUN_DIR)",
  },
}, {
  name: "report",
  positionals: "RUN_DIR [RUN_DIR…]",
  about: "RUN_DIR: an output directory of `deno task eval` (or `score`) holding summary.json",
  check: (_v, positionals) => {
    if (!positionals.length) throw new UsageError("give at least one run directory");
  },
});

await runMain(cli.usage, async () => {
  const { values, positionals } = cli.parse(Deno.args);
  const runs = await Promise.all(positionals.map(loadRun));
  const out = values.out ?? positionals[0];
  await Deno.mkdir(out, { recursive: true });
  const md = comparisonMarkdown(runs);
  await Deno.writeTextFile(`${out}/comparison.md`, md);
  await Deno.writeTextFile(`${out}/comparison.html`, comparisonHtml(runs));
  console.log(md);
  console.log(`report: ${out}/comparison.html`);
});
