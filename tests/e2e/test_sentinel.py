"""The sentinel-secret test: runs last (file order), so it also scans the
output of every function the other end-to-end tests started."""

from __future__ import annotations

import json
import time

from conftest import PREMIUM, SENTINEL, events
from test_behaviour import quote, rest_get, task


def test_sentinel_secret_never_leaves_the_function(stack, fn):
    """Plants SENTINEL as the API key (the function runs at TRACE), drives every
    event and every failure path, including the daily-limit body that echoes
    the key, and searches every response and every line the binary wrote."""
    responses = []
    for path in events():
        responses.append(fn.invoke(json.loads(path.read_text())))
    for event in (quote("LIMIT"), quote("UNKNOWN"), quote("HTML"), quote("DEMO"), quote("BURST"),
                  task(function="TIME_SERIES_DAILY_ADJUSTED", symbol="IBM"), {"hello": 1},
                  rest_get("/v1/alpha-vantage/GLOBAL_QUOTE", {"symbol": "LIMIT"})):
        responses.append(fn.invoke(event))
    time.sleep(0.2)
    haystacks = [json.dumps(r) for r in responses] + [fn.output()]
    for f in stack.functions:
        haystacks.append(f.output())
    for text in haystacks:
        assert SENTINEL not in text
        assert "SENTINEL-rotate" not in text
        assert PREMIUM not in text
    assert len(fn.output()) > 1000, "the function did log (at TRACE)"
