/**
 * The OpenAI-compatible server driven by the official `openai` client on a tiny checkpoint:
 * completions and chat against lib/model's `generate` (the independent reference), streaming =
 * non-streaming, n > 1, stop, seeds, echo, continuous batching giving exactly the sequential
 * outputs, guided decoding against lib/pipeline's guided generator, per-token scores against a
 * full forward, every error status, cancellation, shutdown and no tensor leak.
 */
import assert from "node:assert/strict";
import OpenAI from "openai";
import { liveTensors, noGrad, tensor, tidy } from "../ffi/mod.ts";
import { generate } from "../lib/model/generate.ts";
import { loadGenerator } from "../lib/pipeline/generator.ts";
import { SecurityAwareLoRAModel } from "../lib/train/security_model.ts";
import { type RunningServer, startServer } from "../lib/serve/mod.ts";
import { makeServeFixture, renderTinyChat } from "./serve_fixture.ts";
import { flags } from "./util_tiny.ts";

const dir = await Deno.makeTempDir({ prefix: "dg-serve-" });
await makeServeFixture(dir, true);
const MODEL = `${dir}/model`;
const ADAPTER = `${dir}/adapter`;
const PROMPTS = [
  "def add(a, b):",
  "import os\n",
  "for i in range(10):",
  "x = ",
  "class Foo:",
  "def get_user(user_id):\n    conn",
  "@app.route(",
  "with open(path) as f:",
];

function client(s: RunningServer, apiKey = "none"): OpenAI {
  return new OpenAI({ baseURL: `${s.url}/v1`, apiKey, maxRetries: 0 });
}

/** Starts a server, runs `fn`, closes it; asserts no tensor outlives the server. */
async function withServer(
  opts: Partial<Parameters<typeof startServer>[0]>,
  fn: (s: RunningServer, c: OpenAI) => Promise<void>,
): Promise<void> {
  const before = liveTensors();
  const s = await startServer({ model: MODEL, port: 0, ...opts });
  try {
    await fn(s, client(s, opts.apiKey));
  } finally {
    await s.close();
  }
  assert.equal(liveTensors(), before, "tensors leaked by the server");
}

const reference = async (prompts: string[], maxNewTokens: number, special = true) => {
  const gen = await loadGenerator({ model: MODEL });
  try {
    return prompts.map((p) =>
      generate(gen.model, gen.tokenizer, [p], { maxNewTokens, addSpecialTokens: special }).texts[0]
    );
  } finally {
    gen.dispose();
  }
};

/** A completion request to the served "model": `prompt`, `max_tokens`, then `more`. */
function completion<T extends object>(prompt: string, max_tokens: number, more: T) {
  return { model: "model", prompt, max_tokens, ...more };
}

Deno.test("completions and chat equal lib/model generate; usage; models; echo", async () => {
  const want = await reference(PROMPTS.slice(0, 3), 12);
  const chatPrompt = renderTinyChat([{ role: "user", content: "write a loop" }]);
  const [wantChat] = await reference([chatPrompt], 10, false);
  await withServer({}, async (s, c) => {
    const models = await c.models.list();
    assert.deepEqual(models.data.map((m) => m.id), ["model"]);
    assert.equal((await c.models.retrieve("model")).id, "model");
    const r = await c.completions.create({
      model: "model",
      prompt: PROMPTS.slice(0, 3),
      max_tokens: 12,
      temperature: 0,
    });
    assert.deepEqual(r.choices.map((ch) => ch.text), want);
    const promptTokens = PROMPTS.slice(0, 3)
      .reduce((a, p) => a + s.served.tokenizer.encode(p).length, 0);
    assert.equal(r.usage!.prompt_tokens, promptTokens);
    assert.equal(r.usage!.total_tokens, promptTokens + r.usage!.completion_tokens);
    const echo = await c.completions.create({
      model: "model",
      prompt: PROMPTS[0],
      max_tokens: 12,
      temperature: 0,
      echo: true,
    });
    assert.equal(echo.choices[0].text, PROMPTS[0] + want[0]);
    const chat = await c.chat.completions.create({
      model: "model",
      messages: [{ role: "user", content: "write a loop" }],
      max_tokens: 10,
      temperature: 0,
    });
    assert.equal(chat.object, "chat.completion");
    assert.equal(chat.choices[0].message.role, "assistant");
    assert.equal(chat.choices[0].message.content, wantChat);
    assert.equal(
      chat.usage!.prompt_tokens,
      s.served.tokenizer.encode(chatPrompt, { addSpecialTokens: false }).length,
    );
  });
});

