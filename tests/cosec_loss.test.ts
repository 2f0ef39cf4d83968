/**
 * The CoSec expert loss (lib/cosec/loss.ts) equals a transcription of upstream
 * `cosec/train_lora_sec.py` (tools/cosec_ref.py `loss`, transformers + PEFT, embeddings resized
 * to the tokenizer as upstream): loss, both terms and every LoRA gradient within 1e-5 relative.
 * LoRA r 8, α 16 on q_proj/v_proj, dropout 0 (PEFT's dropout draws cannot be shared), lora_B
 * randomised so both LoRA matrices get gradients.
 */
import assert from "node:assert/strict";
import { noGrad, tensor } from "../ffi/mod.ts";
import { cosecLoss } from "../lib/cosec/loss.ts";
import { loadPretrained } from "../lib/model/load.ts";
import { haveVenvPython } from "../lib/util/python.ts";
import { cosecLora, cosecRef } from "./util_oracle.ts";
import { tinyModels } from "./util_tiny.ts";

interface Ref {
  loss: number;
  lm: number;
  kl: number;
  grads: Record<string, number[]>;
}

const rel = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  assert.equal(a.length, b.length);
  let d = 0, m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / Math.max(m, 1e-30);
};

Deno.test({
  name: "CoSec loss and LoRA gradients equal upstream's (transformers + PEFT)",
  ignore: !haveVenvPython(),
  fn: async () => {
    const dir = await tinyModels("cosec_loss_", { model: ["qwen2", { layers: 2, seed: 5 }] });
    const { model, tokenizer } = await loadPretrained(`${dir}/model`);
    try {
      const adapter = cosecLora(model);
      adapter.train(true);
      await adapter.save(`${dir}/adapter`, `${dir}/model`);
      const ids = tokenizer.encode(
        'def get_user(user_id):\n    cursor.execute("SELECT * FROM users WHERE id = %s", (user_id,))',
      );
      const weights = ids.map((_, i) => (i >= 8 && i < 15 ? 1 : 0));
      const idsT = tensor(BigInt64Array.from(ids.map(BigInt)), [1, ids.length], { dtype: "i64" });
      const wT = tensor(Float32Array.from(weights), [1, ids.length]);
      const ref = adapter.withDisabled(() => noGrad(() => model.forward(idsT).logits));
      const out = cosecLoss(model.forward(idsT).logits, ref, idsT, wT, tokenizer.vocabSize);
      out.loss.div(2).backward(); // gradient accumulation 2, as upstream divides (L197-198)
      const py = await cosecRef<Ref>("loss", `${dir}/spec.json`, {
        model: `${dir}/model`,
        adapter: `${dir}/adapter`,
        ids,
        weights,
        grad_acc: 2,
      });
      for (const k of ["loss", "lm", "kl"] as const) {
        const ours = out[k].item();
        assert.ok(Math.abs(ours - py[k]) <= 1e-5 * Math.abs(py[k]), `${k}: ${ours} vs ${py[k]}`);
      }
      const params = adapter.namedParameters();
      assert.equal(params.length, Object.keys(py.grads).length);
      assert.equal(params.length, 8); // 2 layers × {q, v} × {A, B}
      for (const [name, t] of params) {
        assert.ok(py.grads[name], `no reference gradient for ${name}`);
        const r = rel(t.grad!.toNumbers(), py.grads[name]);
        assert.ok(r <= 1e-5, `${name}: relative gradient difference ${r}`);
      }
    } finally {
      model.dispose();
    }
  },
});
