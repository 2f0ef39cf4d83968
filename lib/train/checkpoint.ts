/**
 * Crash-safe checkpoints: a directory is written under a temporary name and renamed into place,
 * so OUT/checkpoint is always either the previous complete checkpoint or the new complete one.
 *
 * A checkpoint holds the adapter + security components (the adapter directory format), the
 * optimizer moments (`optimizer.safetensors`) and `trainer_state.json` (step, epoch, batch cursor,
 * seed, early-stopping state).
 * @module
 */
import { fromBytes, type Tensor } from "../../ffi/mod.ts";
import type { AdamW } from "../nn/mod.ts";
import {
  readHeader,
  readTensorBytes,
  stToTorchDType,
  writeSafetensors,
} from "../model/safetensors.ts";
import type { SecurityAwareLoRAModel } from "./security_model.ts";
import { exists } from "../util/fs.ts";

/** Where the trainer stands; enough to continue with the same next batch. */
export interface TrainerState {
  /** Optimizer steps taken. */
  step: number;
  /** Current epoch (0-based). */
  epoch: number;
  /** Next micro-batch index within the epoch. */
  batchCursor: number;
  /** Seed of the run (shuffles and dropout derive from it). */
  seed: number;
  /** Total optimizer steps planned (for the LR schedule). */
  totalSteps: number;
  /** Best validation loss so far (null before the first validation). */
  bestVal: number | null;
  /** Step of the best validation loss. */
  bestStep: number | null;
  /** Consecutive validations without improvement. */
  badEpochs: number;
  /** Epoch whose validation has already run (−1 = none). */
  validatedEpoch: number;
  /** Step at which the last validation ran (−1 = none). */
  validatedStep: number;
  /** Fingerprint of what must not change across a resume (data, batch sizes, model). */
  fingerprint: string;
}

/** File of the trainer state inside a checkpoint. */
export const STATE_FILE = "trainer_state.json";
/** File of the optimizer moments inside a checkpoint. */
export const OPTIMIZER_FILE = "optimizer.safetensors";

/** Error for a missing or unusable checkpoint. */
export class CheckpointStateError extends Error {
  /** Error class name. */
  override name = "CheckpointStateError";
}

/**
 * Writes `target` atomically: `write(tmp)` fills a fresh temporary directory, which then replaces
 * `target` (the previous version is moved to `target.old` first and removed last).
 */
export async function writeDirAtomic(
  target: string,
  write: (tmp: string) => Promise<void>,
): Promise<void> {
  const tmp = `${target}.tmp`;
  const old = `${target}.old`;
  if (await exists(tmp)) await Deno.remove(tmp, { recursive: true });
  await Deno.mkdir(tmp, { recursive: true });
  await write(tmp);
  if (await exists(target)) {
    if (await exists(old)) await Deno.remove(old, { recursive: true });
    await Deno.rename(target, old);
  }
  await Deno.rename(tmp, target);
  if (await exists(old)) await Deno.remove(old, { recursive: true });
}

/** The newest complete version of an atomically written directory, or null. */
export async function findComplete(target: string): Promise<string | null> {
  for (const d of [target, `${target}.old`]) {
    if (await exists(`${d}/${STATE_FILE}`)) return d;
  }
  return null;
}

/** Saves model (adapter + components), optimizer moments and state into `dir` atomically. */
export async function saveCheckpoint(
  dir: string,
  model: SecurityAwareLoRAModel,
  optimizer: AdamW,
  state: TrainerState,
): Promise<void> {
  await writeDirAtomic(dir, async (tmp) => {
    await model.save(tmp);
    const entries = [...optimizer.stateTensors()].map(([name, t]) => ({ name, tensor: t }));
    await writeSafetensors(`${tmp}/${OPTIMIZER_FILE}`, entries, {
      format: "pt",
      step_count: String(optimizer.stepCount),
    });
    await Deno.writeTextFile(`${tmp}/${STATE_FILE}`, JSON.stringify(state, null, 2) + "\n");
  });
}

/** Reads the trainer state of a checkpoint directory. */
export async function readState(dir: string): Promise<TrainerState> {
  try {
    return JSON.parse(await Deno.readTextFile(`${dir}/${STATE_FILE}`)) as TrainerState;
  } catch (e) {
    throw new CheckpointStateError(`cannot read ${dir}/${STATE_FILE}: ${(e as Error).message}`);
  }
}

/** Restores the optimizer moments and step count saved in `dir`. */
export async function loadOptimizer(dir: string, optimizer: AdamW): Promise<void> {
  const file = `${dir}/${OPTIMIZER_FILE}`;
  const h = await readHeader(file);
  const tensors = new Map<string, Tensor>();
  try {
    for (const [name, info] of h.tensors) {
      const bytes = await readTensorBytes(info);
      const device = optimizer.params[0]?.[1].device ?? "cpu";
      tensors.set(
        name,
        fromBytes(bytes, info.shape, stToTorchDType(info.dtype, file, name), { device }),
      );
    }
    const steps = Number(h.metadata?.step_count ?? NaN);
    if (!Number.isInteger(steps)) throw new CheckpointStateError(`${file}: no step_count`);
    optimizer.loadState(tensors, steps);
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}
