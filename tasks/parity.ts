/**
 * `deno task parity [--out FILE] [--fresh]`: compare the TS model and tokenizer with transformers.
 *
 * Runs `tools/parity_ref.py` (cached per script version), loads the same checkpoint directories in
 * TS, and compares: single-prompt logits and all hidden states, greedy continuations (32 tokens,
 * EOS stopping off), a left-padded batch (logits, hidden states, greedy), the legacy
 * (transformers-4 key layout) config, seeded sampling (temperature / top-k / top-p: same seed →
 * same tokens as transformers), and tokenizer ids/decoding on every cases.json entry.
 * Writes bench/results/parity.json.
 *
 * Metrics: `max_abs_err_logits` = max |ts − ref| over all prompts and positions;
 * `max_rel_err_hidden` = max over prompts and hidden-state index k of
 * max|ts − ref| / max|ref|. Batch metrics use real (non-pad) positions only for logits;
 * `batch_max_abs_err_logits_all` includes pad positions too.
 *
 * @module
 */

import { fromFile, noGrad, type Tensor, tidy } from "../ffi/mod.ts";
import { generate } from "../lib/model/generate.ts";
import { loadPretrained } from "../lib/model/load.ts";
import { readHeader, stToTorchDType } from "../lib/model/safetensors.ts";
import { Tokenizer } from "../lib/model/tokenizer.ts";
import { parseConfig } from "../lib/model/config.ts";
import { ensureReference } from "./parity_ref.ts";
import { PROJECT_ROOT as ROOT } from "../lib/util/paths.ts";
import { venvPythonJson } from "../lib/util/python.ts";
import { defineFlags, runMain } from "../lib/util/cli.ts";

/** Parity numbers of one architecture. */
export interface ArchParity {
  max_abs_err_logits: number;
  max_rel_err_hidden: number;
  greedy_tokens_equal: boolean;
  batch_max_abs_err_logits: number;
  batch_max_abs_err_logits_all: number;
  batch_max_rel_err_hidden: number;
  batch_greedy_tokens_equal: boolean;
  legacy_config_same: boolean;
  num_hidden_states: number;
}

/** Tokenizer parity of one tokenizer directory. */
export interface TokParity {
  cases: number;
  ids_equal: number;
  ids_no_special_equal: number;
  decoded_equal: number;
  decoded_skip_equal: number;
  all_equal: boolean;
}

interface RefJson {
  single: { text: string; input_ids: number[]; greedy: number[] }[];
  batch: {
    input_ids: number[][];
    attention_mask: number[][];
    position_ids: number[][];
    greedy: number[][];
  };
}

async function refTensors(file: string): Promise<Map<string, Tensor>> {
  const h = await readHeader(file);
  const m = new Map<string, Tensor>();
  for (const [name, info] of h.tensors) {
    m.set(
      name,
      fromFile(info.file, info.offset, info.byteLength, info.shape, stToTorchDType(info.dtype))
        .keep(),
    );
  }
  return m;
}

function maxAbs(a: Tensor, b: Tensor): number {
  return tidy(() => a.sub(b).abs().maxAll().item());
}

function relErr(a: Tensor, b: Tensor): number {
  return tidy(() => a.sub(b).abs().maxAll().item() / Math.max(b.abs().maxAll().item(), 1e-30));
}

