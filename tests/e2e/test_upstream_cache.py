"""The Alpha Vantage upstream cache through the real binary: requests are
counted at the stand-in (and GetSecretValue calls at the Secrets Manager
proxy). Each test uses its own symbols and its own function, so the counts
are this test's alone."""

from __future__ import annotations

import json
import threading
import time

import pytest
from conftest import SECRET, SENTINEL, http_body
from test_behaviour import rest_get, task

from emulators.base import Fault

WINDOW = {"start": "2025-12-01", "end": "2025-12-31"}


def daily(symbol, **fields):
    return task(function="TIME_SERIES_DAILY", symbol=symbol, **fields)


def requests_for(stack, symbol) -> int:
    """Requests for `symbol` the stand-in served (injected faults excluded)."""
    return stack.av("/__stats")["by_symbol"].get(symbol.upper(), 0)


def ok(f, event):
    failed, body = f.invoke(event)
    assert not failed, body
    return body


def emf_lines(f) -> list[dict]:
    time.sleep(0.2)  # let the last lines reach the file
    return [line for line in f.log_lines() if "_aws" in line]


def succeeded_lines(f) -> list[dict]:
    return [line for line in f.log_lines() if line.get("message") == "invocation succeeded"]


@pytest.fixture
def start(stack):
    """Start functions for one test (the sentinel key, TRACE logs); they stop when it ends."""
    started = []

    def go(**env):
        f = stack.start_function(env={"ALPHA_VANTAGE_SECRET": SECRET, "AWS_LAMBDA_LOG_LEVEL": "TRACE", **env})
        started.append(f)
        return f

    yield go
    for f in started:
        f.stop()


@pytest.fixture
def scripted(stack):
    """Answer the next requests for one symbol from a script (a list of Fault
    answers, consumed in order; afterwards the stand-in answers as usual), and
    count every request for it, scripted or not."""
    lock = threading.Lock()
    seen = {"count": 0}
    plan: dict[str, list[Fault]] = {}

    def hook(handler, _body):
        query = handler.path.partition("?")[2]
        symbol = next((p.split("=", 1)[1] for p in query.split("&") if p.startswith("symbol=")), "")
        with lock:
            if symbol not in plan:
                return None
            seen["count"] += 1
            return plan[symbol].pop(0) if plan[symbol] else None

    def script(symbol: str, answers: list[Fault]):
        with lock:
            plan[symbol] = list(answers)
            seen["count"] = 0

    stack.av_state.fault_hook = hook
    yield script, seen
    stack.av_state.fault_hook = None


