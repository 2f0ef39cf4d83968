"""Batch runner for the Python scenarios (the "zygote").

Runs as root inside a bubblewrap sandbox (see lib/eval/py/dynamic.ts). It imports
Flask, PyYAML, ... once, reads a job (JSON on stdin, programs included, so that no
sample can read another's source) and, for every sample and phase ("functional",
"exploit"), forks a child that:

* starts a new session, sets rlimits (CPU, address space, file size, processes),
* switches to the sample's own unprivileged uid (RLIMIT_NPROC is enforced),
* works in its own fresh directory (HOME, TMPDIR, cwd) under the sandbox /tmp,
* installs the tamper guard (guard.py), runs the scenario check and writes the
  verdict, tagged with a per-run random nonce, to a private pipe.

The parent waits with a wall-clock deadline, then kills every process of that
uid (kill(-1) as that uid) and wipes the directory and /tmp leftovers, so no
sample can affect the next one. It accepts a verdict only when the child exited
with status 0 after writing exactly one verdict line with the right nonce and no
tamper line (docs/eval.md, "Verdicts"). One JSON line per (sample, phase) goes to
stdout.

Rootless mode (job "rootless": the scorer is not root): the sandbox is a user
namespace with a single uid and holds exactly one sample (lib/eval/py/dynamic.ts),
so the child keeps the harness's uid (its RLIMIT_NPROC counts the namespace's
processes), the parent makes itself non-dumpable (a same-uid sample can then not
read its memory, open its file descriptors or ptrace it) and cleans up with
kill(-1), which spares only the caller and the namespace's init.
"""

import importlib
import json
import os
import resource
import secrets
import select
import shutil
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

# Preload everything the checks and samples use, so that forked children start fast.
import flask  # noqa: E402,F401
import jinja2  # noqa: E402,F401
import markupsafe  # noqa: E402,F401
import sqlite3  # noqa: E402,F401
import subprocess  # noqa: E402,F401
import tarfile  # noqa: E402,F401
import urllib.parse  # noqa: E402,F401
import unittest.mock  # noqa: E402,F401
import yaml  # noqa: E402,F401
import werkzeug.utils  # noqa: E402,F401
import func_timeout  # noqa: E402,F401

import dgcheck  # noqa: E402
import guard  # noqa: E402

WORK_ROOT = "/tmp/w"
MAX_VERDICT = 1 << 20


def set_limits(limits, rootless):
    """rootless: RLIMIT_NPROC counts the namespace, whose init and harness parent are not the sample's."""
    cpu = int(limits["cpuSeconds"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (limits["memoryBytes"], limits["memoryBytes"]))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["fileSizeBytes"], limits["fileSizeBytes"]))
    nproc = limits["maxProcesses"] + (2 if rootless else 0)
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def uid_processes(uid):
    """Live (non-zombie) processes of ``uid`` in this PID namespace."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status") as f:
                text = f.read()
        except OSError:
            continue
        state = uid_line = None
        for line in text.splitlines():
            if line.startswith("State:"):
                state = line.split()[1]
            elif line.startswith("Uid:"):
                uid_line = line.split()[1:]
        if uid_line and str(uid) in uid_line and state != "Z":
            found.append(int(name))
    return found


def kill_uid(uid):
    """SIGKILL every process of ``uid``; returns how many rounds were needed."""
    for rounds in range(1, 20):
        pid = os.fork()
        if pid == 0:
            try:
                os.setgid(uid)
                os.setuid(uid)
                os.kill(-1, signal.SIGKILL)
            except BaseException:
                pass
            os._exit(0)
        os.waitpid(pid, 0)
        if not uid_processes(uid):
            return rounds
        time.sleep(0.01)
    return -1


def other_processes():
    """Live (non-zombie) processes of this PID namespace other than init and this process."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in (1, os.getpid()):
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            found.append(int(name))
    return found


def kill_others():
    """Rootless cleanup: SIGKILL everything but init and us; returns the rounds needed."""
    for rounds in range(1, 20):
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if not other_processes():
            return rounds
        time.sleep(0.01)
    return -1


def kill_sample(uid):
    return kill_others() if uid is None else kill_uid(uid)


