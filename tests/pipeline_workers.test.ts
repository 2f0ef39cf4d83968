/**
 * Multi-device evaluation: `eval --devices cpu,cpu` (two sampling workers) writes the same
 * completions.jsonl, byte for byte, as one device, and a failed worker is named; `--shard I/N`
 * runs and `report --merge` join into the run one job gives; shards of other settings are refused.
 */
import assert from "node:assert/strict";
import { makeTiny } from "../lib/model/tiny.ts";
import { type EvalOptions, sampleEvaluation } from "../lib/pipeline/evaluate.ts";
import { DEMO_SCENARIOS } from "../lib/pipeline/demo_data.ts";
import { mergeCompletionCaches, parseShard, shardSlice } from "../lib/pipeline/shards.ts";
import { sandboxProblem } from "../lib/eval/sandbox.ts";
import { TEST_DEVICE } from "./util_device.ts";

const SAMPLING = { samples: 3, perCall: 2, temperature: 0.8, topP: 0.95, maxNewTokens: 6, seed: 5 };

function options(model: string, out: string, extra: Partial<EvalOptions> = {}): EvalOptions {
  return {
    model,
    method: "lm",
    evalType: "all",
    scenarios: DEMO_SCENARIOS,
    scenarioIds: ["cwe-078", "cwe-089", "cwe-079", "cwe-022", "cwe-125"],
    sampling: SAMPLING,
    dtype: "f32",
    device: TEST_DEVICE,
    out,
    judges: "none",
    progress: false,
    ...extra,
  };
}

async function cli(task: string, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `tasks/${task}.ts`, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test("shards: I/N parsing, contiguous slices that concatenate to the list", () => {
  assert.deepEqual(parseShard("1/3"), { index: 1, count: 3 });
  for (const bad of ["3/3", "1", "-1/2", "0/0", "a/b"]) {
    assert.throws(() => parseShard(bad), /expected I\/N with 0 ≤ I < N/);
  }
  const items = [..."abcdefg"];
  for (const n of [1, 2, 3, 7, 9]) {
    const parts = [...Array(n).keys()].map((i) => shardSlice(items, { index: i, count: n }));
    assert.deepEqual(parts.flat(), items);
    const sizes = parts.map((p) => p.length);
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1);
  }
});

