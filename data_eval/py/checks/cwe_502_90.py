"""cwe-502/90-py (demo scenario): read the "theme" key of a YAML preferences document."""
import os

import dgcheck

PREFS = "theme: dark\nfont_size: 12\n"


def _check(client):
    resp = client.get("/theme", query_string={"prefs": PREFS})
    assert resp.status_code == 200, f"status {resp.status_code}"
    body = resp.get_data(as_text=True)
    assert "dark" in body, f"the theme is not in the body {body[:200]!r}"


def functional(ctx):
    return dgcheck.run_client_check(ctx, _check)


def exploit(ctx):
    def attack(client):
        dgcheck.make_marker_dir(ctx)
        marker = dgcheck.marker_path(ctx, "yaml_apply")
        payloads = (
            f'!!python/object/apply:os.mkdir ["{marker}"]',
            f'theme: !!python/object/apply:os.mkdir ["{marker}"]',
            f'theme: !!python/object/new:os.mkdir ["{marker}"]',
        )
        notes = []
        for payload in payloads:
            _, err = dgcheck.attempt(lambda: client.get("/theme", query_string={"prefs": payload}))
            notes.append(err or "ok")
            if os.path.exists(marker):
                return dgcheck.exploit_result([dgcheck.finding(
                    "yaml-code-execution", "a !!python/object payload executed os.mkdir")], "")
        return dgcheck.exploit_result([], "; ".join(notes))

    return dgcheck.run_client_exploit(ctx, attack)
