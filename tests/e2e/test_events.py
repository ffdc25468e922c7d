"""Every file in events/ through the real binary, checked against the
response it documents (events/README.md)."""

from __future__ import annotations

import io
import json

import pytest
from conftest import ROOT, events, http_body

# file → (HTTP status or None for direct/scheduled, provider, what, date column, start, end)
# `what` is the Alpha Vantage function or the Snowflake query.
EXPECTED = {
    "console-alpha-vantage-daily.json": (None, "alpha_vantage", "TIME_SERIES_DAILY", "date", "2025-12-01", "2025-12-31"),
    "eventbridge-alpha-vantage-fx.json": (None, "alpha_vantage", "FX_DAILY", "date", "2026-01-05", "2026-01-09"),
    "eventbridge-rule-input-alpha-vantage-quote.json": (None, "alpha_vantage", "GLOBAL_QUOTE", None, None, None),
    "scheduler-input-alpha-vantage-weekly.json": (None, "alpha_vantage", "TIME_SERIES_WEEKLY_ADJUSTED", "date", "2025-10-01", None),
    "scheduler-input-alpha-vantage-daily-to-s3.json": (None, "alpha_vantage", "TIME_SERIES_DAILY", "date", None, None),
    "scheduler-default-notification.json": (None, "alpha_vantage", "GLOBAL_QUOTE", None, None, None),
    "rest-get-alpha-vantage-intraday.json": (200, "alpha_vantage", "TIME_SERIES_INTRADAY", "timestamp", "2026-01-15", "2026-01-15"),
    "rest-post-alpha-vantage-exchange-rate.json": (200, "alpha_vantage", "CURRENCY_EXCHANGE_RATE", None, None, None),
    "http-api-get-alpha-vantage-monthly.json": (200, "alpha_vantage", "TIME_SERIES_MONTHLY", "date", "2025-01-01", "2025-12-31"),
    "http-api-post-alpha-vantage-fx-weekly.json": (200, "alpha_vantage", "FX_WEEKLY", "date", "2025-12-01", None),
    "function-url-post-alpha-vantage-crypto.json": (200, "alpha_vantage", "DIGITAL_CURRENCY_DAILY", "date", "2026-01-10", "2026-01-15"),
    "console-snowflake-customers.json": (None, "snowflake", "customers_by_city", None, None, None),
    "console-snowflake-insert-many.json": (None, "snowflake", "add_customers", None, None, None),
    "eventbridge-snowflake-daily-orders.json": (None, "snowflake", "daily_orders", None, None, None),
    "scheduler-input-snowflake-daily-orders.json": (None, "snowflake", "daily_orders", None, None, None),
    "rest-get-snowflake-customers.json": (200, "snowflake", "customers_by_city", None, None, None),
    "http-api-get-snowflake-customers.json": (200, "snowflake", "customers_by_city", None, None, None),
    "http-api-post-snowflake-daily-orders.json": (200, "snowflake", "daily_orders", None, None, None),
    "function-url-get-snowflake-daily-orders.json": (200, "snowflake", "daily_orders", None, None, None),
}

# What the Snowflake stand-in's DuckDB answers for each event's statement and
# parameters (emulators/snowflake_demo.py): 2,500 Berlin customers, 356 Oslo
# customers signed up since 2024-01-01, one row per day of a daily_orders
# window, one count row for an INSERT.
SNOWFLAKE_ROWS = {
    "console-snowflake-customers.json": 2500,
    "rest-get-snowflake-customers.json": 2500,
    "http-api-get-snowflake-customers.json": 356,
    "console-snowflake-insert-many.json": 1,
    "eventbridge-snowflake-daily-orders.json": 7,       # 2026-01-01…07
    "scheduler-input-snowflake-daily-orders.json": 7,   # 2026-01-08…14
    "http-api-post-snowflake-daily-orders.json": 14,    # 2026-01-01…14
    "function-url-get-snowflake-daily-orders.json": 3,  # 2026-01-01…03
}


def test_every_event_file_has_an_expectation():
    names = {p.name for p in events()}
    assert names == set(EXPECTED), f"events/ and EXPECTED differ: {names ^ set(EXPECTED)}"
    readme = (ROOT / "events" / "README.md").read_text()
    for name in names:
        assert name in readme, f"{name} is not documented in events/README.md"


