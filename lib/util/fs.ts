/**
 * Small file-system helpers: predicates that treat "cannot stat" as "no", and a read whose failure
 * becomes the caller's typed error.
 * @module
 */

/** Whether `p` exists (any kind). */
export async function exists(p: string): Promise<boolean> {
  try {
    await Deno.stat(p);
    return true;
  } catch {
    return false;
  }
}

/** Whether `p` is a regular file. */
export async function isFile(p: string): Promise<boolean> {
  try {
    return (await Deno.stat(p)).isFile;
  } catch {
    return false;
  }
}

/** Whether `p` is a directory. */
export async function isDir(p: string): Promise<boolean> {
  try {
    return (await Deno.stat(p)).isDirectory;
  } catch {
    return false;
  }
}

/**
 * `read(file)`, with any failure rethrown as the caller's typed error `wrap("cannot read FILE:
 * why")`, so a missing or corrupt file is named the same way everywhere.
 */
export async function readOrThrow<T>(
  file: string,
  read: (file: string) => Promise<T>,
  wrap: (message: string) => Error,
): Promise<T> {
  try {
    return await read(file);
  } catch (e) {
    throw wrap(`cannot read ${file}: ${(e as Error).message}`);
  }
}
