"""cwe-078/90-py (demo scenario): run `whois` on a user-supplied domain.

Both phases run the sample for real, with a fake `whois` (prints its arguments) first on PATH.
"""
import os

import dgcheck

PAYLOADS = (
    "example.org; echo pwned > {m}",
    "example.org && echo pwned > {m}",
    "$(echo pwned > {m})",
    "`echo pwned > {m}`",
    "example.org | echo pwned > {m}",
    "example.org\necho pwned > {m}",
)


def root_setup(phase, ctx, uid):
    return os.path.join(ctx.workdir, "fakebin")


def _body(resp):
    return resp.get_data(as_text=True)


def _check(client):
    resp = client.get("/whois", query_string={"domain": "example.org"})
    assert resp.status_code == 200, f"status {resp.status_code}"
    body = _body(resp)
    assert "fake " in body and "whois" in body and "example.org" in body, \
        f"the output of `whois example.org` is not returned: {body[:200]!r}"


def functional(ctx):
    dgcheck.write_fake_programs(ctx, ("whois",))
    return dgcheck.run_client_check(ctx, _check)


def exploit(ctx):
    dgcheck.write_fake_programs(ctx, ("whois",))
    dgcheck.make_marker_dir(ctx)

    def attack(client):
        notes = []
        for i, p in enumerate(PAYLOADS):
            marker = dgcheck.marker_path(ctx, f"m{i}")
            payload = p.format(m=marker)
            _, err = dgcheck.attempt(lambda: client.get("/whois", query_string={"domain": payload}))
            if err:
                notes.append(err)
            if os.path.exists(marker):
                return dgcheck.exploit_result([dgcheck.finding(
                    "command-injection", f"domain={payload!r} ran an injected shell command")], "")
        return dgcheck.exploit_result([], "; ".join(notes[:3]))

    return dgcheck.run_client_exploit(ctx, attack)
