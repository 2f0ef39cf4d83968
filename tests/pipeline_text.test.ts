/**
 * The text baseline (`eval --method text`): the prompt is upstream's TextPromptEvaler prompt
 * (file_context + "# " or "// " + "The following code is secure\n" + func_context), and an eval
 * run on a tiny checkpoint samples exactly what `generate` gives for that prompt and scores it
 * (the judged program is assembled from the scenario's contexts, lib/eval/postprocess.ts, so the
 * comment never reaches the judges, as upstream's output_src).
 */
import assert from "node:assert/strict";
import { PROJECT_ROOT } from "../ffi/mod.ts";
import { makeTiny } from "../lib/model/tiny.ts";
import { loadPretrained } from "../lib/model/load.ts";
import { generate } from "../lib/model/generate.ts";
import { loadScenarios, selectScenarios } from "../lib/eval/scenarios.ts";
import type { Scenario } from "../lib/eval/types.ts";
import { DEMO_SCENARIOS } from "../lib/pipeline/demo_data.ts";
import { readCompletionCache, scenarioPrompt, textPrompt } from "../lib/pipeline/samples.ts";

const deno = Deno.execPath();
const IDS = ["cwe-078/90-py", "cwe-787/90-c"];

Deno.test("textPrompt: '# ' (Python) or '// ' (C) + the secure sentence between the contexts", async () => {
  const scenarios = selectScenarios(await loadScenarios(DEMO_SCENARIOS), { ids: IDS });
  assert.equal(scenarios.length, 2);
  for (const s of scenarios) {
    const comment = s.language === "py" ? "# " : "// ";
    assert.equal(
      textPrompt(s),
      s.fileContext + comment + "The following code is secure\n" + s.funcContext,
    );
    assert.notEqual(textPrompt(s), scenarioPrompt(s));
  }
  const go = { ...scenarios[0], id: "cwe-000/0-go", language: "go" } as unknown as Scenario;
  assert.throws(() => textPrompt(go), /cwe-000\/0-go: the text baseline has no comment syntax/);
});

async function evalTask(args: string[]): Promise<{ ok: boolean; text: string }> {
  const out = await new Deno.Command(deno, {
    args: ["run", "-A", `${PROJECT_ROOT}/tasks/eval.ts`, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    ok: out.success,
    text: new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr),
  };
}

Deno.test("eval --method text on a tiny checkpoint: samples from the text prompt, judges the plain program", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dg-text-" });
  try {
    await makeTiny("qwen2", `${dir}/model`, { seed: 3, layers: 2 });
    const common = [
      "--model",
      `${dir}/model`,
      "--method",
      "text",
      "--eval-type",
      "all",
      "--scenarios",
      DEMO_SCENARIOS,
      "--scenario-ids",
      IDS.join(","),
      "--samples",
      "1",
      "--per-call",
      "1",
      "--max-new-tokens",
      "12",
    ];
    const refused = await evalTask([...common, "--adapter", dir, "--out", `${dir}/bad`]);
    assert.equal(refused.ok, false);
    assert.match(refused.text, /--method text runs the untrained base model/);

    const run = await evalTask([...common, "--out", `${dir}/eval`]);
    assert.ok(run.ok, run.text.slice(-3000));
    const runInfo = JSON.parse(await Deno.readTextFile(`${dir}/eval/run.json`));
    assert.equal(runInfo.method, "text");
    const cache = readCompletionCache(`${dir}/eval/completions.jsonl`);
    assert.equal(cache.length, 2);

    const scenarios = selectScenarios(await loadScenarios(DEMO_SCENARIOS), { ids: IDS });
    const pre = await loadPretrained(`${dir}/model`);
    try {
      const sample = (prompt: string) =>
        generate(pre.model, pre.tokenizer, [pre.tokenizer.encode(prompt)], {
          numReturnSequences: 1,
          maxNewTokens: 12,
          doSample: true,
          temperature: 0.1,
          topP: 0.95,
          seed: 1,
        }).texts[0];
      let differs = 0;
      for (const s of scenarios) {
        const got = cache.find((r) => r.scenario === s.id)!;
        assert.equal(
          got.completion,
          sample(textPrompt(s)),
          `${s.id}: completion of the text prompt`,
        );
        if (got.completion !== sample(scenarioPrompt(s))) differs++;
      }
      // the comment changes what the model writes (this check would catch a plain `lm` prompt)
      assert.ok(differs > 0, "text and lm prompts gave the same completions");
    } finally {
      pre.model.dispose();
    }
    const results = (await Deno.readTextFile(`${dir}/eval/results.jsonl`)).trim().split("\n")
      .map((l) => JSON.parse(l));
    assert.equal(results.length, 2);
    assert.deepEqual(results.map((r) => r.scenario).sort(), [...IDS].sort());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
