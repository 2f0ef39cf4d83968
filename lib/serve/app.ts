/**
 * Assembles a server from a checkpoint directory: model (+ adapter), chat template, engine and
 * HTTP layer, with the defaults of `deno task serve`. Tests and the bench start servers this way.
 * @module
 */
import type { Device } from "../../ffi/mod.ts";
import { ChatTemplate } from "./chat.ts";
import { loadServedModel, type ServedModel } from "./deps.ts";
import { Engine } from "./engine.ts";
import { OpenAIServer } from "./server.ts";

/** Options of {@link startServer}. */
export interface StartOptions {
  /** Hugging Face checkpoint directory. */
  model: string;
  /** DeepGuard adapter directory. */
  adapter?: string;
  /** Guided decoding by default (needs `adapter`). */
  guided?: boolean;
  device?: Device;
  dtype?: "f32" | "bf16";
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8000; 0 picks a free port. */
  port?: number;
  apiKey?: string;
  /** Rows decoded together (default 8). */
  maxBatch?: number;
  /** Waiting requests (default 64). */
  maxQueue?: number;
  /** Prompt + completion tokens per row (default: the model's max_position_embeddings). */
  maxContext?: number;
  /** Largest max_tokens a request may ask (default 1024). */
  maxTokens?: number;
  /** Model id (default: the checkpoint directory's name). */
  modelName?: string;
}

/** A listening server and what it owns. */
export interface RunningServer {
  server: OpenAIServer;
  engine: Engine;
  served: ServedModel;
  /** `http://host:port`. */
  url: string;
  modelName: string;
  /** Graceful shutdown (accepted requests finish), then frees the model. */
  close(): Promise<void>;
}

/** Loads the model and starts listening. */
export async function startServer(o: StartOptions): Promise<RunningServer> {
  const chat = await ChatTemplate.load(o.model);
  const served = await loadServedModel(o);
  try {
    const engine = new Engine(served, { maxBatch: o.maxBatch, maxQueue: o.maxQueue });
    const modelName = o.modelName ?? o.model.replace(/\/+$/, "").split("/").pop()!;
    const maxPos = served.model.config.maxPositionEmbeddings;
    const server = new OpenAIServer(served, engine, chat, {
      modelName,
      maxContext: Math.min(o.maxContext ?? maxPos, maxPos),
      maxTokens: o.maxTokens ?? 1024,
      apiKey: o.apiKey,
      guidedByDefault: o.guided ?? false,
    });
    const addr = await server.listen(o.host ?? "127.0.0.1", o.port ?? 8000);
    const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
    return {
      server,
      engine,
      served,
      url: `http://${host}:${addr.port}`,
      modelName,
      async close() {
        await server.shutdown();
        engine.dispose();
        served.dispose();
      },
    };
  } catch (e) {
    served.dispose();
    throw e;
  }
}
