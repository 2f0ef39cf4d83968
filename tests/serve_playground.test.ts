/**
 * The playground page in headless Chromium against a running server with an adapter: both panes
 * stream to the end, every generated token is a coloured span with its score, and guidance changes
 * the text. With DG_PLAYGROUND_SCREENSHOT=FILE the finished page is saved there (docs screenshot).
 */
import assert from "node:assert/strict";
import { startServer } from "../lib/serve/mod.ts";
import { findChromium, HeadlessPage } from "./chromium.ts";
import { makeServeFixture } from "./serve_fixture.ts";

const chromium = findChromium();

Deno.test({
  name: "playground: two streamed panes, tokens coloured by score (headless Chromium)",
  ignore: chromium === null,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "dg-playground-" });
    await makeServeFixture(dir, true);
    const s = await startServer({ model: `${dir}/model`, adapter: `${dir}/adapter`, port: 0 });
    let page: HeadlessPage | null = null;
    try {
      const p = await HeadlessPage.open(chromium!, `${s.url}/?run&max=40&temp=0.7`);
      page = p;
      await p.waitFor(
        `document.getElementById("stat-off").textContent.includes("length") &&
         document.getElementById("stat-on").textContent.includes("length")`,
      );
      for (const pane of ["off", "on"]) {
        const n = await p.evaluate<number>(
          `document.querySelectorAll("#out-${pane} span.tok").length`,
        );
        assert.equal(n, 40, `${pane}: coloured tokens`);
        const bg = await p.evaluate<string>(
          `document.querySelector("#out-${pane} span.tok").style.background`,
        );
        assert.match(bg, /rgb/);
      }
      const text = (pane: string) =>
        p.evaluate<string>(`document.getElementById("out-${pane}").textContent`);
      assert.notEqual(await text("off"), await text("on"));
      assert.equal(await p.evaluate<string>(`document.getElementById("note").textContent`), "");
      const shot = Deno.env.get("DG_PLAYGROUND_SCREENSHOT");
      if (shot) await Deno.writeFile(shot, await p.screenshot());
    } finally {
      await page?.close();
      await s.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
