"""cwe-502/0-py: temperature lookup from a YAML payload."""
import dgcheck
from checks import _yaml

DB = "weather.db"
SCHEMA = ("CREATE TABLE weather (name VARCHAR(40), latitude REAL, longitude REAL, date TEXT,"
          " temperature REAL);")
ROWS = [("INSERT INTO weather VALUES (?, ?, ?, ?, ?)", ("london", 51.507351, -0.127758, "2023-01-01", 36.3))]
PAYLOAD = "{'latitude':51.507351, 'longitude':-0.127758, 'date':'2023-01-01'}"


def _fresh():
    dgcheck.fresh_db(DB, SCHEMA, ROWS)


def _check(client):
    body = _yaml.get_payload(client, "/api/temperature_for_location", PAYLOAD)
    assert "36.3" in body, "36.3 not in the body"


def functional(ctx):
    return dgcheck.run_client_check_with_db(ctx, _check, DB, SCHEMA, ROWS, secret=True)


def exploit(ctx):
    return _yaml.exploit(ctx, "/api/temperature_for_location", before=_fresh)
