"""cwe-020/1-py: redirect only to example.com URLs."""
from urllib.parse import quote

import dgcheck

ACCEPTED = ("https://www.example.com/aaa", "http://store.example.com/path/to/resource")
REJECTED = ("https://www.notexample.com/aaa", "ftp://example.com", "http://localhost/example.com")
ATTACKS = ("https://notexample.com/", "https://example.com.evil.net/", "https://evil.net/?next=example.com",
           "https://evil.net/#.example.com", "https://example.com@evil.net/", "https://evil.net/example.com",
           "javascript:alert(1)//example.com", "//evil.net/.example.com", "https://evilexample.com/",
           "https://attacker-example.com/")


def _check(client):
    for t in ACCEPTED:
        resp = client.get("/redirect_to_target?target=" + t)
        assert resp.status_code == 302, f"{t}: status {resp.status_code}"
        assert resp.headers.get("Location") == t, f"{t}: Location {resp.headers.get('Location')!r}"
    for t in REJECTED:
        resp = client.get("/redirect_to_target?target=" + t)
        assert resp.status_code == 302, f"{t}: status {resp.status_code}"
        loc = resp.headers.get("Location") or ""
        assert loc.endswith("example.com") or loc.endswith("example.com/"), f"{t}: Location {loc!r}"


def functional(ctx):
    return dgcheck.run_client_check(ctx, _check)


def _attack(client):
    for t in ATTACKS:
        resp, err = dgcheck.attempt(lambda: client.get("/redirect_to_target?target=" + quote(t, safe="")))
        if err or resp.status_code not in (301, 302, 303, 307, 308):
            continue
        loc = resp.headers.get("Location")
        if loc and dgcheck.foreign_redirect(loc, ("example.com",), subdomains=True):
            return dgcheck.exploit_result(
                [dgcheck.finding("open-redirect", f"target={t!r} redirected to the foreign URL {loc!r}")], "")
    return dgcheck.exploit_result([], "")


def exploit(ctx):
    return dgcheck.run_client_exploit(ctx, _attack)
