/**
 * A one-line progress bar on stderr: `label [#####.....] 12/40 2.1/s eta 13s  extra`.
 * Redraws in place on a terminal; on a pipe (CI, logs) it prints at most one line every few
 * seconds and the final state, so logs stay short.
 * @module
 */

/** A progress bar for `total` units of work. */
export class ProgressBar {
  readonly #label: string;
  readonly #total: number;
  readonly #start = performance.now();
  readonly #tty = Deno.stderr.isTerminal();
  #lastDraw = 0;
  #done = 0;

  constructor(label: string, total: number) {
    this.#label = label;
    this.#total = Math.max(total, 0);
  }

  /** Sets the completed count (and an optional trailing note) and redraws if due. */
  update(done: number, note = ""): void {
    this.#done = done;
    const now = performance.now();
    const final = done >= this.#total;
    if (!final && now - this.#lastDraw < (this.#tty ? 100 : 5000)) return;
    this.#lastDraw = now;
    const line = this.render(note);
    const enc = new TextEncoder();
    Deno.stderr.writeSync(
      enc.encode(this.#tty ? `\r\x1b[2K${line}${final ? "\n" : ""}` : `${line}\n`),
    );
  }

  /** The bar's current text. */
  render(note = ""): string {
    const width = 24;
    const frac = this.#total ? Math.min(this.#done / this.#total, 1) : 1;
    const filled = Math.round(frac * width);
    const secs = (performance.now() - this.#start) / 1000;
    const rate = secs > 0 ? this.#done / secs : 0;
    const eta = rate > 0 ? (this.#total - this.#done) / rate : NaN;
    return `${this.#label} [${"#".repeat(filled)}${".".repeat(width - filled)}] ` +
      `${this.#done}/${this.#total} ${rate.toFixed(rate < 10 ? 2 : 1)}/s` +
      (Number.isFinite(eta) && this.#done < this.#total ? ` eta ${formatSeconds(eta)}` : "") +
      (note ? `  ${note}` : "");
  }
}

/** 75 → "1m15s", 3700 → "1h01m". */
export function formatSeconds(s: number): string {
  if (s < 60) return `${Math.round(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}
