/**
 * `deno task report DIR… [--out DIR]`: puts several evaluation runs side by side (e.g. base vs
 * DeepGuard): a Markdown table on stdout, comparison.md and comparison.html (with a chart).
 * @module
 */
import { comparisonHtml, comparisonMarkdown, loadRun } from "../lib/pipeline/compare.ts";
import { parseFlags, runMain, UsageError } from "../lib/util/cli.ts";

const USAGE = `usage: deno task report RUN_DIR [RUN_DIR…] [--out DIR]

  RUN_DIR   an output directory of \`deno task eval\` (or \`score\`): needs summary.json
  --out     where comparison.md and comparison.html go (default: the first RUN_DIR)`;

await runMain(USAGE, async () => {
  const flags = parseFlags(Deno.args, { out: { type: "string" } }, true);
  if (!flags.positionals.length) throw new UsageError("give at least one run directory");
  const runs = await Promise.all(flags.positionals.map(loadRun));
  const out = (flags.values.out as string | undefined) ?? flags.positionals[0];
  await Deno.mkdir(out, { recursive: true });
  const md = comparisonMarkdown(runs);
  await Deno.writeTextFile(`${out}/comparison.md`, md);
  await Deno.writeTextFile(`${out}/comparison.html`, comparisonHtml(runs));
  console.log(md);
  console.log(`report: ${out}/comparison.html`);
});
