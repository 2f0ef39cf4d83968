/**
 * Rootless sandbox (lib/eval/rootless.ts): the probe's verdicts, the clear stop
 * when user namespaces are refused, and — as an ordinary user (uid 65534,
 * through `setpriv`) — the sandbox and hostile suites and the verdicts of
 * labelled completions, which must equal root mode's. The runs as another user
 * need root here (to switch users and to give that user a private copy of the
 * project); they are ignored otherwise.
 */
import { assert, assertEquals } from "./eval_assert.ts";
import { interpretProbe } from "../lib/eval/rootless.ts";
import { PROJECT_ROOT, venvDir } from "../lib/eval/py/paths.ts";
import { type LabelledSample, loadLabelled, scoreLabelled } from "../tasks/judge_quality.ts";
import { announceSkip, NO_SHARED, SANDBOX_PROBLEM } from "./eval_helpers.ts";

const NOBODY = 65534;
const TOOLS = ["/usr/bin/setpriv", "/usr/bin/unshare", "/usr/bin/mount"];
const skipAsUser = announceSkip("eval_rootless (runs as another user)", [
  Deno.uid() !== 0 && "not root (cannot switch to another user)",
  ...TOOLS.map((t) => {
    try {
      Deno.statSync(t);
      return null;
    } catch {
      return `${t} missing`;
    }
  }),
  SANDBOX_PROBLEM,
  NO_SHARED,
]);

Deno.test("rootless probe: each outcome gives null or the stop message saying what to do", () => {
  assertEquals(interpretProbe({ code: 0, stdout: "ns-ok\nfork-ok\n", stderr: "" }, "s"), null);
  const refused = interpretProbe({
    code: 1,
    stdout: "",
    stderr: "bwrap: No permissions to creating new namespace, likely because the kernel does " +
      "not allow non-privileged user namespaces.\n",
  }, "kernel.unprivileged_userns_clone=0");
  assert(/refuses the user namespace \(bwrap: No permissions/.test(refused!), refused!);
  assert(/kernel\.unprivileged_userns_clone=0\)/.test(refused!), "current sysctls shown");
  assert(/run the scoring as root/.test(refused!) && /sysctl -w/.test(refused!), refused!);
  const perUser = interpretProbe({ code: 2, stdout: "ns-ok\n", stderr: "Cannot fork\n" }, "s");
  assert(/RLIMIT_NPROC per user, not per user namespace/.test(perUser!), perUser!);
  assert(/run the scoring as root/.test(perUser!), perUser!);
  assert(/exited with 1/.test(interpretProbe({ code: 1, stdout: "", stderr: "" }, "s")!));
});

/**
 * A private copy of the project owned by {@link NOBODY} (tracked and untracked
 * files; the venv and tool links point where this checkout's do), with
 * `../shared` beside it. Returns the copy's root.
 */
async function userCopy(): Promise<{ root: string; dispose: () => Promise<void> }> {
  const top = await Deno.makeTempDir({ prefix: "dg-rootless-" });
  await Deno.chmod(top, 0o755);
  const root = `${top}/p`;
  await Deno.mkdir(root);
  const files = new TextDecoder().decode(
    (await new Deno.Command("git", {
      args: ["ls-files", "-co", "--exclude-standard", "-z"],
      cwd: PROJECT_ROOT,
      stdout: "piped",
    }).output()).stdout,
  ).split("\0").filter((f) => f && !/^\.(tools|venv|venv-eval)$/.test(f));
  for (const f of files) {
    const src = `${PROJECT_ROOT}/${f}`;
    const info = await Deno.lstat(src).catch(() => null);
    if (!info?.isFile) continue;
    await Deno.mkdir(`${root}/${f}`.replace(/\/[^/]*$/, ""), { recursive: true });
    await Deno.copyFile(src, `${root}/${f}`);
  }
  await Deno.symlink(await Deno.realPath(venvDir()), `${root}/.venv-eval`);
  await Deno.symlink(await Deno.realPath(`${PROJECT_ROOT}/../shared`), `${top}/shared`);
  const chown = await new Deno.Command("chown", { args: ["-R", `${NOBODY}:${NOBODY}`, root] })
    .output();
  assert(chown.success);
  return { root, dispose: () => Deno.remove(top, { recursive: true }) };
}

