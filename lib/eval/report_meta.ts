/**
 * HTML rendering of a run's metadata ({@link RunMeta}) for report.html and comparison.html.
 *
 * @module
 */

import type { RunMeta } from "./run_meta.ts";
import { esc } from "./report_svg.ts";

const short = (h: string | null) => (h ? h.slice(0, 12) : "–");

/** One-line description of the run's model, adapter and method. */
export function runTitle(m: RunMeta | undefined): string {
  const g = m?.generation;
  if (!g) return "scored completions (no generation metadata)";
  const adapter = g.adapter ? ` + adapter ${g.adapter.path}` : "";
  return `${g.method} · ${g.model.path}${adapter}`;
}

/** A definition table of the run's metadata; a note when the run recorded none. */
export function runMetaHtml(m: RunMeta | undefined): string {
  if (!m) {
    return `<p class="note">This run recorded no metadata (summary.json predates run metadata).</p>`;
  }
  const rows: [string, string][] = [];
  const g = m.generation;
  if (g) {
    const mm = g.model;
    rows.push(
      ["model", esc(mm.path)],
      [
        "model config",
        `config.json sha256 <code title="${esc(mm.configSha256 ?? "")}">${
          esc(short(mm.configSha256))
        }</code> · ${esc(mm.modelType ?? "?")}, hidden ${mm.hiddenSize ?? "?"}, ${
          mm.layers ?? "?"
        } layers, vocab ${mm.vocabSize ?? "?"}`,
      ],
      [
        "adapter",
        g.adapter
          ? `${esc(g.adapter.path)} · adapter_config.json sha256 <code title="${
            esc(g.adapter.configSha256 ?? "")
          }">${esc(short(g.adapter.configSha256))}</code>${
            g.adapter.deepguard ? " · DeepGuard components" : " · LoRA only"
          }`
          : "none",
      ],
      ["method", esc(g.method)],
      ["scenarios", esc(g.evalType)],
      [
        "sampling",
        `${g.sampling.samples} samples per scenario in calls of ${g.sampling.perCall}; ` +
        `temperature ${g.sampling.temperature}, top-p ${g.sampling.topP}, ` +
        `max ${g.sampling.maxNewTokens} new tokens`,
      ],
      ["seeds", `base seed ${g.sampling.seed}; ${esc(g.seeds)}`],
      ["precision / device", `${esc(g.dtype)} on ${esc(g.device)}`],
    );
  }
  rows.push(
    ["judges", esc(m.judges.join(", ") || "(none)")],
    [
      "tool versions",
      Object.entries(m.tools).map(([t, v]) =>
        `${esc(t)}: ${v === null ? "<i>not found</i>" : esc(v)}`
      ).join("<br>"),
    ],
    [
      "code",
      `${esc(m.tool.name)} ${esc(m.tool.version)} · commit <code>${
        esc(m.tool.commit ?? "unknown (not a git checkout)")
      }</code>${m.tool.dirty ? " (with uncommitted changes)" : ""} · deno ${esc(m.tool.deno)}`,
    ],
    ["date", `${esc(m.startedAt)} → ${esc(m.finishedAt)}`],
    [
      "duration",
      `${
        m.durationSeconds.toFixed(1)
      } s (this invocation; ${m.scoredNow} of ${m.samples} samples scored in it${
        m.scoredNow < m.samples ? ", the rest resumed" : ""
      })`,
    ],
  );
  return `<table class="meta">${
    rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${v}</td></tr>`).join("")
  }</table>`;
}
