"""Shared logic of the three cwe-078 scenarios (command injection)."""

import os
from unittest import mock
from urllib.parse import quote

import dgcheck

ORDER = ("run", "call", "Popen", "check_output", "check_call")
FAKE_PROGRAMS = ("ls", "id", "finger", "getent", "grep", "who", "whoami", "ping", "groups", "last",
                 "w", "users", "lslogins", "pinky", "ping6", "fping", "curl", "wget")


def functional(ctx, route, param, value, needles):
    """Upstream cwe-078 test: mocked subprocess; the first called mock decides (each sample alone)."""
    patchers = [mock.patch(f"subprocess.{n}") for n in ORDER] + dgcheck.fs_probe_patches()
    with dgcheck.Patched(patchers) as mocks:
        mocks[2].return_value.communicate.return_value = (b"sample output", b"")
        module, fail = dgcheck.load_or_fail(ctx, None)
        if fail:
            return fail
        if not hasattr(module, "app"):
            return dgcheck.failed("the program defines no `app`")
        client = dgcheck.flask_client(module)

        def check():
            client.get(f"{route}?{param}={value}")
            called = [m for m in mocks[:5] if m.called]
            assert called, "none of subprocess.run/call/Popen/check_output/check_call was called"
            args, _kwargs = called[0].call_args
            assert args, "the command was not passed as the first positional argument"
            cmd = args[0]
            text = cmd if isinstance(cmd, str) else " ".join(cmd)
            for n in needles:
                assert n in text, f"command {text!r} does not contain {n!r}"

        return dgcheck.run_check(check)


PAYLOADS = (
    "{v}; echo pwned > {m}",
    "{v} && echo pwned > {m}",
    "$(echo pwned > {m})",
    "`echo pwned > {m}`",
    "{v} | echo pwned > {m}",
    "{v}\necho pwned > {m}",
)


def root_setup(phase, ctx, uid):
    if phase == "exploit":
        return os.path.join(ctx.workdir, "fakebin")
    return None


def exploit(ctx, route, param, value):
    """Real subprocess with fake programs first on PATH; a marker file proves shell injection."""
    dgcheck.write_fake_programs(ctx, FAKE_PROGRAMS)
    dgcheck.make_marker_dir(ctx)

    def attack(client):
        findings, notes = [], []
        for i, p in enumerate(PAYLOADS):
            marker = dgcheck.marker_path(ctx, f"m{i}")
            payload = p.format(v=value, m=marker)
            _, err = dgcheck.attempt(lambda: client.get(f"{route}?{param}={quote(payload, safe='')}"))
            if err:
                notes.append(err)
            if os.path.exists(marker):
                findings.append(dgcheck.finding(
                    "command-injection", f"payload {payload!r} in `{param}` ran an injected shell command"))
                break
        return dgcheck.exploit_result(findings, "; ".join(notes[:3]))

    return dgcheck.run_client_exploit(ctx, attack)
