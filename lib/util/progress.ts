/**
 * The one progress bar of the toolkit, on stderr: `label [#####.....] 12/40 2.10/s eta 13s  note`.
 * Redrawn in place on a terminal; on a pipe (CI, logs) it prints at most one line every few
 * seconds plus the final state, so logs stay short. The rate counts only the work done in this
 * run: units done before it started (`initial`, or the first update when `initial` is not given)
 * and units found already done on the way ({@link ProgressBar.skip}, e.g. cache hits) are left out,
 * so a resumed run shows its own speed.
 * @module
 */

/** Options of {@link ProgressBar}. */
export interface ProgressOptions {
  /** Print nothing (default false). */
  quiet?: boolean;
  /** Minimum milliseconds between redraws on a pipe (default 5000; 100 on a terminal). */
  pipeIntervalMs?: number;
  /** Units already done when the bar starts. When omitted, a bar driven by {@link ProgressBar.add}
   * starts at 0 at its creation; one driven by absolute {@link ProgressBar.update} counts takes the
   * first update's count as the starting point (and its time as the start). */
  initial?: number;
}

/** A progress bar for `total` units of work. */
export class ProgressBar {
  /** Shown before the bar. */
  readonly label: string;
  /** Units of work in all. */
  readonly total: number;
  readonly #quiet: boolean;
  readonly #tty = Deno.stderr.isTerminal();
  readonly #interval: number;
  readonly #enc = new TextEncoder();
  #start = performance.now();
  #first: number | null = null;
  #skipped = 0;
  #lastDraw = -Infinity;
  #done = 0;
  #open = false;

  /** A bar for `total` units, labelled `label`. */
  constructor(label: string, total: number, options: ProgressOptions = {}) {
    this.label = label;
    this.total = Math.max(total, 0);
    this.#quiet = options.quiet ?? false;
    this.#interval = this.#tty ? 100 : options.pipeIntervalMs ?? 5000;
    if (options.initial !== undefined) this.#first = this.#done = options.initial;
  }

  /** Sets the completed count (with an optional trailing note) and redraws if due. */
  update(done: number, note = ""): void {
    if (this.#first === null) {
      this.#first = done;
      this.#start = performance.now();
    }
    this.#done = done;
    const now = performance.now();
    const final = done >= this.total;
    if (this.#quiet || (!final && now - this.#lastDraw < this.#interval)) return;
    this.#lastDraw = now;
    this.#write(this.#tty ? `\r\x1b[2K${this.render(note)}` : `${this.render(note)}\n`);
    this.#open = this.#tty;
    if (final) this.end();
  }

  /** Adds `n` units that were already done (resumed work): they advance the bar, not the rate. */
  skip(n: number, note = ""): void {
    if (this.#first === null) {
      this.#first = this.#done;
      this.#start = performance.now();
    }
    this.#skipped += n;
    this.update(this.#done + n, note);
  }

  /** Adds `n` completed units (counting from the bar's creation when nothing was set before). */
  add(n: number, note = ""): void {
    this.#first ??= this.#done;
    this.update(this.#done + n, note);
  }

  /** Prints a message on its own line without breaking the bar. */
  message(text: string): void {
    if (this.#quiet) return;
    this.#write(this.#open ? `\r\x1b[2K${text}\n` : `${text}\n`);
    this.#lastDraw = -Infinity;
    this.#open = false;
  }

  /** Ends the in-place line. */
  end(): void {
    if (this.#open) this.#write("\n");
    this.#open = false;
  }

  /** The bar's current text. */
  render(note = ""): string {
    const width = 24;
    const frac = this.total ? Math.min(this.#done / this.total, 1) : 1;
    const filled = Math.round(frac * width);
    const secs = (performance.now() - this.#start) / 1000;
    const rate = secs > 0 ? (this.#done - (this.#first ?? 0) - this.#skipped) / secs : 0;
    const eta = rate > 0 ? (this.total - this.#done) / rate : NaN;
    return `${this.label} [${"#".repeat(filled)}${".".repeat(width - filled)}] ` +
      `${this.#done}/${this.total} ${rate.toFixed(2)}/s` +
      (Number.isFinite(eta) && this.#done < this.total ? ` eta ${formatSeconds(eta)}` : "") +
      (note ? `  ${note}` : "");
  }

  #write(s: string): void {
    Deno.stderr.writeSync(this.#enc.encode(s));
  }
}

/** 42 → "42s", 75 → "1m15s", 3700 → "1h01m". */
export function formatSeconds(s: number): string {
  if (s < 60) return `${Math.round(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}
