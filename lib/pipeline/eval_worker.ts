/**
 * Entry of one sampling worker of `eval --devices` (lib/pipeline/workers.ts): reads its
 * {@link EvalOptions} (one device, one shard, its own output directory) as JSON on stdin and
 * samples them. Exit code 1 with the message on stderr when it fails.
 * @module
 */
import { type EvalOptions, sampleEvaluation } from "./evaluate.ts";

if (import.meta.main) {
  const opts = JSON.parse(await new Response(Deno.stdin.readable).text()) as EvalOptions;
  try {
    await sampleEvaluation(opts);
  } catch (e) {
    console.error(`eval worker on ${opts.device}: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
