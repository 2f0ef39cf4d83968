/**
 * Chat prompts: the checkpoint's `chat_template` (tokenizer_config.json) rendered with
 * `@huggingface/jinja`, with the variables transformers' `apply_chat_template` passes
 * (`messages`, `add_generation_prompt`, `bos_token`, `eos_token`; the renderer provides
 * `raise_exception`, whose error becomes a 400).
 * @module
 */
import { Template } from "@huggingface/jinja";
import { ApiError, type ChatMessage } from "./protocol.ts";

/** A compiled chat template. */
export class ChatTemplate {
  readonly #template: Template;
  readonly #special: Record<string, string>;

  /**
   * @param source Jinja source
   * @param special special-token strings (bos_token, eos_token, …) from tokenizer_config.json
   */
  constructor(source: string, special: Record<string, string>) {
    this.#template = new Template(source);
    this.#special = special;
  }

  /**
   * Reads `chat_template` from `dir`/tokenizer_config.json (a string, or a list of named templates
   * of which "default" is used). Returns null when the checkpoint has none.
   */
  static async load(dir: string): Promise<ChatTemplate | null> {
    const file = `${dir}/tokenizer_config.json`;
    let cfg: Record<string, unknown>;
    try {
      cfg = JSON.parse(await Deno.readTextFile(file));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return null;
      throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
    }
    let src = cfg.chat_template;
    if (Array.isArray(src)) {
      src = src.find((t) => t?.name === "default")?.template;
    }
    if (src === undefined || src === null) return null;
    if (typeof src !== "string") {
      throw new Error(`${file}: chat_template must be a string or a list of {name, template}`);
    }
    const special: Record<string, string> = {};
    for (const [k, v] of Object.entries(cfg)) {
      if (!k.endsWith("_token")) continue;
      const s = typeof v === "string" ? v : (v as { content?: unknown } | null)?.content;
      if (typeof s === "string") special[k] = s;
    }
    try {
      return new ChatTemplate(src, special);
    } catch (e) {
      throw new Error(`${file}: chat_template does not parse (${(e as Error).message})`);
    }
  }

  /** The prompt text for `messages`, ending with the assistant turn's opening. */
  render(messages: readonly ChatMessage[]): string {
    try {
      return this.#template.render({
        ...this.#special,
        messages,
        add_generation_prompt: true,
      });
    } catch (e) {
      throw new ApiError(400, `chat template failed on these messages: ${(e as Error).message}`, {
        param: "messages",
      });
    }
  }
}
