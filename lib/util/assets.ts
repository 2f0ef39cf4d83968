/**
 * Package assets — directories the package needs at run time besides its modules: the Python
 * harness and checks (`data_eval/py`), the judge rules (`data_eval/rules`), the evaluation venv
 * (`.venv-eval`). Found the same way as the shim's sources: in a local checkout they sit next to
 * the modules; imported by URL (JSR, https) there is no such directory, so they live in the
 * per-user cache (`$DG_CACHE/assets/<package>/…`, see ffi/native.ts), where a setup step puts
 * them ({@link fetchAssetFiles} for published files; tools such as the venv are built there).
 * A missing asset is an {@link AssetError} naming the setup command, before any work starts.
 * @module
 */
import { createHash } from "node:crypto";
import { cacheDir } from "../../ffi/native.ts";
import { PACKAGE_IS_LOCAL, PACKAGE_URL } from "../../ffi/package.ts";

export { PACKAGE_IS_LOCAL, PACKAGE_URL };

/** A package asset is missing; the message names where it was looked for and how to set it up. */
export class AssetError extends Error {
  override name = "AssetError";
}

/** Where assets of this package live in the cache: one directory per package URL (version). */
export function cachedAssetRoot(): string {
  const id = createHash("sha256").update(PACKAGE_URL.href).digest("hex").slice(0, 16);
  return `${cacheDir()}/assets/${id}`;
}

/** Options of {@link assetDir}. */
export interface AssetDirOptions {
  /** The command that installs the asset, named in the error (e.g. `bash scripts/setup-eval.sh`). */
  setup: string;
  /** An environment variable that, when set, names the directory instead (e.g. `DG_EVAL_VENV`). */
  env?: string;
}

/**
 * The directory of asset `rel` (a package-relative path such as `data_eval/py`): `$<env>` when
 * set, else `<checkout>/<rel>` for a local package, else `<cache>/assets/<package>/<rel>`.
 * Throws an {@link AssetError} naming `setup` when the directory does not exist.
 */
export function assetDir(rel: string, options: AssetDirOptions): string {
  const fromEnv = options.env ? Deno.env.get(options.env) : undefined;
  const dir = fromEnv ??
    (PACKAGE_IS_LOCAL
      ? decodeURIComponent(new URL(rel, PACKAGE_URL).pathname).replace(/\/$/, "")
      : `${cachedAssetRoot()}/${rel}`);
  let isDir = false;
  try {
    isDir = Deno.statSync(dir).isDirectory;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  if (!isDir) {
    const where = fromEnv ? `$${options.env}=${dir}` : dir;
    throw new AssetError(`${rel} not found (looked at ${where}); run: ${options.setup}`);
  }
  return dir;
}

/**
 * Copies published package files `<rel>/<file>` into the asset cache (for a URL import; a local
 * checkout needs nothing) and returns the asset directory. For a setup entry point: the caller
 * lists the files, since a URL import has no directory listing.
 */
export async function fetchAssetFiles(rel: string, files: readonly string[]): Promise<string> {
  if (PACKAGE_IS_LOCAL) return assetDir(rel, { setup: "(a local checkout has its assets)" });
  const dir = `${cachedAssetRoot()}/${rel}`;
  for (const file of files) {
    const url = new URL(`${rel}/${file}`, PACKAGE_URL);
    const res = await fetch(url);
    if (!res.ok) throw new AssetError(`cannot fetch ${url}: HTTP ${res.status}`);
    const to = `${dir}/${file}`;
    await Deno.mkdir(to.slice(0, to.lastIndexOf("/")), { recursive: true });
    const tmp = `${to}.${crypto.randomUUID()}.tmp`;
    await Deno.writeFile(tmp, new Uint8Array(await res.arrayBuffer()));
    await Deno.rename(tmp, to);
  }
  return dir;
}
