/**
 * Where this package lives: a local checkout (file: URL) or a URL import (JSR, https). Everything
 * that looks for package files next to the modules starts here, so it is decided in one place.
 * @module
 */

/** The package root URL (a file: URL in a checkout, http(s): when imported by URL). */
export const PACKAGE_URL: URL = new URL("../", import.meta.url);

/** Whether the package runs from local files (a checkout) rather than a URL. */
export const PACKAGE_IS_LOCAL: boolean = PACKAGE_URL.protocol === "file:";

/**
 * The project root (the directory holding csrc/, data_eval/, .venv) when the package is a local
 * checkout. Imported by URL there is no such directory: this is then the URL's path, which names
 * nothing on disk — use `assetDir` of lib/util/assets.ts to find package files.
 */
export const PROJECT_ROOT: string = decodeURIComponent(PACKAGE_URL.pathname).replace(/\/$/, "");
