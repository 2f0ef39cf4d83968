/**
 * The SVEN prefix objective equals a transcription of upstream `sven/trainer.py` run with
 * transformers (tools/prefix_ref.py `loss`): loss, its three terms and the gradient of every
 * prefix tensor within 1e-5 relative, for both controls, on a tiny checkpoint with random prefix
 * values (dropout 0: upstream's and ours draw different masks). And the training examples
 * (sec/vul sides, `char_changes.added` / `line_changes.deleted` weights, skips) equal upstream's
 * `sven/dataset.py` run with the HF fast tokenizer's `char_to_token`. And four optimizer steps of
 * `trainPrefix` equal upstream's loop (`TrainerBase.run`, transformers 4.41.2's AdamW) in torch.
 */
import assert from "node:assert/strict";
import { noGrad, PROJECT_ROOT, randn, tidy } from "../ffi/mod.ts";
import { loadPretrained } from "../lib/model/load.ts";
import { makeTiny } from "../lib/model/tiny.ts";
import { loadPrefixSplit } from "../lib/prefix/data.ts";
import { PrefixParams } from "../lib/prefix/params.ts";
import { exampleLoss, trainPrefix } from "../lib/prefix/train.ts";
import { readHeader, readTensorBytes } from "../lib/model/safetensors.ts";
import { epochOrder } from "../lib/train/rng.ts";
import { haveVenvPython } from "../lib/util/python.ts";
import { prefixOracle } from "./prefix_oracle.ts";
import { maxAbsDiff } from "./util_ffi.ts";

interface Ref {
  loss: number;
  lm: number;
  contrastive: number;
  kl: number;
  grads: Record<string, number[]>;
}

const dir = await Deno.makeTempDir({ prefix: "prefix_loss_" });
await makeTiny("qwen2", `${dir}/model`, { layers: 2, seed: 7 });

const relative = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  maxAbsDiff(a, b) / Math.max(...Array.from(b, Math.abs), 1e-30);

for (const control of [0, 1] as const) {
  Deno.test({
    name: `prefix loss and prefix gradients equal upstream's (control ${control})`,
    ignore: !haveVenvPython(),
    fn: async () => {
      const { model, tokenizer } = await loadPretrained(`${dir}/model`);
      const prefix = PrefixParams.create(model.config, {
        nPrefix: 3,
        dropout: 0,
        baseModel: `${dir}/model`,
      });
      try {
        noGrad(() => prefix.tensors.forEach((t) => t.copy_(randn(t.shape).mul(0.7))));
        await prefix.save(`${dir}/prefix${control}`);
        const ids = tokenizer.encode(
          'def get_user(user_id):\n    cursor.execute("SELECT * FROM users WHERE id = %s", (user_id,))',
        );
        const weights = ids.map((_, i) => (i >= 6 && i < 14 ? 1 : 0));
        const ratios = { lm: 1, contrastive: 400, kl: 1600 };
        const ex = { ids, weights, control, origin: "test" };
        const ours = tidy(() => {
          const l = exampleLoss(model, prefix, ex, tokenizer.vocabSize, ratios, true);
          l.loss.div(2).backward();
          return {
            loss: l.loss.item(),
            lm: l.lm.item(),
            contrastive: l.contrastive.item(),
            kl: l.kl.item(),
          };
        });
        const py = await prefixOracle<Ref>("loss", {
          model: `${dir}/model`,
          prefix: `${dir}/prefix${control}`,
          ids,
          weights,
          control,
          lm_ratio: 1,
          contrastive_ratio: 400,
          kl_ratio: 1600,
          grad_acc: 2,
        });
        for (const k of ["loss", "lm", "contrastive", "kl"] as const) {
          assert.ok(py[k] > 0, `${k} should be positive, got ${py[k]}`);
          const d = Math.abs(ours[k] - py[k]) / Math.abs(py[k]);
          assert.ok(d <= 1e-5, `${k}: ${ours[k]} vs ${py[k]} (relative ${d})`);
        }
        const named = prefix.namedParameters();
        assert.equal(named.length, 8); // 2 controls × 2 layers × {K, V}
        for (const [name, t] of named) {
          const ref = py.grads[name];
          assert.ok(ref, `no reference gradient for ${name}`);
          assert.ok(ref.some((x) => x !== 0), `${name}: reference gradient is all zero`);
          const r = relative(t.grad!.toNumbers(), ref);
          assert.ok(r <= 1e-5, `${name}: relative gradient difference ${r}`);
        }
      } finally {
        prefix.dispose();
        model.dispose();
      }
    },
  });
}

/** A vulnerable (V) and a secure (S) function for the data tests. */
const V = "def q(c, n):\n    c.execute(\"SELECT * FROM t WHERE n = '%s'\" % n)\n";
const S = 'def q(c, n):\n    c.execute("SELECT * FROM t WHERE n = %s", (n,))\n';

/** A SVEN-style pair with both change lists. */
function pair(before: string, after: string, added: number[][], deleted: number[][]): string {
  const spans = (s: string, l: number[][]) =>
    l.map(([a, b]) => ({ char_start: a, char_end: b, chars: s.slice(a, b) }));
  return JSON.stringify({
    func_src_before: before,
    func_src_after: after,
    vul_type: "cwe-089",
    line_changes: { deleted: spans(before, deleted), added: [] },
    char_changes: { deleted: [], added: spans(after, added) },
  });
}

