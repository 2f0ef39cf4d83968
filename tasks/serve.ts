/**
 * `deno task serve`: an OpenAI-compatible server (completions, chat, streaming, continuous
 * batching) for a checkpoint, optionally with a DeepGuard adapter for guided decoding and per-token
 * security scores, plus the playground at `/`. SIGTERM / SIGINT: stop accepting (503), finish the
 * running requests, exit.
 * @module
 */
import { startServer } from "../lib/serve/mod.ts";
import {
  choiceFlag,
  deviceFlag,
  numberFlag,
  parseFlags,
  requiredFlag,
  runMain,
} from "../lib/util/cli.ts";

const USAGE = `usage: deno task serve --model DIR [--adapter DIR] [--guided]
         [--device cpu|cuda|cuda:N] [--dtype f32|bf16] [--host 127.0.0.1] [--port 8000]
         [--api-key KEY] [--max-batch N] [--max-queue N] [--max-context N] [--max-tokens N]
         [--model-name NAME]

  --adapter      DeepGuard adapter directory: enables the "guided" and "security_scores"
                 request fields
  --guided       guided decoding for requests that do not set "guided" (needs --adapter)
  --api-key      require "Authorization: Bearer KEY" on /v1 routes
  --max-batch    rows decoded together (default 8)
  --max-queue    requests waiting for a row before 429 (default 64)
  --max-context  prompt + completion tokens per row (default: max_position_embeddings)
  --max-tokens   largest max_tokens a request may ask for (default 1024)
  --model-name   the model id clients send (default: the checkpoint directory's name)`;

await runMain(USAGE, async () => {
  const flags = parseFlags(Deno.args, {
    model: { type: "string" },
    adapter: { type: "string" },
    guided: { type: "boolean" },
    device: { type: "string" },
    dtype: { type: "string" },
    host: { type: "string" },
    port: { type: "string" },
    "api-key": { type: "string" },
    "max-batch": { type: "string" },
    "max-queue": { type: "string" },
    "max-context": { type: "string" },
    "max-tokens": { type: "string" },
    "model-name": { type: "string" },
  });
  const v = flags.values;
  const s = await startServer({
    model: requiredFlag(flags, "model"),
    adapter: v.adapter as string | undefined,
    guided: v.guided === true,
    device: deviceFlag(flags),
    dtype: choiceFlag(flags, "dtype", ["f32", "bf16"] as const, "f32"),
    host: (v.host as string | undefined) ?? "127.0.0.1",
    port: numberFlag(flags, "port", 8000, { integer: true, min: 0, max: 65535 }),
    apiKey: v["api-key"] as string | undefined,
    maxBatch: numberFlag(flags, "max-batch", 8, { integer: true, min: 1 }),
    maxQueue: numberFlag(flags, "max-queue", 64, { integer: true, min: 0 }),
    maxContext: v["max-context"] === undefined
      ? undefined
      : numberFlag(flags, "max-context", 0, { integer: true, min: 2 }),
    maxTokens: numberFlag(flags, "max-tokens", 1024, { integer: true, min: 1 }),
    modelName: v["model-name"] as string | undefined,
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