/**
 * Run `argv` as {@link NOBODY} in `cwd`. The venv's base interpreter may sit in
 * a directory other users cannot enter (e.g. /root/.pyenv): in a private mount
 * namespace of this command only, that directory is made reachable by mounting
 * an empty tmpfs (mode 0755) over its closed ancestor and binding it back.
 */
async function asNobody(argv: string[], cwd: string): Promise<Deno.CommandOutput> {
  const cfg = await Deno.readTextFile(`${venvDir()}/pyvenv.cfg`).catch(() => "");
  const home = /^home\s*=\s*(.+)$/m.exec(cfg)?.[1].trim().replace(/\/bin\/?$/, "") ?? "";
  let closed = "";
  for (let p = home; p.lastIndexOf("/") > 0; p = p.slice(0, p.lastIndexOf("/"))) {
    const parent = p.slice(0, p.lastIndexOf("/"));
    if (((await Deno.stat(parent)).mode! & 0o001) === 0) closed = parent;
  }
  const reopen = closed
    ? `keep=$(mktemp -d); mount --bind "${home}" "$keep"; ` +
      `mount -t tmpfs -o mode=0755 none "${closed}"; mkdir -p "${home}"; ` +
      `mount --bind "$keep" "${home}"; `
    : "";
  const env = `PATH=/usr/local/bin:/usr/bin:/bin HOME=${cwd} DENO_DIR=${cwd}/.deno NO_COLOR=1`;
  return await new Deno.Command("/usr/bin/unshare", {
    args: [
      "--mount",
      "--propagation",
      "private",
      "--",
      "/bin/bash",
      "-c",
      `set -e; ${reopen}exec setpriv --reuid=${NOBODY} --regid=${NOBODY} --clear-groups ` +
      `env -i ${env} "$@"`,
      "bash",
      ...argv,
    ],
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test({
  name: "rootless: sandbox, hostile, C-tool suites pass as uid 65534 (no escape/leak/forgery)",
  ignore: skipAsUser,
  sanitizeResources: false,
  fn: async () => {
    const copy = await userCopy();
    try {
      const out = await asNobody([
        Deno.execPath(),
        "test",
        "-A",
        "tests/eval_sandbox.test.ts",
        "tests/eval_hostile.test.ts",
        "tests/eval_c_tools.test.ts",
      ], copy.root);
      const log = text(out.stdout) + text(out.stderr);
      assert(out.success, log.slice(-4000));
      // every test ran (none ignored for a missing tool or sandbox) and passed
      assert(/ok \| 16 passed \| 0 failed \(/.test(log), log.slice(-2000));
      assert(/escapes\/leaks\/forgeries: 0/.test(log), log.slice(-2000));
    } finally {
      await copy.dispose();
    }
  },
});

/** Scenarios whose labelled completions are compared: harness setup, file modes, C judges. */
const PARITY = [
  "cwe-078/0-py",
  "cwe-022/2-py",
  "cwe-732/2-py",
  "cwe-787/0-c",
  "cwe-476/0-c",
  "cwe-732/0-c",
];

/** Per sample: name, functional, secure, sorted finding rules, inconclusive judges. */
function verdicts(samples: LabelledSample[], results: Awaited<ReturnType<typeof scoreLabelled>>) {
  return samples.map((s, i) => {
    const r = results[i];
    return [
      `${s.scenario} ${s.name}`,
      r.functional,
      r.secure,
      r.findings.map((f) => `${f.judge}:${f.rule}`).sort().join(","),
      (r.inconclusive ?? []).map((x) => x.judge).sort().join(","),
    ];
  });
}

Deno.test({
  name: "rootless: labelled completions get the same verdicts as in root mode (py and C)",
  ignore: skipAsUser,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const pick = (all: LabelledSample[]) => all.filter((s) => PARITY.includes(s.scenario));
    const samples = pick(await loadLabelled());
    assert(samples.length >= 20, `${samples.length} samples`);
    const root = verdicts(samples, await scoreLabelled(samples, { progress: false }));
    const copy = await userCopy();
    try {
      const code = `import { loadLabelled, scoreLabelled } from "./tasks/judge_quality.ts";
const ids = ${JSON.stringify(PARITY)};
const samples = (await loadLabelled()).filter((s) => ids.includes(s.scenario));
const results = await scoreLabelled(samples, { progress: false });
console.log(JSON.stringify(results.map((r) => ({ uid: Deno.uid(), ...r }))));`;
      const out = await asNobody([Deno.execPath(), "eval", code], copy.root);
      assert(out.success, text(out.stderr).slice(-3000));
      const results = JSON.parse(text(out.stdout).trim().split("\n").pop()!);
      assertEquals(results[0].uid, NOBODY);
      assertEquals(verdicts(samples, results), root);
      // and both agree with the labels
      for (const [i, s] of samples.entries()) {
        assertEquals([results[i].functional, results[i].secure], [s.functional, s.secure], s.name);
      }
    } finally {
      await copy.dispose();
    }
  },
});

Deno.test({
  name: "without user namespaces, score as an ordinary user stops before any work, exit 1",
  ignore: skipAsUser,
  fn: async () => {
    const tmp = await Deno.makeTempDir();
    await Deno.chmod(tmp, 0o777);
    const input = `${tmp}/in.jsonl`;
    await Deno.writeTextFile(input, '{"scenario": "cwe-078/0-py", "completion": "\\n    pass"}\n');
    await Deno.chmod(input, 0o644);
    try {
      // A user namespace of our own (all uids mapped 1:1) in which no further user namespace
      // may be created: the same refusal as user.max_user_namespaces=0, without touching
      // the host's setting. The child waits on stdin until its maps are written.
      const inner = "read _; exec /bin/sh -c 'echo 0 > /proc/sys/user/max_user_namespaces && " +
        `exec setpriv --reuid=${NOBODY} --regid=${NOBODY} --clear-groups env -i ` +
        `HOME=${tmp} DENO_DIR=${tmp}/deno NO_COLOR=1 "$@"' sh "$@"`;
      const child = new Deno.Command("/usr/bin/unshare", {
        args: [
          "--user",
          "--",
          "/bin/sh",
          "-c",
          inner,
          "sh",
          Deno.execPath(),
          "run",
          "-A",
          new URL("../tasks/score.ts", import.meta.url).pathname,
          "--completions",
          input,
          "--out",
          `${tmp}/out`,
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      // unshare has exec'd the shell once /proc/<pid>/ns/user differs from ours.
      const mine = await Deno.readLink("/proc/self/ns/user");
      for (let i = 0; i < 200; i++) {
        const ns = await Deno.readLink(`/proc/${child.pid}/ns/user`).catch(() => mine);
        if (ns !== mine) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      await Deno.writeTextFile(`/proc/${child.pid}/uid_map`, "0 0 4294967295\n");
      await Deno.writeTextFile(`/proc/${child.pid}/gid_map`, "0 0 4294967295\n");
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode("go\n"));
      await w.close();
      const out = await child.output();
      const err = text(out.stderr);
      assertEquals(out.code, 1, err);
      assert(
        /SandboxUnavailableError: the evaluation sandbox needs root or unprivileged/.test(err),
      );
      assert(/max_\*_namespaces exceeded|No space left/i.test(err), err);
      assert(/sudo -E deno task score/.test(err) && /sysctl -w/.test(err), err);
      assertEquals(await Deno.stat(`${tmp}/out`).then(() => true, () => false), false);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
