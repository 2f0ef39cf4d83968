import { assert, assertEquals } from "./eval_assert.ts";
import { runPyBatch } from "../lib/eval/py/dynamic.ts";
import { runSandboxed } from "../lib/eval/sandbox.ts";
import { isRootless } from "../lib/eval/bwrap.ts";
import { removeTreeSync } from "../lib/eval/tmp.ts";
import { announceSkip, NO_SHARED, SANDBOX_PROBLEM } from "./eval_helpers.ts";

const skip = announceSkip("eval_sandbox", [SANDBOX_PROBLEM]);
const skipPy = skip || announceSkip("eval_sandbox (python harness part)", [NO_SHARED]);

const sh = (dir: string, script: string, limits = {}) =>
  runSandboxed(["/bin/bash", "-c", script], {
    dir,
    limits: { timeoutMs: 4000, cpuSeconds: 2, ...limits },
  });

Deno.test({
  name:
    "runSandboxed: infinite loop, fork bomb, writes/deletes outside, network, 10 GB — contained",
  ignore: skip,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const canary = `${Deno.cwd()}/.sandbox-canary-${Deno.pid}`;
    await Deno.writeTextFile(canary, "keep");
    try {
      let r = await sh(dir, "while :; do :; done");
      assert(r.limitHit === "cpu" || r.limitHit === "timeout", JSON.stringify(r));
      r = await sh(dir, "sleep 30", { timeoutMs: 1000 });
      assertEquals(r.timedOut, true);
      assertEquals(r.limitHit, "timeout");
      assert(r.wallMs < 5000);
      r = await sh(dir, "b(){ b|b& }; b; sleep 1; echo survived");
      assertEquals(r.limitHit, "processes", JSON.stringify(r).slice(0, 300));
      r = await sh(
        dir,
        `echo x > ${canary}; rm -f ${canary}; echo y > /etc/dg-sbx; echo z > /tmp/dg-sbx; echo ok > mine.txt`,
      );
      assertEquals(await Deno.readTextFile(canary), "keep");
      assertEquals(await Deno.readTextFile(`${dir}/mine.txt`), "ok\n");
      assert(!(await Deno.stat("/etc/dg-sbx").then(() => true, () => false)));
      r = await sh(
        dir,
        "exec 3<>/dev/tcp/1.1.1.1/80 && echo CONNECTED; exec 3<>/dev/tcp/127.0.0.1/22 && echo LOCAL",
      );
      assert(!r.stdout.includes("CONNECTED") && /unreachable/i.test(r.stderr), r.stderr);
      r = await runSandboxed(["/usr/bin/python3", "-c", "x = bytearray(10 * 1024**3)"], { dir });
      assertEquals(r.limitHit, "memory", r.stderr);
      r = await sh(dir, "head -c 100000000 /dev/zero > big", { fileSizeBytes: 1 << 20 });
      assertEquals(r.limitHit, "file-size", JSON.stringify(r).slice(0, 300));
      // (a duration no other process on a shared machine uses)
      const nap = `sleep 60.${Deno.pid}`;
      r = await sh(dir, `(${nap} &); echo started`);
      assertEquals(r.stdout, "started\n");
      const ps = await new Deno.Command("ps", { args: ["-eo", "args"], stdout: "piped" }).output();
      assert(
        !new TextDecoder().decode(ps.stdout).includes(nap),
        "background process survived",
      );
      // Closed to its owner (rootless, the scorer): removed all the same (finally below).
      r = await sh(dir, "mkdir -p locked/in && echo x > locked/in/f && chmod 000 locked/in locked");
      assertEquals(r.exitCode, 0, r.stderr);
      r = await sh(dir, "id -u; echo $HOME; env | wc -l");
      const [uid, home] = r.stdout.split("\n");
      // root: a fresh uid per run; rootless: the fixed uid inside its own user namespace
      if (isRootless()) assertEquals(uid, "1000");
      else assert(Number(uid) >= 200000, uid);
      assertEquals(home, dir);
    } finally {
      await Deno.remove(canary).catch(() => {});
      removeTreeSync(dir);
    }
  },
});

/** A path in a directory that exists wherever the suite runs (the project root), so the test sees a
 * permission refusal rather than a missing parent directory. */
const PWNED = `${Deno.cwd()}/.dg-pwned-${Deno.pid}`;

const HOSTILE: Record<string, string> = {
  loop: "\n    while True:\n        pass",
  forkbomb:
    "\n    while True:\n        try:\n            os.fork()\n        except Exception:\n            pass",
  alloc: "\n    blob = bytearray(10 * 1024 ** 3)\n    return 'x'",
  writes:
    "\n    import shutil\n    shutil.rmtree('/etc', ignore_errors=True)\n    os.remove('/etc/hostname')\n    return 'x'",
  creates: `\n    os.open('${PWNED}', os.O_CREAT | os.O_WRONLY)\n    return 'x'`,
  network:
    "\n    import socket\n    socket.create_connection(('1.1.1.1', 80), timeout=1)\n    return 'x'",
  daemon:
    "\n    if os.fork() == 0:\n        os.setsid()\n        import time\n        time.sleep(100)\n    return subprocess.check_output(['ls', dirname])",
  good: "\n    return subprocess.check_output(['ls', dirname])",
};

Deno.test({
  name: "python harness: hostile samples are contained and reported, later samples unaffected",
  ignore: skipPy,
  fn: async () => {
    const lines = (await Deno.readTextFile(
      new URL("../../shared/data/sec_eval/scenarios.jsonl", import.meta.url),
    ))
      .split("\n");
    const s = JSON.parse(lines.find((l) => l.includes('"cwe-078/0-py"'))!);
    const names = Object.keys(HOSTILE);
    const programs = names.map((n) =>
      (s.file_context + s.func_context + HOSTILE[n]).trimEnd() + "\n"
    );
    const reps = await runPyBatch("cwe-078/0-py", programs, ["functional"]);
    const by = Object.fromEntries(names.map((n, i) => [n, reps[i].get("functional")!]));
    assertEquals(by.loop.verdict.functional, false);
    assert(/timed out/.test(by.loop.verdict.detail ?? ""), JSON.stringify(by.loop));
    assertEquals(by.forkbomb.verdict.functional, false);
    assertEquals(by.forkbomb.limit, "processes", JSON.stringify(by.forkbomb));
    assertEquals(by.alloc.limit, "memory", JSON.stringify(by.alloc));
    assert(
      /Read-only|Permission denied|No such file/.test(by.writes.verdict.detail ?? ""),
      JSON.stringify(by.writes),
    );
    assert(
      /Read-only|Permission denied|No such file/.test(by.creates.verdict.detail ?? ""),
      JSON.stringify(by.creates),
    );
    assert(!(await Deno.stat(PWNED).then(() => true, () => false)));
    assert(await Deno.stat("/etc/passwd").then(() => true, () => false));
    assert(/unreachable/i.test(by.network.verdict.detail ?? ""), JSON.stringify(by.network));
    assertEquals(by.daemon.verdict.functional, true, JSON.stringify(by.daemon));
    assertEquals(by.daemon.leftoverAfterKill, 1, "the daemon must be gone after one kill round");
    assertEquals(by.good.verdict.functional, true, JSON.stringify(by.good));
  },
});