/** Compare one architecture directory. */
export async function archParity(refDir: string, arch: string): Promise<ArchParity> {
  const dir = `${refDir}/${arch}`;
  const ref: RefJson = JSON.parse(await Deno.readTextFile(`${dir}/reference.json`));
  const tensors = await refTensors(`${dir}/reference.safetensors`);
  const { model, tokenizer } = await loadPretrained(dir);
  const N = model.config.numLayers;
  let maxLogit = 0, maxHid = 0, greedyEq = true;
  noGrad(() => {
    ref.single.forEach((s, i) => {
      tidy(() => {
        const out = model.forward([s.input_ids], { outputHiddenStates: true });
        maxLogit = Math.max(
          maxLogit,
          maxAbs(out.logits.squeeze(0), tensors.get(`single.${i}.logits`)!),
        );
        out.hiddenStates!.forEach((h, k) => {
          maxHid = Math.max(maxHid, relErr(h.squeeze(0), tensors.get(`single.${i}.hidden.${k}`)!));
        });
        if (out.hiddenStates!.length !== N + 1) throw new Error(`expected ${N + 1} hidden states`);
      });
      const enc = tokenizer.encode(s.text);
      if (JSON.stringify(enc) !== JSON.stringify(s.input_ids)) greedyEq = false;
      const g = generate(model, tokenizer, [s.input_ids], {
        maxNewTokens: s.greedy.length,
        stopAtEos: false,
      });
      if (JSON.stringify(g.tokens[0]) !== JSON.stringify(s.greedy)) greedyEq = false;
    });
  });
  // batch
  const bt = ref.batch;
  let bLogit = 0, bLogitAll = 0, bHid = 0;
  noGrad(() =>
    tidy(() => {
      const out = model.forward(bt.input_ids, {
        attentionMask: bt.attention_mask,
        positionIds: bt.position_ids,
        outputHiddenStates: true,
      });
      const refL = tensors.get("batch.logits")!;
      bLogitAll = maxAbs(out.logits, refL);
      bt.attention_mask.forEach((row, b) => {
        const start = row.indexOf(1);
        const len = row.length - start;
        bLogit = Math.max(
          bLogit,
          maxAbs(
            out.logits.select(0, b).narrow(0, start, len),
            refL.select(0, b).narrow(0, start, len),
          ),
        );
        out.hiddenStates!.forEach((h, k) => {
          const r = tensors.get(`batch.hidden.${k}`)!.select(0, b).narrow(0, start, len);
          bHid = Math.max(bHid, relErr(h.select(0, b).narrow(0, start, len), r));
        });
      });
    })
  );
  const prompts = bt.input_ids.map((ids, b) => ids.filter((_, j) => bt.attention_mask[b][j] === 1));
  const g = generate(model, tokenizer, prompts, {
    maxNewTokens: bt.greedy[0].length,
    stopAtEos: false,
  });
  const bGreedy = JSON.stringify(g.tokens) === JSON.stringify(bt.greedy);
  // legacy layout config parses to the same ModelConfig
  const legacy = parseConfig(
    JSON.parse(await Deno.readTextFile(`${refDir}/${arch}_legacy_config.json`)),
  );
  const legacySame = JSON.stringify({ ...legacy, torchDtype: null }) ===
    JSON.stringify({ ...model.config, torchDtype: null });
  model.dispose();
  for (const t of tensors.values()) t.dispose();
  return {
    max_abs_err_logits: maxLogit,
    max_rel_err_hidden: maxHid,
    greedy_tokens_equal: greedyEq,
    batch_max_abs_err_logits: bLogit,
    batch_max_abs_err_logits_all: bLogitAll,
    batch_max_rel_err_hidden: bHid,
    batch_greedy_tokens_equal: bGreedy,
    legacy_config_same: legacySame,
    num_hidden_states: N + 1,
  };
}

/** Compare one tokenizer directory against its cases.json. */
export async function tokenizerParity(dir: string): Promise<TokParity> {
  const tok = await Tokenizer.load(dir);
  const cases: {
    text: string;
    ids: number[];
    ids_no_special: number[];
    decoded: string;
    decoded_skip: string;
  }[] = JSON.parse(await Deno.readTextFile(`${dir}/cases.json`));
  const eq = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  const r = {
    cases: cases.length,
    ids_equal: 0,
    ids_no_special_equal: 0,
    decoded_equal: 0,
    decoded_skip_equal: 0,
  };
  for (const c of cases) {
    if (eq(tok.encode(c.text), c.ids)) r.ids_equal++;
    if (eq(tok.encode(c.text, { addSpecialTokens: false }), c.ids_no_special)) {
      r.ids_no_special_equal++;
    }
    if (tok.decode(c.ids) === c.decoded) r.decoded_equal++;
    if (tok.decode(c.ids, { skipSpecialTokens: true }) === c.decoded_skip) r.decoded_skip_equal++;
  }
  return {
    ...r,
    all_equal: [r.ids_equal, r.ids_no_special_equal, r.decoded_equal, r.decoded_skip_equal].every((
      x,
    ) => x === r.cases),
  };
}

