/**
 * Sampling cache: a resumed run generates only the missing calls, reports the cached ones as
 * cached (so the progress rate counts only this run's calls), and a torn last line is dropped.
 */
import assert from "node:assert/strict";
import { makeTiny } from "../lib/model/tiny.ts";
import { loadPretrained } from "../lib/model/load.ts";
import { TEST_DEVICE } from "./util_device.ts";
import { loadScenarios, selectScenarios } from "../lib/eval/scenarios.ts";
import { DEMO_SCENARIOS } from "../lib/pipeline/demo_data.ts";
import {
  readCompletionCache,
  type SampleProgressEvent,
  sampleScenarios,
} from "../lib/pipeline/samples.ts";

Deno.test("sampling cache: resume reports cached calls and generates only the missing ones", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dg-samples-" });
  try {
    await makeTiny("qwen2", `${dir}/model`, { seed: 0, layers: 2 });
    const pre = await loadPretrained(`${dir}/model`, { device: TEST_DEVICE });
    const scenarios = selectScenarios(await loadScenarios(DEMO_SCENARIOS), {
      ids: ["cwe-078", "cwe-089"],
    });
    const settings = {
      samples: 4,
      perCall: 2,
      temperature: 0.1,
      topP: 0.95,
      maxNewTokens: 4,
      seed: 1,
    };
    const cache = `${dir}/completions.jsonl`;
    const events: SampleProgressEvent[] = [];
    const first = sampleScenarios(pre, scenarios, settings, cache, null, (e) => events.push(e));
    assert.equal(first.length, 8);
    assert.deepEqual(events.map((e) => [e.done, e.cached]), [[1, false], [2, false], [3, false], [
      4,
      false,
    ]]);
    // Kill mid-write: drop the last call's lines and leave a torn line behind.
    const lines = (await Deno.readTextFile(cache)).trimEnd().split("\n");
    await Deno.writeTextFile(cache, lines.slice(0, 6).join("\n") + '\n{"scenario": "cwe-0');
    events.length = 0;
    const again = sampleScenarios(pre, scenarios, settings, cache, null, (e) => events.push(e));
    assert.deepEqual(events.map((e) => e.cached), [true, true, true, false]);
    assert.deepEqual(again, first, "same seeds → the regenerated call equals the first run's");
    assert.equal(readCompletionCache(cache).length, 8);
    pre.model.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
