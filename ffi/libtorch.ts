/**
 * Finding libtorch. In this order: `$LIBTORCH` (a libtorch directory with include/ and lib/, e.g.
 * an official CUDA build); the project venv's torch wheel (`.venv`, only when the package is a
 * local checkout); the torch of a `python3` (`$DG_PYTHON`, else `python3` on PATH) — asked where
 * its torch package lives, without importing it; a system libtorch (Debian's `libtorch-dev`).
 * @module
 */
import { NativeLibraryError } from "./errors.ts";
import { PACKAGE_IS_LOCAL, PROJECT_ROOT } from "./package.ts";

/** Where libtorch came from and how the shim must be compiled against it. */
export interface LibtorchInfo {
  /** "env" ($LIBTORCH), "venv" (project venv), "python" (a python3's torch) or "system". */
  source: "env" | "venv" | "python" | "system";
  /** The include directory (holds torch/). */
  includeDir: string;
  /** The library directory (holds libtorch.so). */
  libDir: string;
  /** libtorch version, e.g. "2.13.0+cpu" ("unknown" when no version file exists). */
  version: string;
  /** The `_GLIBCXX_USE_CXX11_ABI` value libtorch was built with. */
  abi: 0 | 1;
  /** Whether this libtorch build contains CUDA kernels (libtorch_cuda.so present). */
  cudaBuild: boolean;
}

/** Whether `path` exists; a denied permission is an error, not a "no". */
export function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return false;
    throw e;
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

/** A torch package directory holding what the shim needs (lib/libtorch.so, include/torch). */
function isTorchPackage(dir: string): boolean {
  return exists(`${dir}/lib/libtorch.so`) && exists(`${dir}/include/torch`);
}

function venvTorchDir(): string | null {
  const lib = `${PROJECT_ROOT}/.venv/lib`;
  if (!PACKAGE_IS_LOCAL || !exists(lib)) return null;
  for (const entry of Deno.readDirSync(lib)) {
    const dir = `${lib}/${entry.name}/site-packages/torch`;
    if (entry.name.startsWith("python") && isTorchPackage(dir)) return dir;
  }
  return null;
}

const FIND_TORCH = "import importlib.util as u, os\n" +
  "s = u.find_spec('torch')\n" +
  "print(os.path.dirname(os.path.realpath(s.origin)) if s and s.origin else '')";

/** The torch package directory of `$DG_PYTHON` / `python3`, or null (no python, no torch). */
function pythonTorchDir(): string | null {
  const python = Deno.env.get("DG_PYTHON") ?? "python3";
  try {
    const out = new Deno.Command(python, {
      args: ["-c", FIND_TORCH],
      stdout: "piped",
      stderr: "null",
    })
      .outputSync();
    const dir = new TextDecoder().decode(out.stdout).trim();
    return out.success && dir && isTorchPackage(dir) ? dir : null;
  } catch {
    return null; // no such interpreter
  }
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

function wheel(source: "venv" | "python", dir: string): LibtorchInfo {
  return info(source, `${dir}/include`, `${dir}/lib`, [`${dir}/version.py`]);
}

/** Locates libtorch ($LIBTORCH, the project venv, a python3's torch, the system); throws if none. */
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
  if (venv) return wheel("venv", venv);
  const python = pythonTorchDir();
  if (python) return wheel("python", python);
  for (const libDir of ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib"]) {
    if (exists(`${libDir}/libtorch.so`) && exists("/usr/include/torch")) {
      return info("system", "/usr/include", libDir, []);
    }
  }
  throw new NativeLibraryError(
    "libtorch not found. Provide one of: LIBTORCH=/path/to/libtorch (an official libtorch zip, " +
      "CPU or CUDA); a python3 with torch (`pip install torch`, or DG_PYTHON=/path/to/python); " +
      "in a checkout, the project venv (`bash scripts/setup.sh` installs torch==2.13.0 into " +
      ".venv); or Debian's libtorch-dev (`apt-get install libtorch-dev`).",
  );
}
