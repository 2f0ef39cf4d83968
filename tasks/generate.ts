/**
 * `deno task generate`: completions from a checkpoint, optionally with a DeepGuard adapter and
 * security-guided decoding.
 * @module
 */
import { generate } from "../lib/model/generate.ts";
import { loadGenerator } from "../lib/pipeline/generator.ts";
import { PAPER_SAMPLING } from "../lib/pipeline/sampling_settings.ts";
import { defineFlags, runMain, UsageError } from "../lib/util/cli.ts";
import { CUDA_GRAPHS_FLAG } from "../lib/util/device.ts";

const cli = defineFlags({
  model: { type: "path", kind: "dir", required: true, help: "base model (HF layout)" },
  adapter: { type: "path", kind: "dir", help: "adapter directory" },
  guided: { type: "boolean", help: "security-guided decoding (needs --adapter)" },
  prompt: { type: "string", help: "the prompt (or --prompt-file)" },
  "prompt-file": { type: "path", kind: "file", help: "file holding the prompt" },
  samples: { type: "int", min: 1, default: 1, alias: ["num"], help: "samples of the prompt" },
  "max-new-tokens": { type: "int", min: 1, default: 128, help: "new-token budget" },
  temperature: { type: "float", above: 0, default: 1, help: "sampling temperature" },
  "top-p": { type: "float", above: 0, max: 1, default: 1, help: "nucleus top-p" },
  "top-k": { type: "int", min: 0, default: 50, help: "top-k (0 = off)" },
  seed: {
    type: "int",
    min: 0,
    default: PAPER_SAMPLING.seed,
    help: "sampling seed (eval's default: its call 0 uses the same seed)",
  },
  greedy: { type: "boolean", help: "greedy decoding instead of sampling" },
  json: {
    type: "boolean",
    help: 'one JSON object per line: {"prompt", "sample", "text", "token_ids"}',
  },
  device: { type: "device", help: "where the model runs" },
  dtype: { type: "choice", choices: ["f32", "bf16"], default: "f32", help: "weights dtype" },
  ...CUDA_GRAPHS_FLAG,
}, {
  name: "generate",
  check: (v) => {
    if ((v.prompt === undefined) === (v["prompt-file"] === undefined)) {
      throw new UsageError("give exactly one of --prompt TEXT or --prompt-file FILE");
    }
    if (v.guided && !v.adapter) throw new UsageError("--guided needs --adapter DIR");
  },
});

await runMain(cli.usage, async () => {
  const { values: v } = cli.parse(Deno.args);
  const prompt = v.prompt ?? await Deno.readTextFile(v["prompt-file"]!);
  const gen = await loadGenerator({
    model: v.model,
    adapter: v.adapter,
    guided: v.guided,
    dtype: v.dtype,
    device: v.device,
  });
  try {
    console.error(`generate: ${gen.description}`);
    const promptIds = gen.tokenizer.encode(prompt);
    const processor = gen.guidance?.(prompt, promptIds) ?? undefined;
    try {
      const out = generate(gen.model, gen.tokenizer, [promptIds], {
        numReturnSequences: v.samples,
        maxNewTokens: v["max-new-tokens"],
        doSample: !v.greedy,
        temperature: v.temperature,
        topP: v["top-p"],
        topK: v["top-k"],
        seed: v.seed,
        logitsProcessor: processor,
        cudaGraphs: v["cuda-graphs"],
      });
      if (out.cudaGraphs) console.error(`generate: CUDA graphs ${out.cudaGraphs}`);
      out.texts.forEach((text, i) => {
        if (v.json) {
          console.log(JSON.stringify({ prompt: 0, sample: i, text, token_ids: out.tokens[i] }));
        } else {
          console.log(`=== sample ${i} ===\n${text}`);
        }
      });
    } finally {
      processor?.dispose();
    }
  } finally {
    gen.dispose();
  }
});
