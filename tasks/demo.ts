/**
 * `deno task demo` (the README's main job): every method of the paper's table on an embedded
 * default, in a few minutes on a CPU —
 *   1. make a tiny random Qwen2-style checkpoint and write the project's 20 demo pairs;
 *   2. per method of lib/pipeline/demo_methods.ts (lm, text, cosec, deepguard): train it for a few
 *      steps where it trains (`train …`), then evaluate it on the 13 demo scenarios (`eval …`);
 *   3. put all runs in the paper's table (`report`), print it and where the report is.
 * The steps run the `train` and `eval` tasks with the flags a user would type.
 * A tiny random model writes gibberish, so its scores are near zero: the point is the pipeline.
 * @module
 */
import { PROJECT_ROOT } from "../lib/util/paths.ts";
import { makeTiny } from "../lib/model/tiny.ts";
import { DEMO_SCENARIOS, writeDemoTrainingData } from "../lib/pipeline/demo_data.ts";
import { DEMO_METHODS, expandFlags } from "../lib/pipeline/demo_methods.ts";
import { comparisonHtml, comparisonMarkdown, loadRun } from "../lib/pipeline/compare.ts";
import { paperTableMarkdown } from "../lib/pipeline/paper_table.ts";
import { runWithTimeout } from "../lib/util/spawn.ts";
import { defineFlags, runMain } from "../lib/util/cli.ts";

const cli = defineFlags({
  out: {
    type: "outDir",
    default: `${PROJECT_ROOT}/runs/demo`,
    help: "demo folder (emptied first): tiny-qwen2/, data/, train-*/, eval-*/, comparison.*",
  },
  steps: { type: "int", min: 1, default: 12, help: "training steps of each trained method" },
  samples: { type: "int", min: 1, default: 2, help: "samples per scenario" },
}, { name: "demo" });

/** Runs `deno task <task> args` (its progress on stderr shown); throws with its output on failure. */
async function task(name: string, args: string[]): Promise<void> {
  const r = await runWithTimeout(
    Deno.execPath(),
    ["run", "-A", `${PROJECT_ROOT}/tasks/${name}.ts`, ...args],
    { stderr: "inherit" },
  );
  if (!r.success) {
    const out = new TextDecoder().decode(r.stdout).slice(-2000);
    throw new Error(`demo: \`${name} ${args.join(" ")}\` failed (exit ${r.code})\n${out}`);
  }
}

await runMain(cli.usage, async () => {
  const { out, steps, samples } = cli.parse(Deno.args).values;
  await Deno.remove(out, { recursive: true }).catch(() => {});
  const t0 = performance.now();
  const say = (msg: string) =>
    console.log(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${msg}`);

  const model = `${out}/tiny-qwen2`;
  const n = await writeDemoTrainingData(`${out}/data`);
  say(`1/3 making a tiny random qwen2 checkpoint; ${n} demo pairs in ${out}/data`);
  await makeTiny("qwen2", model, { seed: 0, layers: 4 });

  const shared = [
    ...["--model", model, "--eval-type", "all", "--scenarios", DEMO_SCENARIOS],
    ...["--samples", `${samples}`, "--per-call", `${samples}`, "--temperature", "0.1"],
    ...["--top-p", "0.95", "--max-new-tokens", "48", "--seed", "1", "--dtype", "f32"],
    ...["--device", "cpu"],
  ];
  const runs: string[] = [];
  for (const [i, m] of DEMO_METHODS.entries()) {
    const step = `2/3 [${i + 1}/${DEMO_METHODS.length}] ${m.method}`;
    const trainDir = `${out}/train-${m.method}`;
    if (m.train) {
      say(`${step}: training (${steps} steps) → ${trainDir}`);
      const flags = expandFlags(m.train, { steps: `${steps}` });
      await task("train", ["--model", model, "--data", `${out}/data`, "--out", trainDir, ...flags]);
    }
    const evalDir = `${out}/eval-${m.method}`;
    say(`${step}: ${m.about}, 13 demo scenarios × ${samples} samples → ${evalDir}`);
    const flags = expandFlags(m.eval, { train: trainDir });
    await task("eval", ["--method", m.method, ...flags, ...shared, "--out", evalDir]);
    runs.push(evalDir);
  }

  say("3/3 report");
  const loaded = await Promise.all(runs.map(loadRun));
  await Deno.writeTextFile(`${out}/comparison.md`, comparisonMarkdown(loaded));
  await Deno.writeTextFile(`${out}/comparison.html`, comparisonHtml(loaded));
  console.log("\n" + paperTableMarkdown(loaded));
  console.log(
    `Report: ${out}/comparison.html, ${out}/comparison.md (the paper's table first, then ` +
      `intervals per CWE and scenario); per run: ${out}/eval-*/report.html\n`,
  );
  console.log(
    "Note: the demo model is a tiny random network, so it writes gibberish and scores near zero.\n" +
      "With a real checkpoint (e.g. Qwen2.5-Coder-1.5B) and the upstream data and scenarios:\n\n" +
      "  ./dg train --model ~/models/Qwen2.5-Coder-1.5B --data ../shared/data/sven --out runs/qwen15\n" +
      "  ./dg eval --model ~/models/Qwen2.5-Coder-1.5B --adapter runs/qwen15/best --method deepguard \\\n" +
      "      --eval-type base --out runs/qwen15-eval\n",
  );
});
