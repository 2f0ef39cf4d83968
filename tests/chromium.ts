/**
 * A minimal headless-Chromium driver over the DevTools protocol (WebSocket, no npm package): open a
 * page, evaluate expressions in it, take a screenshot. Used to check the server's playground.
 */

/** The Chromium binary on PATH, or null. */
export function findChromium(): string | null {
  for (const name of ["chromium", "chromium-browser", "google-chrome"]) {
    for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
      try {
        if (Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
      } catch { /* not here */ }
    }
  }
  return null;
}

/** A page in a headless browser. */
export class HeadlessPage {
  #proc: Deno.ChildProcess;
  #ws: WebSocket;
  #id = 0;
  #pending = new Map<number, (v: { result?: unknown; error?: { message: string } }) => void>();
  #profile: string;

  private constructor(proc: Deno.ChildProcess, ws: WebSocket, profile: string) {
    this.#proc = proc;
    this.#ws = ws;
    this.#profile = profile;
    ws.onmessage = (e) => {
      const msg = JSON.parse(e.data);
      if (msg.id !== undefined) this.#pending.get(msg.id)?.(msg);
    };
  }

  /** Launches Chromium (window `width`×`height`) and opens `url`. */
  static async open(
    binary: string,
    url: string,
    width = 1280,
    height = 900,
  ): Promise<HeadlessPage> {
    const profile = await Deno.makeTempDir({ prefix: "dg-chromium-" });
    const proc = new Deno.Command(binary, {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        `--user-data-dir=${profile}`,
        `--window-size=${width},${height}`,
        "--remote-debugging-port=0",
        "about:blank",
      ],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const reader = proc.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let log = "";
    let port = "";
    while (!port) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`chromium exited before DevTools started:\n${log}`);
      log += value;
      port = log.match(/DevTools listening on ws:\/\/[^:]+:(\d+)\//)?.[1] ?? "";
    }
    (async () => { // keep draining stderr so the browser never blocks on it
      while (!(await reader.read()).done) { /* discard */ }
    })().catch(() => {});
    const target =
      await (await fetch(`http://127.0.0.1:${port}/json/new?${encodeURIComponent(url)}`, {
        method: "PUT",
      })).json();
    const ws = new WebSocket(target.webSocketDebuggerUrl);
    await new Promise((r, j) => {
      ws.onopen = r;
      ws.onerror = j;
    });
    return new HeadlessPage(proc, ws, profile);
  }

  #send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = ++this.#id;
    this.#ws.send(JSON.stringify({ id, method, params }));
    return new Promise((resolve, reject) =>
      this.#pending.set(id, (m) => {
        this.#pending.delete(id);
        if (m.error) reject(new Error(`${method}: ${m.error.message}`));
        else resolve(m.result as Record<string, unknown>);
      })
    );
  }

  /** Value of a JavaScript expression in the page (JSON-serialisable results only). */
  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.#send("Runtime.evaluate", { expression, returnByValue: true });
    return (r.result as { value: T }).value;
  }

  /** Polls `expression` until truthy or `timeoutMs` passes. */
  async waitFor(expression: string, timeoutMs = 60_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!(await this.evaluate<boolean>(expression))) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${expression}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** PNG bytes of the viewport. */
  async screenshot(): Promise<Uint8Array> {
    const r = await this.#send("Page.captureScreenshot", { format: "png" });
    return Uint8Array.from(atob(r.data as string), (c) => c.charCodeAt(0));
  }

  /** Closes the browser. */
  async close(): Promise<void> {
    this.#ws.close();
    this.#proc.kill("SIGTERM");
    await this.#proc.status;
    await Deno.remove(this.#profile, { recursive: true }).catch(() => {});
  }
}
