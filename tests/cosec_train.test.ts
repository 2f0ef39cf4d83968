/**
 * CoSec expert training: the examples (token weights from `char_changes.added`, skips) equal a
 * transcription of upstream `cosec/data_proceess.py` run with the HF fast tokenizer's
 * `char_to_token`; and end to end, `train --method cosec` for a few steps on a tiny checkpoint,
 * then `eval --method cosec --expert` with scoping flags, writes a summary.
 */
import assert from "node:assert/strict";
import { PROJECT_ROOT } from "../ffi/mod.ts";
import { loadCoSecSplit } from "../lib/cosec/data.ts";
import { trainCoSec } from "../lib/cosec/train.ts";
import { loadPretrained } from "../lib/model/load.ts";
import { readHeader, readTensorBytes } from "../lib/model/safetensors.ts";
import { Tokenizer } from "../lib/model/tokenizer.ts";
import { haveVenvPython } from "../lib/util/python.ts";
import { cosecLora, cosecRef } from "./util_oracle.ts";
import { flags, runDeno, tinyModels } from "./util_tiny.ts";

const dir = await tinyModels("cosec_train_", { model: ["qwen2", { layers: 2, seed: 4 }] });
const SVEN = `${PROJECT_ROOT}/../shared/data/sven`;
const haveSven = await Deno.stat(`${SVEN}/train`).then(() => true, () => false);
const haveScenarios = await Deno.stat(`${PROJECT_ROOT}/../shared/data/sec_eval`).then(
  () => true,
  () => false,
);

/** Small SVEN-style pairs: spans inside tokens, across tokens, past the end, none, all. */
function pair(after: string, added: [number, number][]): string {
  return JSON.stringify({
    func_src_before: "x",
    func_src_after: after,
    vul_type: "cwe-079",
    line_changes: { deleted: [], added: [] },
    char_changes: {
      deleted: [],
      added: added.map(([s, e]) => ({ char_start: s, char_end: e, chars: after.slice(s, e) })),
    },
  });
}
const SRC = 'def show(name):\n    return "<p>" + escape(name) + "</p>"\n';
const lines = [
  pair(SRC, [[SRC.indexOf("escape"), SRC.indexOf("escape") + 7]]),
  pair(SRC, [[3, 5], [30, 33]]),
  pair(SRC, [[SRC.length - 3, SRC.length + 4]]),
  pair(SRC, []),
  pair(SRC, [[0, SRC.length]]),
  pair("def é(ü):\n    return ü  # ünïcode\n", [[4, 9]]),
];
await Deno.mkdir(`${dir}/data/train`, { recursive: true });
await Deno.writeTextFile(`${dir}/data/train/cwe-079.jsonl`, lines.join("\n") + "\n");

async function compareData(dataDir: string, files: string[]): Promise<number> {
  const tok = await Tokenizer.load(`${dir}/model`);
  const ours = await loadCoSecSplit(dataDir, "train", tok, 1024);
  const ref = await cosecRef<{ examples: ([number[], number[]] | null)[] }>(
    "data",
    `${dir}/data_spec.json`,
    { model: `${dir}/model`, files, max_num_tokens: 1024 },
  );
  const kept = ref.examples.filter((e) => e !== null) as [number[], number[]][];
  assert.equal(ours.total, ref.examples.length);
  assert.equal(ours.tooLong + ours.noSignal, ref.examples.length - kept.length);
  assert.deepEqual(ours.examples.map((e) => [e.ids, e.weights]), kept);
  return kept.length;
}

Deno.test({
  name: "expert examples equal upstream's data_proceess.py (synthetic edge cases)",
  ignore: !haveVenvPython(),
  fn: async () => {
    // kept: the span ones (4 of 6); no added span → all weights 1 → skipped; all changed → skipped
    assert.equal(await compareData(`${dir}/data`, [`${dir}/data/train/cwe-079.jsonl`]), 4);
  },
});

Deno.test({
  name: "expert examples equal upstream's data_proceess.py (SVEN training split)",
  ignore: !haveVenvPython() || !haveSven,
  fn: async () => {
    const files = [...Deno.readDirSync(`${SVEN}/train`)].map((e) => e.name)
      .filter((n) => n.endsWith(".jsonl")).sort().map((n) => `${SVEN}/train/${n}`);
    assert.ok(await compareData(SVEN, files) > 100);
  },
});

