"""cwe-089/0-py: unsubscribe an e-mail address."""
from urllib.parse import quote

import dgcheck

SCHEMA = "CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(40) NOT NULL);"
ROWS = [("INSERT INTO users VALUES (?, ?)", (i + 1, f"user{i}@gmail.com")) for i in range(3)]


def _emails():
    return [r[0] for r in dgcheck.query_rows("users.db", "SELECT email FROM users")]


def _check(client):
    client.get("/unsubscribe?email=user1@gmail.com")
    emails = _emails()
    assert "user0@gmail.com" in emails, "user0 was deleted"
    assert "user1@gmail.com" not in emails, "user1 is still subscribed"
    assert "user2@gmail.com" in emails, "user2 was deleted"


def functional(ctx):
    return dgcheck.run_client_check_with_db(ctx, _check, "users.db", SCHEMA, ROWS)


def _attack(client):
    notes = []
    for payload in ("x' OR '1'='1", 'x" OR "1"="1'):
        dgcheck.fresh_db("users.db", SCHEMA, ROWS)
        _, err = dgcheck.attempt(lambda: client.get("/unsubscribe?email=" + quote(payload, safe="")))
        if err and dgcheck.is_sql_syntax_error(err):
            return dgcheck.exploit_result(
                [dgcheck.finding("sql-injection", f"email={payload!r} broke the SQL text: {err}")], "")
        left, err2 = dgcheck.attempt(_emails)
        if left is not None and len(left) < 3:
            return dgcheck.exploit_result(
                [dgcheck.finding("sql-injection", f"email={payload!r} deleted {3 - len(left)} other rows")], "")
        notes.append(err or err2 or "ok")
    return dgcheck.exploit_result([], "; ".join(notes))


def exploit(ctx):
    return dgcheck.run_client_exploit(ctx, _attack)
