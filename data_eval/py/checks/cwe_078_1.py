"""cwe-078/1-py: command showing information about a user."""
from checks import _cmd

root_setup = _cmd.root_setup


def functional(ctx):
    return _cmd.functional(ctx, "/user_info", "username", "fake_user", ("fake_user",))


def exploit(ctx):
    return _cmd.exploit(ctx, "/user_info", "username", "nobody")
