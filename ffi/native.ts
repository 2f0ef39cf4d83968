/**
 * The compiled shim: built on first use into a per-user cache from the C sources, which travel
 * with the module graph (text imports), so a read-only checkout and a URL import build the same
 * way. The cache is `$DG_CACHE`, else `$XDG_CACHE_HOME/deepguard-ts`, else
 * `~/.cache/deepguard-ts`; a shim is keyed by a hash of its sources, the compiler flags and the
 * libtorch directory, so a change to any of them builds a new one. `$DG_SHIM` overrides
 * everything with the path of an already built shim library.
 * @module
 */
import { createHash } from "node:crypto";
import DGTORCH_CPP from "../csrc/dgtorch.cpp" with { type: "text" };
import { NativeLibraryError } from "./errors.ts";
import { exists, type LibtorchInfo, locateLibtorch } from "./libtorch.ts";

export { type LibtorchInfo, locateLibtorch } from "./libtorch.ts";
export { PROJECT_ROOT } from "./package.ts";

/** The shim's C++ sources by file name (everything under csrc/ that is compiled). */
export const SHIM_SOURCES: Readonly<Record<string, string>> = { "dgtorch.cpp": DGTORCH_CPP };

/** The per-user cache directory of the package (shims, and assets fetched for URL imports). */
export function cacheDir(): string {
  const explicit = Deno.env.get("DG_CACHE");
  if (explicit) return explicit;
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  if (xdg) return `${xdg}/deepguard-ts`;
  const home = Deno.env.get("HOME");
  if (!home) {
    throw new NativeLibraryError("no cache directory: set DG_CACHE (or HOME) to a writable path");
  }
  return `${home}/.cache/deepguard-ts`;
}

/**
 * The CUDA runtime headers for a CUDA libtorch: `$CUDA_HOME`, /usr/local/cuda, or the pip wheels'
 * `nvidia/cu13` / `nvidia/cuda_runtime` next to torch. A directory counts only with
 * `crt/host_config.h` too, which the runtime wheel lacks (the `nvidia-cuda-crt` wheel has it).
 */
function cudaIncludeDir(lt: LibtorchInfo): string | null {
  const sitePackages = `${lt.libDir}/../..`;
  const candidates = [
    Deno.env.get("CUDA_HOME") && `${Deno.env.get("CUDA_HOME")}/include`,
    "/usr/local/cuda/include",
    `${sitePackages}/nvidia/cu13/include`,
    `${sitePackages}/nvidia/cuda_runtime/include`,
  ];
  const complete = (d: string | undefined | "") =>
    d && exists(`${d}/cuda_runtime_api.h`) && exists(`${d}/crt/host_config.h`);
  return candidates.find(complete) || null;
}

function compileArgs(lt: LibtorchInfo): { flags: string[]; libs: string[] } {
  const libs = ["-ltorch", "-ltorch_cpu", "-lc10"];
  // CUDA builds: link the CUDA parts without --as-needed or CUDA silently disappears.
  if (exists(`${lt.libDir}/libtorch_cuda.so`)) libs.push("-ltorch_cuda");
  const c10Cuda = exists(`${lt.libDir}/libc10_cuda.so`);
  if (c10Cuda) libs.push("-lc10_cuda");
  // The CUDA-only extras (memory statistics) need c10_cuda and the CUDA runtime headers.
  const cudaInclude = c10Cuda ? cudaIncludeDir(lt) : null;
  const flags = [
    "-std=c++17",
    "-O2",
    "-fPIC",
    "-shared",
    "-Wno-c++20-extensions",
    `-D_GLIBCXX_USE_CXX11_ABI=${lt.abi}`,
    `-I${lt.includeDir}`,
    `-I${lt.includeDir}/torch/csrc/api/include`,
    ...(cudaInclude ? ["-DDG_CUDA", `-I${cudaInclude}`] : []),
  ];
  return { flags, libs };
}

