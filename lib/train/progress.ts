/**
 * A one-line training progress display on stderr: rewritten in place on a terminal, one line per
 * update otherwise (logs, subprocess pipes).
 * @module
 */

/** Values shown for one optimizer step. */
export interface ProgressInfo {
  step: number;
  totalSteps: number;
  epoch: number;
  gen: number;
  sec: number;
  kl: number;
  lr: number;
  stepsPerSecond: number;
}

/** Writes progress to stderr. */
export class ProgressBar {
  readonly #tty: boolean;
  readonly #enc = new TextEncoder();
  readonly #quiet: boolean;

  /** @param quiet print nothing */
  constructor(quiet = false) {
    this.#quiet = quiet;
    this.#tty = Deno.stderr.isTerminal();
  }

  /** Shows one step. */
  update(p: ProgressInfo): void {
    if (this.#quiet) return;
    const width = 24;
    const frac = p.totalSteps ? Math.min(1, p.step / p.totalSteps) : 0;
    const filled = Math.round(frac * width);
    const bar = "█".repeat(filled) + "░".repeat(width - filled);
    const line = `[${bar}] step ${p.step}/${p.totalSteps} ep ${p.epoch + 1} ` +
      `gen ${p.gen.toFixed(3)} sec ${p.sec.toFixed(3)} kl ${p.kl.toFixed(4)} ` +
      `lr ${p.lr.toExponential(2)} ${p.stepsPerSecond.toFixed(2)} step/s`;
    this.#write(this.#tty ? `\r\x1b[2K${line}` : `${line}\n`);
  }

  /** Prints a message on its own line. */
  message(text: string): void {
    if (this.#quiet) return;
    this.#write(this.#tty ? `\r\x1b[2K${text}\n` : `${text}\n`);
  }

  /** Ends the in-place line. */
  done(): void {
    if (!this.#quiet && this.#tty) this.#write("\n");
  }

  #write(s: string): void {
    Deno.stderr.writeSync(this.#enc.encode(s));
  }
}