Deno.test({
  name: "training trajectory equals upstream's loop (AdamW, schedule, per-micro-batch clip)",
  ignore: !haveVenvPython(),
  fn: async () => {
    // 3 examples, accumulation 2: one step per epoch and one micro-batch carried over, as upstream
    await Deno.mkdir(`${dir}/data3/train`, { recursive: true });
    await Deno.writeTextFile(`${dir}/data3/train.jsonl`, lines.slice(0, 3).join("\n") + "\n");
    const { model } = await loadPretrained(`${dir}/model`);
    try {
      await cosecLora(model).save(`${dir}/init`, `${dir}/model`);
    } finally {
      model.dispose();
    }
    const knobs = { epochs: 4, lr: 1e-2, warmupSteps: 1, gradAcc: 2, maxGradNorm: 0.05 };
    const r = await trainCoSec({
      model: `${dir}/model`,
      data: `${dir}/data3`,
      out: `${dir}/traj`,
      loraDropout: 0,
      resumeFrom: `${dir}/init`,
      weightDecay: 0.01,
      ...knobs,
    });
    assert.equal(r.steps, 4);
    const tok = await Tokenizer.load(`${dir}/model`);
    const ex = (await loadCoSecSplit(`${dir}/data3`, "train", tok, 1024)).examples;
    assert.equal(ex.length, 3);
    const py = await cosecRef<{ weights: Record<string, number[]> }>(
      "train",
      `${dir}/train_spec.json`,
      {
        model: `${dir}/model`,
        adapter: `${dir}/init`,
        examples: ex.map((e) => [e.ids, e.weights]),
        epochs: knobs.epochs,
        lr: knobs.lr,
        warmup_steps: knobs.warmupSteps,
        grad_acc: knobs.gradAcc,
        max_grad_norm: knobs.maxGradNorm,
        weight_decay: 0.01,
      },
    );
    const read = async (file: string, name: string) => {
      const info = (await readHeader(file)).tensors.get(`base_model.model.${name}`);
      assert.ok(info, `no ${name} in ${file}`);
      const b = await readTensorBytes(info);
      return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    };
    const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) =>
      Array.from(a).reduce((d, x, i) => Math.max(d, Math.abs(x - b[i])), 0);
    assert.equal(Object.keys(py.weights).length, 8);
    for (const [name, want] of Object.entries(py.weights)) {
      const got = await read(`${dir}/traj/checkpoint-last/adapter_model.safetensors`, name);
      const init = await read(`${dir}/init/adapter_model.safetensors`, name);
      const scale = want.reduce((m, w) => Math.max(m, Math.abs(w)), 0);
      const moved = maxDiff(init, want);
      assert.ok(moved > 1e-3 * scale, `${name} did not move (${moved})`);
      const d = maxDiff(got, want);
      assert.ok(d <= 1e-5 * scale, `${name}: max difference ${d} (scale ${scale})`);
    }
  },
});

async function task(args: string[]): Promise<string> {
  const out = await runDeno(args);
  const text = out.stdout + out.stderr;
  assert.ok(out.success, text);
  return text;
}

Deno.test({
  name: "end to end: train --method cosec (2 steps) → eval --method cosec → summary",
  ignore: !haveScenarios,
  fn: async () => {
    const train = await task([
      "tasks/train.ts",
      ...flags({ method: "cosec", model: `${dir}/model`, data: `${dir}/data` }),
      ...flags({ out: `${dir}/expert`, "max-steps": 2, "warmup-steps": 1 }),
    ]);
    assert.match(train, /"steps":2/);
    const ckpt = `${dir}/expert/checkpoint-last`;
    for (const f of ["adapter_config.json", "adapter_model.safetensors", "tokenizer.json"]) {
      await Deno.stat(`${ckpt}/${f}`);
    }
    await task([
      "tasks/eval.ts",
      ...flags({ model: `${dir}/model`, method: "cosec", expert: ckpt, samples: 1 }),
      ...flags({ "max-new-tokens": 8, "scenario-ids": "cwe-078/0-py", judges: "none" }),
      ...flags({ out: `${dir}/run` }),
    ]);
    const summary = JSON.parse(await Deno.readTextFile(`${dir}/run/summary.json`));
    assert.ok(summary);
    const run = JSON.parse(await Deno.readTextFile(`${dir}/run/run.json`));
    assert.equal(run.method, "cosec");
    assert.equal(run.expert, ckpt);
    const comps = (await Deno.readTextFile(`${dir}/run/completions.jsonl`)).trim().split("\n");
    assert.equal(comps.length, 1);
  },
});

Deno.test("bad CoSec flag combinations are usage errors, before anything loads", async () => {
  const fails = async (args: string[], msg: RegExp) => {
    const out = await runDeno(args);
    const text = out.stderr;
    assert.equal(out.code, 2, text);
    assert.match(text, msg);
    assert.doesNotMatch(text, /\bat .*\.ts:\d+/);
  };
  const m = `${dir}/model`;
  await fails(
    ["tasks/eval.ts", "--model", m, "--method", "cosec", "--out", `${dir}/bad`],
    /--method cosec needs --expert DIR/,
  );
  await fails(
    [
      "tasks/eval.ts",
      ...flags({ model: m, method: "cosec", expert: m, adapter: m, out: `${dir}/bad` }),
    ],
    /--adapter does not apply to --method cosec/,
  );
  await fails(
    ["tasks/eval.ts", "--model", m, "--method", "lm", "--expert", m, "--out", `${dir}/bad`],
    /apply to --method cosec only/,
  );
  await fails(
    ["tasks/train.ts", "--method", "cosec", "--model", m, "--data", dir, "--out", `${dir}/bad`],
    /no train data in/,
  );
});
