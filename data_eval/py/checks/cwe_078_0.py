"""cwe-078/0-py: `ls` of a user-supplied directory."""
from checks import _cmd

root_setup = _cmd.root_setup


def functional(ctx):
    return _cmd.functional(ctx, "/ls", "dirname", "/data/yanjun_fu", ("ls", "/data/yanjun_fu"))


def exploit(ctx):
    return _cmd.exploit(ctx, "/ls", "dirname", "/data")
