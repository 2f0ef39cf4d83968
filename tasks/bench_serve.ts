/**
 * `deno task bench:serve [--model DIR] [--clients 8] [--requests 4] [--max-tokens 32]
 *  [--max-batch N] [--hf] [--out FILE]`
 *
 * A bounded load test of the OpenAI-compatible server on loopback: the same request set (greedy
 * completions of code prompts, streamed so time to first token is seen) is sent once sequentially
 * (one request at a time) and once by `--clients` concurrent clients × `--requests` requests each,
 * to the same in-process server. Reports per phase p50/p95 latency and time to first token,
 * aggregate completion tokens/s, errors, whether the concurrent outputs equal the sequential ones
 * exactly, and libtorch's live tensor count before and after. With `--hf` the same two phases run
 * against transformers' `transformers serve` (the venv's) on the same checkpoint, or the JSON says
 * why it could not start. Default checkpoint: a make-tiny qwen2 model (4 layers) in a temp dir.
 * Writes bench/results/serve.json (or `--out`).
 * @module
 */
import { getNumThreads, liveTensors } from "../ffi/mod.ts";
import { makeTiny } from "../lib/model/tiny.ts";
import { startServer } from "../lib/serve/mod.ts";
import { defineFlags, runMain } from "../lib/util/cli.ts";
import { PROJECT_ROOT as ROOT } from "../lib/util/paths.ts";

const positive = { type: "int", min: 1, expect: "a positive integer" } as const;

const cli = defineFlags({
  model: {
    type: "path",
    kind: "dir",
    help: "checkpoint (default: make-tiny qwen2, 4 layers, in a temp dir)",
  },
  clients: { ...positive, default: 8, help: "concurrent clients" },
  requests: { ...positive, default: 4, help: "requests per client" },
  "max-tokens": {
    ...positive,
    default: 32,
    help: "completion tokens per request (greedy; EOS may stop earlier)",
  },
  "max-batch": { ...positive, help: "server batch rows (default: --clients)" },
  hf: { type: "boolean", help: "also load transformers' `transformers serve` the same way" },
  out: { type: "outFile", default: "bench/results/serve.json", help: "output JSON" },
}, { name: "bench:serve" });

const PROMPTS = [
  "def add(a, b):",
  "import os\nimport subprocess\n",
  "for i in range(10):",
  "def get_user(user_id):\n    conn = get_db_connection()\n",
  '@app.route("/ping")\ndef ping():\n',
  "with open(path) as f:",
  "class Foo:\n    def __init__(self):",
  "url = request.args.get(",
];

interface Sample {
  ok: boolean;
  latencyMs: number;
  ttftMs: number | null;
  tokens: number;
  text: string;
  error?: string;
}

/**
 * The JSON payloads of a server-sent-event stream's `data:` lines, up to `data: [DONE]` (each
 * event of an OpenAI stream is one such line).
 */
// deno-lint-ignore no-explicit-any
async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<any> {
  let rest = "";
  for await (const piece of body.pipeThrough(new TextDecoderStream())) {
    const lines = (rest + piece).split("\n");
    rest = lines.pop()!;
    for (const raw of lines) {
      const line = raw.trim();
      if (line.startsWith("data: ") && line !== "data: [DONE]") yield JSON.parse(line.slice(6));
    }
  }
}