Deno.test("streaming equals non-streaming (completions, chat, n = 2, usage chunk, [DONE])", async () => {
  await withServer({}, async (s, c) => {
    const args = completion(PROMPTS[5], 20, { temperature: 0.9, seed: 7, n: 2 });
    const full = await c.completions.create(args);
    const texts = ["", ""];
    let usage: OpenAI.CompletionUsage | undefined;
    const finish: (string | null)[] = [null, null];
    const stream = await c.completions.create({
      ...args,
      stream: true,
      stream_options: { include_usage: true },
    });
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      for (const ch of chunk.choices) {
        texts[ch.index] += ch.text;
        if (ch.finish_reason) finish[ch.index] = ch.finish_reason;
      }
    }
    assert.deepEqual(texts, full.choices.map((ch) => ch.text));
    assert.deepEqual(finish, full.choices.map((ch) => ch.finish_reason));
    assert.deepEqual(usage, full.usage);
    const msgs = [{ role: "user" as const, content: "hello" }];
    const chat = await c.chat.completions.create({
      model: "model",
      messages: msgs,
      max_tokens: 15,
      temperature: 0,
    });
    let streamed = "";
    for await (
      const chunk of await c.chat.completions.create({
        model: "model",
        messages: msgs,
        max_tokens: 15,
        temperature: 0,
        stream: true,
      })
    ) streamed += chunk.choices[0]?.delta.content ?? "";
    assert.equal(streamed, chat.choices[0].message.content);
    const raw = await fetch(`${s.url}/v1/completions`, {
      method: "POST",
      body: JSON.stringify({ model: "model", prompt: "x", max_tokens: 3, stream: true }),
    });
    assert.match(raw.headers.get("content-type")!, /text\/event-stream/);
    assert.ok((await raw.text()).endsWith("data: [DONE]\n\n"));
  });
});

Deno.test("n > 1, the same seed gives the same text, stop sequences", async () => {
  await withServer({}, async (_s, c) => {
    const args = completion(PROMPTS[1], 16, { temperature: 1, n: 4, seed: 42 });
    const a = await c.completions.create(args);
    const b = await c.completions.create(args);
    assert.equal(a.choices.length, 4);
    assert.deepEqual(a.choices.map((ch) => ch.index), [0, 1, 2, 3]);
    assert.deepEqual(a.choices.map((ch) => ch.text), b.choices.map((ch) => ch.text));
    assert.ok(new Set(a.choices.map((ch) => ch.text)).size > 1, "4 samples all identical");
    const other = await c.completions.create({ ...args, seed: 43 });
    assert.notDeepEqual(other.choices.map((ch) => ch.text), a.choices.map((ch) => ch.text));
    const greedy = await c.completions.create({
      model: "model",
      prompt: PROMPTS[2],
      max_tokens: 20,
      temperature: 0,
    });
    const text = greedy.choices[0].text;
    const stop = text.slice(5, 8);
    assert.ok(stop.length === 3 && text.indexOf(stop) >= 0);
    for (const stream of [false, true]) {
      let got = "", reason: string | null = null;
      if (stream) {
        for await (
          const ch of await c.completions.create({
            model: "model",
            prompt: PROMPTS[2],
            max_tokens: 20,
            temperature: 0,
            stop: [stop, "never-there"],
            stream: true,
          })
        ) {
          got += ch.choices[0].text;
          reason = ch.choices[0].finish_reason ?? reason;
        }
      } else {
        const r = await c.completions.create({
          model: "model",
          prompt: PROMPTS[2],
          max_tokens: 20,
          temperature: 0,
          stop,
        });
        got = r.choices[0].text;
        reason = r.choices[0].finish_reason;
      }
      assert.equal(got, text.slice(0, text.indexOf(stop)), `stream=${stream}`);
      assert.equal(reason, "stop");
    }
  });
});

Deno.test("16 concurrent greedy requests give exactly the sequential outputs (rows join and leave)", async () => {
  await withServer({ maxBatch: 16 }, async (s, c) => {
    const reqs = Array.from({ length: 16 }, (_, i) => ({
      model: "model",
      prompt: PROMPTS[i % PROMPTS.length] + " ".repeat(i % 3),
      max_tokens: 6 + ((i * 5) % 17),
      temperature: 0,
    }));
    const sequential: string[] = [];
    for (const r of reqs) sequential.push((await c.completions.create(r)).choices[0].text);
    const stepsBefore = s.engine.stats().steps;
    const concurrent = await Promise.all(
      reqs.map(async (r) => (await c.completions.create(r)).choices[0].text),
    );
    assert.deepEqual(concurrent, sequential);
    const st = s.engine.stats();
    assert.ok(st.maxBatchSeen >= 8, `batch never grew: ${st.maxBatchSeen}`);
    assert.ok(
      st.steps - stepsBefore < reqs.reduce((a, r) => a + r.max_tokens, 0),
      "steps were not shared",
    );
  });
});

