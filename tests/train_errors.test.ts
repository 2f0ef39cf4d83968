/** Bad inputs to training and adapter loading: each a clear error. */
import assert from "node:assert/strict";
import { ComponentsError } from "../lib/deepguard/mod.ts";
import { AdapterError } from "../lib/lora/mod.ts";
import { parseConfig } from "../lib/model/config.ts";
import { expectedShapes } from "../lib/model/load.ts";
import { writeSafetensors } from "../lib/model/safetensors.ts";
import {
  DataError,
  SecurityAwareLoRAModel,
  SecurityModelError,
  train,
  TrainConfigError,
  TrainError,
} from "../lib/train/mod.ts";
import { tinyModels } from "./util_tiny.ts";

const dir = await tinyModels("dg_train_err_", {
  model: ["qwen2", { layers: 4 }],
  model2: ["qwen2", { layers: 2 }],
});

/** A copy of the tiny model's tokenizer with a narrower random decoder (hidden 32). */
async function narrowModel(out: string): Promise<void> {
  await Deno.mkdir(out, { recursive: true });
  for (const f of ["tokenizer.json", "tokenizer_config.json", "generation_config.json"]) {
    await Deno.copyFile(`${dir}/model/${f}`, `${out}/${f}`);
  }
  const raw = JSON.parse(await Deno.readTextFile(`${dir}/model/config.json`));
  const cfg = { ...raw, hidden_size: 32, intermediate_size: 64 };
  await Deno.writeTextFile(`${out}/config.json`, JSON.stringify(cfg));
  const entries = [...expectedShapes(parseConfig(cfg))].map(([name, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const a = Float32Array.from(
      { length: n },
      (_, i) => (name.includes("norm") ? 1 : Math.sin(i) * 0.05),
    );
    return { name, dtype: "F32", shape, bytes: new Uint8Array(a.buffer) };
  });
  await writeSafetensors(`${out}/model.safetensors`, entries);
}
await narrowModel(`${dir}/narrow`);

const PAIR = (i: number) =>
  JSON.stringify({
    func_src_before: `int f${i}(char *s) { char b[8]; strcpy(b, s); return 0; }`,
    func_src_after: `int f${i}(char *s) { char b[8]; strncpy(b, s, 7); b[7] = 0; return 0; }`,
    vul_type: "cwe-787",
  });

async function dataset(name: string, lines: string[]): Promise<string> {
  const d = `${dir}/${name}`;
  await Deno.mkdir(`${d}/train`, { recursive: true });
  await Deno.mkdir(`${d}/val`, { recursive: true });
  await Deno.writeTextFile(`${d}/train/cwe-787.jsonl`, lines.join("\n") + "\n");
  await Deno.writeTextFile(`${d}/val/cwe-787.jsonl`, [PAIR(90), PAIR(91)].join("\n") + "\n");
  return d;
}
const good = await dataset("good", [0, 1, 2, 3].map(PAIR));
const base = { model: `${dir}/model`, data: good, out: `${dir}/out`, quiet: true } as const;
const small = { batchSize: 2, gradAcc: 1, maxSteps: 2, maxLength: 128, threads: 1 };

Deno.test("train errors: data dir without jsonl, missing dir, malformed JSONL line (file:line)", async () => {
  await Deno.mkdir(`${dir}/empty/train`, { recursive: true });
  await assert.rejects(
    train({ ...base, data: `${dir}/empty` }),
    (e: unknown) =>
      e instanceof DataError &&
      /no train data in .*empty: expected train\/\*\.jsonl \(SVEN layout/.test(e.message),
  );
  await assert.rejects(
    train({ ...base, data: `${dir}/nope` }),
    /data directory .*nope does not exist/,
  );
  const bad = await dataset("bad", [PAIR(0), '{"func_src_before": "x", ', PAIR(2)]);
  await assert.rejects(
    train({ ...base, data: bad }),
    (e: unknown) =>
      e instanceof DataError && /bad\/train\/cwe-787\.jsonl:2: malformed JSON line/.test(e.message),
  );
  const missing = await dataset("missing", [PAIR(0), JSON.stringify({ func_src_before: "x" })]);
  await assert.rejects(
    train({ ...base, data: missing }),
    /cwe-787\.jsonl:2: missing or non-string "func_src_after"/,
  );
  const long = await dataset("long", [PAIR(0)]);
  await assert.rejects(
    train({ ...base, data: long, maxLength: 3, overLength: "skip" }),
    (e: unknown) => e instanceof TrainError && /longer than --max-length 3/.test(e.message),
  );
});

Deno.test("train errors: unknown --aggregation, --layers above the model's layer count, bad numbers", async () => {
  await assert.rejects(
    train({ ...base, aggregation: "max" as never }),
    (e: unknown) =>
      e instanceof TrainConfigError &&
      /--aggregation: unknown aggregation "max": expected one of attention, weighted, concat, average, last_layer/
        .test(e.message),
  );
  await assert.rejects(
    train({ ...base, layers: 9 }),
    (e: unknown) =>
      e instanceof SecurityModelError &&
      /--layers 9 is not possible: the model in .* has 4 decoder layers/.test(e.message),
  );
  await assert.rejects(
    train({ ...base, batchSize: 0 }),
    /--batch-size: must be a positive integer/,
  );
  await assert.rejects(train({ ...base, lr: -1 }), /--lr: must be a positive number/);
  await assert.rejects(train({ ...base, dtype: "f16" as never }), /--dtype: must be f32 or bf16/);
  await assert.rejects(
    train({ ...base, targets: ["nope_proj"] }),
    /\[nope_proj\] match no Linear layer/,
  );
  await assert.rejects(
    train({ ...base, out: `${dir}/fresh`, resume: true }),
    /--resume: no checkpoint found/,
  );
});

Deno.test("adapter from a different base model: hidden size and layer count mismatches are refused", async () => {
  const narrow = await SecurityAwareLoRAModel.create(`${dir}/narrow`, { layers: 2 });
  await narrow.save(`${dir}/narrow_adapter`);
  narrow.dispose();
  await assert.rejects(
    SecurityAwareLoRAModel.load(`${dir}/model`, `${dir}/narrow_adapter`),
    (e: unknown) =>
      e instanceof ComponentsError &&
      /hidden size 32, but this model has hidden size 64: the adapter belongs to a different base model/
        .test(e.message),
  );
  // without the security files' check, the LoRA shapes alone refuse it too
  const wide = await SecurityAwareLoRAModel.create(`${dir}/model`, { layers: 2 });
  await assert.rejects(
    wide.adapter.loadWeights(`${dir}/narrow_adapter`),
    (e: unknown) => e instanceof AdapterError && /hidden size mismatch/.test(e.message),
  );
  wide.dispose();
  // 2-layer adapter into the 4-layer model
  const two = await SecurityAwareLoRAModel.create(`${dir}/model2`, { layers: 2 });
  await two.save(`${dir}/two_adapter`);
  two.dispose();
  await assert.rejects(
    SecurityAwareLoRAModel.load(`${dir}/model`, `${dir}/two_adapter`),
    /trained on a base model with 2 decoder layers, but .* has 4/,
  );
});

Deno.test("train errors: NaN loss stops with a message and keeps the last checkpoint", async () => {
  const out = `${dir}/nan`;
  await assert.rejects(
    train({ ...base, ...small, out, maxSteps: 6, lr: 1e30, warmupRatio: 0, saveEvery: 1 }),
    (e: unknown) =>
      e instanceof TrainError &&
      /(loss is NaN|gradient norm is (NaN|Infinity)).* at step \d+ .*training stopped\. The last checkpoint \(step \d+\) is kept in .*nan\/checkpoint/
        .test(e.message),
  );
  const state = JSON.parse(await Deno.readTextFile(`${out}/checkpoint/trainer_state.json`));
  assert.ok(Number.isInteger(state.step));
  // the kept checkpoint loads
  const m = await SecurityAwareLoRAModel.load(`${dir}/model`, `${out}/checkpoint`);
  m.dispose();
});

Deno.test("cleanup", async () => {
  await Deno.remove(dir, { recursive: true });
});
