/** Training mode switches on the base decoder's attention dropout (as transformers' train()). */
import assert from "node:assert/strict";
import { noGrad, tidy } from "../ffi/mod.ts";
import { makeTiny } from "../lib/model/tiny.ts";
import { SecurityAwareLoRAModel, sideTensors } from "../lib/train/mod.ts";

Deno.test("attention_dropout is active in training mode only", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dg-dropout-" });
  try {
    await makeTiny("llama", dir, { seed: 1, layers: 2 });
    const cfgPath = `${dir}/config.json`;
    const cfg = JSON.parse(await Deno.readTextFile(cfgPath));
    cfg.attention_dropout = 0.5;
    await Deno.writeTextFile(cfgPath, JSON.stringify(cfg));
    const sm = await SecurityAwareLoRAModel.create(dir, {
      layers: 2,
      lora: { dropout: 0 },
      analyzerDropout: 0,
    });
    try {
      const ids = sm.tokenizer.encode("def f(x):\n    return x + 1\n");
      const logits = () =>
        noGrad(() =>
          tidy(() =>
            sm.forward(sideTensors({ ids: [ids], mask: [ids.map(() => 1)] })).logits.toNumbers()
          )
        );
      sm.train(false);
      assert.deepEqual(logits(), logits(), "eval mode is deterministic");
      sm.train(true);
      assert.notDeepEqual(logits(), logits(), "training mode drops attention probabilities");
      sm.train(false);
    } finally {
      sm.dispose();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
