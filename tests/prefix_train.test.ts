/**
 * SVEN prefix end to end on a tiny checkpoint: `train --method prefix` for a few steps writes
 * prefix checkpoints that `eval --method prefix --adapter` samples from into a summary (on the
 * project's demo scenarios); training moves the prefix off its zero init and lowers the loss;
 * per-size defaults; bad flags and bad prefix directories are clear errors before anything heavy
 * runs; no tensor leaks per step.
 */
import assert from "node:assert/strict";
import { liveTensors, PROJECT_ROOT, tidy } from "../ffi/mod.ts";
import { generate } from "../lib/model/generate.ts";
import { loadPretrained } from "../lib/model/load.ts";
import { loadPrefixSplit } from "../lib/prefix/data.ts";
import { HfAdamW } from "../lib/prefix/optim.ts";
import { PrefixParams } from "../lib/prefix/params.ts";
import { readHeader, readTensorBytes } from "../lib/model/safetensors.ts";
import { makeTiny } from "../lib/model/tiny.ts";
import { DEMO_SCENARIOS } from "../lib/pipeline/demo_data.ts";
import { exampleLoss, sizeDefaults } from "../lib/prefix/train.ts";
import { runWithTimeout } from "../lib/util/spawn.ts";

const dir = await Deno.makeTempDir({ prefix: "prefix_train_" });
await makeTiny("qwen2", `${dir}/model`, { layers: 2, seed: 3 });

/** Pairs with a secure addition and a deleted vulnerable line. */
function pair(i: number): string {
  const before = `def f${i}(c, n):\n    c.execute("SELECT * FROM t WHERE n = '%s'" % n)\n`;
  const after = `def f${i}(c, n):\n    c.execute("SELECT * FROM t WHERE n = %s", (n,))\n`;
  const at = after.indexOf(", (n,)");
  const line = before.indexOf("    c.");
  return JSON.stringify({
    func_src_before: before,
    func_src_after: after,
    line_changes: {
      deleted: [{ line_no: 2, char_start: line, char_end: before.length }],
      added: [],
    },
    char_changes: { deleted: [], added: [{ char_start: at, char_end: at + 6 }] },
  });
}
for (const [split, n] of [["train", 6], ["val", 2]] as const) {
  await Deno.mkdir(`${dir}/data/${split}`, { recursive: true });
  const lines = Array.from({ length: n }, (_, i) => pair(i + (split === "val" ? 100 : 0)));
  await Deno.writeTextFile(`${dir}/data/${split}/cwe-089.jsonl`, lines.join("\n") + "\n");
}

/** A command line split at spaces (the paths here have none). */
const argv = (line: string) => line.split(" ");

/** Runs a task; checks its exit code, and that a failure prints no stack trace. */
async function task(args: string[], code = 0): Promise<{ stdout: string; stderr: string }> {
  const r = await runWithTimeout(Deno.execPath(), ["run", "-A", ...args], { cwd: PROJECT_ROOT });
  const [stdout, stderr] = [r.stdout, r.stderr].map((b) => new TextDecoder().decode(b));
  assert.equal(r.code, code, stdout + stderr);
  if (code !== 0) assert.doesNotMatch(stderr, /\bat .*\.ts:\d+/);
  return { stdout, stderr };
}

Deno.test("per-size defaults follow upstream's three model groups", () => {
  assert.deepEqual(sizeDefaults(1.35e9), { nPrefix: 5, epochs: 8, klRatio: 1600 });
  assert.deepEqual(sizeDefaults(3.09e9), { nPrefix: 8, epochs: 5, klRatio: 1600 });
  assert.deepEqual(sizeDefaults(6.7e9), { nPrefix: 12, epochs: 5, klRatio: 2000 });
});

