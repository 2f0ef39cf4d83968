/**
 * A one-line progress bar on stderr: `[####....] 120/3500 12.3/s eta 4m`.
 *
 * @module
 */

/** Format seconds as `42s`, `4m`, `1h05m`. */
export function formatEta(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 60) return `${Math.round(s)}s`;
  if (s < 3600) return `${Math.round(s / 60)}m`;
  const h = Math.floor(s / 3600);
  return `${h}h${String(Math.round((s - h * 3600) / 60)).padStart(2, "0")}m`;
}

/** Render one progress line. */
export function progressLine(done: number, total: number, elapsedS: number, width = 30): string {
  const frac = total === 0 ? 1 : done / total;
  const filled = Math.round(frac * width);
  const rate = elapsedS > 0 ? done / elapsedS : 0;
  const eta = rate > 0 ? (total - done) / rate : Infinity;
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total} ${
    rate.toFixed(1)
  }/s eta ${formatEta(eta)}`;
}

/** Progress reporter writing to stderr (carriage return when stderr is a terminal). */
export class Progress {
  #start = performance.now();
  #done = 0;
  #last = 0;
  #tty = Deno.stderr.isTerminal();
  /** Create a reporter for `total` items. */
  constructor(readonly total: number, readonly enabled = true) {}
  /** Record `n` more finished items and redraw (throttled). */
  add(n: number): void {
    this.#done += n;
    const now = performance.now();
    if (!this.enabled || (now - this.#last < 500 && this.#done < this.total)) return;
    this.#last = now;
    const line = progressLine(this.#done, this.total, (now - this.#start) / 1000);
    Deno.stderr.writeSync(new TextEncoder().encode(this.#tty ? `\r${line}` : `${line}\n`));
  }
  /** Finish the line. */
  end(): void {
    if (this.enabled && this.#tty) Deno.stderr.writeSync(new TextEncoder().encode("\n"));
  }
}
