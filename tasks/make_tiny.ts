/**
 * `deno task make-tiny --arch qwen2|llama --out DIR [--seed N] [--layers N]`:
 * write a tiny random HF-layout checkpoint (see lib/model/tiny.ts). Defaults: `--arch qwen2`,
 * `--seed 0`, `--layers 4` (TINY_DEFAULT_LAYERS).
 *
 * @module
 */

import { makeTiny, TINY_DEFAULT_LAYERS } from "../lib/model/tiny.ts";
import { defineFlags, runMain } from "../lib/util/cli.ts";

const cli = defineFlags({
  arch: { type: "choice", choices: ["qwen2", "llama"], default: "qwen2", help: "architecture" },
  out: {
    type: "outDir",
    required: true,
    help: "output folder: config.json, model.safetensors, tokenizer files",
  },
  seed: { type: "int", min: 0, default: 0, help: "PRNG seed for the weights" },
  layers: { type: "int", min: 1, default: TINY_DEFAULT_LAYERS, help: "decoder layers" },
}, { name: "make-tiny" });

await runMain(cli.usage, async () => {
  const { arch, out, seed, layers } = cli.parse(Deno.args).values;
  const t0 = performance.now();
  await makeTiny(arch, out, { seed, layers });
  console.log(
    `wrote ${arch} tiny checkpoint to ${out} in ${(performance.now() - t0).toFixed(0)} ms`,
  );
});
