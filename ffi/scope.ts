/**
 * Tensor lifetime tracking: TF.js-style `tidy` scopes. Every tensor created while a scope is open
 * belongs to the innermost scope; when the scope closes, every tensor it owns is disposed except
 * those returned from the scope function (which move to the enclosing scope) and those marked with
 * `keep()` (which belong to no scope and must be disposed by their owner).
 * @module
 */

/** What a scope needs of a tensor: disposal, and a slot remembering its owning scope. */
export interface Scoped {
  /** True once disposed. */
  readonly isDisposed: boolean;
  /** Frees the native resource. */
  dispose(): void;
  /** The scope that owns it (null: none). */
  scope: Set<Scoped> | null;
}

const scopes: Set<Scoped>[] = [];

/** Registers a new tensor with the innermost open scope (if any). */
export function track(t: Scoped): void {
  const top = scopes[scopes.length - 1];
  if (top) {
    top.add(t);
    t.scope = top;
  }
}

/** Removes a tensor from the scope that owns it, so no scope will dispose it. */
export function untrack(t: Scoped): void {
  if (t.scope) {
    t.scope.delete(t);
    t.scope = null;
  }
}

function isScoped(v: unknown): v is Scoped {
  return typeof v === "object" && v !== null && "scope" in v && "dispose" in v &&
    "isDisposed" in v;
}

function collect(value: unknown, out: Set<Scoped>, seen: Set<unknown>): void {
  if (typeof value !== "object" || value === null || seen.has(value)) return;
  seen.add(value);
  if (isScoped(value)) {
    out.add(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collect(v, out, seen);
  } else if (value instanceof Map) {
    for (const v of value.values()) collect(v, out, seen);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, out, seen);
  }
}

/**
 * Runs `fn` in a new scope and disposes every tensor created inside it except the tensors found in
 * its result (a tensor, or arrays / plain objects / Maps holding tensors), which are handed to the
 * enclosing scope. `fn` must be synchronous: an async function would let the scope close before its
 * tensors are made, so a returned Promise is rejected with a TypeError.
 *
 * @example
 * ```ts
 * const y = tidy(() => x.mul(2).add(1)); // the intermediate x.mul(2) is freed
 * ```
 */
export function tidy<R>(fn: () => R): R {
  const scope = new Set<Scoped>();
  scopes.push(scope);
  let result: R | undefined;
  let ok = false;
  try {
    result = fn();
    ok = true;
  } finally {
    scopes.pop();
    const kept = new Set<Scoped>();
    if (ok) {
      if (result instanceof Promise) {
        ok = false;
      } else {
        collect(result, kept, new Set());
      }
    }
    const parent = scopes[scopes.length - 1] ?? null;
    for (const t of scope) {
      if (kept.has(t)) {
        t.scope = parent;
        parent?.add(t);
      } else {
        t.scope = null;
        if (!t.isDisposed) t.dispose();
      }
    }
  }
  if (result instanceof Promise) {
    throw new TypeError("tidy() takes a synchronous function; await outside the scope");
  }
  return result as R;
}