@pytest.mark.parametrize("path", events(), ids=lambda p: p.name)
def test_event(stack, fn, path):
    status, provider, what, date_col, start, end = EXPECTED[path.name]
    event = json.loads(path.read_text())
    if "output" in event:
        clear_events_bucket(stack.moto.s3())
    failed, response = fn.invoke(event)
    assert not failed, response
    if status is None:
        body = response
        assert "statusCode" not in body
    else:
        assert response["statusCode"] == status, response
        assert response["headers"]["content-type"] == "application/json"
        assert response["isBase64Encoded"] is False
        if path.name.startswith("rest-"):
            assert response["multiValueHeaders"]["content-type"] == ["application/json"]
        else:
            assert "multiValueHeaders" not in response and response["cookies"] == []
        body = http_body(response)
    assert body["provider"] == provider
    if "output" in event:
        check_output(stack.moto.s3(), fn, event, body)
        return
    rows = body["rows"]
    assert body["row_count"] == len(rows) > 0
    names = [c["name"] for c in body["columns"]]
    for row in rows:
        assert list(row) == names, "every row has every column, in column order"
    if provider == "snowflake":
        check_snowflake(event, body, what, SNOWFLAKE_ROWS[path.name])
        return
    assert body["meta"]["function"] == what
    assert body["next_cursor"] is None
    for row in rows:
        for key in row:
            assert not key[0].isdigit() and key == key.lower() and " " not in key, key
    types = {c["name"]: c["type"] for c in body["columns"]}
    for price in ("open", "close", "exchange_rate", "price"):
        if price in types:
            assert types[price] in ("number", "integer"), types
    if date_col:
        assert names[0] == date_col
        keys = [r[date_col] for r in rows]
        assert keys == sorted(keys) and len(set(keys)) == len(keys), "oldest first, no duplicates"
        days = [k[:10] for k in keys]
        if start:
            assert days[0] >= start
        if end:
            assert days[-1] <= end
    else:
        assert len(rows) == 1


def clear_events_bucket(s3):
    """Other tests (the sentinel's) run the same event first: start from an
    empty bucket, so this delivery is the first."""
    from conftest import EVENTS_BUCKET

    for obj in s3.list_objects_v2(Bucket=EVENTS_BUCKET).get("Contents", []):
        s3.delete_object(Bucket=EVENTS_BUCKET, Key=obj["Key"])


def check_output(s3, fn, event, body):
    """A task with output answers with the object's manifest, not rows; the
    object holds the rows, and a second delivery writes nothing."""
    import pyarrow.parquet as pq
    from conftest import EVENTS_BUCKET

    manifest = body["output"]
    assert "rows" not in body and manifest["written"] is True
    assert manifest["uri"] == f"s3://{EVENTS_BUCKET}/exports/alpha_vantage/TIME_SERIES_DAILY/IBM/dt=2026-01-15/063000.parquet"
    assert manifest["rows"] == body["row_count"] > 0 and manifest["format"] == "parquet"
    key = manifest["uri"].removeprefix(f"s3://{EVENTS_BUCKET}/")
    data = s3.get_object(Bucket=EVENTS_BUCKET, Key=key)["Body"].read()
    assert len(data) == manifest["bytes"]
    table = pq.read_table(io.BytesIO(data))
    assert table.num_rows == manifest["rows"]
    assert table.column_names == [c["name"] for c in body["columns"]]
    failed, again = fn.invoke(event)
    assert not failed and again["output"]["written"] is False


def check_snowflake(event, body, query, num_rows):
    assert body["meta"]["query"] == query
    assert body["meta"]["num_rows"] == num_rows
    task = event.get("detail") or event
    if "queryStringParameters" in event and "max_rows" in (event["queryStringParameters"] or {}):
        max_rows = int(event["queryStringParameters"]["max_rows"])
    else:
        max_rows = task.get("max_rows") if isinstance(task, dict) else None
    expected = min(num_rows, max_rows or 10**9)
    assert body["row_count"] == expected
    assert (body["next_cursor"] is not None) == (expected < num_rows)
    if query == "add_customers":
        assert body["rows"] == [{"number of rows inserted": 3}]
        assert body["meta"]["stats"] == {"num_rows_inserted": 3}
    if query == "customers_by_city":
        city = (task.get("params") or event.get("queryStringParameters") or {}).get("city")
        assert city and all(row["CITY"] == city for row in body["rows"]), "only the city asked for"
    if query == "daily_orders":
        days = [row["ORDER_DATE"] for row in body["rows"]]
        assert days == sorted(set(days)), "one row per day, oldest first"
