/** The prefix tests' access to tools/prefix_ref.py (the transcription of upstream's SVEN code). */
import { PROJECT_ROOT } from "../ffi/mod.ts";
import { venvPythonJson } from "../lib/util/python.ts";

/** Runs `tools/prefix_ref.py MODE SPEC.json` in the venv with `spec` as the JSON file. */
export async function prefixOracle<T>(
  mode: "loss" | "generate" | "data" | "train",
  spec: Record<string, unknown>,
): Promise<T> {
  const file = await Deno.makeTempFile({ prefix: `prefix_${mode}_`, suffix: ".json" });
  try {
    await Deno.writeTextFile(file, JSON.stringify(spec));
    return await venvPythonJson<T>(`prefix_ref.py ${mode}`, [
      `${PROJECT_ROOT}/tools/prefix_ref.py`,
      mode,
      file,
    ]);
  } finally {
    await Deno.remove(file).catch(() => {});
  }
}
