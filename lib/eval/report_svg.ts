/**
 * Inline SVG grouped bar chart (0–100 %) for report.html and comparison.html: drawn axes with
 * ticks and a title, a value printed on every bar (so an all-zero run shows "0.0", not empty
 * axes), optional 95 % interval whiskers, and a legend above the plot that wraps and sets the
 * width it needs, so it is never cut off however few the categories.
 *
 * @module
 */

import type { Interval } from "./bootstrap.ts";

/** HTML/XML text escaping (element content and double-quoted attributes). */
export function esc(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

/** One bar series (one colour): a value per category, percent. */
export interface BarSeries {
  /** Legend text. */
  label: string;
  /** CSS colour of the bars. */
  color: string;
  /** One value per category (percent); null = no bar ("–"). */
  values: (number | null)[];
  /** Optional 95 % interval per category, drawn as a whisker. */
  intervals?: (Interval | null)[];
}

/** What {@link barChartSvg} draws. */
export interface BarChart {
  /** Title above the legend. */
  title: string;
  /** Label of the y axis. */
  yLabel: string;
  /** One bar group per category (x axis). */
  categories: string[];
  /** One bar per series in each group. */
  series: BarSeries[];
}

const CHAR_W = 6.2; // approximate width of an 11 px sans-serif character

/** The chart as one `<svg>` element. */
export function barChartSvg(c: BarChart): string {
  const barW = 16, groupGap = 22, plotH = 220, left = 56, right = 16;
  const groupW = c.series.length * barW + groupGap;
  const plotW = Math.max(200, c.categories.length * groupW);
  // Legend: items laid out left to right, wrapping at the chart width (at least 420 px).
  const items = c.series.map((s) => ({ s, w: 22 + s.label.length * CHAR_W + 18 }));
  const width = Math.max(left + plotW + right, 420, left + Math.max(...items.map((i) => i.w), 0));
  const legend: string[] = [];
  let lx = left, ly = 36;
  for (const { s, w } of items) {
    if (lx + w > width - right && lx > left) {
      lx = left;
      ly += 18;
    }
    legend.push(
      `<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${s.color}"/>`,
      `<text x="${lx + 17}" y="${ly}">${esc(s.label)}</text>`,
    );
    lx += w;
  }
  const top = ly + 40; // room for the value printed above a 100 % bar
  const labelH = 14 + Math.max(0, ...c.categories.map((x) => x.length)) * CHAR_W * 0.6;
  const height = top + plotH + labelH + 24;
  const y = (v: number) => top + plotH - (plotH * Math.max(0, Math.min(100, v))) / 100;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${Math.ceil(width)}" height="${
      Math.ceil(height)
    }" font-family="sans-serif" font-size="11" role="img" aria-label="${esc(c.title)}">`,
    `<text x="${left}" y="16" font-size="13" font-weight="bold">${esc(c.title)}</text>`,
    ...legend,
  ];
  for (const t of [0, 20, 40, 60, 80, 100]) {
    out.push(
      `<line x1="${left}" x2="${left + plotW}" y1="${y(t)}" y2="${y(t)}" stroke="#e3e3e3"/>`,
      `<line x1="${left - 4}" x2="${left}" y1="${y(t)}" y2="${y(t)}" stroke="#333"/>`,
      `<text x="${left - 7}" y="${y(t) + 4}" text-anchor="end">${t}</text>`,
    );
  }
  out.push(
    `<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#333"/>`,
    `<line x1="${left}" x2="${left + plotW}" y1="${top + plotH}" y2="${
      top + plotH
    }" stroke="#333"/>`,
    `<text transform="translate(14 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">${
      esc(c.yLabel)
    }</text>`,
  );
  c.categories.forEach((cat, gi) => {
    const x0 = left + (plotW - c.categories.length * groupW) / 2 + groupGap / 2 + gi * groupW;
    c.series.forEach((s, si) => {
      const v = s.values[gi];
      const x = x0 + si * barW;
      if (v === null || v === undefined) {
        out.push(`<text x="${x + barW / 2 - 1}" y="${y(0) - 3}" text-anchor="middle">–</text>`);
        return;
      }
      const ci = s.intervals?.[gi];
      const tip = `${cat} · ${s.label}: ${v.toFixed(1)}%` +
        (ci ? ` (95% CI ${ci.lo.toFixed(1)}–${ci.hi.toFixed(1)})` : "");
      out.push(
        `<rect x="${x}" y="${y(v)}" width="${barW - 2}" height="${
          y(0) - y(v)
        }" fill="${s.color}"><title>${esc(tip)}</title></rect>`,
      );
      if (ci) {
        const cx = x + (barW - 2) / 2;
        out.push(
          `<path d="M${cx} ${y(ci.lo)}V${y(ci.hi)}M${cx - 3} ${y(ci.lo)}H${cx + 3}M${cx - 3} ${
            y(ci.hi)
          }H${cx + 3}" stroke="#222" stroke-width="1"/>`,
        );
      }
      const ty = Math.min(y(v), ci ? y(ci.hi) : y(v)) - 4;
      const tx = x + (barW - 2) / 2 + 3;
      out.push(
        `<text x="${tx}" y="${ty}" font-size="9" transform="rotate(-90 ${tx} ${ty})">${
          v.toFixed(1)
        }</text>`,
      );
    });
    const lxc = x0 + (c.series.length * barW) / 2;
    out.push(
      `<text x="${lxc}" y="${top + plotH + 14}" text-anchor="end" transform="rotate(-35 ${lxc} ${
        top + plotH + 14
      })">${esc(cat)}</text>`,
    );
  });
  if (!c.categories.length) {
    out.push(
      `<text x="${left + 10}" y="${top + plotH / 2}">no scored scenarios</text>`,
    );
  }
  out.push("</svg>");
  return out.join("\n");
}
