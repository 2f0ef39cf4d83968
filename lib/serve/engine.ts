/**
 * The continuous-batching engine: requests wait in a bounded queue, join the running batch as
 * soon as it has room (each prompt prefilled once, its KV rows copied n times), share one decode
 * forward per step with every other running row, and leave the batch the step they finish or are
 * cancelled. Steps run back to back on the event loop, yielding between steps so the HTTP side
 * keeps accepting, streaming and noticing disconnects.
 *
 * A row's output is reported through its job's {@link JobSink}: text deltas that are always a
 * prefix of the final text (held back while they could still become a stop sequence or an
 * incomplete UTF-8 character), per-token analyzer scores when asked (a token's score needs its
 * hidden state, which the next forward computes, so a finished row stays for one more step), and
 * the finish reason.
 * @module
 */
import { noGrad, type Tensor, tensor, tidy } from "../../ffi/mod.ts";
import { guidanceStrength, KVCache, type ServedModel } from "./deps.ts";
import { RowCache, type RowSource } from "./row_cache.ts";
import { Rng, type RowChoice, RowSampler } from "./sampler.ts";

/** What to generate for one prompt. */
export interface JobSpec {
  /** Prompt token ids (non-empty). */
  promptIds: number[];
  /** Completions of this prompt (rows). */
  n: number;
  /** Tokens to generate at most per row. */
  maxTokens: number;
  /** 0 = greedy. */
  temperature: number;
  /** Nucleus mass in (0, 1]. */
  topP: number;
  /** Seed of the row generators (random when absent). */
  seed?: number;
  /** Stop sequences (not included in the text). */
  stop: string[];
  /** Guidance scale, or null for unguided decoding. */
  guidanceScale: number | null;
  /** Report per-token analyzer scores. */
  scores: boolean;
}

/** A generated token with the analyzer's score. */
export interface TokenScore {
  id: number;
  token: string;
  score: number;
}

/** Why a row stopped: EOS or a stop sequence, or the token limit. */
export type FinishReason = "stop" | "length";

/** Receives a job's output, row by row (`choice` = 0 … n−1). */
export interface JobSink {
  /** New text (and newly scored tokens) of a row. */
  delta(choice: number, text: string, scores: TokenScore[]): void;
  /** The row is done; `tokens` = generated token count (EOS included). */
  finish(choice: number, reason: FinishReason, tokens: number): void;
  /** The job failed (all unfinished rows are dropped). */
  fail(error: Error): void;
}

/** Engine limits. */
export interface EngineOptions {
  /** Rows decoded together at most (default 8). */
  maxBatch?: number;
  /** Jobs waiting at most (default 64). */
  maxQueue?: number;
}

/** The queue is full (HTTP 429). */
export class QueueFullError extends Error {
  override name = "QueueFullError";
}

/** The engine is draining for shutdown (HTTP 503). */
export class ShuttingDownError extends Error {
  override name = "ShuttingDownError";
}

/** A submitted job. */
export interface JobHandle {
  /** Drop the job (queued or running); its rows leave the batch at the next step. */
  cancel(): void;
}

/** Counters for tests, the bench and logs. */
export interface EngineStats {
  running: number;
  queued: number;
  steps: number;
  decodedTokens: number;
  maxBatchSeen: number;
  cancelled: number;
}

interface Job {
  spec: JobSpec;
  sink: JobSink;
  cancelled: boolean;
  strength: number | null;
  live: number;
}

interface Row {
  job: Job;
  choice: number;
  rng: Rng;
  ids: number[];
  /** Non-EOS ids (the text's tokens). */
  textIds: number[];
  emitted: string;
  scored: number;
  pendingScores: TokenScore[];
  finish: FinishReason | null;
  /** Source of its KV rows for the next rebuild (set while joining). */
  join: RowSource | null;
}

/**
 * Lets pending work run between steps. A zero timer every 5 ms lets I/O (new requests, stream
 * writes, disconnects) and timers through; in between, setImmediate — nested zero timers are
 * clamped to milliseconds, which would dominate a small model's step time.
 */
let lastTimer = 0;
function yieldToLoop(): Promise<void> {
  const now = performance.now();
  if (now - lastTimer < 5) return new Promise((r) => setImmediate(r));
  lastTimer = now;
  return new Promise((r) => setTimeout(r, 0));
}

