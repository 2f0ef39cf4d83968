/**
 * Right-padded batches of (vulnerable, secure) token sequences, as host arrays and tensors.
 * @module
 */
import { type Device, type Tensor, tensor } from "../../ffi/mod.ts";
import type { TokenBatch } from "../deepguard/mod.ts";

/** One tokenised training pair. */
export interface PairExample {
  /** Index of the pair in its split (stable across runs; logged for resume checks). */
  index: number;
  /** Secure side ids (func_src_after). */
  secure: number[];
  /** Vulnerable side ids (func_src_before). */
  vulnerable: number[];
  /** CWE label, e.g. `cwe-079`. */
  cwe: string;
}

/** A right-padded [B][T] id matrix with its 1/0 mask. */
export interface PaddedRows {
  ids: number[][];
  mask: number[][];
}

/** A batch of pairs on the host, each side padded to its own longest sequence (or a fixed length). */
export interface PairBatchHost {
  /** Example indices in batch order. */
  indices: number[];
  /** Secure side (func_src_after). */
  secure: PaddedRows;
  /** Vulnerable side (func_src_before). */
  vulnerable: PaddedRows;
}

/** Tensors of one side: ids [B,T] i64 and mask [B,T] i64 (the model's {@link TokenBatch}). */
export type SideTensors = TokenBatch;

/**
 * Pads sequences on the right with `padId` to the longest one, or to `padTo` tokens when given
 * (upstream's `padding='max_length'`; a longer sequence is a RangeError).
 */
export function padRight(
  seqs: readonly (readonly number[])[],
  padId: number,
  padTo?: number,
): PaddedRows {
  const longest = Math.max(1, ...seqs.map((s) => s.length));
  if (padTo !== undefined && longest > padTo) {
    throw new RangeError(`a sequence of ${longest} tokens does not fit padding to ${padTo}`);
  }
  const T = padTo ?? longest;
  return {
    ids: seqs.map((s) => [...s, ...new Array(T - s.length).fill(padId)]),
    mask: seqs.map((s) => [...new Array(s.length).fill(1), ...new Array(T - s.length).fill(0)]),
  };
}

/** Builds the host batch for `examples` (each side padded to `padTo` tokens when given). */
export function makeBatch(
  examples: readonly PairExample[],
  padId: number,
  padTo?: number,
): PairBatchHost {
  if (!examples.length) throw new RangeError("empty batch");
  for (const e of examples) {
    if (!e.secure.length || !e.vulnerable.length) {
      throw new RangeError(`example ${e.index} has an empty side`);
    }
  }
  return {
    indices: examples.map((e) => e.index),
    secure: padRight(examples.map((e) => e.secure), padId, padTo),
    vulnerable: padRight(examples.map((e) => e.vulnerable), padId, padTo),
  };
}

/**
 * The batch as the JSON object the Python loss oracle reads (tools/loss_ref.py `--batch`):
 * `secure_input_ids`, `secure_attention_mask`, `vulnerable_input_ids`, `vulnerable_attention_mask`.
 */
export function batchJson(host: PairBatchHost): string {
  return JSON.stringify({
    secure_input_ids: host.secure.ids,
    secure_attention_mask: host.secure.mask,
    vulnerable_input_ids: host.vulnerable.ids,
    vulnerable_attention_mask: host.vulnerable.mask,
  });
}

/**
 * 1 where an id is not `padId`, else 0: upstream's label / KL / token-statistics mask
 * (deepguard/train.py:198, :264, :329), which also drops a real token equal to the pad token.
 */
export function notPadMask(ids: readonly (readonly number[])[], padId: number): number[][] {
  return ids.map((row) => row.map((id) => (id === padId ? 0 : 1)));
}

/** A [B][T] 0/1 host matrix as an i64 tensor on `device`. */
export function maskTensor(mask: readonly (readonly number[])[], device: Device = "cpu"): Tensor {
  const B = mask.length, T = mask[0].length;
  return tensor(BigInt64Array.from(mask.flat(), (v) => BigInt(v)), [B, T], { device });
}

/** Copies one padded side to tensors on `device`. */
export function sideTensors(rows: PaddedRows, device: Device = "cpu"): SideTensors {
  const B = rows.ids.length, T = rows.ids[0].length;
  return {
    ids: tensor(BigInt64Array.from(rows.ids.flat(), (v) => BigInt(v)), [B, T], { device }),
    mask: tensor(BigInt64Array.from(rows.mask.flat(), (v) => BigInt(v)), [B, T], { device }),
  };
}
