/**
 * The HTTP side: routes (`GET /v1/models`, `POST /v1/completions`, `POST /v1/chat/completions`,
 * the playground at `/`), API-key check, the per-request limits (context length, max_tokens,
 * n), turning a request into engine jobs (one per prompt), and answering as JSON or as server-sent
 * events in OpenAI's chunk format ending with `data: [DONE]`. A client that disconnects cancels
 * its jobs; {@link OpenAIServer.shutdown} answers new requests with 503 while the accepted ones
 * finish.
 * @module
 */
import type { ServedModel } from "./deps.ts";
import type { ChatTemplate } from "./chat.ts";
import {
  type Engine,
  type FinishReason,
  type JobHandle,
  QueueFullError,
  ShuttingDownError,
  type TokenScore,
} from "./engine.ts";
import {
  ApiError,
  chatBody,
  type ChoiceResult,
  chunkBody,
  type CommonSettings,
  completionBody,
  invalid,
  parseChatRequest,
  parseCompletionRequest,
  requestId,
  type Usage,
  usageChunk,
} from "./protocol.ts";
import { Channel } from "./channel.ts";

/** Server settings. */
export interface ServerOptions {
  /** The model id clients must name. */
  modelName: string;
  /** Prompt + completion tokens allowed per row. */
  maxContext: number;
  /** Largest max_tokens a request may ask for (also the chat default cap). */
  maxTokens: number;
  /** Bearer key required on /v1 routes (none: open). */
  apiKey?: string;
  /** Guided decoding when a request does not say (needs the adapter). */
  guidedByDefault: boolean;
}

type Event =
  | { kind: "delta"; index: number; text: string; scores: TokenScore[] }
  | { kind: "finish"; index: number; reason: FinishReason; tokens: number }
  | { kind: "error"; error: Error }
  | { kind: "cancelled" };

/** What a request turned into: its prompts' ids and texts and the engine settings. */
interface Prepared {
  kind: "completion" | "chat";
  settings: CommonSettings;
  prompts: number[][];
  echoTexts: string[] | null;
  maxTokens: number;
  guided: boolean;
}

const PLAYGROUND = new URL("./playground.html", import.meta.url);

/** The OpenAI-compatible server of one model. */
export class OpenAIServer {
  readonly #m: ServedModel;
  readonly #engine: Engine;
  readonly #chat: ChatTemplate | null;
  readonly #o: ServerOptions;
  readonly #created = Math.floor(Date.now() / 1000);
  #http: Deno.HttpServer | null = null;
  #playground: string | null = null;

  constructor(served: ServedModel, engine: Engine, chat: ChatTemplate | null, opts: ServerOptions) {
    this.#m = served;
    this.#engine = engine;
    this.#chat = chat;
    this.#o = opts;
    if (opts.guidedByDefault && !served.security) {
      throw new Error("guided decoding needs a DeepGuard adapter (--adapter DIR)");
    }
  }

