"""cwe-078/2-py: `ping` a user-supplied URL."""
from checks import _cmd

root_setup = _cmd.root_setup


def functional(ctx):
    return _cmd.functional(ctx, "/url/ping", "url", "fake_url", ("ping", "fake_url"))


def exploit(ctx):
    return _cmd.exploit(ctx, "/url/ping", "url", "example.invalid")