Deno.test({
  name: "end to end: train --method prefix → eval --method prefix → summary",
  fn: async () => {
    const { stdout, stderr } = await task(
      argv(
        `tasks/train.ts --method prefix --model ${dir}/model --data ${dir}/data --out ${dir}/prefix --epochs 2`,
      ),
    );
    const r = JSON.parse(stdout.trim().split("\n").pop()!);
    assert.equal(r.examples, 12); // 6 pairs × {sec, vul}
    assert.equal(r.steps, 12); // 12 // 2 × 2 epochs
    assert.deepEqual([r.settings.nPrefix, r.settings.klRatio], [5, 1600]); // tiny → ≈1B group
    assert.ok(r.lastLoss < r.firstLoss, `loss ${r.firstLoss} → ${r.lastLoss}`);
    assert.match(stderr, /epoch 2: val loss/);
    const ckpt = `${dir}/prefix/checkpoint-last`;
    await Deno.stat(`${dir}/prefix/checkpoint-epoch-1/prefix.safetensors`);
    const cfg = JSON.parse(await Deno.readTextFile(`${ckpt}/prefix_config.json`));
    assert.equal(cfg.n_prefix_token, 5);
    assert.equal(cfg.n_control, 2);
    const header = await readHeader(`${ckpt}/prefix.safetensors`);
    assert.equal(header.tensors.size, 2 * 2 * 2);
    const bytes = await readTensorBytes(header.tensors.get("prefix_params.0")!);
    const values = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    assert.ok(values.some((x) => x !== 0), "training left the prefix at its zero init");

    await task(
      argv(
        `tasks/eval.ts --model ${dir}/model --method prefix --adapter ${ckpt} --limit 2 --max-new-tokens 8 --scenario-ids cwe-078,cwe-089 --scenarios ${DEMO_SCENARIOS} --judges none --out ${dir}/run`,
      ),
    );
    const read = (f: string) => Deno.readTextFile(`${dir}/run/${f}`);
    const run = JSON.parse(await read("run.json"));
    assert.deepEqual([run.method, run.adapter], ["prefix", ckpt]);
    const lines = (await read("completions.jsonl")).trim().split("\n");
    const scenarios = lines.map((l) => JSON.parse(l).scenario.split("/")[0]);
    assert.deepEqual(scenarios.sort(), ["cwe-078", "cwe-078", "cwe-089", "cwe-089"]);
    assert.ok(JSON.parse(await read("summary.json")));
  },
});

Deno.test("bad prefix flags, data and directories are clear errors", async () => {
  const m = `${dir}/model`;
  const e1 = await task(["tasks/eval.ts", "--model", m, "--method", "prefix", "--out", dir], 2);
  assert.match(e1.stderr, /--method prefix needs --adapter DIR/);
  await Deno.mkdir(`${dir}/bad/train`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/bad/train/x.jsonl`,
    JSON.stringify({ func_src_before: "a", func_src_after: "b", char_changes: {} }) + "\n",
  );
  await Deno.writeTextFile(`${dir}/bad/val.jsonl`, "");
  const e2 = await task(
    ["tasks/train.ts", "--method", "prefix", "--model", m, "--data", `${dir}/bad`, "--out", dir],
    2,
  );
  assert.match(e2.stderr, /x\.jsonl:1: .*char_changes/);
  const e3 = await task(
    argv(
      `tasks/eval.ts --model ${m} --method prefix --adapter ${m} --scenarios ${DEMO_SCENARIOS} --scenario-ids cwe-078 --judges none --out ${dir}/run_bad`,
    ),
    2,
  );
  assert.match(e3.stderr, /is not a prefix directory: no prefix_config\.json/);
});

Deno.test("a prefix training step and prefix sampling leave no live tensors behind", async () => {
  const { model, tokenizer } = await loadPretrained(`${dir}/model`);
  const prefix = PrefixParams.create(model.config, { nPrefix: 2, dropout: 0.1, baseModel: "m" });
  const opt = new HfAdamW(prefix.namedParameters(), { eps: 1e-8, weightDecay: 0.01 });
  try {
    const { examples } = await loadPrefixSplit(`${dir}/data`, "train", tokenizer, 1024);
    const ratios = { lm: 1, contrastive: 400, kl: 1600 };
    const round = () => {
      for (const ex of examples.slice(0, 2)) {
        tidy(() =>
          exampleLoss(model, prefix, ex, tokenizer.vocabSize, ratios, true).loss.backward()
        );
        opt.clipGradNorm(1);
      }
      opt.step(1e-2);
      opt.zeroGrad();
      const past = tidy(() => prefix.past(0, false));
      generate(model, tokenizer, ["def f("], { maxNewTokens: 3, doSample: false, past });
      for (const t of [...past.k, ...past.v]) t.dispose();
    };
    round(); // first step allocates the optimizer moments and gradients
    const live = liveTensors();
    round();
    round();
    assert.equal(liveTensors(), live);
  } finally {
    opt.dispose();
    prefix.dispose();
    model.dispose();
  }
});