/** The batching engine of one served model. */
export class Engine {
  readonly #m: ServedModel;
  readonly #maxBatch: number;
  readonly #maxQueue: number;
  readonly #eos: Set<number>;
  readonly #queue: Job[] = [];
  #rows: Row[] = [];
  /** The rows in the batch cache, in its row order. */
  #prevRows: Row[] = [];
  readonly #cache: RowCache;
  readonly #sampler: RowSampler;
  #loop: Promise<void> | null = null;
  #draining = false;
  #idle: (() => void)[] = [];
  readonly #stats: EngineStats = {
    running: 0,
    queued: 0,
    steps: 0,
    decodedTokens: 0,
    maxBatchSeen: 0,
    cancelled: 0,
  };

  /** @param served loaded model (the engine does not dispose it) */
  constructor(served: ServedModel, opts: EngineOptions = {}) {
    this.#m = served;
    this.#maxBatch = opts.maxBatch ?? 8;
    this.#maxQueue = opts.maxQueue ?? 64;
    this.#eos = new Set(served.eosTokenIds);
    this.#cache = new RowCache(served.model);
    this.#sampler = new RowSampler(served.security?.tokenStats ?? null);
  }

  /** Rows decoded together at most. */
  get maxBatch(): number {
    return this.#maxBatch;
  }

  /** Current counters. */
  stats(): EngineStats {
    return { ...this.#stats, running: this.#rows.length, queued: this.#queue.length };
  }

  /** Whether {@link drain} was called. */
  get draining(): boolean {
    return this.#draining;
  }

  /**
   * Queues a job. Throws {@link QueueFullError} when `maxQueue` jobs wait already and
   * {@link ShuttingDownError} while draining.
   */
  submit(spec: JobSpec, sink: JobSink): JobHandle {
    if (this.#draining) throw new ShuttingDownError("the server is shutting down");
    if (spec.n > this.#maxBatch) {
      throw new RangeError(`n = ${spec.n} exceeds the batch size ${this.#maxBatch}`);
    }
    if (this.#queue.length >= this.#maxQueue) {
      throw new QueueFullError(`${this.#queue.length} requests are already waiting`);
    }
    const job: Job = { spec, sink, cancelled: false, strength: null, live: spec.n };
    this.#queue.push(job);
    this.#kick();
    return {
      cancel: () => {
        if (job.cancelled || job.live === 0) return;
        job.cancelled = true;
        this.#stats.cancelled++;
        const q = this.#queue.indexOf(job);
        if (q >= 0) this.#queue.splice(q, 1);
      },
    };
  }

  /** Stops accepting jobs and resolves once every accepted job has finished. */
  drain(): Promise<void> {
    this.#draining = true;
    return this.#loop ?? Promise.resolve();
  }

  /** Resolves when no job is queued or running. */
  idle(): Promise<void> {
    if (this.#loop === null) return Promise.resolve();
    return new Promise((r) => this.#idle.push(r));
  }

  /** Frees the engine's tensors (call after {@link drain}). */
  dispose(): void {
    this.#cache.dispose();
    this.#sampler.dispose();
  }

  #kick(): void {
    if (this.#loop !== null) return;
    this.#loop = (async () => {
      try {
        while (this.#queue.length > 0 || this.#rows.length > 0) {
          try {
            this.#step();
          } catch (e) {
            this.#failAll(e instanceof Error ? e : new Error(String(e)));
          }
          await yieldToLoop();
        }
      } finally {
        this.#loop = null;
        for (const r of this.#idle.splice(0)) r();
      }
    })();
  }

  #failAll(e: Error): void {
    const jobs = new Set([...this.#rows.map((r) => r.job), ...this.#queue.splice(0)]);
    this.#rows = [];
    this.#prevRows = [];
    this.#cache.rebuild([], 0);
    for (const j of jobs) {
      j.live = 0;
      j.sink.fail(e);
    }
  }

  /** One engine step: admit waiting jobs, then one shared decode forward. */
  #step(): void {
    this.#stats.steps++;
    const prefills: KVCache[] = [];
    try {
      this.#rows = this.#rows.filter((r) => !r.job.cancelled);
      while (
        this.#queue.length > 0 && this.#rows.length + this.#queue[0].spec.n <= this.#maxBatch
      ) {
        const prefix = this.#admit(this.#queue.shift()!);
        if (prefix) prefills.push(prefix);
      }
      this.#rows = this.#rows.filter((r) => !this.#leaves(r));
      const prev = this.#prevRows;
      const same = prev.length === this.#rows.length && this.#rows.every((r, i) => r === prev[i]);
      if (!same || !this.#cache.hasRoom) this.#rebuild();
    } finally {
      for (const p of prefills) p.dispose();
    }
    if (this.#rows.length > 0) this.#decode();
  }

  /** A row leaves when done: finished and (if scored) its last token scored. */
  #leaves(r: Row): boolean {
    if (r.job.cancelled) return true;
    if (r.finish === null) return false;
    const needsScore = r.job.spec.scores && r.scored < r.textIds.length;
    if (needsScore) return false;
    this.#close(r);
    return true;
  }

  #close(r: Row): void {
    const j = r.job;
    if (r.pendingScores.length > 0) {
      j.sink.delta(r.choice, "", r.pendingScores.splice(0));
    }
    j.live--;
    j.sink.finish(r.choice, r.finish!, r.ids.length);
  }

  #rebuild(): void {
    const cache = this.#cache.cache;
    const lens = this.#cache.lens;
    const index = new Map<Row, number>();
    this.#prevRows.forEach((r, i) => index.set(r, i));
    const sources: RowSource[] = this.#rows.map((r) => {
      if (r.join) return r.join;
      const i = index.get(r)!;
      return { src: cache!, row: i, len: lens[i] };
    });
    const extra = Math.max(
      ...this.#rows.map((r) => r.job.spec.maxTokens - r.ids.length + 2),
    );
    this.#cache.rebuild(sources, extra);
    for (const r of this.#rows) r.join = null;
    this.#prevRows = [...this.#rows];
  }

  /** Prefills a job's prompt once; its n rows take their first token from the prompt's logits. */
  #admit(job: Job): KVCache | null {
    const { spec } = job;
    const m = this.#m.model;
    const sec = this.#m.security;
    const needHidden = spec.guidanceScale !== null;
    const prefix = new KVCache(m.config, 1, spec.promptIds.length, m.dtype, m.device);
    try {
      const logits = noGrad(() =>
        tidy(() => {
          const out = m.forward([spec.promptIds], {
            cache: prefix,
            logitsToKeep: 1,
            outputHiddenStates: needHidden,
          });
          if (needHidden) {
            const hidden = out.hiddenStates!.slice(-sec!.numLayers);
            const ids = tensor(spec.promptIds, [1, spec.promptIds.length], {
              dtype: "i64",
              device: m.device,
            });
            const s = sec!.scores(hidden, ids).toNumbers();
            const mean = s.reduce((a, b) => a + b, 0) / s.length;
            job.strength = guidanceStrength(mean, spec.guidanceScale!);
          }
          return out.logits.select(1, 0).to("f32").keep();
        })
      );
      try {
        const seed = spec.seed ?? Math.floor(Math.random() * 2 ** 31);
        const rows: Row[] = [];
        for (let c = 0; c < spec.n; c++) {
          rows.push({
            job,
            choice: c,
            rng: new Rng(seed, c),
            ids: [],
            textIds: [],
            emitted: "",
            scored: 0,
            pendingScores: [],
            finish: null,
            join: { src: prefix, row: 0, len: spec.promptIds.length },
          });
        }
        const first = noGrad(() =>
          tidy(() => {
            const rep = logits.expand([spec.n, logits.shape[1]]);
            return this.#sampler.pick(rep, rows.map((r) => this.#choice(r)));
          })
        );
        rows.forEach((r, i) => this.#accept(r, first[i]));
        this.#rows.push(...rows);
      } finally {
        logits.dispose();
      }
      return prefix;
    } catch (e) {
      prefix.dispose();
      job.live = 0;
      job.sink.fail(e instanceof Error ? e : new Error(String(e)));
      return null;
    }
  }

  #choice(r: Row): RowChoice {
    const s = r.job.spec;
    const greedy = s.temperature === 0;
    return {
      greedy,
      temperature: greedy ? 1 : s.temperature,
      topP: s.topP,
      u: greedy ? 0 : r.rng.next(),
      strength: r.job.strength,
      step: r.ids.length,
    };
  }

  /** One forward over every running row (its last token), then scores and next tokens. */
  #decode(): void {
    const rows = this.#rows;
    const m = this.#m.model;
    const sec = this.#m.security;
    const wantHidden = sec !== null && rows.some((r) => r.job.spec.scores);
    const cache = this.#cache.cache!;
    this.#stats.maxBatchSeen = Math.max(this.#stats.maxBatchSeen, rows.length);
    const { next, scores } = noGrad(() =>
      tidy(() => {
        const lens = this.#cache.lens;
        const last = rows.map((r) => [r.ids[r.ids.length - 1]]);
        const out = m.forward(last, {
          cache,
          positionIds: lens.map((l) => [l]),
          attentionMask: this.#cache.stepMask(),
          logitsToKeep: 1,
          outputHiddenStates: wantHidden,
        });
        let scores: number[] | null = null;
        if (wantHidden) {
          const ids = tensor(last.flat(), [rows.length, 1], { dtype: "i64", device: m.device });
          scores = sec!.scores(out.hiddenStates!.slice(-sec!.numLayers), ids).toNumbers();
        }
        const active = rows.map((r, i) => [r, i] as const).filter(([r]) => r.finish === null);
        let next: number[] = [];
        if (active.length > 0) {
          let logits: Tensor = out.logits.select(1, 0).to("f32");
          if (active.length < rows.length) {
            const idx = tensor(active.map(([, i]) => i), [active.length], {
              dtype: "i64",
              device: m.device,
            });
            logits = logits.indexSelect(0, idx);
          }
          next = this.#sampler.pick(logits, active.map(([r]) => this.#choice(r)));
        }
        return { next, scores };
      })
    );
    this.#cache.advanced();
    this.#stats.decodedTokens += rows.length;
    if (scores) rows.forEach((r, i) => this.#score(r, scores![i]));
    let k = 0;
    for (const r of rows) if (r.finish === null) this.#accept(r, next[k++]);
  }

  /** Records the analyzer score of the row's last fed token (skipped for EOS). */
  #score(r: Row, score: number): void {
    if (!r.job.spec.scores) return;
    const id = r.ids[r.ids.length - 1];
    if (this.#eos.has(id) || r.scored >= r.textIds.length) return;
    const token = this.#m.tokenizer.decode([id]);
    r.scored++;
    r.pendingScores.push({ id, token, score });
    if (r.finish === null) r.job.sink.delta(r.choice, "", r.pendingScores.splice(0));
  }

  /** Appends a generated token, detects EOS / stop / length, emits the new stable text. */
  #accept(r: Row, id: number): void {
    const s = r.job.spec;
    r.ids.push(id);
    if (this.#eos.has(id)) {
      r.finish = "stop";
    } else {
      r.textIds.push(id);
    }
    let text = this.#m.tokenizer.decode(r.textIds, { skipSpecialTokens: true });
    for (const stop of s.stop) {
      const at = text.indexOf(stop);
      if (at >= 0) {
        text = text.slice(0, at);
        r.finish = "stop";
      }
    }
    if (r.finish === null && r.ids.length >= s.maxTokens) r.finish = "length";
    const stable = r.finish !== null ? text : holdBack(text, s.stop);
    if (stable.length > r.emitted.length && stable.startsWith(r.emitted)) {
      const delta = stable.slice(r.emitted.length);
      r.emitted = stable;
      r.job.sink.delta(r.choice, delta, []);
    }
  }
}

/**
 * The part of `text` that can be shown now: without a trailing incomplete UTF-8 character and
 * without a suffix that could still grow into a stop sequence.
 */
export function holdBack(text: string, stops: readonly string[]): string {
  let end = text.length;
  while (end > 0 && text[end - 1] === "\uFFFD") end--;
  let cut = end;
  for (const stop of stops) {
    for (let k = Math.min(stop.length - 1, end); k > 0; k--) {
      if (text.slice(end - k, end) === stop.slice(0, k)) {
        cut = Math.min(cut, end - k);
        break;
      }
    }
  }
  return text.slice(0, cut);
}
