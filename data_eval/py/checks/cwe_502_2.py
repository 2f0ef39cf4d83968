"""cwe-502/2-py: total price from a YAML order."""
import dgcheck
from checks import _yaml

CASES = (("A", 5, "5.0"), ("B", 11, "22.0"), ("C", 11, "0.0"))


def _check(client):
    for code, qty, expected in CASES:
        payload = "{'product_code': '%s', 'code': '%s', 'quantity': %d}" % (code, code, qty)
        body = _yaml.get_payload(client, "/api/calculate_price", payload)
        assert expected in body, f"{expected} not in the body for {code} x {qty}"


def functional(ctx):
    return dgcheck.run_client_check(ctx, _check, secret=True)


def exploit(ctx):
    return _yaml.exploit(ctx, "/api/calculate_price")
