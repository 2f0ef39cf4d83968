/**
 * The last step of scripts/gpu-check.sh: turns its step log (TSV: name, exit code, seconds,
 * limit, command) and the benchmark reports it wrote (`gpu-generate-*.json`,
 * `gpu-graphs-*.json`, `gpu-train-*.json`) into gpu-check.json beside them and the results section
 * of docs/gpu.md (between the `gpu-check:begin` / `gpu-check:end` markers, appended when absent),
 * so the document always shows the last run's own numbers.
 * @module
 */
import { defineFlags, runMain, UsageError } from "../lib/util/cli.ts";

const cli = defineFlags({
  steps: { type: "path", kind: "file", required: true, help: "step log of gpu-check.sh (TSV)" },
  results: { type: "path", kind: "dir", required: true, help: "folder of the gpu-*.json reports" },
  doc: { type: "path", kind: "file", required: true, help: "markdown file to update" },
}, { name: "gpu_report" });

const BEGIN = "<!-- gpu-check:begin -->";
const END = "<!-- gpu-check:end -->";

interface Step {
  name: string;
  exit: string;
  seconds: number;
  limit: number;
  command: string;
}

function readSteps(path: string): Step[] {
  return Deno.readTextFileSync(path).split("\n").filter((l) => l.trim()).map((line, i) => {
    const [name, exit, seconds, limit, command] = line.split("\t");
    if (command === undefined || !Number.isFinite(Number(seconds))) {
      throw new UsageError(`${path}:${i + 1}: expected name, exit, seconds, limit, command`);
    }
    return { name, exit, seconds: Number(seconds), limit: Number(limit), command };
  });
}

/** The benchmark report of a step, or null when the step wrote none. */
function report(dir: string, step: string): Record<string, unknown> | null {
  try {
    return JSON.parse(Deno.readTextFileSync(`${dir}/gpu-${step}.json`));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new UsageError(`${dir}/gpu-${step}.json: ${(e as Error).message}`);
  }
}

const row = (cells: unknown[]) => `| ${cells.map((c) => c ?? "—").join(" | ")} |`;

function section(steps: Step[], dir: string, machine: string): string {
  const lines = [
    BEGIN,
    `## Last \`scripts/gpu-check.sh\` run (${new Date().toISOString().slice(0, 16)}Z)`,
    "",
    `GPU: ${machine || "unknown"}. Steps (exit 124: stopped at its time limit):`,
    "",
    row(["step", "exit", "seconds", "limit"]),
    row(["---", "---", "---:", "---:"]),
    ...steps.map((s) => row([s.name, s.exit, s.seconds, s.limit])),
    "",
    "Generation, bf16 on CUDA, greedy, 64 new tokens (tok/s, TS vs transformers):",
    "",
    row(["shape", "batch", "TS tok/s", "transformers tok/s", "TS / transformers"]),
    row(["---", "---:", "---:", "---:", "---:"]),
  ];
  for (const s of steps.filter((s) => s.name.startsWith("generate-"))) {
    const r = report(dir, s.name);
    const runs = (r?.runs ?? []) as Record<string, unknown>[];
    if (!runs.length) lines.push(row([s.name.slice(9), "no result", "", "", ""]));
    for (const run of runs) {
      lines.push(row([r!.shape, run.batch, run.deno_tok_s, run.hf_tok_s, run.ratio]));
    }
  }
  lines.push(
    "",
    "The decode step replayed as a CUDA graph (`--cuda-graphs`) vs eager, bf16, greedy, 64 new " +
      "tokens (TS tok/s; same tokens: one greedy generate with graphs against the static step " +
      "run eagerly, the same kernels / against the normal step):",
    "",
    row(["shape", "batch", "eager tok/s", "graphs tok/s", "speedup", "same tokens", "graphs"]),
    row(["---", "---:", "---:", "---:", "---:", "---", "---"]),
  );
  for (const s of steps.filter((s) => s.name.startsWith("graphs-"))) {
    const r = report(dir, s.name);
    const runs = (r?.runs ?? []) as Record<string, unknown>[];
    if (!runs.length) lines.push(row([s.name.slice(7), "no result", "", "", "", "", ""]));
    for (const run of runs) {
      lines.push(row([
        r!.shape,
        run.batch,
        run.deno_tok_s,
        run.deno_graphs_tok_s,
        run.graphs_speedup,
        `${run.graphs_tokens_identical} / ${run.graphs_tokens_identical_normal_step}`,
        run.cuda_graphs,
      ]));
    }
  }
  lines.push(
    "",
    "One DeepGuard training step, bf16 on CUDA, 2 pairs × 512 tokens, gradient checkpointing " +
      "(median seconds; speedup = transformers + PEFT / TS):",
    "",
    row(["shape", "TS s", "torch s", "speedup", "torch peak GPU MB", "loss TS / torch"]),
    row(["---", "---:", "---:", "---:", "---:", "---"]),
  );
  for (const s of steps.filter((s) => s.name.startsWith("train-"))) {
    const r = report(dir, s.name);
    lines.push(
      r
        ? row([
          r.shape,
          r.deno_median_s,
          r.torch_median_s,
          r.speedup,
          r.torch_peak_gpu_mb,
          `${Number(r.deno_loss_after).toFixed(5)} / ${Number(r.torch_loss_after).toFixed(5)}`,
        ])
        : row([s.name.slice(6), "no result", "", "", "", ""]),
    );
  }
  lines.push("", "Full log: `bench/results/gpu-check.log`.", END);
  return lines.join("\n") + "\n";
}

await runMain(cli.usage, () => {
  const { values } = cli.parse(Deno.args);
  const steps = readSteps(values.steps);
  const machine = (() => {
    try {
      return Deno.readTextFileSync(`${values.results}/gpu-machine.txt`).trim();
    } catch {
      return "";
    }
  })();
  Deno.writeTextFileSync(
    `${values.results}/gpu-check.json`,
    JSON.stringify({ machine, steps }, null, 2) + "\n",
  );
  const doc = Deno.readTextFileSync(values.doc);
  const text = section(steps, values.results, machine);
  const a = doc.indexOf(BEGIN), b = doc.indexOf(END);
  Deno.writeTextFileSync(
    values.doc,
    a >= 0 && b > a ? doc.slice(0, a) + text + doc.slice(b + END.length + 1) : doc + "\n" + text,
  );
  console.log(text);
});
