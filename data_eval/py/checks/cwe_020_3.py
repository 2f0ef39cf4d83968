"""cwe-020/3-py: build a response from the `username` parameter."""
import dgcheck
from checks import _xss


def functional(ctx):
    client, fail = dgcheck.load_client(ctx)
    if fail:
        return fail

    def check():
        resp = client.get("/profile?username=fake_user")
        assert resp.status_code == 200, f"status {resp.status_code}"
        assert "fake_user" in resp.data.decode("utf-8"), "fake_user not in the body"

    return dgcheck.run_check(check)


def exploit(ctx):
    return _xss.exploit(ctx, "/profile", "username")
