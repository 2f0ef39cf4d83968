/**
 * `deno task make-tiny --arch qwen2|llama --out DIR [--seed N] [--layers N]`:
 * write a tiny random HF-layout checkpoint (see lib/model/tiny.ts). Defaults: `--arch qwen2`,
 * `--seed 0`, `--layers 2`.
 *
 * @module
 */

import { makeTiny } from "../lib/model/tiny.ts";
import { choiceFlag, numberFlag, parseFlags, requiredFlag, runMain } from "../lib/util/cli.ts";

const USAGE = `usage: deno task make-tiny --arch qwen2|llama --out DIR [--seed N] [--layers N]

  --arch     qwen2 | llama (default qwen2)
  --out DIR  output folder: config.json, model.safetensors, tokenizer files (required)
  --seed N   PRNG seed for the weights (default 0)
  --layers N decoder layers (default 2)`;

await runMain(USAGE, async () => {
  const flags = parseFlags(Deno.args, {
    arch: { type: "string" },
    out: { type: "string" },
    seed: { type: "string" },
    layers: { type: "string" },
  });
  const arch = choiceFlag(flags, "arch", ["qwen2", "llama"] as const, "qwen2");
  const out = requiredFlag(flags, "out");
  const seed = numberFlag(flags, "seed", 0, { integer: true });
  const layers = numberFlag(flags, "layers", 2, { integer: true, min: 1 });
  const t0 = performance.now();
  await makeTiny(arch, out, { seed, layers });
  console.log(
    `wrote ${arch} tiny checkpoint to ${out} in ${(performance.now() - t0).toFixed(0)} ms`,
  );
});
