/**
 * The OpenAI wire format: request validation into typed, checked settings (every bad field is a
 * 400 naming the field and what was expected, before any work starts), error objects, and the
 * response / stream-chunk shapes of `/v1/completions` and `/v1/chat/completions`.
 *
 * Extensions (ignored by clients that do not know them): request fields `guided` (boolean: security
 * guidance on or off, default the server's `--guided`), `guidance_scale` (number ≥ 0, default 1:
 * multiplies the guidance strength) and `security_scores` (boolean: add `token_scores`, the
 * analyzer's score of every generated token, to each choice or stream chunk).
 * @module
 */
import type { TokenScore } from "./engine.ts";

/** An error answered as OpenAI does: `{error: {message, type, param, code}}` with a status. */
export class ApiError extends Error {
  override name = "ApiError";
  /** HTTP status. */
  readonly status: number;
  /** OpenAI error type. */
  readonly type: string;
  /** Offending request field, if any. */
  readonly param: string | null;
  /** Machine-readable code. */
  readonly code: string | null;
  /** Extra response headers (Retry-After). */
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    message: string,
    o: {
      type?: string;
      param?: string | null;
      code?: string | null;
      headers?: Record<string, string>;
    } = {},
  ) {
    super(message);
    this.status = status;
    this.type = o.type ?? "invalid_request_error";
    this.param = o.param ?? null;
    this.code = o.code ?? null;
    this.headers = o.headers ?? {};
  }

  /** The JSON body. */
  body(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return {
      error: { message: this.message, type: this.type, param: this.param, code: this.code },
    };
  }
}

/** A 400 for field `param`. */
export function invalid(param: string, message: string): ApiError {
  return new ApiError(400, message, { param, code: "invalid_value" });
}

/** Sampling and extension settings shared by both endpoints. */
export interface CommonSettings {
  model: string;
  /** Explicit max_tokens, or null for the endpoint's default. */
  maxTokens: number | null;
  temperature: number;
  topP: number;
  n: number;
  stop: string[];
  seed: number | undefined;
  stream: boolean;
  includeUsage: boolean;
  /** null = server default. */
  guided: boolean | null;
  guidanceScale: number;
  securityScores: boolean;
}

/** A checked `/v1/completions` request. */
export interface CompletionRequest extends CommonSettings {
  /** Prompts, as text or token ids. */
  prompts: (string | number[])[];
  echo: boolean;
}

/** A chat message (text content only). */
export interface ChatMessage {
  role: string;
  content: string;
}

/** A checked `/v1/chat/completions` request. */
export interface ChatRequest extends CommonSettings {
  messages: ChatMessage[];
}

type Obj = Record<string, unknown>;

