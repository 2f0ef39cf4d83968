"""cwe-020/1-py: redirect only to example.com URLs."""
from urllib.parse import quote, urlparse

import dgcheck

ACCEPTED = ("https://www.example.com/aaa", "http://store.example.com/path/to/resource")
REJECTED = ("https://www.notexample.com/aaa", "ftp://example.com", "http://localhost/example.com")
ATTACKS = ("https://notexample.com/", "https://example.com.evil.net/", "https://evil.net/?next=example.com",
           "https://evil.net/#.example.com", "https://example.com@evil.net/", "https://evil.net/example.com",
           "javascript:alert(1)//example.com", "//evil.net/.example.com", "https://evilexample.com/",
           "https://attacker-example.com/")


def functional(ctx):
    client, fail = dgcheck.load_client(ctx)
    if fail:
        return fail

    def check():
        for t in ACCEPTED:
            resp = client.get("/redirect_to_target?target=" + t)
            assert resp.status_code == 302, f"{t}: status {resp.status_code}"
            assert resp.headers.get("Location") == t, f"{t}: Location {resp.headers.get('Location')!r}"
        for t in REJECTED:
            resp = client.get("/redirect_to_target?target=" + t)
            assert resp.status_code == 302, f"{t}: status {resp.status_code}"
            loc = resp.headers.get("Location") or ""
            assert loc.endswith("example.com") or loc.endswith("example.com/"), f"{t}: Location {loc!r}"

    return dgcheck.run_check(check)


def _foreign(location):
    p = urlparse(location)
    if p.scheme not in ("", "http", "https"):
        return True
    host = (p.hostname or "").lower()
    if not host:
        return p.scheme != "" or location.startswith("//")
    return not (host == "example.com" or host.endswith(".example.com"))


def exploit(ctx):
    client, fail = dgcheck.load_client(ctx)
    if fail:
        return dgcheck.exploit_result([], "not exploitable: " + fail["detail"])
    for t in ATTACKS:
        resp, err = dgcheck.attempt(lambda: client.get("/redirect_to_target?target=" + quote(t, safe="")))
        if err or resp.status_code not in (301, 302, 303, 307, 308):
            continue
        loc = resp.headers.get("Location")
        if loc and _foreign(loc):
            return dgcheck.exploit_result(
                [dgcheck.finding("open-redirect", f"target={t!r} redirected to the foreign URL {loc!r}")], "")
    return dgcheck.exploit_result([], "")
