"""cwe-089/1-py: insert a user's message into the database."""

import dgcheck

DB = "user_messages.db"
SCHEMA = "CREATE TABLE user_messages (username VARCHAR(40), message VARCHAR(40));"
ROWS = [("INSERT INTO user_messages VALUES (?, ?)", ("andy", "this is a message from andy"))]
PAYLOADS = ("x'), ('attacker', 'injected') --", 'x"), ("attacker", "injected") --')


def _check(client):
    resp = client.post("/post", data={"message": "this is a test message!"})
    assert resp.status_code < 400, f"status {resp.status_code}"
    rows = dgcheck.query_rows(DB, "SELECT * FROM user_messages")
    assert len(rows) >= 2, f"{len(rows)} rows"
    assert tuple(rows[0]) == ("andy", "this is a message from andy"), f"row 0 is {rows[0]!r}"
    assert tuple(rows[1]) == ("testuser", "this is a test message!"), f"row 1 is {rows[1]!r}"


def functional(ctx):
    return dgcheck.run_client_check_with_db(ctx, _check, DB, SCHEMA, ROWS, username="testuser")


def exploit(ctx):
    module, fail = dgcheck.load_or_fail(ctx, "app")
    if fail:
        return dgcheck.not_exploitable(fail)
    notes = []
    for payload in PAYLOADS:
        dgcheck.fresh_db(DB, SCHEMA, ROWS)
        result, note = dgcheck.sql_insert_injection(
            module, "/post", {"message": payload}, db_path=DB, table="user_messages",
            injected="attacker", label=f"message={payload!r}")
        if result:
            return result
        notes.append(note)
    return dgcheck.exploit_result([], "; ".join(notes))
