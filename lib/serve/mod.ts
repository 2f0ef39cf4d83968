/**
 * lib/serve — an OpenAI-compatible HTTP server for a checkpoint (optionally with a DeepGuard
 * adapter): completions and chat, streaming, continuous batching, guided decoding and per-token
 * security scores as request extensions, and a playground page.
 *
 * ```ts
 * const s = await startServer({ model: "path/to/checkpoint", port: 8000 });
 * // … POST http://127.0.0.1:8000/v1/completions …
 * await s.close();
 * ```
 * @module
 */
export { type RunningServer, type StartOptions, startServer } from "./app.ts";
export { ChatTemplate } from "./chat.ts";
export {
  Engine,
  type EngineOptions,
  type EngineStats,
  type FinishReason,
  type JobSink,
  type JobSpec,
  QueueFullError,
  ShuttingDownError,
  type TokenScore,
} from "./engine.ts";
export { ApiError } from "./protocol.ts";
export { OpenAIServer, type ServerOptions } from "./server.ts";
