/**
 * `deno task doctor`: reports which libtorch the toolkit uses (source, version, C++ ABI flag),
 * whether CUDA is available, whether the shim has CUDA graphs, and which evaluation tools are
 * installed. Builds the shim if needed.
 * `--quiet` prints nothing unless something is wrong (used by the setup script).
 * @module
 */
import {
  cuda,
  cudaGraphsAvailable,
  ensureShim,
  getNumThreads,
  locateLibtorch,
  torchBuildInfo,
} from "../ffi/mod.ts";
import { defineFlags, runMain } from "../lib/util/cli.ts";
import { venvTool } from "../lib/eval/py/paths.ts";

const cli = defineFlags({
  quiet: { type: "boolean", help: "print nothing unless something is wrong (exit 1 then)" },
}, { name: "doctor" });

function which(cmd: string): string | null {
  const out = new Deno.Command("bash", { args: ["-c", `command -v ${cmd}`], stdout: "piped" })
    .outputSync();
  return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
}

await runMain(cli.usage, () => {
  const { values } = cli.parse(Deno.args);
  try {
    const lt = locateLibtorch();
    const shimPath = ensureShim();
    const build = torchBuildInfo();
    if (!values.quiet) {
      console.log(`libtorch      ${lt.source}: ${lt.libDir}`);
      console.log(`version       ${lt.version} (shim compiled against ${build.version})`);
      console.log(`C++11 ABI     _GLIBCXX_USE_CXX11_ABI=${lt.abi}`);
      console.log(`CUDA build    ${lt.cudaBuild ? "yes" : "no"}`);
      console.log(
        `CUDA          ${
          cuda.isAvailable() ? `available, ${cuda.deviceCount()} device(s)` : "not available"
        }`,
      );
      console.log(
        `CUDA graphs   ${cudaGraphsAvailable() ? "yes" : "no (shim built without them)"}`,
      );
      console.log(`threads       ${getNumThreads()}`);
      console.log(`shim          ${shimPath}`);
      console.log(`deno          ${Deno.version.deno}`);
      for (const tool of ["gcc", "clang", "cppcheck", "bwrap", "codeql"]) {
        console.log(`${tool.padEnd(13)} ${which(tool) ?? "missing"}`);
      }
      for (const tool of ["semgrep", "bandit", "python"]) {
        console.log(
          `${tool.padEnd(13)} ${venvTool(tool) ?? "missing (run bash scripts/setup.sh)"}`,
        );
      }
    }
  } catch (e) {
    console.error(`doctor: ${(e as Error).message}`);
    Deno.exit(1);
  }
});
