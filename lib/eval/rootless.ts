/**
 * Can the evaluation sandbox run without root here?
 *
 * As root, every sample runs under its own fresh uid (its RLIMIT_NPROC budget,
 * `kill(-1)` cleanup and file isolation come from that uid). Without root the
 * sandbox instead gives every run its own unprivileged user namespace (bwrap
 * `--unshare-user`): one sandbox per run (per Python sample), so samples are
 * still isolated by their namespaces, and the process limit holds because Linux
 * ≥ 5.14 counts RLIMIT_NPROC per (user namespace, uid): a limit set inside the
 * namespace counts only the processes in it. Both properties are probed once,
 * by running a tiny sandbox; when either is missing the caller stops before any
 * work with {@link rootlessProblem}'s message (docs/eval.md, "Without root").
 *
 * @module
 */

import { bwrapArgs } from "./bwrap.ts";

/** Output of the probe sandbox: `ns-ok` once inside, `fork-ok` when the child forked. */
export interface ProbeOutcome {
  /** Exit status of bwrap (`null` when it could not be started). */
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The sysctls that govern unprivileged user namespaces, as `name=value` (those that exist). */
function userNamespaceSysctls(): string {
  const names = [
    "kernel/unprivileged_userns_clone",
    "user/max_user_namespaces",
    "kernel/apparmor_restrict_unprivileged_userns",
  ];
  const found: string[] = [];
  for (const n of names) {
    try {
      found.push(`${n.replaceAll("/", ".")}=${Deno.readTextFileSync(`/proc/sys/${n}`).trim()}`);
    } catch { /* not on this kernel */ }
  }
  return found.length ? found.join(", ") : "none of the usual sysctls exist";
}

/**
 * What the probe says, as the message for a stop before scoring (`null`: the
 * rootless sandbox works). Pure, so that every branch is unit-tested.
 */
export function interpretProbe(p: ProbeOutcome, sysctls = userNamespaceSysctls()): string | null {
  if (p.stdout.includes("ns-ok") && p.stdout.includes("fork-ok")) return null;
  const asRoot =
    "run the scoring as root (`sudo -E deno task score ...`, or in a container where " +
    "you are root and bwrap is allowed)";
  if (p.stdout.includes("ns-ok")) {
    return "the evaluation sandbox cannot limit a sample's processes without root here: this " +
      "kernel counts RLIMIT_NPROC per user, not per user namespace (Linux < 5.14), so a limit " +
      `set inside the sandbox would count every process of uid ${Deno.uid()}. Either ${asRoot}, ` +
      "or use Linux ≥ 5.14";
  }
  const why = p.stderr.trim().split("\n").slice(-2).join(" ").slice(0, 300) ||
    `bwrap exited with ${p.code}`;
  return `the evaluation sandbox needs root or unprivileged user namespaces, and this system ` +
    `refuses the user namespace (${why}; ${sysctls}). Either ${asRoot}, or enable unprivileged ` +
    "user namespaces: `sysctl -w kernel.unprivileged_userns_clone=1` (Debian, older kernels), " +
    "`sysctl -w user.max_user_namespaces=15000` (when 0), or on Ubuntu ≥ 23.10 " +
    "`sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` (or an AppArmor profile " +
    "allowing userns for /usr/bin/bwrap)";
}

/**
 * Run the probe (without root): a sandbox with the evaluation's own bwrap
 * options (user namespace included) whose shell sets RLIMIT_NPROC to 3
 * (bwrap's init, the shell, one child) and forks once. The fork succeeds only
 * if the limit counts the namespace's processes: the host side holds at least
 * this process and the outer bwrap under the same uid.
 */
export function probeUserNamespace(bwrap: string): ProbeOutcome {
  const script =
    "echo ns-ok; exec /usr/bin/prlimit --nproc=3 -- /bin/sh -c 'true & wait && echo fork-ok'";
  try {
    const out = new Deno.Command(bwrap, {
      args: [...bwrapArgs({ chdir: "/" }), "--", "/bin/sh", "-c", script],
      clearEnv: true,
      env: { PATH: "/usr/bin:/bin" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).outputSync();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } catch (e) {
    return { code: null, stdout: "", stderr: (e as Error).message };
  }
}

let cached: string | null | undefined;

/** Why the rootless sandbox cannot run here (probed once per process), or `null`. */
export function rootlessProblem(bwrap: string): string | null {
  if (cached === undefined) cached = interpretProbe(probeUserNamespace(bwrap));
  return cached;
}
