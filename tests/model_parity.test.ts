import assert from "node:assert/strict";
import { haveOracle } from "../tasks/parity_ref.ts";
import { type ArchParity, runParity, type TokParity } from "../tasks/parity.ts";

Deno.test({
  name:
    "parity with transformers: fp32 logits ≤ 1e-4, identical greedy continuations, tokenizers equal",
  ignore: !haveOracle(),
  async fn() {
    const r = await runParity();
    for (const arch of ["qwen2", "llama"]) {
      const a = r[arch] as ArchParity;
      assert.ok(a.max_abs_err_logits <= 1e-4, `${arch} logits err ${a.max_abs_err_logits}`);
      assert.ok(
        a.batch_max_abs_err_logits <= 1e-4,
        `${arch} batch logits err ${a.batch_max_abs_err_logits}`,
      );
      assert.ok(a.max_rel_err_hidden <= 1e-4, `${arch} hidden rel err ${a.max_rel_err_hidden}`);
      assert.ok(a.batch_max_rel_err_hidden <= 1e-4, `${arch} batch hidden rel err`);
      assert.equal(a.greedy_tokens_equal, true, `${arch} greedy`);
      assert.equal(a.batch_greedy_tokens_equal, true, `${arch} batch greedy`);
      assert.equal(a.legacy_config_same, true, `${arch} legacy config`);
      const sampling =
        (r[arch] as { sampling_tokens_equal: Record<string, boolean> }).sampling_tokens_equal;
      assert.deepEqual(
        Object.values(sampling),
        [true, true, true],
        `${arch} seeded sampling ${JSON.stringify(sampling)}`,
      );
    }
    for (const [name, t] of Object.entries(r.tokenizers as Record<string, TokParity>)) {
      assert.equal(t.all_equal, true, `tokenizer ${name}: ${JSON.stringify(t)}`);
    }
  },
});

if (!haveOracle()) {
  console.warn("model_parity: skipped — .venv/bin/python or tools/parity_ref.py missing");
}
