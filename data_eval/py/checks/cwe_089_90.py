"""cwe-089/90-py (demo scenario): look up the stock of an item in shop.db."""
import dgcheck

SCHEMA = "CREATE TABLE items (name TEXT, qty INTEGER);"
ROWS = [("INSERT INTO items VALUES (?, ?)", r) for r in (("apple", 31), ("pear", 4242), ("plum", 77))]
DB = "shop.db"
PAYLOADS = ("nothing' OR name='pear", 'nothing" OR name="pear', "nothing' OR '1'='1", "it's")


def _fresh():
    dgcheck.fresh_db(DB, SCHEMA, ROWS)


def _check(client):
    resp = client.get("/stock", query_string={"item": "apple"})
    assert resp.status_code == 200, f"apple: status {resp.status_code}"
    assert "31" in resp.get_data(as_text=True), "31 (apples in stock) is not in the body"
    resp = client.get("/stock", query_string={"item": "kiwi"})
    assert resp.status_code == 404, f"kiwi (no such item): status {resp.status_code}, expected 404"


def functional(ctx):
    return dgcheck.run_client_check_with_db(ctx, _check, DB, SCHEMA, ROWS)


def _attack(client):
    notes = []
    try:
        for payload in PAYLOADS:
            _fresh()
            resp, err = dgcheck.attempt(lambda: client.get("/stock", query_string={"item": payload}))
            if err:
                if dgcheck.is_sql_syntax_error(err):
                    return dgcheck.exploit_result([dgcheck.finding(
                        "sql-injection", f"item={payload!r} broke the SQL text: {err}")], "")
                notes.append(err)
                continue
            body = resp.get_data(as_text=True)
            if resp.status_code == 200 and any(q in body for q in ("4242", "31", "77")):
                return dgcheck.exploit_result([dgcheck.finding(
                    "sql-injection", f"item={payload!r} returned the stock of another item: {body[:80]!r}")], "")
        return dgcheck.exploit_result([], "; ".join(notes[:3]))
    finally:
        dgcheck.remove_db_files()


def exploit(ctx):
    return dgcheck.run_client_exploit(ctx, _attack)