/** Returns the path of the shim library for the located libtorch, compiling it if needed. */
export function ensureShim(): string {
  const override = Deno.env.get("DG_SHIM");
  if (override) {
    if (!exists(override)) throw new NativeLibraryError(`DG_SHIM=${override} does not exist`);
    return override;
  }
  const found = locateLibtorch();
  // Real paths, so that checkouts reaching one libtorch through different links share a shim.
  const lt = {
    ...found,
    includeDir: Deno.realPathSync(found.includeDir),
    libDir: Deno.realPathSync(found.libDir),
  };
  const { flags, libs } = compileArgs(lt);
  const hash = createHash("sha256");
  for (const [name, text] of Object.entries(SHIM_SOURCES)) hash.update(`${name}\0${text}\0`);
  hash.update(`${flags.join(" ")}\0${libs.join(" ")}\0${lt.libDir}`);
  const key = hash.digest("hex").slice(0, 16);
  const dir = `${cacheDir()}/shim`;
  const out = `${dir}/libdgtorch-${key}.so`;
  if (exists(out)) return out;
  try {
    Deno.mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new NativeLibraryError(
      `cannot create the cache ${dir}: ${
        (e as Error).message
      }; set DG_CACHE to a writable directory`,
    );
  }
  const lock = `${out}.lock`;
  if (!takeLock(lock, out)) return out; // built by another process meanwhile
  try {
    if (!exists(out)) compile(lt, flags, libs, dir, out);
  } finally {
    Deno.removeSync(lock);
  }
  return out;
}

const STALE_LOCK_MS = 15 * 60_000;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Takes the build lock of `out` (true), or waits until another process holding it has built
 * `out` (false), so that processes starting together compile once. A lock older than 15 minutes
 * is left over from a killed build and is taken over.
 */
function takeLock(lock: string, out: string): boolean {
  let announced = false;
  for (;;) {
    try {
      Deno.openSync(lock, { write: true, createNew: true }).close();
      return true;
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
    if (exists(out)) return false;
    try {
      const age = Date.now() - (Deno.statSync(lock).mtime?.getTime() ?? 0);
      if (age > STALE_LOCK_MS) Deno.removeSync(lock);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    if (!announced) {
      console.error(`deepguard-ts: waiting for another process compiling the shim (${lock})`);
      announced = true;
    }
    Atomics.wait(sleeper, 0, 0, 500);
  }
}

/**
 * Compiles the sources into `out`, in a private temp dir, renaming the result into place: a
 * reader never sees a half-written library, even from a builder that ignored the lock.
 */
function compile(lt: LibtorchInfo, flags: string[], libs: string[], dir: string, out: string) {
  const cxx = Deno.env.get("CXX") ?? "g++";
  console.error(
    `deepguard-ts: compiling the native shim against libtorch ${lt.version} (${lt.source}: ` +
      `${lt.libDir}) with ${cxx}; about a minute, once per libtorch → ${out}`,
  );
  const work = Deno.makeTempDirSync({ dir, prefix: "build-" });
  try {
    const sources = Object.entries(SHIM_SOURCES).map(([name, text]) => {
      Deno.writeTextFileSync(`${work}/${name}`, text);
      return `${work}/${name}`;
    });
    const tmp = `${work}/libdgtorch.so`;
    let result: Deno.CommandOutput;
    try {
      result = new Deno.Command(cxx, {
        args: [
          ...flags,
          ...sources,
          "-o",
          tmp,
          `-L${lt.libDir}`,
          "-Wl,--no-as-needed",
          ...libs,
          "-Wl,--as-needed",
          `-Wl,-rpath,${lt.libDir}`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).outputSync();
    } catch (e) {
      throw new NativeLibraryError(
        `cannot run the C++ compiler "${cxx}" (${(e as Error).message}); the shim needs a ` +
          `C++17 compiler: install g++ (apt-get install g++) or set CXX`,
      );
    }
    if (!result.success) {
      const stderr = new TextDecoder().decode(result.stderr);
      throw new NativeLibraryError(`building the native shim failed:\n${stderr.slice(-4000)}`);
    }
    Deno.renameSync(tmp, out);
    console.error("deepguard-ts: native shim built");
  } finally {
    Deno.removeSync(work, { recursive: true });
  }
}
