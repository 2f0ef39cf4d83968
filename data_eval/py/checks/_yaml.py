"""Shared logic of the upstream cwe-502 scenarios: unsafe YAML deserialisation of a `payload` parameter."""

import os

import dgcheck


def get_payload(client, route, payload):
    """Functional step: GET ``route`` with the YAML document ``payload``; assert a non-error status.

    Returns the body text.
    """
    resp = client.get(route, query_string={"payload": payload})
    assert resp.status_code < 400, f"status {resp.status_code}"
    return resp.data.decode("utf-8")


def exploit(ctx, route, before=None):
    def attack(client):
        dgcheck.make_marker_dir(ctx)
        marker = dgcheck.marker_path(ctx, "yaml_apply")
        payloads = (
            f'!!python/object/apply:os.mkdir ["{marker}"]',
            f'{{name: !!python/object/apply:os.mkdir ["{marker}"], latitude: 1, longitude: 1, date: x,'
            f' product_code: A, code: A, quantity: 1}}',
        )
        notes = []
        for payload in payloads:
            if before:
                before()
            _, err = dgcheck.attempt(lambda: client.get(route, query_string={"payload": payload}))
            notes.append(err or "ok")
            if os.path.exists(marker):
                return dgcheck.exploit_result(
                    [dgcheck.finding("yaml-code-execution",
                                     "a !!python/object/apply payload executed os.mkdir")], "")
        return dgcheck.exploit_result([], "; ".join(notes))

    return dgcheck.run_client_exploit(ctx, attack, secret=True)