Deno.test("guided decoding = lib/pipeline's guided generator; per-token scores = a full forward", async () => {
  const prompt = PROMPTS[5];
  const gen = await loadGenerator({ model: MODEL, adapter: ADAPTER, guided: true });
  let want: string, wantPlain: string;
  try {
    const proc = gen.guidance!(prompt, gen.tokenizer.encode(prompt))!;
    want = generate(gen.model, gen.tokenizer, [prompt], { maxNewTokens: 12, logitsProcessor: proc })
      .texts[0];
    proc.dispose();
    wantPlain = generate(gen.model, gen.tokenizer, [prompt], { maxNewTokens: 12 }).texts[0];
  } finally {
    gen.dispose();
  }
  assert.notEqual(want, wantPlain, "fixture guidance should change the greedy text");
  await withServer({ adapter: ADAPTER, guided: true }, async (s, c) => {
    const body = { model: "model", prompt, max_tokens: 12, temperature: 0 };
    const guided = await c.completions.create(body);
    assert.equal(guided.choices[0].text, want);
    const off = await c.completions.create({ ...body, guided: false } as typeof body);
    assert.equal(off.choices[0].text, wantPlain);
    const scale0 = await c.completions.create({ ...body, guidance_scale: 0 } as typeof body);
    assert.notEqual(scale0.choices[0].text, want);
    const scored = await c.completions.create({ ...body, security_scores: true } as typeof body);
    const ts = (scored.choices[0] as unknown as { token_scores: { id: number; score: number }[] })
      .token_scores;
    assert.equal(scored.choices[0].text, want);
    assert.equal(ts.length, scored.usage!.completion_tokens);
    // independent: one forward over prompt + completion, analyzer scores at the completion positions
    const sm = await SecurityAwareLoRAModel.load(MODEL, ADAPTER);
    try {
      sm.train(false);
      const promptIds = s.served.tokenizer.encode(prompt);
      const ids = [...promptIds, ...ts.map((t) => t.id)];
      const full = noGrad(() =>
        tidy(() => {
          const idt = tensor(ids, [1, ids.length], { dtype: "i64" });
          return sm.scores(sm.lm.lastHiddenStates(idt, sm.numLayers), idt).toNumbers();
        })
      );
      ts.forEach((t, i) =>
        assert.ok(Math.abs(t.score - full[promptIds.length + i]) < 1e-4, `token ${i}`)
      );
    } finally {
      sm.dispose();
    }
    let streamed = 0;
    for await (
      const ch of await c.completions.create(
        { ...body, security_scores: true, stream: true } as typeof body & { stream: true },
      )
    ) {
      streamed +=
        ((ch.choices[0] as unknown as { token_scores?: unknown[] }).token_scores ?? []).length;
    }
    assert.equal(streamed, ts.length);
  });
});

Deno.test("error statuses: 400, 401, 404, 429 with Retry-After, 503 while shutting down", async () => {
  await withServer({ apiKey: "sekret", maxBatch: 1, maxQueue: 1, maxTokens: 64 }, async (s, c) => {
    const bad = client(s, "wrong");
    await assert.rejects(bad.models.list(), OpenAI.AuthenticationError);
    await assert.rejects(
      c.completions.create({ model: "nope", prompt: "x", max_tokens: 2 }),
      (e) =>
        e instanceof OpenAI.NotFoundError &&
        (e.error as { code: string }).code === "model_not_found",
    );
    for (
      const body of [
        { temperature: 3 },
        { max_tokens: 65 },
        { max_tokens: 0 },
        { n: 2 },
        { prompt: 5 },
        { stop: ["a", "b", "c", "d", "e"] },
        { guided: true },
        { security_scores: true },
        { prompt: "x ".repeat(600) },
      ]
    ) {
      await assert.rejects(
        c.completions.create({ model: "model", prompt: "x", max_tokens: 2, ...body } as never),
        OpenAI.BadRequestError,
        JSON.stringify(body),
      );
    }
    const noJson = await fetch(`${s.url}/v1/completions`, {
      method: "POST",
      headers: { authorization: "Bearer sekret" },
      body: "{",
    });
    assert.equal(noJson.status, 400);
    assert.equal((await noJson.json()).error.type, "invalid_request_error");
    // fill the batch (1 row) and the queue (1 job): the third request gets 429
    const long = { model: "model", prompt: "x", max_tokens: 64, temperature: 0 };
    const running = c.completions.create(long);
    while (s.engine.stats().running === 0) await new Promise((r) => setTimeout(r, 1));
    const queued = c.completions.create(long);
    while (s.engine.stats().queued === 0) await new Promise((r) => setTimeout(r, 1));
    const r429 = await fetch(`${s.url}/v1/completions`, {
      method: "POST",
      headers: { authorization: "Bearer sekret" },
      body: JSON.stringify(long),
    });
    assert.equal(r429.status, 429);
    assert.equal(r429.headers.get("retry-after"), "1");
    assert.equal((await r429.json()).error.code, "rate_limit_exceeded");
    await assert.rejects(c.completions.create(long), OpenAI.RateLimitError);
    // shutdown: accepted requests finish, new ones get 503
    const closing = s.server.shutdown();
    await assert.rejects(
      c.completions.create(long),
      (e) => e instanceof OpenAI.APIError && e.status === 503,
    );
    assert.equal((await running).choices[0].finish_reason, "length");
    assert.equal((await queued).usage!.completion_tokens, 64);
    await closing;
  });
});