/** One streamed greedy completion, timed. */
async function one(
  base: string,
  model: string,
  prompt: string,
  maxTokens: number,
): Promise<Sample> {
  const t0 = performance.now();
  let ttft: number | null = null, text = "", tokens = 0;
  try {
    const r = await fetch(`${base}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model,
        prompt,
        max_tokens: maxTokens,
        temperature: 0,
        stream: true,
        stream_options: { include_usage: true },
      }),
    });
    if (!r.ok) throw new Error(`HTTP ${r.status}: ${(await r.text()).slice(0, 300)}`);
    for await (const chunk of sseData(r.body!)) {
      const piece = chunk.choices?.[0]?.text ?? "";
      if (piece && ttft === null) ttft = performance.now() - t0;
      text += piece;
      if (chunk.usage) tokens = chunk.usage.completion_tokens;
    }
    return { ok: true, latencyMs: performance.now() - t0, ttftMs: ttft, tokens, text };
  } catch (e) {
    const error = (e as Error).message;
    return { ok: false, latencyMs: performance.now() - t0, ttftMs: null, tokens: 0, text, error };
  }
}

/** 1/5/15-minute load averages (other jobs on a shared machine skew every timing). */
function loadAvg(): number[] | null {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).map(Number);
  } catch {
    return null;
  }
}

function pct(xs: number[], p: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return +s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)].toFixed(1);
}

function summary(samples: Sample[], wallMs: number) {
  const ok = samples.filter((s) => s.ok);
  const tokens = ok.reduce((a, s) => a + s.tokens, 0);
  const ttft = ok.map((s) => s.ttftMs).filter((x): x is number => x !== null);
  return {
    requests: samples.length,
    errors: samples.length - ok.length,
    first_error: samples.find((s) => !s.ok)?.error ?? null,
    wall_s: +(wallMs / 1000).toFixed(3),
    latency_ms: {
      p50: pct(ok.map((s) => s.latencyMs), 50),
      p95: pct(ok.map((s) => s.latencyMs), 95),
    },
    ttft_ms: { p50: pct(ttft, 50), p95: pct(ttft, 95) },
    completion_tokens: tokens,
    tokens_per_s: +(tokens / (wallMs / 1000)).toFixed(1),
  };
}

/** Sequential then concurrent load on `base`; returns both summaries and the output check. */
async function load(
  base: string,
  model: string,
  clients: number,
  perClient: number,
  maxTokens: number,
) {
  const reqs = Array.from({ length: clients * perClient }, (_, i) => PROMPTS[i % PROMPTS.length]);
  await one(base, model, PROMPTS[0], 4); // warm-up
  let t = performance.now();
  const seq: Sample[] = [];
  for (const p of reqs) seq.push(await one(base, model, p, maxTokens));
  const seqWall = performance.now() - t;
  t = performance.now();
  const conc: Sample[] = new Array(reqs.length);
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    for (let k = 0; k < perClient; k++) {
      const i = c * perClient + k;
      conc[i] = await one(base, model, reqs[i], maxTokens);
    }
  }));
  const concWall = performance.now() - t;
  const s = summary(seq, seqWall), cc = summary(conc, concWall);
  return {
    sequential: s,
    concurrent: cc,
    concurrent_over_sequential_tokens_per_s: +(cc.tokens_per_s / s.tokens_per_s).toFixed(2),
    concurrent_outputs_equal_sequential: conc.every((x, i) => x.ok && x.text === seq[i].text),
  };
}

/** Starts `transformers serve` on the checkpoint, runs the load, stops it; or says why not. */
async function hfLoad(model: string, clients: number, perClient: number, maxTokens: number) {
  const exe = `${ROOT}/.venv/bin/transformers`;
  const port = 18000 + Math.floor(Math.random() * 2000);
  let proc: Deno.ChildProcess;
  try {
    proc = new Deno.Command(exe, {
      args: ["serve", model, "--host", "127.0.0.1", "--port", String(port), "--device", "cpu"],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    return { available: false, reason: `cannot run ${exe}: ${(e as Error).message}` };
  }
  const stderr = new Response(proc.stderr).text();
  const stdout = new Response(proc.stdout).text();
  let exited = false;
  const status = proc.status.then((s) => (exited = true, s));
  const base = `http://127.0.0.1:${port}`;
  try {
    const end = Date.now() + 180_000;
    for (;;) {
      if (exited) {
        const err = (await stderr) + (await stdout);
        return {
          available: false,
          reason: `transformers serve exited with code ${(await status).code}: ` +
            err.trim().split("\n").slice(-3).join(" | "),
        };
      }
      const up = await fetch(`${base}/health`).then((r) => r.ok, () => false);
      if (up) break;
      if (Date.now() > end) {
        return { available: false, reason: "transformers serve did not start in 180 s" };
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    return { available: true, ...(await load(base, model, clients, perClient, maxTokens)) };
  } finally {
    if (!exited) proc.kill("SIGTERM");
    await status;
  }
}

await runMain(cli.usage, async () => {
  const { values: v } = cli.parse(Deno.args);
  const { clients, requests: perClient, "max-tokens": maxTokens, out } = v;
  const maxBatch = v["max-batch"] ?? clients;
  let model = v.model;
  let tmp: string | null = null;
  if (!model) {
    tmp = await Deno.makeTempDir({ prefix: "dg-bench-serve-" });
    model = `${tmp}/tiny-qwen2`;
    await makeTiny("qwen2", model, { seed: 5, layers: 4 });
  }
  try {
    const loadBefore = loadAvg();
    const s = await startServer({ model, port: 0, maxBatch, maxQueue: clients * perClient });
    let ours;
    try {
      await fetch(`${s.url}/v1/models`).then((r) => r.body?.cancel());
      const before = liveTensors();
      const res = await load(s.url, s.modelName, clients, perClient, maxTokens);
      await s.engine.idle();
      ours = {
        ...res,
        engine: s.engine.stats(),
        live_tensors_before: before,
        live_tensors_after: liveTensors(),
      };
    } finally {
      await s.close();
    }
    console.log(JSON.stringify(ours, null, 2));
    const hf = v.hf
      ? await hfLoad(model, clients, perClient, maxTokens)
      : { available: false, reason: "not run (pass --hf)" };
    const result = {
      generated_at: new Date().toISOString(),
      checkpoint: v.model ?? "make-tiny qwen2, 4 layers (random weights)",
      machine: {
        cpus: navigator.hardwareConcurrency,
        torch_threads: getNumThreads(),
        device: "cpu",
        load_average_before: loadBefore,
        load_average_after: loadAvg(),
      },
      settings: {
        clients,
        requests_per_client: perClient,
        max_tokens: maxTokens,
        max_batch: maxBatch,
        greedy: true,
        streamed: true,
      },
      deepguard_ts: ours,
      transformers_serve: hf,
    };
    await Deno.mkdir(out.replace(/\/[^/]*$/, ""), { recursive: true });
    await Deno.writeTextFile(out, JSON.stringify(result, null, 2) + "\n");
    console.log(`transformers serve: ${JSON.stringify(hf).slice(0, 400)}`);
    console.log(`wrote ${out}`);
  } finally {
    if (tmp) await Deno.remove(tmp, { recursive: true });
  }
});
