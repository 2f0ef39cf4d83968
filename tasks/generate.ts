/**
 * `deno task generate`: completions from a checkpoint, optionally with a DeepGuard adapter and
 * security-guided decoding.
 * @module
 */
import { generate } from "../lib/model/generate.ts";
import { loadGenerator } from "../lib/pipeline/generator.ts";
import {
  choiceFlag,
  deviceFlag,
  numberFlag,
  parseFlags,
  requiredFlag,
  runMain,
  UsageError,
} from "../lib/util/cli.ts";

const USAGE = `usage: deno task generate --model DIR [--adapter DIR] [--guided]
         (--prompt TEXT | --prompt-file FILE) [--num N] [--max-new-tokens N]
         [--temperature T] [--top-p P] [--top-k K] [--seed S] [--greedy] [--json]
         [--device cpu|cuda|cuda:N] [--dtype f32|bf16]

  --guided       security-guided decoding (needs --adapter)
  --num          samples per prompt (default 1)
  --json         one JSON object per line: {"prompt", "sample", "text", "token_ids"}`;

await runMain(USAGE, async () => {
  const flags = parseFlags(Deno.args, {
    model: { type: "string" },
    adapter: { type: "string" },
    guided: { type: "boolean" },
    prompt: { type: "string" },
    "prompt-file": { type: "string" },
    num: { type: "string" },
    "max-new-tokens": { type: "string" },
    temperature: { type: "string" },
    "top-p": { type: "string" },
    "top-k": { type: "string" },
    seed: { type: "string" },
    greedy: { type: "boolean" },
    json: { type: "boolean" },
    device: { type: "string" },
    dtype: { type: "string" },
  });
  const v = flags.values;
  const model = requiredFlag(flags, "model");
  if ((v.prompt === undefined) === (v["prompt-file"] === undefined)) {
    throw new UsageError("give exactly one of --prompt TEXT or --prompt-file FILE");
  }
  const prompt = typeof v.prompt === "string"
    ? v.prompt
    : await Deno.readTextFile(v["prompt-file"] as string);
  const greedy = v.greedy === true;
  const gen = await loadGenerator({
    model,
    adapter: v.adapter as string | undefined,
    guided: v.guided === true,
    dtype: choiceFlag(flags, "dtype", ["f32", "bf16"] as const, "f32"),
    device: deviceFlag(flags),
  });
  try {
    console.error(`generate: ${gen.description}`);
    const promptIds = gen.tokenizer.encode(prompt);
    const processor = gen.guidance?.(prompt, promptIds) ?? undefined;
    try {
      const out = generate(gen.model, gen.tokenizer, [promptIds], {
        numReturnSequences: numberFlag(flags, "num", 1, { integer: true, min: 1 }),
        maxNewTokens: numberFlag(flags, "max-new-tokens", 128, { integer: true, min: 1 }),
        doSample: !greedy,
        temperature: numberFlag(flags, "temperature", 1, { min: 1e-6 }),
        topP: numberFlag(flags, "top-p", 1, { min: 1e-6, max: 1 }),
        topK: numberFlag(flags, "top-k", 50, { integer: true, min: 0 }),
        seed: numberFlag(flags, "seed", 0, { integer: true, min: 0 }),
        logitsProcessor: processor,
      });
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
