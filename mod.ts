/**
 * DeepGuard-TS: secure code generation with security-aware LoRA, multi-layer semantic aggregation
 * and security-guided decoding, on libtorch through a thin C shim and Deno FFI.
 *
 * @example
 * ```ts
 * import { tensor, tidy } from "@deepguard/deepguard-ts";
 * const y = tidy(() => tensor([1, 2, 3]).mul(2).softmax(0));
 * ```
 * @module
 */
export * from "./ffi/mod.ts";
export * from "./lib/nn/mod.ts";