  /** Starts listening; resolves with the bound address once ready. */
  listen(hostname: string, port: number): Promise<Deno.NetAddr> {
    return new Promise((resolve) => {
      this.#http = Deno.serve(
        { hostname, port, onListen: (addr) => resolve(addr as Deno.NetAddr) },
        (req) => this.handle(req),
      );
    });
  }

  /** Refuses new requests (503), lets every accepted one finish, then closes the listener. */
  async shutdown(): Promise<void> {
    await this.#engine.drain();
    await this.#http?.shutdown();
  }

  /** Answers one HTTP request. */
  async handle(req: Request): Promise<Response> {
    try {
      const url = new URL(req.url);
      const path = url.pathname.replace(/\/+$/, "") || "/";
      if (path === "/" && req.method === "GET") return await this.#page();
      if (!path.startsWith("/v1/")) throw notFound(`no route ${req.method} ${url.pathname}`);
      this.#auth(req);
      if (path === "/v1/models" && req.method === "GET") {
        return json({ object: "list", data: [this.#modelCard()] });
      }
      if (path.startsWith("/v1/models/") && req.method === "GET") {
        const id = decodeURIComponent(path.slice("/v1/models/".length));
        if (id !== this.#o.modelName) throw unknownModel(id);
        return json(this.#modelCard());
      }
      if (path === "/v1/completions" || path === "/v1/chat/completions") {
        if (req.method !== "POST") {
          throw new ApiError(405, `${url.pathname} takes POST`, { code: "method_not_allowed" });
        }
        if (this.#engine.draining) throw shuttingDown();
        const body = await readJson(req);
        const prep = path === "/v1/completions"
          ? this.#prepareCompletion(body)
          : this.#prepareChat(body);
        return await this.#run(req, prep);
      }
      throw notFound(`no route ${req.method} ${url.pathname}`);
    } catch (e) {
      if (e instanceof ApiError) return errorResponse(e);
      console.error(`serve: internal error: ${(e as Error).stack ?? e}`);
      return errorResponse(
        new ApiError(500, `internal error: ${(e as Error).message}`, { type: "server_error" }),
      );
    }
  }

  #modelCard() {
    return {
      id: this.#o.modelName,
      object: "model",
      created: this.#created,
      owned_by: "deepguard-ts",
    };
  }

  #auth(req: Request): void {
    if (this.#o.apiKey === undefined) return;
    const h = req.headers.get("authorization") ?? "";
    if (h !== `Bearer ${this.#o.apiKey}`) {
      throw new ApiError(401, "Incorrect API key provided", { code: "invalid_api_key" });
    }
  }

  async #page(): Promise<Response> {
    this.#playground ??= await (await fetch(PLAYGROUND)).text();
    return new Response(this.#playground, {
      headers: { "content-type": "text/html; charset=utf-8" },
    });
  }

  #common(s: CommonSettings): { guided: boolean } {
    if (s.model !== this.#o.modelName) throw unknownModel(s.model);
    const guided = s.guided ?? this.#o.guidedByDefault;
    if ((guided || s.securityScores) && !this.#m.security) {
      throw invalid(
        guided ? "guided" : "security_scores",
        "guided decoding and security scores need the server to be started with a DeepGuard adapter (--adapter DIR)",
      );
    }
    if (s.n > this.#engine.maxBatch) {
      throw invalid("n", `'n' = ${s.n} exceeds this server's batch size ${this.#engine.maxBatch}`);
    }
    if (s.maxTokens !== null && s.maxTokens > this.#o.maxTokens) {
      throw invalid(
        "max_tokens",
        `'max_tokens' = ${s.maxTokens} exceeds this server's limit of ${this.#o.maxTokens}`,
      );
    }
    return { guided };
  }

  /** Context check: prompt + max_tokens must fit; returns the effective max_tokens. */
  #limit(prompts: number[][], asked: number | null, fallback: number): number {
    const longest = Math.max(...prompts.map((p) => p.length));
    if (prompts.some((p) => p.length === 0)) {
      throw invalid("prompt", "the prompt is empty after tokenization");
    }
    const room = this.#o.maxContext - longest;
    if (room < 1) {
      throw invalid(
        "prompt",
        `the prompt has ${longest} tokens; this model's maximum context length is ${this.#o.maxContext}`,
      );
    }
    if (asked === null) return Math.min(fallback, room);
    if (asked > room) {
      throw invalid(
        "max_tokens",
        `this model's maximum context length is ${this.#o.maxContext} tokens, but ${longest} prompt tokens + ${asked} max_tokens were requested`,
      );
    }
    return asked;
  }

  #prepareCompletion(body: unknown): Prepared {
    const r = parseCompletionRequest(body);
    const { guided } = this.#common(r);
    const tok = this.#m.tokenizer;
    const vocab = this.#m.model.config.vocabSize;
    const prompts = r.prompts.map((p) => {
      if (typeof p === "string") return tok.encode(p);
      if (p.some((t) => t >= vocab)) {
        throw invalid("prompt", `token ids must be below the vocabulary size ${vocab}`);
      }
      return p;
    });
    const maxTokens = this.#limit(prompts, r.maxTokens, 16);
    const echoTexts = r.echo
      ? r.prompts.map((p) => typeof p === "string" ? p : tok.decode(p))
      : null;
    return { kind: "completion", settings: r, prompts, echoTexts, maxTokens, guided };
  }

  #prepareChat(body: unknown): Prepared {
    const r = parseChatRequest(body);
    const { guided } = this.#common(r);
    if (!this.#chat) {
      throw invalid(
        "messages",
        `the model '${this.#o.modelName}' has no chat_template in tokenizer_config.json; use /v1/completions`,
      );
    }
    const text = this.#chat.render(r.messages);
    const prompts = [this.#m.tokenizer.encode(text, { addSpecialTokens: false })];
    const maxTokens = this.#limit(prompts, r.maxTokens, this.#o.maxTokens);
    return { kind: "chat", settings: r, prompts, echoTexts: null, maxTokens, guided };
  }

  /** Submits one job per prompt and answers as JSON or as an event stream. */
  #run(req: Request, p: Prepared): Response | Promise<Response> {
    const s = p.settings;
    const events = new Channel<Event>();
    const handles: JobHandle[] = [];
    const cancel = () => {
      handles.forEach((h) => h.cancel());
      events.push({ kind: "cancelled" }); // ends the consumer waiting on a job that will say no more
    };
    try {
      p.prompts.forEach((ids, pi) => {
        const base = pi * s.n;
        handles.push(this.#engine.submit({
          promptIds: ids,
          n: s.n,
          maxTokens: p.maxTokens,
          temperature: s.temperature,
          topP: s.topP,
          seed: s.seed,
          stop: s.stop,
          guidanceScale: p.guided ? s.guidanceScale : null,
          scores: s.securityScores,
        }, {
          delta: (c, text, scores) => events.push({ kind: "delta", index: base + c, text, scores }),
          finish: (c, reason, tokens) =>
            events.push({ kind: "finish", index: base + c, reason, tokens }),
          fail: (error) => events.push({ kind: "error", error }),
        }));
      });
    } catch (e) {
      cancel();
      if (e instanceof QueueFullError) {
        throw new ApiError(429, `the server is busy (${e.message}); retry later`, {
          type: "rate_limit_error",
          code: "rate_limit_exceeded",
          headers: { "retry-after": "1" },
        });
      }
      if (e instanceof ShuttingDownError) throw shuttingDown();
      throw e;
    }
    const total = p.prompts.length * s.n;
    const promptTokens = p.prompts.reduce((a, ids) => a + ids.length, 0);
    const id = requestId(p.kind === "chat" ? "chatcmpl" : "cmpl");
    const created = Math.floor(Date.now() / 1000);
    const model = this.#o.modelName;
    const meta = { id, created, model, total, promptTokens };
    if (s.stream) return this.#stream(p, events, cancel, meta);
    // a client that disconnects while waiting aborts the request's signal
    req.signal.addEventListener("abort", cancel);
    if (req.signal.aborted) cancel();
    return this.#collect(p, events, meta).finally(() =>
      req.signal.removeEventListener("abort", cancel)
    );
  }

  async #collect(
    p: Prepared,
    events: Channel<Event>,
    meta: { id: string; created: number; model: string; total: number; promptTokens: number },
  ): Promise<Response> {
    const choices: ChoiceResult[] = Array.from({ length: meta.total }, (_, i) => ({
      index: i,
      text: p.echoTexts ? p.echoTexts[Math.floor(i / p.settings.n)] : "",
      finishReason: "stop",
      scores: p.settings.securityScores ? [] : null,
    }));
    let done = 0, completion = 0;
    for await (const e of events) {
      if (e.kind === "error") {
        throw new ApiError(500, `generation failed: ${e.error.message}`, { type: "server_error" });
      }
      if (e.kind === "cancelled") {
        throw new ApiError(499, "the client closed the request", { code: "client_closed_request" });
      }
      if (e.kind === "delta") {
        choices[e.index].text += e.text;
        choices[e.index].scores?.push(...e.scores);
      } else {
        choices[e.index].finishReason = e.reason;
        completion += e.tokens;
        if (++done === meta.total) break;
      }
    }
    const make = p.kind === "chat" ? chatBody : completionBody;
    return json(
      make(meta.id, meta.model, meta.created, choices, usageOf(meta.promptTokens, completion)),
    );
  }

  #stream(
    p: Prepared,
    events: Channel<Event>,
    cancel: () => void,
    meta: { id: string; created: number; model: string; total: number; promptTokens: number },
  ): Response {
    const enc = new TextEncoder();
    const send = (ctrl: ReadableStreamDefaultController<Uint8Array>, o: unknown) =>
      ctrl.enqueue(enc.encode(`data: ${typeof o === "string" ? o : JSON.stringify(o)}\n\n`));
    const chunk = (part: Parameters<typeof chunkBody>[4]) =>
      chunkBody(p.kind, meta.id, meta.model, meta.created, part);
    const stream = new ReadableStream<Uint8Array>({
      start: async (ctrl) => {
        let done = 0, completion = 0;
        try {
          for (let i = 0; i < meta.total; i++) {
            if (p.kind === "chat") {
              send(ctrl, chunk({ index: i, text: "", role: true, finishReason: null }));
            }
            if (p.echoTexts) {
              send(
                ctrl,
                chunk({
                  index: i,
                  text: p.echoTexts[Math.floor(i / p.settings.n)],
                  finishReason: null,
                }),
              );
            }
          }
          for await (const e of events) {
            if (e.kind === "cancelled") return;
            if (e.kind === "error") {
              send(ctrl, {
                error: { message: e.error.message, type: "server_error", param: null, code: null },
              });
              break;
            }
            if (e.kind === "delta") {
              send(
                ctrl,
                chunk({ index: e.index, text: e.text, finishReason: null, scores: e.scores }),
              );
            } else {
              completion += e.tokens;
              send(ctrl, chunk({ index: e.index, text: "", finishReason: e.reason }));
              if (++done === meta.total) break;
            }
          }
          if (done === meta.total && p.settings.includeUsage) {
            send(
              ctrl,
              usageChunk(
                p.kind,
                meta.id,
                meta.model,
                meta.created,
                usageOf(meta.promptTokens, completion),
              ),
            );
          }
          send(ctrl, "[DONE]");
          ctrl.close();
        } catch {
          cancel(); // the client went away while we were writing
        }
      },
      cancel: () => cancel(),
    });
    return new Response(stream, {
      headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
    });
  }
}

function usageOf(prompt: number, completion: number): Usage {
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
  };
}

async function readJson(req: Request): Promise<unknown> {
  const text = await req.text();
  try {
    return JSON.parse(text);
  } catch (e) {
    throw invalid("body", `the request body is not valid JSON: ${(e as Error).message}`);
  }
}

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

function errorResponse(e: ApiError): Response {
  return json(e.body(), e.status, e.headers);
}

function notFound(message: string): ApiError {
  return new ApiError(404, message, { code: "not_found" });
}

function unknownModel(id: string): ApiError {
  return new ApiError(404, `The model '${id}' does not exist`, {
    param: "model",
    code: "model_not_found",
  });
}

function shuttingDown(): ApiError {
  return new ApiError(503, "the server is shutting down", {
    type: "server_error",
    code: "service_unavailable",
  });
}