function isObj(x: unknown): x is Obj {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function opt<T>(o: Obj, k: string, check: (v: unknown) => T, fallback: T): T {
  return o[k] === undefined || o[k] === null ? fallback : check(o[k]);
}

function num(k: string, lo: number, hi: number, integer = false): (v: unknown) => number {
  return (v) => {
    if (typeof v !== "number" || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
      throw invalid(
        k,
        `'${k}' must be ${integer ? "an integer" : "a number"}, got ${JSON.stringify(v)}`,
      );
    }
    if (v < lo || v > hi) throw invalid(k, `'${k}' must be between ${lo} and ${hi}, got ${v}`);
    return v;
  };
}

function bool(k: string): (v: unknown) => boolean {
  return (v) => {
    if (typeof v !== "boolean") {
      throw invalid(k, `'${k}' must be a boolean, got ${JSON.stringify(v)}`);
    }
    return v;
  };
}

function unsupported(o: Obj, k: string, ok: (v: unknown) => boolean): void {
  if (o[k] !== undefined && o[k] !== null && !ok(o[k])) {
    throw invalid(k, `'${k}' = ${JSON.stringify(o[k])} is not supported by this server`);
  }
}

function common(o: Obj, maxTokensKey: string): CommonSettings {
  if (typeof o.model !== "string" || o.model === "") {
    throw invalid("model", "'model' is required and must be a string");
  }
  const stopRaw = o.stop ?? null;
  let stop: string[];
  if (stopRaw === null) stop = [];
  else if (typeof stopRaw === "string") stop = [stopRaw];
  else if (Array.isArray(stopRaw) && stopRaw.every((s) => typeof s === "string")) {
    stop = stopRaw as string[];
  } else throw invalid("stop", "'stop' must be a string or a list of strings");
  if (stop.length > 4) {
    throw invalid("stop", `'stop' takes at most 4 sequences, got ${stop.length}`);
  }
  if (stop.some((s) => s === "")) throw invalid("stop", "'stop' sequences must not be empty");
  const so = o.stream_options ?? null;
  if (so !== null && !isObj(so)) {
    throw invalid("stream_options", "'stream_options' must be an object");
  }
  for (const k of ["presence_penalty", "frequency_penalty"]) unsupported(o, k, (v) => v === 0);
  unsupported(o, "logprobs", (v) => v === false);
  unsupported(o, "best_of", (v) => v === 1);
  unsupported(o, "logit_bias", (v) => isObj(v) && Object.keys(v).length === 0);
  const stream = opt(o, "stream", bool("stream"), false);
  const includeUsage = so !== null
    ? opt(so, "include_usage", bool("stream_options.include_usage"), false)
    : false;
  if (so !== null && !stream) {
    throw invalid("stream_options", "'stream_options' needs 'stream': true");
  }
  return {
    model: o.model,
    maxTokens: opt<number | null>(
      o,
      maxTokensKey,
      num(maxTokensKey, 1, Number.MAX_SAFE_INTEGER, true),
      null,
    ),
    temperature: opt(o, "temperature", num("temperature", 0, 2), 1),
    topP: opt(o, "top_p", num("top_p", Number.MIN_VALUE, 1), 1),
    n: opt(o, "n", num("n", 1, 128, true), 1),
    stop,
    seed: opt<number | undefined>(
      o,
      "seed",
      num("seed", Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, true),
      undefined,
    ),
    stream,
    includeUsage,
    guided: opt<boolean | null>(o, "guided", bool("guided"), null),
    guidanceScale: opt(o, "guidance_scale", num("guidance_scale", 0, 1e6), 1),
    securityScores: opt(o, "security_scores", bool("security_scores"), false),
  };
}

/** Checks a parsed `/v1/completions` body. */
export function parseCompletionRequest(body: unknown): CompletionRequest {
  if (!isObj(body)) throw invalid("body", "the request body must be a JSON object");
  const c = common(body, "max_tokens");
  const p = body.prompt;
  const isIds = (x: unknown): x is number[] =>
    Array.isArray(x) && x.length > 0 && x.every((t) => Number.isInteger(t) && (t as number) >= 0);
  let prompts: (string | number[])[];
  if (typeof p === "string") prompts = [p];
  else if (isIds(p)) prompts = [p];
  else if (Array.isArray(p) && p.length > 0 && p.every((x) => typeof x === "string" || isIds(x))) {
    prompts = p as (string | number[])[];
  } else {
    throw invalid(
      "prompt",
      "'prompt' must be a string, a list of strings, a list of token ids or a list of such lists",
    );
  }
  unsupported(body, "suffix", (v) => v === "");
  return { ...c, prompts, echo: opt(body, "echo", bool("echo"), false) };
}

/** Checks a parsed `/v1/chat/completions` body. */
export function parseChatRequest(body: unknown): ChatRequest {
  if (!isObj(body)) throw invalid("body", "the request body must be a JSON object");
  const key = body.max_completion_tokens !== undefined && body.max_completion_tokens !== null
    ? "max_completion_tokens"
    : "max_tokens";
  const c = common(body, key);
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    throw invalid("messages", "'messages' must be a non-empty list");
  }
  const messages = body.messages.map((m, i): ChatMessage => {
    const where = `messages[${i}]`;
    if (!isObj(m) || typeof m.role !== "string") {
      throw invalid(where, `'${where}' must be an object with a string 'role'`);
    }
    if (typeof m.content === "string") return { role: m.role, content: m.content };
    if (
      Array.isArray(m.content) &&
      m.content.every((x) => isObj(x) && x.type === "text" && typeof x.text === "string")
    ) {
      return { role: m.role, content: (m.content as Obj[]).map((x) => x.text as string).join("") };
    }
    throw invalid(
      `${where}.content`,
      `'${where}.content' must be a string or a list of text parts`,
    );
  });
  unsupported(body, "tools", (v) => Array.isArray(v) && v.length === 0);
  unsupported(body, "response_format", (v) => isObj(v) && v.type === "text");
  return { ...c, messages };
}

