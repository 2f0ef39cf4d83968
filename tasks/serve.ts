/**
 * `deno task serve`: an OpenAI-compatible server (completions, chat, streaming, continuous
 * batching) for a checkpoint, optionally with a DeepGuard adapter for guided decoding and per-token
 * security scores, plus the playground at `/`. SIGTERM / SIGINT: stop accepting (503), finish the
 * running requests, exit.
 * @module
 */
import { startServer } from "../lib/serve/mod.ts";
import { defineFlags, runMain, UsageError } from "../lib/util/cli.ts";

const positive = { type: "int", min: 1, expect: "a positive integer" } as const;

const cli = defineFlags({
  model: { type: "path", kind: "dir", required: true, help: "Hugging Face checkpoint directory" },
  adapter: {
    type: "path",
    kind: "dir",
    help: 'DeepGuard adapter: enables the "guided" and "security_scores" request fields\n' +
      "(a plain PEFT LoRA adapter is merged and served for completion)",
  },
  guided: { type: "boolean", help: 'guided decoding for requests that do not set "guided"' },
  device: { type: "device", help: "where the model runs" },
  dtype: { type: "choice", choices: ["f32", "bf16"], default: "f32", help: "weights dtype" },
  host: { type: "string", default: "127.0.0.1", help: "address to listen on" },
  port: { type: "int", min: 0, max: 65535, default: 8000, help: "port (0: any free one)" },
  "api-key": { type: "string", arg: "KEY", help: 'require "Authorization: Bearer KEY" on /v1' },
  "max-batch": { ...positive, default: 8, help: "rows decoded together" },
  "max-queue": { type: "int", min: 0, default: 64, help: "requests waiting for a row before 429" },
  "max-context": {
    type: "int",
    min: 2,
    help: "prompt + completion tokens per row (default: max_position_embeddings)",
  },
  "max-tokens": { ...positive, default: 1024, help: "largest max_tokens a request may ask for" },
  "model-name": {
    type: "string",
    arg: "NAME",
    help: "the model id clients send (default: the checkpoint directory's name)",
  },
}, {
  name: "serve",
  check: (v) => {
    if (v.guided && !v.adapter) throw new UsageError("--guided needs --adapter DIR");
  },
});

await runMain(cli.usage, async () => {
  const { values: v } = cli.parse(Deno.args);
  const s = await startServer({
    model: v.model,
    adapter: v.adapter,
    guided: v.guided,
    device: v.device,
    dtype: v.dtype,
    host: v.host,
    port: v.port,
    apiKey: v["api-key"],
    maxBatch: v["max-batch"],
    maxQueue: v["max-queue"],
    maxContext: v["max-context"],
    maxTokens: v["max-tokens"],
    modelName: v["model-name"],
  });
  console.log(`serving "${s.modelName}" at ${s.url}/v1 (playground: ${s.url}/)`);
  let stopping = false;
  const stop = async (sig: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${sig}: finishing ${s.engine.stats().running} running requests, then exiting`);
    await s.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", () => stop("SIGTERM"));
  Deno.addSignalListener("SIGINT", () => stop("SIGINT"));
});
