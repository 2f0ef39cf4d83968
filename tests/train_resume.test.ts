/**
 * `deno task train` end to end on a tiny checkpoint and the SVEN data: the loss falls, OUT/best is
 * written, and a run killed with SIGKILL resumes from its last checkpoint with the same next batch
 * and loss as an uninterrupted run. Skips when ../shared/data/sven is absent.
 */
import assert from "node:assert/strict";
import { PROJECT_ROOT } from "../ffi/mod.ts";
import type { StepLog } from "../lib/train/mod.ts";
import { flags, withTinyDir } from "./util_tiny.ts";

const DATA = `${PROJECT_ROOT}/../shared/data/sven`;
const hasData = await Deno.stat(`${DATA}/train`).then(() => true, () => false);
if (!hasData) console.warn(`skipping train CLI tests: SVEN data not found at ${DATA}`);

const DENO = Deno.execPath();

function trainCmd(model: string, out: string, extra: string[]): Deno.Command {
  return new Deno.Command(DENO, {
    args: [
      "run",
      "-A",
      `${PROJECT_ROOT}/tasks/train.ts`,
      "--model",
      model,
      "--data",
      DATA,
      "--out",
      out,
      "--threads",
      "1",
      ...extra,
    ],
    cwd: PROJECT_ROOT,
    stdout: "piped",
    stderr: "piped",
  });
}

async function readLog(out: string): Promise<StepLog[]> {
  const text = await Deno.readTextFile(`${out}/train_log.jsonl`);
  return text.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
}

async function stateStep(out: string): Promise<number> {
  try {
    return JSON.parse(await Deno.readTextFile(`${out}/checkpoint/trainer_state.json`)).step;
  } catch {
    return -1;
  }
}

