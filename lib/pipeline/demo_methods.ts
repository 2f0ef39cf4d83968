/**
 * The methods `./dg demo` trains and evaluates — one entry per row of the paper's table, each
 * written as the `train` and `eval` flags a user would type, so that the demo runs the commands
 * of the README and a new method is one more entry.
 * @module
 */

/** One method of the demo. */
export interface DemoMethod {
  /** The `eval --method`; its run goes to `OUT/eval-<method>`, its training to `OUT/train-<method>`. */
  method: string;
  /** What the row is, for the demo's progress lines. */
  about: string;
  /**
   * `train` flags after `--model`, `--data` (the demo pairs) and `--out OUT/train-<method>`;
   * `{steps}` is the demo's step count. Absent when the method trains nothing.
   */
  train?: string;
  /**
   * `eval` flags after `--method` and the shared ones (model, scenarios, sampling, `--out`);
   * `{train}` is the training directory.
   */
  eval: string;
}

/**
 * The methods of the demo, in the paper's row order. lr 1e-3: a tiny model, a dozen steps;
 * DeepGuard pads to 256 tokens rather than upstream's 1024 (the demo pairs have at most 144),
 * which keeps its upstream numerics at a quarter of the cost.
 */
export const DEMO_METHODS: readonly DemoMethod[] = [
  { method: "lm", about: "the base model", eval: "" },
  { method: "text", about: 'SVEN\'s text prompt ("The following code is secure")', eval: "" },
  {
    method: "prefix",
    about: "SVEN prefix tuning (secure control)",
    train: "--method prefix --max-steps {steps} --lr 1e-3 --seed 1",
    eval: "--adapter {train}/checkpoint-last",
  },
  {
    method: "cosec",
    about: "CoSec: co-decoding with a security expert",
    train: "--method cosec --max-steps {steps} --lr 1e-3 --warmup-steps 0",
    eval: "--expert {train}/checkpoint-last",
  },
  {
    method: "deepguard",
    about: "DeepGuard: adapter + security-guided decoding",
    train:
      "--max-steps {steps} --batch-size 4 --grad-acc 1 --lr 1e-3 --epochs 100 --seed 1 --max-length 256",
    eval: "--adapter {train}/best",
  },
];

/**
 * A flag string as arguments: split at spaces, then `{name}` replaced from `vars` in each
 * argument (so a substituted path may hold spaces). An unknown placeholder is an error.
 */
export function expandFlags(flags: string, vars: Record<string, string>): string[] {
  return flags.split(" ").filter(Boolean).map((arg) =>
    arg.replace(/\{(\w+)\}/g, (_, name: string) => {
      if (!(name in vars)) throw new RangeError(`demo flags "${flags}": unknown {${name}}`);
      return vars[name];
    })
  );
}
