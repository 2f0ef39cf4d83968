/** Per-token analyzer scores of a code string (the pipeline's model + tokenizer + analyzer API). */
import assert from "node:assert/strict";
import { manualSeed } from "../ffi/mod.ts";
import { makeTiny } from "../lib/model/tiny.ts";
import { SecurityAwareLoRAModel } from "../lib/train/mod.ts";

Deno.test("scoreTokens: one score in (0,1) per token, tokens spell the code, stable across save/load", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dg_score_" });
  try {
    await makeTiny("qwen2", `${dir}/model`, { layers: 2 });
    manualSeed(0);
    const m = await SecurityAwareLoRAModel.create(`${dir}/model`, {
      layers: 2,
      aggregation: "concat",
    });
    const code = 'cursor.execute("SELECT * FROM users WHERE id = %s", (user_id,))';
    m.train(true); // scoring must switch dropout off by itself
    const s = m.scoreTokens(code);
    assert.equal(s.length, m.tokenizer.encode(code).length);
    assert.equal(s.map((t) => t.token).join(""), code);
    for (const t of s) assert.ok(t.score > 0 && t.score < 1, `${t.token}: ${t.score}`);
    assert.deepEqual(m.scoreTokens(code), s, "deterministic (eval mode)");
    assert.ok(m.components.training, "training mode restored");
    assert.deepEqual(m.scoreTokens(""), []);
    m.components.stats.update([[s[0].id]], [[1]], [], []);
    assert.ok(Math.abs(m.tokenStats[s[0].id] + 0.01) < 1e-7);
    await m.save(`${dir}/adapter`);
    m.dispose();
    const m2 = await SecurityAwareLoRAModel.load(`${dir}/model`, `${dir}/adapter`);
    const s2 = m2.scoreTokens(code);
    s2.forEach((t, i) => assert.ok(Math.abs(t.score - s[i].score) < 1e-6));
    assert.ok(Math.abs(m2.tokenStats[s[0].id] + 0.01) < 1e-7, "token stats saved and loaded");
    m2.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
