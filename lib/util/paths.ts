/**
 * The project root (the checkout holding deno.json, tools/, data_eval/ and the virtualenvs), for
 * lib/ and tasks/. ffi/ keeps its own copy because it sits below lib/ in the layering.
 * @module
 */

/** Absolute path of the project root, without a trailing slash. */
export const PROJECT_ROOT: string = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
