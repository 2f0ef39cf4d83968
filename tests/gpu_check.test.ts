/**
 * scripts/gpu-check.sh without a GPU: `--dry-run` lists every step with its time limit inside the
 * 9-minute budget, bad arguments stop it, and tasks/gpu_report.ts renders a run's step log and
 * benchmark reports into docs/gpu.md's section (replaced, not repeated, by the next run).
 */
import assert from "node:assert/strict";

async function run(cmd: string, args: string[]) {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test("gpu-check.sh --dry-run: every step time-boxed, the limits fit the 9-minute budget", async () => {
  const r = await run("bash", ["scripts/gpu-check.sh", "--dry-run"]);
  assert.equal(r.code, 0, r.stderr);
  const steps = r.stdout.split("\n").map((l) => /^(\S+)\s+(\d+) s {2}(.*)$/.exec(l)).filter((m) =>
    m !== null
  );
  assert.deepEqual(steps.map((m) => m[1]), [
    "machine-venv",
    "setup",
    "doctor",
    "tests-cuda",
    "generate-0.5b",
    "graphs-0.5b",
    "train-0.5b",
    ...["1.5b", "7b"].flatMap((s) => [`generate-${s}`, `train-${s}`]),
  ]);
  const total = steps.reduce((n, m) => n + Number(m[2]), 0);
  assert.ok(total <= 540, `limits add up to ${total} s`);
  assert.match(r.stdout, new RegExp(`total of the limits: ${total} s \\(budget 540 s\\)`));
  for (const m of steps.filter((m) => /^(generate|graphs|train)-/.test(m[1]))) {
    assert.match(m[3], /--device cuda --dtype bf16 --shape qwen2\.5-coder-/);
    assert.match(m[3], /--out bench\/results\/gpu-/);
  }
  assert.match(steps[3][3], /DG_TEST_DEVICE=cuda .* test -A tests\//);
  assert.match(steps[3][3], / tests\/model_static_step\.test\.ts /);
  assert.match(
    steps[5][3],
    /--batches 1 .*--cuda-graphs --out bench\/results\/gpu-graphs-0\.5b\.json/,
  );
  for (const bad of [["--bogus"], ["--budget", "soon"]]) {
    const b = await run("bash", ["scripts/gpu-check.sh", ...bad]);
    assert.equal(b.code, 2);
    assert.match(b.stderr, /gpu-check: /);
  }
});

Deno.test("gpu_report: step log + benchmark reports → docs section, replaced on the next run", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dg-gpu-report-" });
  try {
    const steps = [
      ["doctor", "0", "4", "20", "deno run -A tasks/doctor.ts"],
      ["generate-7b", "0", "70", "80", "deno run -A tasks/bench_generate.ts"],
      ["graphs-0.5b", "0", "21", "25", "deno run -A tasks/bench_generate.ts --cuda-graphs"],
      ["train-7b", "124", "60", "60", "deno run -A tasks/bench_train.ts"],
    ];
    await Deno.writeTextFile(`${dir}/steps.tsv`, steps.map((s) => s.join("\t") + "\n").join(""));
    await Deno.writeTextFile(`${dir}/gpu-machine.txt`, "NVIDIA H200, 143771 MiB, 580.1\n");
    await Deno.writeTextFile(
      `${dir}/gpu-generate-7b.json`,
      JSON.stringify({
        shape: "qwen2.5-coder-7b",
        runs: [{ batch: 16, deno_tok_s: 812.5, hf_tok_s: 640.25, ratio: 1.269 }],
      }),
    );
    await Deno.writeTextFile(
      `${dir}/gpu-graphs-0.5b.json`,
      JSON.stringify({
        shape: "qwen2.5-coder-0.5b",
        runs: [{
          batch: 1,
          deno_tok_s: 61.5,
          deno_graphs_tok_s: 240.25,
          graphs_speedup: 3.906,
          graphs_tokens_identical: true,
          graphs_tokens_identical_normal_step: false,
          cuda_graphs: "on",
        }],
      }),
    );
    await Deno.writeTextFile(`${dir}/doc.md`, "# GPU runs\n\nintro\n");
    const args = ["run", "-A", "tasks/gpu_report.ts", "--steps", `${dir}/steps.tsv`];
    const report = [...args, "--results", dir, "--doc", `${dir}/doc.md`];
    for (let i = 0; i < 2; i++) {
      const r = await run(Deno.execPath(), report);
      assert.equal(r.code, 0, r.stderr);
    }
    const doc = await Deno.readTextFile(`${dir}/doc.md`);
    assert.ok(doc.startsWith("# GPU runs\n\nintro\n"));
    assert.equal(doc.split("<!-- gpu-check:begin -->").length, 2, "one section after two runs");
    assert.match(doc, /GPU: NVIDIA H200, 143771 MiB, 580\.1/);
    assert.match(doc, /\| train-7b \| 124 \| 60 \| 60 \|/);
    assert.match(doc, /\| qwen2\.5-coder-7b \| 16 \| 812\.5 \| 640\.25 \| 1\.269 \|/);
    assert.match(doc, /\| 7b \| no result \|/);
    assert.match(
      doc,
      /\| qwen2\.5-coder-0\.5b \| 1 \| 61\.5 \| 240\.25 \| 3\.906 \| true \/ false \| on \|/,
    );
    const json = JSON.parse(await Deno.readTextFile(`${dir}/gpu-check.json`));
    assert.equal(json.steps[3].exit, "124");
    await Deno.writeTextFile(`${dir}/steps.tsv`, "doctor\t0\n");
    const bad = await run(Deno.execPath(), report);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /steps\.tsv:1: expected name, exit, seconds, limit, command/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
