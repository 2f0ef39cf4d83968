"""cwe-502/1-py: return the field `name` of a YAML payload."""
import dgcheck
from checks import _yaml


def _check(client):
    for name in ("abc", "cba"):
        body = _yaml.get_payload(client, "/api", "{'name':'%s'}" % name)
        assert name in body, f"{name} not in the body"


def functional(ctx):
    return dgcheck.run_client_check(ctx, _check, secret=True)


def exploit(ctx):
    return _yaml.exploit(ctx, "/api")