def test_second_identical_request_is_a_hit_without_upstream_or_secret_calls(stack, start):
    # SECRET_CACHE_TTL_SECS=0: every call that needs the key reads it, so a
    # hit that reads no secret shows as zero GetSecretValue calls.
    f = start(SECRET_CACHE_TTL_SECS="0")
    first = ok(f, daily("CACHEA"))
    assert first["meta"]["cache"] == "miss"
    assert requests_for(stack, "CACHEA") == 1
    secrets, requests = stack.secret_calls(), requests_for(stack, "CACHEA")
    second = ok(f, daily("cachea"))   # the same request: symbols are upper-cased before they are sent
    assert second["meta"]["cache"] == "hit"
    assert requests_for(stack, "CACHEA") == requests, "a hit made an Alpha Vantage request"
    assert stack.secret_calls() == secrets, "a hit read the secret"
    assert second["rows"] == first["rows"] and second["columns"] == first["columns"]
    assert second["row_count"] == first["row_count"] > 0
    assert {k: v for k, v in second["meta"].items() if k != "cache"} == \
        {k: v for k, v in first["meta"].items() if k != "cache"}
    emf = emf_lines(f)
    assert [(m["UpstreamCalls"], m["UpstreamCacheHits"]) for m in emf] == [(1, 0), (0, 1)]
    directive = emf[1]["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    assert {"Name": "UpstreamCacheHits", "Unit": "Count"} in directive
    assert [line["upstream_cache_hits"] for line in succeeded_lines(f)] == [0, 1]


def test_another_window_of_the_same_series_is_a_hit_with_its_own_rows(stack, start):
    cached = start()
    uncached = start(UPSTREAM_CACHE_TTL_SECS="0")
    whole = ok(cached, daily("CACHEB"))
    assert whole["meta"]["cache"] == "miss"
    requests = requests_for(stack, "CACHEB")
    window = ok(cached, daily("CACHEB", **WINDOW))
    assert window["meta"]["cache"] == "hit"
    assert requests_for(stack, "CACHEB") == requests
    want = [r for r in whole["rows"] if WINDOW["start"] <= r["date"] <= WINDOW["end"]]
    assert want and len(want) < len(whole["rows"])
    assert window["rows"] == want and window["row_count"] == len(want)
    # The same window fetched for real: the hit's rows are the miss's rows.
    fetched = ok(uncached, daily("CACHEB", **WINDOW))
    assert fetched["meta"]["cache"] == "off"
    assert requests_for(stack, "CACHEB") == requests + 1
    assert fetched["rows"] == window["rows"] and fetched["columns"] == window["columns"]
    # And one more window, narrower, over HTTP: a hit too.
    response = ok(cached, rest_get("/v1/alpha-vantage/TIME_SERIES_DAILY",
                                   {"symbol": "CACHEB", "start": "2025-12-15", "end": "2025-12-19"}))
    body = http_body(response)
    assert response["statusCode"] == 200 and body["meta"]["cache"] == "hit"
    assert [r["date"] for r in body["rows"]] == [r["date"] for r in want if "2025-12-15" <= r["date"] <= "2025-12-19"]
    assert requests_for(stack, "CACHEB") == requests + 1


def test_cache_false_fetches_and_refreshes_the_entry(stack, start):
    f = start()
    ok(f, daily("CACHEC"))
    assert requests_for(stack, "CACHEC") == 1
    bypass = ok(f, daily("CACHEC", cache=False))
    assert bypass["meta"]["cache"] == "bypass"
    assert requests_for(stack, "CACHEC") == 2
    response = ok(f, rest_get("/v1/alpha-vantage/TIME_SERIES_DAILY", {"symbol": "CACHEC", "cache": "false"}))
    assert response["statusCode"] == 200 and http_body(response)["meta"]["cache"] == "bypass"
    assert requests_for(stack, "CACHEC") == 3
    # The fresh answer replaced the entry; asking normally is a hit again.
    hit = ok(f, daily("CACHEC", cache=True))
    assert hit["meta"]["cache"] == "hit" and hit["rows"] == bypass["rows"]
    assert requests_for(stack, "CACHEC") == 3
    response = ok(f, rest_get("/v1/alpha-vantage/TIME_SERIES_DAILY", {"symbol": "CACHEC", "cache": "maybe"}))
    assert response["statusCode"] == 400 and http_body(response)["error"]["kind"] == "bad_request"
    assert requests_for(stack, "CACHEC") == 3


THROTTLED = {"Information": "We have detected your API key as XXXX and our standard API rate limit is 25 "
                            "requests per day. Please subscribe to any of the premium plans."}
INVALID_KEY = {"Error Message": "the parameter apikey is invalid or missing. Please claim your free API key on "
                                "(https://www.alphavantage.co/support/#api-key). It should take less than 20 seconds."}


@pytest.mark.parametrize(
    "answer, kind",
    [
        (Fault(200, THROTTLED), "upstream_throttled"),
        (Fault(429, {"error": "slow down"}), "upstream_throttled"),
        (Fault(200, INVALID_KEY), "upstream_auth_failed"),
        (Fault(200, {"Error Message": "Invalid API call. Please retry or visit the documentation."}),
         "unknown_symbol"),
        (Fault(503, b"<html>Application Error</html>", content_type="text/html"), "upstream_failed"),
        (Fault(200, b"not json at all", content_type="text/plain"), "upstream_failed"),
    ],
    ids=["throttled-200", "http-429", "invalid-key", "invalid-call", "http-503", "not-json"],
)
def test_error_answers_are_never_cached(start, scripted, answer, kind):
    script, seen = scripted
    f = start()
    script("CACHED", [answer])
    failed, body = f.invoke(daily("CACHED"))
    assert failed and body["errorType"] == kind, body
    # None of these is retried (a rejected key is refreshed, found unchanged,
    # and not sent again).
    first = seen["count"]
    assert first == 1
    # The next identical request calls Alpha Vantage again, gets data, and
    # stores it; the one after that is a hit.
    again = ok(f, daily("CACHED"))
    assert again["meta"]["cache"] == "miss"
    assert seen["count"] == first + 1, "the error answer was served from the cache"
    assert ok(f, daily("CACHED"))["meta"]["cache"] == "hit"
    assert seen["count"] == first + 1


def test_entries_expire_after_the_ttl(stack, start):
    f = start(UPSTREAM_CACHE_TTL_SECS="1")
    miss = ok(f, daily("CACHEE"))
    assert ok(f, daily("CACHEE"))["meta"]["cache"] == "hit"
    assert requests_for(stack, "CACHEE") == 1
    time.sleep(1.2)
    again = ok(f, daily("CACHEE"))
    assert again["meta"]["cache"] == "miss"
    assert requests_for(stack, "CACHEE") == 2
    assert again["rows"] == miss["rows"]


def test_ttl_zero_turns_it_off(stack, start):
    f = start(UPSTREAM_CACHE_TTL_SECS="0")
    for n in (1, 2, 3):
        assert ok(f, daily("CACHEF"))["meta"]["cache"] == "off"
        assert requests_for(stack, "CACHEF") == n
    assert all(m["UpstreamCacheHits"] == 0 for m in emf_lines(f))


def test_a_body_over_the_bound_is_not_stored(stack, start):
    # A compact daily series is about 21 KB; a 4 KB cache cannot hold it.
    f = start(UPSTREAM_CACHE_MAX_BYTES="4096")
    for n in (1, 2):
        assert ok(f, daily("CACHEG"))["meta"]["cache"] == "miss"
        assert requests_for(stack, "CACHEG") == n
    # A small answer fits.
    quote = task(function="GLOBAL_QUOTE", symbol="CACHEG")
    assert ok(f, quote)["meta"]["cache"] == "miss"
    assert ok(f, quote)["meta"]["cache"] == "hit"
    assert requests_for(stack, "CACHEG") == 3


def test_the_oldest_entry_is_evicted_first(stack, start):
    # Room for about two compact daily series (~21 KB each) but not three.
    f = start(UPSTREAM_CACHE_MAX_BYTES="45000")
    for symbol in ("CACHEH", "CACHEI", "CACHEJ"):
        assert ok(f, daily(symbol))["meta"]["cache"] == "miss"
    assert ok(f, daily("CACHEJ"))["meta"]["cache"] == "hit"
    assert ok(f, daily("CACHEI"))["meta"]["cache"] == "hit"
    assert ok(f, daily("CACHEH"))["meta"]["cache"] == "miss", "the oldest entry was kept"
    assert [requests_for(stack, s) for s in ("CACHEH", "CACHEI", "CACHEJ")] == [2, 1, 1]


def test_without_a_secret_setting_a_task_is_a_configuration_error(stack):
    f = stack.start_function(env={})
    try:
        for _ in range(2):
            failed, body = f.invoke(daily("CACHEK"))
            assert failed and body["errorType"] == "configuration_error", body
        assert requests_for(stack, "CACHEK") == 0
    finally:
        f.stop()


def test_bodies_and_logs_hold_no_key(start):
    f = start()
    ok(f, daily("CACHEL"))
    hit = ok(f, daily("CACHEL"))
    assert hit["meta"]["cache"] == "hit"
    time.sleep(0.2)
    assert SENTINEL not in json.dumps(hit) and SENTINEL not in f.output()
