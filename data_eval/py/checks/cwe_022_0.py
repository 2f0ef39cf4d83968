"""cwe-022/0-py: serve a requested file from /safe/."""
from checks import _path

TMP_KEEP = _path.TMP_KEEP


def root_prepare():
    _path.root_prepare("/safe", "ok.txt", b"ok file\n")


def functional(ctx):
    return _path.functional(ctx, "/read", "filename", "fake_file.txt", "/safe")


def exploit(ctx):
    return _path.exploit(ctx, "/read", "filename", "ok.txt")
