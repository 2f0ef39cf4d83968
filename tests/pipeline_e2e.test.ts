/**
 * End to end on a tiny checkpoint: train a few steps → `deno task eval --method deepguard` on two
 * demo scenarios with 2 samples each → report files exist and the metrics agree with
 * results.jsonl; a second identical eval run resumes without sampling again; `report` compares.
 */
import assert from "node:assert/strict";
import { PROJECT_ROOT } from "../ffi/mod.ts";
import { makeTiny } from "../lib/model/tiny.ts";
import { DEMO_SCENARIOS, writeDemoTrainingData } from "../lib/pipeline/demo_data.ts";

const deno = Deno.execPath();

async function task(script: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(deno, {
    args: ["run", "-A", `${PROJECT_ROOT}/tasks/${script}`, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.ok(out.success, `${script} failed:\n${text.slice(-3000)}`);
  return text;
}

Deno.test("train → eval (deepguard) → report on a tiny checkpoint", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dg-e2e-" });
  try {
    await makeTiny("qwen2", `${dir}/model`, { seed: 3, layers: 4 });
    await writeDemoTrainingData(`${dir}/data`);
    await task("train.ts", [
      "--model",
      `${dir}/model`,
      "--data",
      `${dir}/data`,
      "--out",
      `${dir}/train`,
      "--max-steps",
      "2",
      "--batch-size",
      "2",
      "--grad-acc",
      "1",
      "--seed",
      "1",
    ]);
    const evalArgs = [
      "--model",
      `${dir}/model`,
      "--adapter",
      `${dir}/train/best`,
      "--method",
      "deepguard",
      "--eval-type",
      "all",
      "--scenarios",
      DEMO_SCENARIOS,
      "--scenario-ids",
      "cwe-078/90-py,cwe-787/90-c",
      "--samples",
      "2",
      "--per-call",
      "2",
      "--max-new-tokens",
      "16",
      "--out",
      `${dir}/eval`,
    ];
    await task("eval.ts", evalArgs);
    for (
      const f of [
        "run.json",
        "completions.jsonl",
        "results.jsonl",
        "summary.json",
        "summary.md",
        "report.html",
      ]
    ) {
      assert.ok((await Deno.stat(`${dir}/eval/${f}`)).size > 0, `${f} written`);
    }
    const results = (await Deno.readTextFile(`${dir}/eval/results.jsonl`)).trim().split("\n")
      .map((l) => JSON.parse(l));
    assert.equal(results.length, 4);
    const summary = JSON.parse(await Deno.readTextFile(`${dir}/eval/summary.json`));
    for (const row of summary.scenarios) {
      const mine = results.filter((r) => r.scenario === row.id);
      assert.equal(row.n, 2, row.id);
      assert.equal(row.parsed, mine.filter((r) => r.parsed).length, `${row.id} parsed`);
      assert.equal(row.functional, mine.filter((r) => r.functional).length, `${row.id} functional`);
      assert.equal(
        row.secureFunctional,
        mine.filter((r) => r.functional && r.secure).length,
        `${row.id} secure-and-functional`,
      );
      assert.equal(row.pass1, (100 * row.functional) / row.n);
    }
    // Same flags again: everything is cached, nothing is sampled twice.
    const before = await Deno.readTextFile(`${dir}/eval/completions.jsonl`);
    await task("eval.ts", evalArgs);
    assert.equal(await Deno.readTextFile(`${dir}/eval/completions.jsonl`), before);
    // Other flags into the same directory are refused.
    const clash = await new Deno.Command(deno, {
      args: [
        "run",
        "-A",
        `${PROJECT_ROOT}/tasks/eval.ts`,
        ...evalArgs.slice(0, -2),
        "--seed",
        "9",
        "--out",
        `${dir}/eval`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(clash.success, false);
    assert.match(new TextDecoder().decode(clash.stderr), /other settings/);
    const report = await task("report.ts", [`${dir}/eval`, "--out", `${dir}/cmp`]);
    assert.match(report, /\| CWE-078 \|/);
    assert.ok((await Deno.stat(`${dir}/cmp/comparison.html`)).size > 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("eval and generate reject bad flags with a usage message", async () => {
  for (
    const [script, args, pattern] of [
      [
        "eval.ts",
        ["--model", "/nonexistent", "--method", "magic", "--out", "/tmp/x"],
        /--method must be one of lm, deepguard/,
      ],
      ["eval.ts", [
        "--model",
        "/m",
        "--method",
        "deepguard",
        "--out",
        "/tmp/x",
        "--scenarios",
        DEMO_SCENARIOS,
      ], /needs --adapter/],
      [
        "eval.ts",
        ["--model", "/m", "--samples", "0", "--out", "/tmp/x"],
        /--samples must be at least 1/,
      ],
      ["generate.ts", ["--model", "/m"], /exactly one of --prompt/],
      ["generate.ts", ["--model", "/m", "--prompt", "x", "--bogus"], /Unknown option '--bogus'/],
      ["report.ts", [], /at least one run directory/],
    ] as const
  ) {
    const out = await new Deno.Command(deno, {
      args: ["run", "-A", `${PROJECT_ROOT}/tasks/${script}`, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.success, false, `${script} ${args.join(" ")}`);
    assert.match(new TextDecoder().decode(out.stderr), pattern);
  }
});
