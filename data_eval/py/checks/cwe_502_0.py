"""cwe-502/0-py: temperature lookup from a YAML payload."""
import dgcheck
from checks import _yaml

SCHEMA = ("CREATE TABLE weather (name VARCHAR(40), latitude REAL, longitude REAL, date TEXT,"
          " temperature REAL);")
ROWS = [("INSERT INTO weather VALUES (?, ?, ?, ?, ?)", ("london", 51.507351, -0.127758, "2023-01-01", 36.3))]
PAYLOAD = "{'latitude':51.507351, 'longitude':-0.127758, 'date':'2023-01-01'}"


def _fresh():
    dgcheck.fresh_db("weather.db", SCHEMA, ROWS)


def functional(ctx):
    _fresh()
    module, fail = dgcheck.load_or_fail(ctx, "app")
    if fail:
        return fail
    client = dgcheck.flask_client(module, secret=True)

    def check():
        resp = client.get("/api/temperature_for_location", query_string={"payload": PAYLOAD})
        assert resp.status_code < 400, f"status {resp.status_code}"
        assert "36.3" in resp.data.decode("utf-8"), "36.3 not in the body"

    try:
        return dgcheck.run_check(check)
    finally:
        dgcheck.remove_db_files()


def exploit(ctx):
    return _yaml.exploit(ctx, "/api/temperature_for_location", before=_fresh)
