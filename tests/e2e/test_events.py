"""Every file in events/ through the real binary, checked against the
response it documents (events/README.md)."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT, events, http_body

# file → (HTTP status or None for direct/scheduled, function, date column, start, end)
EXPECTED = {
    "console-alpha-vantage-daily.json": (None, "TIME_SERIES_DAILY", "date", "2025-12-01", "2025-12-31"),
    "eventbridge-alpha-vantage-fx.json": (None, "FX_DAILY", "date", "2026-01-05", "2026-01-09"),
    "eventbridge-rule-input-alpha-vantage-quote.json": (None, "GLOBAL_QUOTE", None, None, None),
    "scheduler-input-alpha-vantage-weekly.json": (None, "TIME_SERIES_WEEKLY_ADJUSTED", "date", "2025-10-01", None),
    "scheduler-default-notification.json": (None, "GLOBAL_QUOTE", None, None, None),
    "rest-get-alpha-vantage-intraday.json": (200, "TIME_SERIES_INTRADAY", "timestamp", "2026-01-15", "2026-01-15"),
    "rest-post-alpha-vantage-exchange-rate.json": (200, "CURRENCY_EXCHANGE_RATE", None, None, None),
    "http-api-get-alpha-vantage-monthly.json": (200, "TIME_SERIES_MONTHLY", "date", "2025-01-01", "2025-12-31"),
    "http-api-post-alpha-vantage-fx-weekly.json": (200, "FX_WEEKLY", "date", "2025-12-01", None),
    "function-url-post-alpha-vantage-crypto.json": (200, "DIGITAL_CURRENCY_DAILY", "date", "2026-01-10", "2026-01-15"),
}


def test_every_event_file_has_an_expectation():
    names = {p.name for p in events()}
    assert names == set(EXPECTED), f"events/ and EXPECTED differ: {names ^ set(EXPECTED)}"
    readme = (ROOT / "events" / "README.md").read_text()
    for name in names:
        assert name in readme, f"{name} is not documented in events/README.md"


@pytest.mark.parametrize("path", events(), ids=lambda p: p.name)
def test_event(fn, path):
    status, function, date_col, start, end = EXPECTED[path.name]
    failed, response = fn.invoke(json.loads(path.read_text()))
    assert not failed, response
    if status is None:
        body = response
        assert "statusCode" not in body
    else:
        assert response["statusCode"] == status
        assert response["headers"]["content-type"] == "application/json"
        assert response["isBase64Encoded"] is False
        if path.name.startswith("rest-"):
            assert response["multiValueHeaders"]["content-type"] == ["application/json"]
        else:
            assert "multiValueHeaders" not in response and response["cookies"] == []
        body = http_body(response)
    assert body["provider"] == "alpha_vantage"
    assert body["meta"]["function"] == function
    assert body["next_cursor"] is None
    rows = body["rows"]
    assert body["row_count"] == len(rows) > 0
    names = [c["name"] for c in body["columns"]]
    for row in rows:
        assert list(row) == names, "every row has every column, in column order"
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
