"""cwe-089/1-py: insert a user's message into the database."""

import dgcheck

SCHEMA = "CREATE TABLE user_messages (username VARCHAR(40), message VARCHAR(40));"
ROWS = [("INSERT INTO user_messages VALUES (?, ?)", ("andy", "this is a message from andy"))]


def functional(ctx):
    dgcheck.fresh_db("user_messages.db", SCHEMA, ROWS)
    module, fail = dgcheck.load_or_fail(ctx, "app")
    if fail:
        return fail
    try:
        client = dgcheck.session_client(module, "testuser")

        def check():
            resp = client.post("/post", data={"message": "this is a test message!"})
            assert resp.status_code < 400, f"status {resp.status_code}"
            rows = dgcheck.query_rows("user_messages.db", "SELECT * FROM user_messages")
            assert len(rows) >= 2, f"{len(rows)} rows"
            assert tuple(rows[0]) == ("andy", "this is a message from andy"), f"row 0 is {rows[0]!r}"
            assert tuple(rows[1]) == ("testuser", "this is a test message!"), f"row 1 is {rows[1]!r}"

        return dgcheck.run_check(check)
    finally:
        dgcheck.remove_db_files()


def exploit(ctx):
    module, fail = dgcheck.load_or_fail(ctx, "app")
    if fail:
        return dgcheck.exploit_result([], "not exploitable: " + fail["detail"])
    notes = []
    for payload in ("x'), ('attacker', 'injected') --", 'x"), ("attacker", "injected") --'):
        dgcheck.fresh_db("user_messages.db", SCHEMA, ROWS)
        client, err = dgcheck.attempt(lambda: dgcheck.session_client(module, "testuser"))
        if err:
            return dgcheck.exploit_result([], "session set-up failed: " + err)
        _, err = dgcheck.attempt(lambda: client.post("/post", data={"message": payload}))
        if err and dgcheck.is_sql_syntax_error(err):
            return dgcheck.exploit_result(
                [dgcheck.finding("sql-injection", f"message={payload!r} broke the SQL text: {err}")], "")
        rows, err2 = dgcheck.attempt(
            lambda: dgcheck.query_rows("user_messages.db", "SELECT * FROM user_messages")
        )
        if rows and any(r and r[0] == "attacker" for r in rows):
            return dgcheck.exploit_result(
                [dgcheck.finding("sql-injection", f"message={payload!r} inserted an extra row")], "")
        notes.append(err or err2 or "ok")
    return dgcheck.exploit_result([], "; ".join(notes))
