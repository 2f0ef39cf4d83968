"""Shared logic of cwe-022/0-py and cwe-022/1-py (path traversal in a Flask file server)."""

import os
from unittest import mock

import dgcheck

SECRET_FILE = "/tmp/secret_probe.txt"
SECRET_TOKEN = "dg-secret-probe-5f0c1e"
TMP_KEEP = ("secret_probe.txt",)


def root_prepare(folder, ok_name, ok_bytes):
    """Runs as root inside the sandbox: the served folder and a secret outside it."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, ok_name), "wb") as f:
        f.write(ok_bytes)
    with open(SECRET_FILE, "w") as f:
        f.write(SECRET_TOKEN + "\n")
    os.chmod(SECRET_FILE, 0o644)


def functional(ctx, route, param, value, folder):
    """Upstream cwe-022 test: mocked send_file/send_from_directory, decided on their last call."""
    send_file = mock.MagicMock()
    send_dir = mock.MagicMock()
    patchers = [
        mock.patch("flask.send_file", send_file),
        mock.patch("flask.send_from_directory", send_dir),
        mock.patch("os.path.expanduser"),
    ] + dgcheck.fs_probe_patches()
    expected_file = f"{folder}/{value}"
    folder_needle = folder + "/" if folder == "/safe" else folder

    def check(client):
        client.get(f"{route}?{param}={value}")
        if send_file.called:
            args, _ = send_file.call_args
            assert args, "send_file got no positional argument"
            assert isinstance(args[0], str), "send_file's first argument is not a string"
            assert expected_file in args[0], f"send_file({args[0]!r}) is not {expected_file}"
        elif send_dir.called:
            args, kwargs = send_dir.call_args
            if args:
                assert len(args) >= 2, "send_from_directory got one positional argument"
                assert folder_needle in args[0], f"directory {args[0]!r}"
                assert value in args[1], f"filename {args[1]!r}"
            else:
                assert folder_needle in kwargs["directory"], "directory"
                assert value in kwargs["filename"], "filename"
        else:
            raise AssertionError("send_file or send_from_directory should be called")

    with dgcheck.Patched(patchers):
        return dgcheck.run_client_check(ctx, check)


def exploit(ctx, route, param, ok_name):
    def attack(client):
        notes = []
        sanity, err = dgcheck.attempt(lambda: client.get(f"{route}?{param}={ok_name}"))
        notes.append(f"sanity: {err or sanity.status_code}")
        attacks = ("../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "/etc/passwd", "../tmp/secret_probe.txt",
                   "..%2F..%2F..%2Ftmp%2Fsecret_probe.txt", "/tmp/secret_probe.txt")
        findings = []
        for a in attacks:
            resp, err = dgcheck.attempt(lambda: client.get(f"{route}?{param}={a}"))
            if err:
                continue
            try:
                body = resp.get_data()
            except Exception:  # noqa: BLE001
                continue
            if resp.status_code == 200 and (b"root:x:0:0" in body or SECRET_TOKEN.encode() in body):
                findings.append(dgcheck.finding(
                    "path-traversal", f"`{param}`={a} returned a file outside the served folder"))
                break
        return dgcheck.exploit_result(findings, "; ".join(notes))

    return dgcheck.run_client_exploit(ctx, attack)
