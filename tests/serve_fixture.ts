/**
 * Test fixtures of the server: a tiny checkpoint with this file's chat template (replacing
 * make-tiny's, so {@link renderTinyChat} is an independent reference for it) and a DeepGuard adapter whose token statistics are random and large, so
 * guidance visibly changes greedy text.
 */
import { makeTiny } from "../lib/model/tiny.ts";
import { SecurityAwareLoRAModel } from "../lib/train/security_model.ts";

/** A ChatML-style template over plain text markers (the tiny vocabulary has no chat tokens). */
export const TINY_CHAT_TEMPLATE =
  "{% for m in messages %}<|{{ m.role }}|>\n{{ m.content }}\n{% endfor %}" +
  "{% if add_generation_prompt %}<|assistant|>\n{% endif %}";

/** What {@link TINY_CHAT_TEMPLATE} renders (the independent reference for chat prompts). */
export function renderTinyChat(messages: { role: string; content: string }[]): string {
  return messages.map((m) => `<|${m.role}|>\n${m.content}\n`).join("") + "<|assistant|>\n";
}

/** Makes `dir`/model (tiny qwen2 + chat template) and, if asked, `dir`/adapter. */
export async function makeServeFixture(dir: string, withAdapter: boolean): Promise<void> {
  const model = `${dir}/model`;
  await makeTiny("qwen2", model, { seed: 11, layers: 3 });
  const cfgFile = `${model}/tokenizer_config.json`;
  const cfg = JSON.parse(await Deno.readTextFile(cfgFile));
  cfg.chat_template = TINY_CHAT_TEMPLATE;
  await Deno.writeTextFile(cfgFile, JSON.stringify(cfg, null, 2));
  if (!withAdapter) return;
  const sm = await SecurityAwareLoRAModel.create(model, { layers: 2 });
  try {
    let s = 12345;
    const stats = sm.tokenStats;
    for (let i = 0; i < stats.length; i++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      stats[i] = (s / 2 ** 32) * 2 - 1;
    }
    await sm.save(`${dir}/adapter`);
  } finally {
    sm.dispose();
  }
}