Deno.test("shards: merging caches orders by scenario then call, first file wins a call", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const rec = (scenario: string, call: number, completion: string) =>
      JSON.stringify({ scenario, completion, call, tokens: 1 }) + "\n";
    Deno.writeTextFileSync(`${dir}/a`, rec("s2", 1, "a") + rec("s2", 0, "b") + rec("s2", 0, "c"));
    Deno.writeTextFileSync(`${dir}/b`, rec("s2", 0, "x") + rec("s1", 0, "y"));
    assert.equal(mergeCompletionCaches([`${dir}/a`, `${dir}/b`], ["s1", "s2"], `${dir}/o`), 4);
    assert.equal(
      Deno.readTextFileSync(`${dir}/o`),
      rec("s1", 0, "y") + rec("s2", 0, "b") + rec("s2", 0, "c") + rec("s2", 1, "a"),
    );
    assert.throws(
      () => mergeCompletionCaches([`${dir}/a`], ["s1"], `${dir}/o`),
      /a: scenario "s2" is not part of this run/,
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("eval --devices D,D: two workers give the one-device completions.jsonl byte for byte", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dg-workers-" });
  try {
    await makeTiny("qwen2", `${dir}/model`, { seed: 0, layers: 2 });
    await sampleEvaluation(options(`${dir}/model`, `${dir}/one`));
    await sampleEvaluation(
      options(`${dir}/model`, `${dir}/two`, { devices: [TEST_DEVICE, TEST_DEVICE] }),
    );
    const one = await Deno.readTextFile(`${dir}/one/completions.jsonl`);
    const two = await Deno.readTextFile(`${dir}/two/completions.jsonl`);
    assert.equal(one.trimEnd().split("\n").length, 5 * SAMPLING.samples);
    assert.equal(two, one);
    // Each worker sampled only its slice (2 + 3 scenarios, in the file's order).
    const worker1 = await Deno.readTextFile(`${dir}/two/workers/1/completions.jsonl`);
    assert.deepEqual(
      [...new Set(worker1.trimEnd().split("\n").map((l) => JSON.parse(l).scenario))],
      ["cwe-079/90-py", "cwe-089/90-py", "cwe-125/90-c"],
    );
    // Resuming after the merge starts no worker (their caches are gone) and changes nothing.
    await Deno.remove(`${dir}/two/workers`, { recursive: true });
    await sampleEvaluation(
      options(`${dir}/model`, `${dir}/two`, { devices: [TEST_DEVICE, TEST_DEVICE] }),
    );
    assert.equal(await Deno.readTextFile(`${dir}/two/completions.jsonl`), one);
    assert.equal(await Deno.stat(`${dir}/two/workers`).catch(() => null), null);
    // A worker that fails (no such GPU) is named; the other worker's samples are kept.
    const bad = options(`${dir}/model`, `${dir}/bad`, { devices: [TEST_DEVICE, "cuda:63"] });
    await assert.rejects(sampleEvaluation(bad), /sampling failed on worker 1 \(cuda:63\)/);
    assert.ok((await Deno.readTextFile(`${dir}/bad/workers/0/completions.jsonl`)).length > 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("eval CLI: a bad --devices or --shard is a usage error before anything loads", async () => {
  const common = ["--model", ".", "--method", "lm", "--out", "/tmp/dg-never"];
  let r = await cli("eval", [...common, "--devices", "cpu,gpu0"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--devices: "gpu0" is not cpu, cuda or cuda:N/);
  r = await cli("eval", [...common, "--shard", "2/2"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--shard "2\/2": expected I\/N with 0 ≤ I < N/);
});

Deno.test({
  name: "eval --shard I/N + report --merge, eval --devices cpu,cpu: the one-job run; other " +
    "settings are refused",
  ignore: sandboxProblem() !== null,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "dg-shards-" });
    try {
      await makeTiny("qwen2", `${dir}/model`, { seed: 0, layers: 2 });
      const args = (out: string, ...extra: string[]) => [
        ...["--model", `${dir}/model`, "--method", "lm", "--scenarios", DEMO_SCENARIOS],
        ...["--scenario-ids", "cwe-078,cwe-089,cwe-125", "--judges", "none", "--samples", "2"],
        ...["--per-call", "2", "--max-new-tokens", "5", "--temperature", "0.8", "--out", out],
        ...extra,
      ];
      const runs: [string, string[]][] = [
        ["whole", []],
        ["s0", ["--shard", "0/2"]],
        ["s1", ["--shard", "1/2"]],
        ["multi", ["--devices", "cpu,cpu"]],
      ];
      for (const [out, extra] of runs) {
        const r = await cli("eval", args(`${dir}/${out}`, ...extra));
        assert.equal(r.code, 0, r.stderr);
      }
      const r = await cli("report", ["--merge", `${dir}/merged`, `${dir}/s1`, `${dir}/s0`]);
      assert.equal(r.code, 0, r.stderr);
      const text = (d: string, file: string) => Deno.readTextFile(`${dir}/${d}/${file}`);
      for (const file of ["completions.jsonl", "results.jsonl", "run.json"]) {
        assert.equal(await text("merged", file), await text("whole", file), file);
      }
      // The CLI's --devices end to end: sampled by two workers, then scored once.
      for (const file of ["completions.jsonl", "results.jsonl"]) {
        assert.equal(await text("multi", file), await text("whole", file), `--devices ${file}`);
      }
      const summary = async (d: string) => {
        const { meta: _m, ...rest } = JSON.parse(await Deno.readTextFile(`${d}/summary.json`));
        return rest;
      };
      assert.deepEqual(await summary(`${dir}/merged`), await summary(`${dir}/whole`));
      // A shard of another seed, a missing shard, a repeated shard.
      assert.equal((await cli("eval", args(`${dir}/t1`, "--shard", "1/2", "--seed", "9"))).code, 0);
      const refused = [
        [[`${dir}/s0`, `${dir}/t1`], /differ in more than shard.*different runs/],
        [[`${dir}/s0`], /shards 1\/2 missing/],
        [[`${dir}/s0`, `${dir}/s0`, `${dir}/s1`], /are both shard 0\/2/],
        [[`${dir}/whole`], /has no "shard"/],
      ] as const;
      for (const [dirs, message] of refused) {
        const bad = await cli("report", ["--merge", `${dir}/m2`, ...dirs]);
        assert.equal(bad.code, 1, bad.stderr);
        assert.match(bad.stderr, message);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