Deno.test("a client that disconnects cancels its rows; no tensor leak after 200 requests", async () => {
  await withServer({ maxBatch: 8 }, async (s, c) => {
    const stream = await c.completions.create({
      model: "model",
      prompt: PROMPTS[0],
      max_tokens: 400,
      temperature: 0,
      stream: true,
    });
    let chunks = 0;
    for await (const _ of stream) if (++chunks === 3) break; // leaving the loop aborts the fetch
    while (s.engine.stats().running > 0) await new Promise((r) => setTimeout(r, 1));
    assert.equal(s.engine.stats().cancelled, 1);
    const ac2 = new AbortController();
    const plain = c.completions.create(
      { model: "model", prompt: PROMPTS[1], max_tokens: 400, temperature: 0 },
      { signal: ac2.signal },
    );
    while (s.engine.stats().running < 1) await new Promise((r) => setTimeout(r, 1));
    ac2.abort();
    await assert.rejects(plain);
    await s.engine.idle();

    const st = s.engine.stats();
    assert.equal(st.cancelled, 2);
    assert.equal(st.running, 0);
    assert.ok(st.decodedTokens < 200, `cancelled rows kept decoding: ${st.decodedTokens} tokens`);

    const live = liveTensors();
    const jobs: Promise<unknown>[] = [];
    for (let i = 0; i < 200; i++) {
      const prompt = PROMPTS[i % PROMPTS.length];
      const kind = i % 4;
      if (kind === 0) {
        jobs.push(c.completions.create({ model: "model", prompt, max_tokens: 5, temperature: 0 }));
      }
      if (kind === 1) {
        jobs.push(c.completions.create({ model: "model", prompt, max_tokens: 4, n: 2, seed: i }));
      }
      if (kind === 2) {
        jobs.push((async () => {
          for await (
            const _ of await c.completions.create({
              model: "model",
              prompt,
              max_tokens: 4,
              stream: true,
            })
          ) { /* drain */ }
        })());
      }
      if (kind === 3) {
        jobs.push(
          c.chat.completions.create({
            model: "model",
            messages: [{ role: "user", content: prompt }],
            max_tokens: 3,
          }),
        );
      }
      if (jobs.length === 16) await Promise.all(jobs.splice(0));
    }
    await Promise.all(jobs);
    await s.engine.idle();
    assert.equal(liveTensors(), live, "live tensors grew over 200 requests");
  });
});

Deno.test("deno task serve: SIGTERM finishes the running request, then exits 0", async () => {
  const proc = new Deno.Command(Deno.execPath(), {
    args: [
      ...["run", "-A", "--unstable-no-legacy-abort"],
      new URL("../tasks/serve.ts", import.meta.url).pathname,
      ...flags({ model: MODEL, port: 0, "max-batch": 2 }),
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!/serving .* at (http:\S+)\/v1/.test(out)) {
    const { value, done } = await lines.read();
    if (done) break;
    out += value;
  }
  const url = out.match(/at (http:\S+)\/v1/)![1];
  const c = new OpenAI({ baseURL: `${url}/v1`, apiKey: "none", maxRetries: 0 });
  const stream = await c.completions.create({
    model: "model",
    prompt: "x",
    max_tokens: 60,
    temperature: 0,
    stream: true,
  });
  const it = stream[Symbol.asyncIterator]();
  let text = (await it.next()).value!.choices[0].text;
  proc.kill("SIGTERM");
  let reason: string | null = null;
  for (let r = await it.next(); !r.done; r = await it.next()) {
    text += r.value.choices[0].text;
    reason = r.value.choices[0].finish_reason ?? reason;
  }
  assert.equal(reason, "length");
  const status = await proc.status;
  lines.releaseLock();
  await proc.stdout.cancel().catch(() => {});
  const err = await new Response(proc.stderr).text();
  assert.equal(status.code, 0, err);
  assert.ok(text.length > 0);
});
