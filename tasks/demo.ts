/**
 * `deno task demo` (the README's main job): the whole DeepGuard pipeline on an embedded default,
 * in a few minutes on a CPU —
 *   1. make a tiny random Qwen2-style checkpoint;
 *   2. train a DeepGuard adapter for a few steps on the project's 20 demo pairs;
 *   3. evaluate the base model and DeepGuard on the 13 demo scenarios (one per CWE);
 *   4. print the side-by-side table and the report path.
 * A tiny random model writes gibberish, so its scores are near zero: the point is the pipeline.
 * @module
 */
import { PROJECT_ROOT } from "../lib/util/paths.ts";
import { makeTiny } from "../lib/model/tiny.ts";
import { train } from "../lib/train/mod.ts";
import { runEvaluation } from "../lib/pipeline/evaluate.ts";
import { DEMO_SCENARIOS, writeDemoTrainingData } from "../lib/pipeline/demo_data.ts";
import { comparisonHtml, comparisonMarkdown, loadRun } from "../lib/pipeline/compare.ts";
import { defineFlags, runMain } from "../lib/util/cli.ts";

const cli = defineFlags({
  out: {
    type: "outDir",
    default: `${PROJECT_ROOT}/runs/demo`,
    help: "demo folder (emptied first): model/, data/, train/, eval-*/, comparison.*",
  },
  steps: { type: "int", min: 1, default: 12, help: "training steps" },
  samples: { type: "int", min: 1, default: 2, help: "samples per scenario" },
}, { name: "demo" });

await runMain(cli.usage, async () => {
  const { out, steps, samples } = cli.parse(Deno.args).values;
  await Deno.remove(out, { recursive: true }).catch(() => {});
  const t0 = performance.now();
  const say = (msg: string) =>
    console.log(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${msg}`);

  say("1/4 making a tiny random qwen2 checkpoint");
  const model = `${out}/model`;
  await makeTiny("qwen2", model, { seed: 0, layers: 4 });

  const n = await writeDemoTrainingData(`${out}/data`);
  say(`2/4 training a DeepGuard adapter: ${steps} steps on ${n} demo pairs`);
  const trained = await train({
    model,
    data: `${out}/data`,
    out: `${out}/train`,
    maxSteps: steps,
    batchSize: 4,
    gradAcc: 1,
    lr: 1e-3,
    epochs: 100,
    seed: 1,
  });
  say(`   adapter: ${trained.bestDir} (log: ${out}/train/train_log.jsonl)`);

  const sampling = {
    samples,
    perCall: samples,
    temperature: 0.1,
    topP: 0.95,
    maxNewTokens: 48,
    seed: 1,
  };
  const common = {
    model,
    evalType: "all" as const,
    scenarios: DEMO_SCENARIOS,
    sampling,
    dtype: "f32" as const,
    device: "cpu" as const,
  };
  say(`3/4 evaluating the base model on 13 demo scenarios × ${samples} samples`);
  await runEvaluation({ ...common, method: "lm", out: `${out}/eval-base` });
  say(`   evaluating DeepGuard (adapter + security-guided decoding)`);
  await runEvaluation({
    ...common,
    method: "deepguard",
    adapter: trained.bestDir,
    out: `${out}/eval-deepguard`,
  });

  say("4/4 report");
  const runs = [await loadRun(`${out}/eval-base`), await loadRun(`${out}/eval-deepguard`)];
  await Deno.writeTextFile(`${out}/comparison.md`, comparisonMarkdown(runs));
  await Deno.writeTextFile(`${out}/comparison.html`, comparisonHtml(runs));
  console.log("\n" + comparisonMarkdown(runs));
  console.log(`Report: ${out}/comparison.html (per run: ${out}/eval-*/report.html)\n`);
  console.log(
    "Note: the demo model is a tiny random network, so it writes gibberish and scores near zero.\n" +
      "With a real checkpoint (e.g. Qwen2.5-Coder-1.5B) and the upstream data and scenarios:\n\n" +
      "  ./dg train --model ~/models/Qwen2.5-Coder-1.5B --data ../shared/data/sven --out runs/qwen15\n" +
      "  ./dg eval --model ~/models/Qwen2.5-Coder-1.5B --adapter runs/qwen15/best --method deepguard \\\n" +
      "      --eval-type base --out runs/qwen15-eval\n",
  );
});
