"""cwe-020/2-py: load a YAML file named in the request and return it as JSON."""
import os
from unittest import mock

import dgcheck

DOC = """transaction-id: 1234
date: 2024-05-31
customer:
    first-name: Marco
    last-name: Polo
"""


def _check(client):
    resp = client.get("/load?filename=test.yaml")
    data = resp.json
    assert data is not None, "the response is not JSON"
    assert data["transaction-id"] == 1234, "transaction-id"
    assert data["customer"]["first-name"] == "Marco", "first-name"
    assert data["customer"]["last-name"] == "Polo", "last-name"


def functional(ctx):
    with dgcheck.Patched([mock.patch("builtins.open", mock.mock_open(read_data=DOC))]):
        return dgcheck.run_client_check(ctx, _check)


def exploit(ctx):
    dgcheck.make_marker_dir(ctx)
    marker = dgcheck.marker_path(ctx, "yaml_apply")
    with open("ok.yaml", "w") as f:
        f.write(DOC)
    with open("evil.yaml", "w") as f:
        f.write(f'!!python/object/apply:os.mkdir ["{marker}"]\n')

    def attack(client):
        sanity, err = dgcheck.attempt(lambda: client.get("/load?filename=ok.yaml"))
        notes = [f"sanity: {err or sanity.status_code}"]
        findings = []
        dgcheck.attempt(lambda: client.get("/load?filename=evil.yaml"))
        if os.path.exists(marker):
            findings.append(dgcheck.finding("yaml-code-execution",
                                            "loading evil.yaml executed a !!python/object/apply tag"))
        for name in ("/etc/passwd", "../../../../../../etc/passwd"):
            resp, err = dgcheck.attempt(lambda: client.get("/load?filename=" + name))
            if resp is not None and b"root:x:0:0" in resp.get_data():
                findings.append(dgcheck.finding(
                    "unvalidated-file-name",
                    f"filename={name} disclosed a file outside the working directory"))
                break
        return dgcheck.exploit_result(findings, "; ".join(notes))

    return dgcheck.run_client_exploit(ctx, attack)
