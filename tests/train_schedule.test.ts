/** Trainer behaviour: DeepGuard defaults, LR warm-up/decay in the log, early stopping, best/. */
import assert from "node:assert/strict";
import { makeTiny } from "../lib/model/tiny.ts";
import { DEFAULT_TRAIN_CONFIG, type StepLog, train, type ValidationLog } from "../lib/train/mod.ts";

const dir = await Deno.makeTempDir({ prefix: "dg_sched_" });
await makeTiny("qwen2", `${dir}/model`, { layers: 2 });
await Deno.mkdir(`${dir}/data`);
const pair = (i: number) =>
  JSON.stringify({
    func_src_before: `char *p = malloc(n${i}); memcpy(p, s, n${i});`,
    func_src_after: `char *p = malloc(n${i}); if (!p) return -1; memcpy(p, s, n${i});`,
  });
await Deno.writeTextFile(`${dir}/data/train.jsonl`, [0, 1, 2, 3, 4, 5, 6, 7].map(pair).join("\n"));
await Deno.writeTextFile(`${dir}/data/val.jsonl`, [8, 9].map(pair).join("\n"));
const common = { model: `${dir}/model`, data: `${dir}/data`, layers: 2, threads: 1 };

Deno.test("defaults are DeepGuard's hyper-parameters", () => {
  const d = DEFAULT_TRAIN_CONFIG;
  assert.deepEqual(
    [
      d.lr,
      d.weightDecay,
      d.beta1,
      d.beta2,
      d.eps,
      d.warmupRatio,
      d.maxGradNorm,
      d.gradAcc,
      d.batchSize,
      d.epochs,
      d.patience,
    ],
    [2e-5, 0.01, 0.9, 0.999, 1e-8, 0.1, 1.0, 2, 8, 5, 3],
  );
  assert.deepEqual([
    d.loraRank,
    d.loraAlpha,
    d.loraDropout,
    d.layers,
    d.kl,
    d.secWeight,
    d.klWeight,
  ], [16, 32, 0.1, 4, true, 0.5, 1]);
});

Deno.test("LR: linear warm-up over 10% of the steps, then linear decay to 0", async () => {
  const logs: StepLog[] = [];
  const r = await train(
    { ...common, out: `${dir}/lr`, batchSize: 1, gradAcc: 1, epochs: 5, lr: 1e-3, maxSteps: 20 },
    { quiet: true, onStep: (l) => logs.push(l) },
  );
  assert.equal(r.steps, 20);
  const lrs = logs.map((l) => l.lr);
  // 20 steps, 2 warm-up steps: 0, 0.5e-3, then 1e-3 · (20 − s) / 18
  assert.ok(Math.abs(lrs[0]) < 1e-15 && Math.abs(lrs[1] - 5e-4) < 1e-12);
  for (let s = 2; s < 20; s++) {
    assert.ok(Math.abs(lrs[s] - 1e-3 * (20 - s) / 18) < 1e-12, `step ${s + 1}`);
  }
  assert.ok(logs.every((l) => l.epoch === Math.floor((l.step - 1) / 8) + 1), "8 steps per epoch");
});

Deno.test("early stopping after `patience` validations without improvement; best/ from the best epoch", async () => {
  const vals: ValidationLog[] = [];
  // lr so small that the parameters do not move: validation loss never improves after epoch 1
  const r = await train(
    {
      ...common,
      out: `${dir}/es`,
      batchSize: 4,
      gradAcc: 1,
      epochs: 6,
      patience: 2,
      lr: 1e-30,
      kl: false,
    },
    { quiet: true, onValidation: (v) => vals.push(v) },
  );
  assert.equal(r.stoppedBy, "early-stopping");
  assert.deepEqual(vals.map((v) => v.epoch), [1, 2, 3]);
  assert.deepEqual(vals.map((v) => v.best), [true, false, false]);
  assert.equal(r.steps, 3 * 2);
  const cfg = JSON.parse(await Deno.readTextFile(`${dir}/es/best/security_config.json`));
  assert.equal(cfg.loss.useKl, false);
  const state = JSON.parse(await Deno.readTextFile(`${dir}/es/checkpoint/trainer_state.json`));
  assert.equal(state.bestStep, 2);
});

Deno.test("cleanup", async () => {
  await Deno.remove(dir, { recursive: true });
});