/** Sampling configurations checked against transformers (same seed → same tokens). */
const SAMPLING: Record<string, { temperature: number; topK: number; topP: number }> = {
  temperature: { temperature: 0.7, topK: 0, topP: 1 },
  top_k: { temperature: 1.3, topK: 10, topP: 1 },
  top_p: { temperature: 0.4, topK: 50, topP: 0.95 },
};

// Seeded HF sampling reference (only the parity task runs Python).
const HF_SAMPLE_PY = `
import sys, json, copy, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
d, prompt, cfgs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
m = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32).eval()
tok = AutoTokenizer.from_pretrained(d)
ids = torch.tensor([tok(prompt)["input_ids"]])
out = {}
for name, c in cfgs.items():
    gc = copy.deepcopy(m.generation_config); gc.pad_token_id = tok.eos_token_id
    torch.manual_seed(123)
    o = m.generate(ids, attention_mask=torch.ones_like(ids), do_sample=True, max_new_tokens=16,
                   num_return_sequences=3, generation_config=gc,
                   temperature=c["temperature"], top_k=c["topK"], top_p=c["topP"])
    out[name] = o[:, ids.shape[1]:].tolist()
print(json.dumps(out))
`;

/**
 * Seeded sampling parity: transformers `manual_seed(123)` + generate(do_sample, 3 sequences,
 * 16 tokens, EOS stopping on) vs TS `generate({seed: 123, ...})` for temperature / top-k / top-p
 * settings (rows compared up to and including their first EOS).
 */
export async function samplingParity(dir: string): Promise<Record<string, boolean>> {
  const prompt = "def fibonacci(n):";
  const ref = await venvPythonJson<Record<string, number[][]>>("HF sampling reference", [
    "-c",
    HF_SAMPLE_PY,
    dir,
    prompt,
    JSON.stringify(SAMPLING),
  ]);
  const { model, tokenizer } = await loadPretrained(dir);
  const res: Record<string, boolean> = {};
  for (const [name, c] of Object.entries(SAMPLING)) {
    const g = generate(model, tokenizer, [prompt], {
      ...c,
      doSample: true,
      seed: 123,
      maxNewTokens: 16,
      numReturnSequences: 3,
    });
    // HF pads finished rows with the pad id (= EOS here); compare up to and including the first EOS
    const eos = tokenizer.eosTokenId;
    const trimmed = (ref[name] as number[][]).map((row) => {
      const i = row.indexOf(eos!);
      return i >= 0 ? row.slice(0, i + 1) : row;
    });
    res[name] = JSON.stringify(g.tokens) === JSON.stringify(trimmed);
  }
  model.dispose();
  return res;
}

/** Run everything; returns the report object written to parity.json. */
export async function runParity(fresh = false): Promise<Record<string, unknown>> {
  const refDir = await ensureReference(fresh);
  const report: Record<string, unknown> = {};
  for (const arch of ["qwen2", "llama"]) {
    const a: Record<string, unknown> = { ...await archParity(refDir, arch) };
    a.sampling_tokens_equal = await samplingParity(`${refDir}/${arch}`);
    report[arch] = a;
  }
  const toks: Record<string, TokParity> = {};
  for (const name of ["qwen2", "llama", "llama_nopost"]) {
    toks[name] = await tokenizerParity(`${refDir}/tokenizers/${name}`);
  }
  report.tokenizers = toks;
  report.reference_dir = refDir;
  return report;
}

const cli = defineFlags({
  out: {
    type: "outFile",
    default: `${ROOT}/bench/results/parity.json`,
    help: "where the report goes",
  },
  fresh: { type: "boolean", help: "rebuild the transformers reference instead of the cached one" },
}, { name: "parity" });

if (import.meta.main) {
  await runMain(cli.usage, async () => {
    const { values } = cli.parse(Deno.args);
    const out = values.out;
    const report = await runParity(values.fresh);
    await Deno.mkdir(out.replace(/\/[^/]*$/, ""), { recursive: true });
    await Deno.writeTextFile(out, JSON.stringify(report, null, 2) + "\n");
    console.log(JSON.stringify(report, null, 2));
  });
}
