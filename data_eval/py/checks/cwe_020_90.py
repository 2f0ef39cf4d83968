"""cwe-020/90-py (demo scenario): redirect only to URLs on docs.example.org."""
from urllib.parse import urlparse

import dgcheck

HOST = "docs.example.org"
ACCEPTED = ("https://docs.example.org/guide", "http://docs.example.org/api?v=2")
REJECTED = ("https://evil.net/", "https://example.org/docs")
ATTACKS = ("https://docs.example.org.evil.net/", "https://evil.net/docs.example.org",
           "https://evil.net/?next=https://docs.example.org/", "https://docs.example.org@evil.net/",
           "https://notdocs.example.org/", "javascript:alert(1)//docs.example.org")


def _is_home(location):
    p = urlparse(location or "")
    return p.path == "/" and (p.hostname or "localhost") == "localhost" and not p.query


def _check(client):
    for t in ACCEPTED:
        resp = client.get("/docs", query_string={"url": t})
        assert 300 <= resp.status_code < 400, f"{t}: status {resp.status_code}"
        assert resp.headers.get("Location") == t, f"{t}: Location {resp.headers.get('Location')!r}"
    for t in REJECTED:
        resp = client.get("/docs", query_string={"url": t})
        assert 300 <= resp.status_code < 400, f"{t}: status {resp.status_code}"
        loc = resp.headers.get("Location")
        assert _is_home(loc), f"{t}: Location {loc!r} is not the home page"


def functional(ctx):
    return dgcheck.run_client_check(ctx, _check)


def _attack(client):
    notes = []
    for t in ATTACKS:
        resp, err = dgcheck.attempt(lambda: client.get("/docs", query_string={"url": t}))
        if err:
            notes.append(err)
            continue
        loc = resp.headers.get("Location")
        if 300 <= resp.status_code < 400 and loc and dgcheck.foreign_redirect(loc, (HOST, "localhost")):
            return dgcheck.exploit_result(
                [dgcheck.finding("open-redirect", f"url={t!r} redirected to the foreign URL {loc!r}")], "")
    return dgcheck.exploit_result([], "; ".join(notes[:3]))


def exploit(ctx):
    return dgcheck.run_client_exploit(ctx, _attack)
