/**
 * The server's single doorway into the rest of the toolkit: every model, tokenizer, guidance and
 * analyzer symbol lib/serve uses comes through here, so a move of those modules (lib/model's
 * internals, guided decoding and scoring into lib/deepguard) is one edit in this file.
 *
 * {@link loadServedModel} loads a base checkpoint, optionally with a DeepGuard adapter, and exposes
 * the analyzer as the narrow {@link SecurityHead} the engine needs (per-token scores from the last L
 * hidden states, and the learned token statistics for guidance); a plain PEFT adapter is served
 * for completion without them.
 * @module
 */
import type { Device, Tensor } from "../../ffi/mod.ts";
import { loadPretrained } from "../model/load.ts";
import type { DecoderLM } from "../model/qwen_llama.ts";
import type { Tokenizer } from "../model/tokenizer.ts";
import { KVCache } from "../model/kv_cache.ts";
import { loadLora } from "../lora/mod.ts";
import { guidanceStrength, normalizeStats } from "../deepguard/guided.ts";
import { DeepGuardModel, missingDeepGuardFiles } from "../deepguard/model.ts";

export { guidanceStrength, KVCache, normalizeStats };
export type { DecoderLM, Tokenizer };

/** What the engine needs from the security analyzer. */
export interface SecurityHead {
  /** Number L of last hidden states the aggregator reads. */
  numLayers: number;
  /** Per-token scores [B,T] in (0, 1) from the last L hidden states ([B,T,D] each) and ids [B,T]. */
  scores(hidden: readonly Tensor[], ids: Tensor): Tensor;
  /** Token security statistic per vocabulary id (guidance direction). */
  tokenStats: Float32Array;
}

/** A loaded model ready to serve. */
export interface ServedModel {
  model: DecoderLM;
  tokenizer: Tokenizer;
  /** EOS ids from generation_config.json / config.json / the tokenizer. */
  eosTokenIds: number[];
  /** The analyzer, present when an adapter was loaded. */
  security: SecurityHead | null;
  dispose(): void;
}

/** Options of {@link loadServedModel}. */
export interface LoadServedOptions {
  /** Hugging Face checkpoint directory. */
  model: string;
  /** DeepGuard adapter directory (PEFT adapter + security components). */
  adapter?: string;
  dtype?: "f32" | "bf16";
  device?: Device;
}

/**
 * Loads the base model in inference mode. A DeepGuard adapter brings the analyzer (scores,
 * guidance); a plain PEFT LoRA adapter is merged for plain completion. Either way the LoRA is
 * merged into the base weights, so decoding runs the base model's own (fused) path.
 */
export async function loadServedModel(opts: LoadServedOptions): Promise<ServedModel> {
  const dtype = opts.dtype ?? "f32";
  const device = opts.device ?? "cpu";
  if (opts.adapter && (await missingDeepGuardFiles(opts.adapter)).length === 0) {
    const dg = await DeepGuardModel.load(opts.model, opts.adapter, { dtype, device });
    dg.train(false);
    dg.adapter.mergeAndUnload(dg.lm);
    return {
      model: dg.lm,
      tokenizer: dg.tokenizer,
      eosTokenIds: eosIds(dg.lm.generationConfig.eosTokenIds, dg.tokenizer),
      security: {
        numLayers: dg.numLayers,
        scores: (hidden, ids) => dg.scores(hidden, ids),
        tokenStats: dg.tokenStats,
      },
      dispose: () => dg.dispose(),
    };
  }
  const pre = await loadPretrained(opts.model, { dtype, device });
  pre.model.train(false);
  if (opts.adapter) {
    try {
      (await loadLora(pre.model, opts.adapter)).mergeAndUnload(pre.model);
    } catch (e) {
      pre.model.dispose();
      throw e;
    }
  }
  return {
    model: pre.model,
    tokenizer: pre.tokenizer,
    eosTokenIds: eosIds(pre.generation.eosTokenIds, pre.tokenizer),
    security: null,
    dispose: () => pre.model.dispose(),
  };
}

function eosIds(fromConfig: number[] | null, tokenizer: Tokenizer): number[] {
  const s = new Set(fromConfig ?? []);
  if (tokenizer.eosTokenId !== null) s.add(tokenizer.eosTokenId);
  return [...s];
}