Deno.test({
  name: "prefix examples equal upstream's sven/dataset.py (edge cases and the SVEN train split)",
  ignore: !haveVenvPython(),
  fn: async () => {
    const lines = [
      pair(V, S, [[S.indexOf("%s"), S.indexOf("%s") + 2]], [[13, V.length]]),
      pair(V, S, [[S.length - 2, S.length + 5]], [[0, 0]]), // span past the end; empty span
      pair(V, S, [], []), // no change → both sides skipped
      pair(V, S, [[0, S.length]], [[0, V.length]]), // everything changed → skipped
      pair("def é(ü):\n    return ü\n", "def é(ü):\n    return ü  # ünï\n", [[4, 9]], [[10, 22]]),
    ];
    await Deno.mkdir(`${dir}/data/train`, { recursive: true });
    const file = `${dir}/data/train/cwe-089.jsonl`;
    await Deno.writeTextFile(file, lines.join("\n") + "\n");
    const sven = `${PROJECT_ROOT}/../shared/data/sven`;
    const svenFiles = await Array.fromAsync(Deno.readDir(`${sven}/train`)).then(
      (es) => es.map((e) => `${sven}/train/${e.name}`).sort(),
      () => [],
    );
    const { tokenizer, model } = await loadPretrained(`${dir}/model`);
    model.dispose();
    for (const [dataDir, files] of [[`${dir}/data`, [file]], [sven, svenFiles]] as const) {
      if (!files.length) continue;
      const ours = await loadPrefixSplit(dataDir, "train", tokenizer, 1024);
      const ref = await prefixOracle<{ examples: ([number[], number[], number] | null)[] }>(
        "data",
        { model: `${dir}/model`, files, max_num_tokens: 1024 },
      );
      const kept = ref.examples.filter((e) => e !== null);
      assert.equal(ours.pairs * 2, ref.examples.length);
      assert.equal(ours.tooLong + ours.noSignal, ref.examples.length - kept.length);
      assert.deepEqual(ours.examples.map((e) => [e.ids, e.weights, e.control]), kept);
      // both sides of pairs 1 and 5; a span ending past the text or empty marks nothing
      if (dataDir === `${dir}/data`) assert.equal(kept.length, 4);
      else console.log(`SVEN train: ${kept.length} of ${ref.examples.length} sides kept`);
    }
  },
});

Deno.test({
  name: "prefix training trajectory equals upstream's loop (transformers AdamW, schedule, clip)",
  ignore: !haveVenvPython(),
  fn: async () => {
    const at = S.indexOf("%s");
    const data = `${dir}/traj`;
    for (const split of ["train", "val"]) {
      await Deno.mkdir(`${data}/${split}`, { recursive: true });
      const lines = [0, 1, 2].map((i) =>
        pair(V.replace("q(", `q${i}(`), S.replace("q(", `q${i}(`), [[at + 1, at + 9]], [[14, 40]])
      );
      await Deno.writeTextFile(`${data}/${split}/cwe-089.jsonl`, lines.join("\n") + "\n");
    }
    const opts = { lr: 1e-2, weightDecay: 0.01, gradAcc: 2, maxGradNorm: 1.0, seed: 1 };
    const r = await trainPrefix({
      model: `${dir}/model`,
      data,
      out: `${dir}/traj_out`,
      ...opts,
      dropout: 0,
      epochs: 2,
      maxSteps: 4,
      nPrefix: 3,
    });
    assert.equal(r.steps, 4);
    const { tokenizer, model } = await loadPretrained(`${dir}/model`);
    const start = PrefixParams.create(model.config, {
      nPrefix: 3,
      dropout: 0,
      baseModel: `${dir}/model`,
    });
    await start.save(`${dir}/traj_start`);
    start.dispose();
    model.dispose();
    const split = await loadPrefixSplit(data, "train", tokenizer, 1024);
    const n = split.examples.length;
    assert.equal(n, 6);
    const py = await prefixOracle<{ losses: number[]; params: Record<string, number[]> }>("train", {
      model: `${dir}/model`,
      prefix: `${dir}/traj_start`,
      examples: split.examples.map((e) => [e.ids, e.weights, e.control]),
      orders: [epochOrder(n, 1, 0), epochOrder(n, 1, 1)],
      lr: opts.lr,
      weight_decay: opts.weightDecay,
      grad_acc: 2,
      max_grad_norm: 1.0,
      max_steps: 4,
      epochs: 2,
      lm_ratio: 1,
      contrastive_ratio: 400,
      kl_ratio: r.settings.klRatio,
    });
    const first = (py.losses[0] + py.losses[1]) / 2;
    assert.ok(Math.abs(r.firstLoss! - first) <= 1e-5 * first, `${r.firstLoss} vs ${first}`);
    const header = await readHeader(`${r.checkpoint}/prefix.safetensors`);
    for (const [name, ref] of Object.entries(py.params)) {
      const bytes = await readTensorBytes(header.tensors.get(name)!);
      const ours = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
      assert.ok(ref.some((x) => x !== 0), `${name} did not move`);
      const d = relative(ours, ref);
      assert.ok(d <= 1e-5, `${name}: relative difference ${d} after 4 steps`);
    }
  },
});
