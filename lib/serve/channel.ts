/**
 * An unbounded single-consumer async queue: the engine pushes a request's events from its step
 * loop, the HTTP handler consumes them with `for await`.
 * @module
 */

/** Push values; iterate them once, in order. */
export class Channel<T> implements AsyncIterable<T> {
  readonly #items: T[] = [];
  #wake: (() => void) | null = null;

  /** Adds a value and wakes the consumer. */
  push(v: T): void {
    this.#items.push(v);
    this.#wake?.();
    this.#wake = null;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    while (true) {
      while (this.#items.length > 0) yield this.#items.shift()!;
      await new Promise<void>((r) => (this.#wake = r));
    }
  }
}
