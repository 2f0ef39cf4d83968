/** Small assertion helpers for the eval tests, on top of node:assert (JSR is not reachable). */
import nodeAssert from "node:assert/strict";

/** Assert that `cond` is truthy. */
export function assert(cond: unknown, msg?: string): asserts cond {
  nodeAssert.ok(cond, msg);
}

/** Deep strict equality. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  nodeAssert.deepStrictEqual(actual, expected, msg);
}

type ErrClass = new (...a: never[]) => Error;

function check(e: unknown, cls?: ErrClass | RegExp, includes?: string): void {
  const msg = e instanceof Error ? e.message : String(e);
  if (cls instanceof RegExp) nodeAssert.match(msg, cls);
  else if (cls) nodeAssert.ok(e instanceof cls, `expected ${cls.name}, got ${String(e)}`);
  if (includes) nodeAssert.ok(msg.includes(includes), `"${msg}" does not include "${includes}"`);
}

/** Assert that `fn` throws (an instance of `cls` / a message matching the RegExp, including `includes`). */
export function assertThrows(fn: () => unknown, cls?: ErrClass | RegExp, includes?: string): void {
  try {
    fn();
  } catch (e) {
    check(e, cls, includes);
    return;
  }
  nodeAssert.fail("expected an exception");
}

/** Async variant of {@link assertThrows}. */
export async function assertRejects(
  fn: () => Promise<unknown>,
  cls?: ErrClass | RegExp,
  includes?: string,
): Promise<void> {
  try {
    await fn();
  } catch (e) {
    check(e, cls, includes);
    return;
  }
  nodeAssert.fail("expected a rejection");
}
