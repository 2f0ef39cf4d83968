/**
 * `deno task make-tiny --arch qwen2|llama --out DIR [--seed N] [--layers N]`:
 * write a tiny random HF-layout checkpoint (see lib/model/tiny.ts).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { makeTiny } from "../lib/model/tiny.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    arch: { type: "string", default: "qwen2" },
    out: { type: "string" },
    seed: { type: "string", default: "0" },
    layers: { type: "string", default: "2" },
  },
});
if (!values.out || (values.arch !== "qwen2" && values.arch !== "llama")) {
  console.error("usage: deno task make-tiny --arch qwen2|llama --out DIR [--seed N] [--layers N]");
  Deno.exit(2);
}
const t0 = performance.now();
await makeTiny(values.arch, values.out, {
  seed: Number(values.seed),
  layers: Number(values.layers),
});
console.log(
  `wrote ${values.arch} tiny checkpoint to ${values.out} in ${
    (performance.now() - t0).toFixed(0)
  } ms`,
);