/** Token counts of a response. */
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** One finished choice. */
export interface ChoiceResult {
  index: number;
  text: string;
  finishReason: "stop" | "length";
  scores: TokenScore[] | null;
}

/** A new request id with OpenAI's prefixes. */
export function requestId(prefix: "cmpl" | "chatcmpl"): string {
  return `${prefix}-${crypto.randomUUID().replaceAll("-", "")}`;
}

/**
 * A non-streaming response object: both kinds share every field but `object` and how a choice
 * carries its text (`text`, or an assistant `message`).
 */
function responseBody(
  object: "text_completion" | "chat.completion",
  content: (text: string) => Obj,
  ...[id, model, created, choices, usage]: BodyArgs
): Obj {
  return {
    id,
    object,
    created,
    model,
    choices: choices.map((c) => ({
      index: c.index,
      ...content(c.text),
      logprobs: null,
      finish_reason: c.finishReason,
      ...(c.scores ? { token_scores: c.scores } : {}),
    })),
    usage,
  };
}

/** The arguments of both body builders: request id, model name, creation time, choices, usage. */
type BodyArgs = [id: string, model: string, created: number, choices: ChoiceResult[], usage: Usage];

/** The non-streaming `text_completion` object. */
export function completionBody(...args: BodyArgs): Obj {
  return responseBody("text_completion", (text) => ({ text }), ...args);
}

/** The non-streaming `chat.completion` object. */
export function chatBody(...args: BodyArgs): Obj {
  return responseBody(
    "chat.completion",
    (content) => ({ message: { role: "assistant", content } }),
    ...args,
  );
}

/** What a stream chunk carries for one choice. */
export interface ChunkPart {
  index: number;
  /** New text ("" for a scores- or finish-only chunk). */
  text: string;
  /** Chat only: the role announcement of the first chunk. */
  role?: boolean;
  finishReason: "stop" | "length" | null;
  scores?: TokenScore[];
}

/** A streaming chunk (`text_completion` or `chat.completion.chunk`). */
export function chunkBody(
  kind: "completion" | "chat",
  id: string,
  model: string,
  created: number,
  p: ChunkPart,
): Obj {
  const extra = p.scores && p.scores.length > 0 ? { token_scores: p.scores } : {};
  if (kind === "completion") {
    return {
      id,
      object: "text_completion",
      created,
      model,
      choices: [{
        index: p.index,
        text: p.text,
        logprobs: null,
        finish_reason: p.finishReason,
        ...extra,
      }],
    };
  }
  const delta: Obj = {};
  if (p.role) delta.role = "assistant";
  if (p.text !== "" || p.role) delta.content = p.text;
  return {
    id,
    object: "chat.completion.chunk",
    created,
    model,
    choices: [{ index: p.index, delta, logprobs: null, finish_reason: p.finishReason, ...extra }],
  };
}

/** The final usage-only chunk (`stream_options.include_usage`). */
export function usageChunk(
  kind: "completion" | "chat",
  id: string,
  model: string,
  created: number,
  usage: Usage,
): Obj {
  return {
    id,
    object: kind === "completion" ? "text_completion" : "chat.completion.chunk",
    created,
    model,
    choices: [],
    usage,
  };
}
