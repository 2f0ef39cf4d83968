/**
 * Memory hygiene and gradient checkpointing: live native tensors return to their start value
 * after training steps (tidy scopes), and the checkpointed backward gives the plain gradients.
 */
import assert from "node:assert/strict";
import { manualSeed, noGrad, PROJECT_ROOT, randn, tidy } from "../ffi/mod.ts";
import { makeTiny } from "../lib/model/tiny.ts";
import { makeBatch, SecurityAwareLoRAModel, sideTensors } from "../lib/train/mod.ts";

const dir = await Deno.makeTempDir({ prefix: "dg_leak_" });
await makeTiny("llama", `${dir}/model`, { layers: 3 });
await Deno.mkdir(`${dir}/data`);
const pair = (i: number) =>
  JSON.stringify({
    func_src_before:
      `def get(id):\n    q = "SELECT * FROM t WHERE id = " + str(id${i})\n    return run(q)`,
    func_src_after: `def get(id):\n    return run("SELECT * FROM t WHERE id = %s", (id${i},))`,
  });
await Deno.writeTextFile(`${dir}/data/train.jsonl`, [0, 1, 2, 3, 4, 5].map(pair).join("\n"));
await Deno.writeTextFile(`${dir}/data/val.jsonl`, [7, 8].map(pair).join("\n"));

/**
 * The native live-tensor counter counts the handles of the calling thread (one count per isolate);
 * the leak probe runs in its own child process so that nothing else in this module moves it.
 */
const PROBE = `
import { liveTensors } from "${import.meta.resolve("../ffi/mod.ts")}";
import { SecurityAwareLoRAModel, train } from "${import.meta.resolve("../lib/train/mod.ts")}";
const [model, data, out] = Deno.args;
const report = {};
const start = liveTensors();
for (const gradCheckpointing of [false, true]) {
  const live = [];
  const r = await train(
    { model, data, out: out + "/" + gradCheckpointing, layers: 3, batchSize: 2, gradAcc: 1,
      epochs: 2, maxSteps: 5, lr: 1e-3, gradCheckpointing, threads: 1 },
    { quiet: true, onStep: () => live.push(liveTensors()) },
  );
  report["steps_" + gradCheckpointing] = r.steps;
  report["live_" + gradCheckpointing] = live;
  report["after_" + gradCheckpointing] = liveTensors();
}
const m = await SecurityAwareLoRAModel.load(model, out + "/false/best");
const loaded = liveTensors();
for (let i = 0; i < 3; i++) m.scoreTokens("int x = y + 1;");
report.scoring = liveTensors() - loaded;
m.dispose();
try { await SecurityAwareLoRAModel.create(model, { layers: 99 }); } catch { /* refused */ }
report.start = start;
report.end = liveTensors();
console.log(JSON.stringify(report));
`;

Deno.test("leak: liveTensors() flat across training steps and back to its start afterwards", async () => {
  const r = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      "--config",
      `${PROJECT_ROOT}/deno.json`,
      PROBE,
      `${dir}/model`,
      `${dir}/data`,
      `${dir}/out`,
    ],
    cwd: PROJECT_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(r.stderr);
  assert.ok(r.success, err);
  const rep = JSON.parse(new TextDecoder().decode(r.stdout).trim().split("\n").pop()!);
  for (const ck of [false, true]) {
    const live: number[] = rep[`live_${ck}`];
    assert.equal(rep[`steps_${ck}`], 5);
    // optimizer moments appear at step 1; from then on the count is flat
    assert.deepEqual(
      live.slice(1),
      live.slice(1).map(() => live[1]),
      `checkpointing ${ck}: ${live}`,
    );
    assert.equal(
      rep[`after_${ck}`],
      rep.start,
      `checkpointing ${ck}: everything freed after train()`,
    );
  }
  assert.equal(rep.scoring, 0, "scoreTokens frees its tensors");
  assert.equal(rep.end, rep.start, "dispose and a refused create free everything");
});

Deno.test("gradient checkpointing: same loss and gradients as the plain backward (dropout off)", async () => {
  manualSeed(1);
  const m = await SecurityAwareLoRAModel.create(`${dir}/model`, {
    layers: 3,
    aggregation: "weighted",
    lora: { dropout: 0 },
    analyzerDropout: 0,
  });
  noGrad(() =>
    tidy(() => m.adapter.namedParameters().forEach(([, t]) => t.copy_(randn(t.shape).mul(0.05))))
  );
  const tk = m.tokenizer;
  const host = makeBatch(
    [0, 1].map((i) => ({
      index: i,
      secure: tk.encode(`int a${i} = b[${i}]; if (i < n) a = b[i];`),
      vulnerable: tk.encode(`int a${i} = b[i];`),
      cwe: "cwe-125",
    })),
    tk.padTokenId,
  );
  const run = (ck: boolean) => {
    for (const [, t] of m.trainableParameters()) t.zeroGrad();
    const v = tidy(() =>
      m.lossAndBackward(
        { secure: sideTensors(host.secure), vulnerable: sideTensors(host.vulnerable) },
        0.5,
        ck,
      )
    );
    const g = m.trainableParameters().map(([n, t]) =>
      [n, tidy(() => t.grad?.toNumbers() ?? [])] as const
    );
    return { v, g };
  };
  const a = run(false), b = run(true);
  assert.ok(Math.abs(a.v.total - b.v.total) < 1e-6);
  for (let i = 0; i < a.g.length; i++) {
    const [name, ga] = a.g[i];
    const gb = b.g[i][1];
    assert.equal(ga.length, gb.length, name);
    const scale = ga.reduce((s, v) => Math.max(s, Math.abs(v)), 1e-6);
    const err = ga.reduce((s, v, j) => Math.max(s, Math.abs(v - gb[j])), 0) / scale;
    assert.ok(err < 1e-4, `${name}: checkpointed gradient differs by ${err}`);
  }
  assert.ok(
    a.g.some(([n, g]) => n.includes("lora_A") && g.some((x) => x !== 0)),
    "LoRA A receives gradient",
  );
  m.dispose();
});

Deno.test("cleanup", async () => {
  await Deno.remove(dir, { recursive: true });
});