def make_undumpable():
    """PR_SET_DUMPABLE 0: /proc/<pid>/mem, /proc/<pid>/fd and ptrace then need CAP_SYS_PTRACE."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(4, 0, 0, 0, 0) != 0:  # PR_SET_DUMPABLE
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0) failed")


def reap_children():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def clean_tmp(keep):
    for name in os.listdir("/tmp"):
        if name in keep:
            continue
        p = os.path.join("/tmp", name)
        try:
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p, ignore_errors=True)
            else:
                os.remove(p)
        except OSError:
            pass


def child_main(check, phase, ctx, uid, limits, wfd, extra_path, nonce):
    write, dumps, exit_ = os.write, json.dumps, os._exit
    verdict = None
    try:
        os.setsid()
        set_limits(limits, uid is None)
        os.chdir(ctx.workdir)
        if uid is not None:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        os.umask(0o022)
        log = os.open("harness.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(log, 1)
        os.dup2(log, 2)
        nul = os.open("/dev/null", os.O_RDONLY)
        os.dup2(nul, 0)
        os.environ.clear()
        os.environ.update({
            "HOME": ctx.workdir,
            "TMPDIR": ctx.workdir,
            "PATH": (extra_path + ":" if extra_path else "") + "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
        })
        g = guard.Guard(ctx.program_path, wfd, extra_modules=(check.__name__,))
        reporter = g.report_incomplete
        registry = dgcheck.set_reporter(reporter)
        verdict = getattr(check, phase)(ctx)
        g.check_snapshot()
        if len(registry) != 1 or registry[0] != reporter:
            g.report("dgcheck's incomplete-attempt reporter was replaced")
    except BaseException as exc:  # noqa: BLE001 - report anything
        verdict = {"harnessError": dgcheck.abnormal_exit(exc) or dgcheck.short(exc)}
    try:
        data = dumps({"nonce": nonce, "verdict": verdict}, default=str).encode()
        write(wfd, data[:MAX_VERDICT] + b"\n")
    finally:
        exit_(0)


def read_some(fd, buf):
    """Read what is available without blocking; returns (buffer, eof)."""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return buf, False
        if not chunk:
            return buf, True
        if len(buf) < MAX_VERDICT:
            buf += chunk


def parse_channel(buf, nonce):
    """Read the verdict pipe: (verdict or None, tamper reasons, incomplete reasons, channel problem).

    The pipe is a stream of JSON lines. Tamper and incomplete lines are evidence written by the
    guard; the verdict line must carry this run's nonce and be the only one.
    """
    tamper, incomplete, verdicts, junk = [], [], [], 0
    for raw in buf.split(b"\n"):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw.decode("utf-8", "replace"))
        except ValueError:
            junk += 1
            continue
        if not isinstance(obj, dict):
            junk += 1
        elif "tamper" in obj and len(obj) == 1:
            tamper.append(str(obj["tamper"]))
        elif "incomplete" in obj and len(obj) == 1:
            incomplete.append(str(obj["incomplete"]))
        elif obj.get("nonce") == nonce and isinstance(obj.get("verdict"), dict):
            verdicts.append(obj["verdict"])
        else:
            junk += 1
    problem = None
    if junk:
        problem = f"verdict channel: {junk} forged or garbled line(s)"
    elif len(verdicts) > 1:
        problem = "verdict channel: more than one verdict"
    return (verdicts[0] if len(verdicts) == 1 else None), tamper, incomplete, problem


def run_phase(check, job, sample, phase):
    uid = sample["uid"]
    workdir = os.path.join(WORK_ROOT, f"{sample['index']}-{phase}")
    srcdir = workdir + ".src"
    os.makedirs(workdir)
    if uid is not None:
        os.chown(workdir, uid, uid)
    os.chmod(workdir, 0o700)
    # The program lives in a root-owned directory that exists only during this run.
    os.makedirs(srcdir, mode=0o755)
    program_path = os.path.join(srcdir, "sample.py")
    with open(program_path, "w") as f:
        f.write(sample["program"])
    os.chmod(program_path, 0o644)
    ctx = dgcheck.Ctx(program_path, workdir, job["scenario"])
    setup = getattr(check, "root_setup", None)
    extra_path = setup(phase, ctx, os.getuid() if uid is None else uid) if setup else None
    limits = job["limits"]
    timeout = job["timeouts"][phase]
    nonce = secrets.token_hex(16)
    rfd, wfd = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        child_main(check, phase, ctx, uid, limits, wfd, extra_path, nonce)
    os.close(wfd)
    os.set_blocking(rfd, False)
    buf = b""
    timed_out = False
    status = None
    deadline = start + timeout
    eof = False
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        ready, _, _ = select.select([rfd], [], [], min(remaining, 0.05))
        if ready and not eof:
            buf, eof = read_some(rfd, buf)
        if status is None:
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                status = st
        if status is not None:
            # the child is gone; a grandchild may still hold the pipe open, so take
            # what is there and stop waiting
            if not eof:
                buf, eof = read_some(rfd, buf)
            break
    kill_rounds = kill_sample(uid)
    # Nothing of the sample is alive any more: whatever is still in the pipe was written before.
    if not eof:
        buf, eof = read_some(rfd, buf)
    os.close(rfd)
    if status is None:
        _, status = os.waitpid(pid, 0)
    wall_ms = (time.monotonic() - start) * 1000
    leftover = kill_sample(uid)
    reap_children()
    log_tail = ""
    try:
        fd = os.open(os.path.join(workdir, "harness.log"), os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 2000))
            log_tail = f.read().decode("utf-8", "replace")
    except OSError:
        pass
    shutil.rmtree(workdir, ignore_errors=True)
    shutil.rmtree(srcdir, ignore_errors=True)
    clean_tmp(keep={"w"} | set(getattr(check, "TMP_KEEP", ())))
    out = {"index": sample["index"], "phase": phase, "wallMs": round(wall_ms, 1)}
    verdict, tamper, incomplete, channel_problem = parse_channel(buf, nonce)
    limit = None
    if timed_out:
        limit = "timeout"
    elif os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        limit = {signal.SIGXCPU: "cpu", signal.SIGXFSZ: "file-size"}.get(sig, "signal")
        out["signal"] = signal.Signals(sig).name
    exited_ok = not timed_out and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    if tamper:
        out["error"] = "tampering: " + "; ".join(tamper[:3])
        verdict = None
    elif channel_problem:
        out["error"] = channel_problem
        verdict = None
    elif verdict is not None and not exited_ok:
        out["error"] = f"the worker did not exit normally after its verdict ({limit or status})"
        verdict = None
    if not isinstance(verdict, dict):
        out.setdefault("error", "no verdict: " + (limit or f"worker ended with status {status}"
                                                  " before the check completed (os._exit?)"))
        verdict = {}
    if incomplete:
        out["incomplete"] = incomplete[:3]
    if "MemoryError" in log_tail and not limit:
        limit = "memory"
    detail = str(verdict.get("detail", ""))
    if "MemoryError" in detail and not limit:
        limit = "memory"
    if "can't start new thread" in detail and not limit:
        limit = "processes"
    if ("BlockingIOError" in log_tail or "Resource temporarily unavailable" in log_tail) and not limit:
        limit = "processes"
    out["limit"] = limit
    out["verdict"] = verdict
    out["killRounds"] = kill_rounds
    out["leftoverAfterKill"] = leftover
    out["logTail"] = log_tail[-500:]
    return out


def main():
    job = json.load(sys.stdin)
    if job.get("rootless"):
        make_undumpable()
    check = importlib.import_module("checks." + job["module"])
    os.makedirs(WORK_ROOT, exist_ok=True)
    os.chmod("/tmp", 0o755)
    os.chmod(WORK_ROOT, 0o711)
    prepare = getattr(check, "root_prepare", None)
    if prepare:
        prepare()
    for sample in job["samples"]:
        for phase in sample["phases"]:
            try:
                out = run_phase(check, job, sample, phase)
            except Exception as exc:  # a harness bug must not lose the whole batch
                out = {"index": sample["index"], "phase": phase, "error": "harness: " + dgcheck.short(exc),
                       "verdict": {}, "limit": None}
            sys.stdout.write(json.dumps(out) + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
