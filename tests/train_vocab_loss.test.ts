/**
 * The chunked vocabulary loss (lib/train/vocab_loss.ts) against autograd on the full logits, and the
 * memory-saving backward against the plain one when the KL clamp is active.
 */
import assert from "node:assert/strict";
import { manualSeed, noGrad, randn, type Tensor, tensor, tidy } from "../ffi/mod.ts";
import { makeTiny } from "../lib/model/tiny.ts";
import { makeBatch, sideTensors } from "../lib/train/batch.ts";
import { generationLoss, klDivergence, logProbs } from "../lib/train/loss.ts";
import { SecurityAwareLoRAModel } from "../lib/train/security_model.ts";
import { vocabTerms } from "../lib/train/vocab_loss.ts";
import { maxAbsDiff } from "./util_ffi.ts";

const B = 2, T = 7, D = 5, V = 11;
const ids = tensor(
  BigInt64Array.from([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 0, 0], BigInt),
  [B, T],
  { dtype: "i64" },
).keep();
const mask = tensor(BigInt64Array.from([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0], BigInt), [
  B,
  T,
], { dtype: "i64" }).keep();

for (const chunkRows of [1, 3, 4, 100]) {
  Deno.test(`vocabTerms (chunk ${chunkRows} rows) = autograd on full logits: values and ∂/∂h`, () => {
    manualSeed(11);
    tidy(() => {
      const h = randn([B, T, D]);
      const hRef = randn([B, T, D]);
      const w = randn([V, D]);
      const head = (x: Tensor) => x.matmul(w.transpose(0, 1));
      const nGen = 10, nKl = 12; // targets: mask[:,1:] has 6 + 4 ones; real tokens 7 + 5
      const [gw, kw] = [0.7, 1.3];
      const v = vocabTerms({
        hidden: h,
        refHidden: hRef,
        ids,
        mask,
        head,
        headWeight: w,
        genWeight: gw,
        klWeight: kw,
        chunkRows,
      });
      // reference: autograd through the full logits
      const hl = h.detach().requiresGrad_(true);
      const logp = logProbs(head(hl));
      const gen = generationLoss(logp, ids, mask); // mean over nGen
      const ref = noGrad(() => head(hRef));
      const kl = klDivergence(ref, logp, mask); // mean over nKl
      assert.ok(Math.abs(v.genSum / nGen - gen.item()) < 1e-5, "gen");
      assert.ok(Math.abs(v.klSum / nKl - kl.item()) < 1e-5, "kl");
      gen.mul(gw * nGen).add(kl.mul(kw * nKl)).backward();
      const err = maxAbsDiff(v.gradHidden.toNumbers(), hl.grad!.toNumbers());
      assert.ok(err < 1e-5, `gradient max abs err ${err}`);
    });
  });
}

Deno.test("vocabTerms without a reference: KL sum 0, gradient of gen only", () => {
  manualSeed(12);
  tidy(() => {
    const h = randn([B, T, D]);
    const w = randn([V, D]);
    const head = (x: Tensor) => x.matmul(w.transpose(0, 1));
    const v = vocabTerms({
      hidden: h,
      refHidden: null,
      ids,
      mask,
      head,
      headWeight: w,
      genWeight: 1,
      klWeight: 5,
      chunkRows: 3,
    });
    const hl = h.detach().requiresGrad_(true);
    const gen = generationLoss(logProbs(head(hl)), ids, mask);
    gen.mul(10).backward();
    assert.equal(v.klSum, 0);
    assert.ok(maxAbsDiff(v.gradHidden.toNumbers(), hl.grad!.toNumbers()) < 1e-5);
  });
});

Deno.test("memory-saving backward = plain backward when the KL clamp is active (no KL gradient)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dg_vocab_" });
  await makeTiny("qwen2", `${dir}/m`, { layers: 3, seed: 5 });
  manualSeed(3);
  const m = await SecurityAwareLoRAModel.create(`${dir}/m`, {
    layers: 2,
    lora: { dropout: 0 },
    analyzerDropout: 0,
    loss: { klClamp: 1e-9 },
  });
  m.train(false);
  noGrad(() =>
    tidy(() => {
      for (const [n, t] of m.trainableParameters()) {
        if (n.includes("lora_B")) t.copy_(randn(t.shape).mul(0.1));
      }
    })
  );
  const tk = m.tokenizer;
  const host = makeBatch([
    {
      index: 0,
      secure: tk.encode("def f(x):\n    return x + 1"),
      vulnerable: tk.encode("x"),
      cwe: "c",
    },
    { index: 1, secure: tk.encode("int a;"), vulnerable: tk.encode("eval(input())"), cwe: "c" },
  ], tk.padTokenId ?? 0);
  const grads = (ck: boolean) => {
    for (const [, t] of m.trainableParameters()) t.zeroGrad();
    const v = tidy(() =>
      m.lossAndBackward(
        { secure: sideTensors(host.secure), vulnerable: sideTensors(host.vulnerable) },
        2,
        ck,
      )
    );
    const g = m.trainableParameters().map(([n, t]) => [n, t.grad?.toNumbers()] as const);
    return { v, g };
  };
  const plain = grads(false), saving = grads(true);
  assert.ok(plain.v.klUnclamped > 1e-9, "the clamp must be active for this test");
  for (const k of ["total", "gen", "sec", "kl", "klUnclamped"] as const) {
    assert.ok(Math.abs(saving.v[k] - plain.v[k]) < 1e-5 * (1 + Math.abs(plain.v[k])), k);
  }
  let worst = 0;
  plain.g.forEach(([n, a], i) => {
    const b = saving.g[i][1];
    assert.equal(a === undefined, b === undefined, n);
    if (a && b) worst = Math.max(worst, maxAbsDiff(a, b));
  });
  assert.ok(worst < 1e-5, `gradient max abs diff ${worst}`);
  m.dispose();
  await Deno.remove(dir, { recursive: true });
});
