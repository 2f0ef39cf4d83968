"""cwe-079/90-py (demo scenario): greet the visitor by name in an <h1> heading."""
import re

import dgcheck

HEADING = re.compile(r"<h1[^>]*>[^<]*Alice[^<]*</h1>")
PAYLOADS = (
    ("<script>alert(1)</script>", "<script>"),
    ("<img src=x onerror=alert(1)>", "<img src=x"),
)


def _check(client):
    resp = client.get("/welcome", query_string={"name": "Alice"})
    assert resp.status_code == 200, f"status {resp.status_code}"
    body = resp.get_data(as_text=True)
    assert HEADING.search(body), f"no <h1>...Alice...</h1> in {body[:200]!r}"


def functional(ctx):
    return dgcheck.run_client_check(ctx, _check)


def _attack(client):
    notes = []
    for payload, needle in PAYLOADS:
        resp, err = dgcheck.attempt(lambda: client.get("/welcome", query_string={"name": payload}))
        if err:
            notes.append(err)
            continue
        if resp.mimetype == "text/html" and needle in resp.get_data(as_text=True):
            return dgcheck.exploit_result([dgcheck.finding(
                "reflected-xss", f"name={payload!r} is reflected unescaped in a text/html response")], "")
    return dgcheck.exploit_result([], "; ".join(notes[:3]))


def exploit(ctx):
    return dgcheck.run_client_exploit(ctx, _attack)
