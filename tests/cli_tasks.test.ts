/**
 * Every `deno task` that runs a tasks/*.ts file handles `--help` (usage on stdout, exit 0) and an
 * unknown flag (error and usage on stderr, exit 2) without a stack trace, and does so before any
 * heavy work (model building, libtorch loading).
 */
import assert from "node:assert/strict";
import { PROJECT_ROOT } from "../ffi/mod.ts";

const config = JSON.parse(await Deno.readTextFile(`${PROJECT_ROOT}/deno.json`)) as {
  tasks: Record<string, string>;
};

/** Task name → tasks/*.ts file, for the tasks that are a `deno run` of a tasks file. */
const TASKS: [name: string, file: string][] = Object.entries(config.tasks).flatMap(
  ([name, cmd]) => {
    const m = /^deno run (?:-\S+ )*(tasks\/[\w-]+\.ts)$/.exec(cmd.trim());
    return m ? [[name, m[1]] as [string, string]] : [];
  },
);

const dec = (b: Uint8Array) => new TextDecoder().decode(b);

async function run(file: string, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${PROJECT_ROOT}/${file}`, ...args],
    cwd: PROJECT_ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  return { code: out.code, stdout: dec(out.stdout), stderr: dec(out.stderr) };
}

Deno.test("cli tasks: deno.json lists the tasks files (test and check are not among them)", () => {
  const names = TASKS.map(([n]) => n);
  assert.ok(TASKS.length >= 13, `only ${TASKS.length} tasks found: ${names.join(", ")}`);
  assert.ok(!names.includes("test") && !names.includes("check"));
  for (const n of ["make-tiny", "train", "score", "parity", "doctor", "bench:ffi"]) {
    assert.ok(names.includes(n), `${n} missing from ${names.join(", ")}`);
  }
});

for (const [name, file] of TASKS) {
  Deno.test(`cli tasks: ${name} (${file}) --help and an unknown flag`, async () => {
    const [help, short, bad] = await Promise.all([
      run(file, ["--help"]),
      run(file, ["-h"]),
      run(file, ["--no-such-flag"]),
    ]);
    for (const [flag, r] of [["--help", help], ["-h", short]] as const) {
      assert.equal(r.code, 0, `${name} ${flag}: exit ${r.code}\n${r.stderr}`);
      assert.match(r.stdout, /usage:/, `${name} ${flag}: no usage on stdout\n${r.stdout}`);
      assert.doesNotMatch(r.stderr, /^ {4}at /m, `${name} ${flag}: stack trace\n${r.stderr}`);
    }
    assert.equal(bad.code, 2, `${name} --no-such-flag: exit ${bad.code}\n${bad.stderr}`);
    assert.match(bad.stderr, /error:/, bad.stderr);
    assert.match(bad.stderr, /--no-such-flag|[Uu]nknown option/, bad.stderr);
    assert.match(bad.stderr, /usage:/, bad.stderr);
    assert.doesNotMatch(bad.stderr, /^ {4}at /m, `${name}: stack trace\n${bad.stderr}`);
    assert.equal(bad.stdout, "", `${name} --no-such-flag printed on stdout\n${bad.stdout}`);
  });
}
