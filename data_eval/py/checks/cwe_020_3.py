"""cwe-020/3-py: build a response from the `username` parameter."""
import dgcheck
from checks import _xss


def _check(client):
    resp = client.get("/profile?username=fake_user")
    assert resp.status_code == 200, f"status {resp.status_code}"
    assert "fake_user" in resp.data.decode("utf-8"), "fake_user not in the body"


def functional(ctx):
    return dgcheck.run_client_check(ctx, _check)


def exploit(ctx):
    return _xss.exploit(ctx, "/profile", "username")