const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test({
  name: "deno task train: 30 steps on CPU, loss falls, OUT/best written, log lines well-formed",
  ignore: !hasData,
  fn: () =>
    withTinyDir("dg_train_", { model: ["qwen2", { layers: 4 }] }, async (dir) => {
      const t0 = performance.now();
      // the clean recipe: long pairs are skipped (the upstream recipe truncates them instead,
      // tests/train_recipe.test.ts)
      const r = await trainCmd(`${dir}/model`, `${dir}/out`, [
        ...flags({ recipe: "clean", "max-steps": 30, "max-length": 256, "batch-size": 4 }),
        ...flags({ lr: "1e-3", "max-val-batches": 2 }),
      ]).output();
      const secs = (performance.now() - t0) / 1000;
      assert.ok(r.success, dec(r.stderr));
      const summary = JSON.parse(dec(r.stdout).trim().split("\n").pop()!);
      const log = await readLog(`${dir}/out`);
      assert.equal(log.length, 30);
      for (const [i, l] of log.entries()) {
        assert.equal(l.step, i + 1);
        for (const k of ["epoch", "loss", "gen", "sec", "kl", "lr", "grad_norm"] as const) {
          assert.ok(Number.isFinite(l[k]), `step ${l.step}: ${k} = ${l[k]}`);
        }
        // batch 4 × grad-acc 2 (the last step of an epoch may be shorter)
        assert.ok(
          l.pairs.length > 0 && l.pairs.length <= 8,
          `step ${l.step}: ${l.pairs.length} pairs`,
        );
      }
      const epoch1 = log.filter((l) => l.epoch === 1).flatMap((l) => l.pairs);
      assert.equal(new Set(epoch1).size, epoch1.length, "each pair once per epoch");
      const mean = (xs: StepLog[]) => xs.reduce((s, l) => s + l.loss, 0) / xs.length;
      const first = mean(log.slice(0, 5)), last = mean(log.slice(-5));
      console.log(
        `tiny qwen2 (4 layers, H=64): loss ${first.toFixed(4)} (steps 1-5) → ${last.toFixed(4)} ` +
          `(steps 26-30); ${summary.steps_per_second.toFixed(2)} steps/s; ${
            secs.toFixed(1)
          } s total`,
      );
      assert.ok(last < first - 0.05, `loss did not fall: ${first} → ${last}`);
      assert.ok(/train \[#+\] 30\/30 /.test(dec(r.stderr)), "progress bar on stderr");
      const best = [...Deno.readDirSync(`${dir}/out/best`)].map((e) => e.name).sort();
      assert.deepEqual(best, [
        "adapter_config.json",
        "adapter_model.safetensors",
        "security_components.safetensors",
        "security_config.json",
      ]);
      assert.equal(summary.stopped_by, "max-steps");
      assert.ok(summary.skipped_train > 0, "long pairs are skipped and counted");
    }),
});

Deno.test({
  name: "deno task train: kill -9 mid-run, --resume continues with the same next batch and loss",
  ignore: !hasData,
  fn: () =>
    withTinyDir("dg_resume_", { model: ["qwen2", { layers: 2 }] }, async (dir) => {
      const args = [
        ...flags({ layers: 2, "max-steps": 10, "max-length": 128, "batch-size": 2 }),
        ...flags({ "save-every": 3, lr: "1e-3", "max-val-batches": 1, quiet: true }),
      ];
      const full = await trainCmd(`${dir}/model`, `${dir}/a`, args).output();
      assert.ok(full.success, dec(full.stderr));
      const ref = await readLog(`${dir}/a`);
      assert.equal(ref.length, 10);

      // run B: kill -9 once a checkpoint exists and at least one more step has been logged
      const child = trainCmd(`${dir}/model`, `${dir}/b`, args).spawn();
      let killedAt = -1;
      for (let i = 0; i < 1200; i++) {
        await sleep(50);
        const ck = await stateStep(`${dir}/b`);
        const logged = await readLog(`${dir}/b`).catch(() => []);
        if (ck >= 3 && logged.length > ck) {
          child.kill("SIGKILL");
          killedAt = ck;
          break;
        }
      }
      const st = await child.output();
      assert.ok(killedAt >= 3, `no checkpoint appeared (exit ${st.code}): ${dec(st.stderr)}`);
      assert.equal(st.signal, "SIGKILL");
      const ck = await stateStep(`${dir}/b`);
      assert.ok(ck >= 3 && ck < 10, `checkpoint step ${ck}`);

      const resumed = await trainCmd(`${dir}/model`, `${dir}/b`, [...args, "--resume"]).output();
      assert.ok(resumed.success, dec(resumed.stderr));
      const summary = JSON.parse(dec(resumed.stdout).trim().split("\n").pop()!);
      assert.equal(summary.steps_this_run, 10 - ck, "continued from the checkpoint, not step 0");
      const got = await readLog(`${dir}/b`);
      assert.deepEqual(got.map((l) => l.step), ref.map((l) => l.step));
      for (let s = ck; s < 10; s++) {
        assert.deepEqual(got[s].pairs, ref[s].pairs, `step ${s + 1}: same pairs`);
        const rel = Math.abs(got[s].loss - ref[s].loss) / Math.abs(ref[s].loss);
        assert.ok(rel < 1e-5, `step ${s + 1}: loss ${got[s].loss} vs ${ref[s].loss}`);
      }
      console.log(
        `killed with checkpoint at step ${ck}; resumed step ${ck + 1}: pairs [${got[ck].pairs}] ` +
          `loss ${got[ck].loss} (uninterrupted ${ref[ck].loss})`,
      );
    }),
});

Deno.test("deno task train: usage errors exit with a message", async () => {
  const r = await new Deno.Command(DENO, {
    args: [
      ...["run", "-A", `${PROJECT_ROOT}/tasks/train.ts`],
      ...flags({ model: "x", data: "y", out: "z", aggregation: "max" }),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(r.code, 2);
  assert.match(
    dec(r.stderr),
    /--aggregation: unknown aggregation "max": expected one of attention/,
  );
  const u = await new Deno.Command(DENO, {
    args: ["run", "-A", `${PROJECT_ROOT}/tasks/train.ts`, "--bogus"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(u.code, 2);
  assert.match(dec(u.stderr), /usage: deno task train/);
});
