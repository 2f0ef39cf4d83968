/**
 * Finds libtorch and the compiled shim, building the shim on first use.
 *
 * libtorch is looked up in this order: `$LIBTORCH` (a libtorch directory with include/ and lib/,
 * e.g. an official CUDA build); the project venv's torch wheel (`.venv`, made by the setup);
 * a system libtorch (Debian's `libtorch-dev`). `$DG_SHIM` overrides everything with the path of an
 * already built shim library.
 * @module
 */
import { NativeLibraryError } from "./errors.ts";

/** Where libtorch came from and how the shim must be compiled against it. */
export interface LibtorchInfo {
  /** "env" ($LIBTORCH), "venv" (project venv torch wheel) or "system". */
  source: "env" | "venv" | "system";
  includeDir: string;
  libDir: string;
  /** libtorch version, e.g. "2.13.0+cpu" ("unknown" when no version file exists). */
  version: string;
  /** The `_GLIBCXX_USE_CXX11_ABI` value libtorch was built with. */
  abi: 0 | 1;
  /** Whether this libtorch build contains CUDA kernels (libtorch_cuda.so present). */
  cudaBuild: boolean;
}

/** The project root (the directory holding csrc/ and scripts/). */
export const PROJECT_ROOT: string = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function detectAbi(libDir: string): 0 | 1 {
  // A libtorch built with the new C++11 ABI mangles std::string as std::__cxx11::basic_string.
  const bytes = Deno.readFileSync(`${libDir}/libc10.so`);
  const needle = new TextEncoder().encode("St7__cxx11");
  outer: for (let i = 0; i + needle.length <= bytes.length; i++) {
    for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
    return 1;
  }
  return 0;
}

function readVersion(candidates: string[]): string {
  for (const path of candidates) {
    if (!exists(path)) continue;
    const text = Deno.readTextFileSync(path);
    const m = /__version__\s*=\s*['"]([^'"]+)['"]/.exec(text) ?? /^(\S+)/.exec(text.trim());
    if (m) return m[1];
  }
  return "unknown";
}

function venvTorchDir(): string | null {
  const lib = `${PROJECT_ROOT}/.venv/lib`;
  if (!exists(lib)) return null;
  for (const entry of Deno.readDirSync(lib)) {
    const dir = `${lib}/${entry.name}/site-packages/torch`;
    if (entry.name.startsWith("python") && exists(`${dir}/lib/libtorch.so`)) return dir;
  }
  return null;
}

function info(
  source: LibtorchInfo["source"],
  includeDir: string,
  libDir: string,
  versionFiles: string[],
): LibtorchInfo {
  return {
    source,
    includeDir,
    libDir,
    version: readVersion(versionFiles),
    abi: detectAbi(libDir),
    cudaBuild: exists(`${libDir}/libtorch_cuda.so`),
  };
}

/** Locates libtorch ($LIBTORCH, then the project venv, then the system); throws when none. */
export function locateLibtorch(): LibtorchInfo {
  const env = Deno.env.get("LIBTORCH");
  if (env) {
    if (!exists(`${env}/lib/libtorch.so`) || !exists(`${env}/include/torch`)) {
      throw new NativeLibraryError(
        `LIBTORCH=${env} is not a libtorch directory (expected lib/libtorch.so and include/torch)`,
      );
    }
    return info("env", `${env}/include`, `${env}/lib`, [`${env}/build-version`]);
  }
  const venv = venvTorchDir();
  if (venv) return info("venv", `${venv}/include`, `${venv}/lib`, [`${venv}/version.py`]);
  for (const libDir of ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib"]) {
    if (exists(`${libDir}/libtorch.so`) && exists("/usr/include/torch")) {
      return info("system", "/usr/include", libDir, []);
    }
  }
  throw new NativeLibraryError(
    "libtorch not found. Provide one of: LIBTORCH=/path/to/libtorch (an official libtorch zip, " +
      "CPU or CUDA); the project venv (`bash scripts/setup.sh` installs torch==2.13.0 into .venv); " +
      "or Debian's libtorch-dev (`apt-get install libtorch-dev`).",
  );
}

/** Returns the path of the shim library for the located libtorch, compiling it if needed. */
export function ensureShim(): string {
  const override = Deno.env.get("DG_SHIM");
  if (override) {
    if (!exists(override)) throw new NativeLibraryError(`DG_SHIM=${override} does not exist`);
    return override;
  }
  const lt = locateLibtorch();
  const out = new Deno.Command("bash", {
    args: [`${PROJECT_ROOT}/scripts/build-shim.sh`, lt.includeDir, lt.libDir, String(lt.abi)],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  const stderr = new TextDecoder().decode(out.stderr);
  if (!out.success) {
    throw new NativeLibraryError(`building the native shim failed:\n${stderr.slice(-4000)}`);
  }
  return new TextDecoder().decode(out.stdout).trim();
}
