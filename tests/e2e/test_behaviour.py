"""Errors, secrets, caching, rotation, deadlines and telemetry through the
real binary."""

from __future__ import annotations

import json
import time

import pytest
from conftest import PREMIUM, ROOT, SECRET, SENTINEL, http_body


def task(**fields):
    return {"provider": "alpha_vantage", **fields}


def quote(symbol="IBM"):
    return task(function="GLOBAL_QUOTE", symbol=symbol)


def rest_get(path, query=None, method="GET", body=None):
    return {
        "resource": "/{proxy+}", "path": path, "httpMethod": method,
        "headers": {"Accept": "application/json"}, "multiValueHeaders": {},
        "queryStringParameters": query, "multiValueQueryStringParameters": None,
        "pathParameters": None, "stageVariables": None,
        "requestContext": {"httpMethod": method, "path": "/prod" + path, "stage": "prod", "requestId": "r-1",
                           "resourcePath": "/{proxy+}", "apiId": "abc123", "accountId": "123456789012",
                           "identity": {"sourceIp": "203.0.113.7"}},
        "body": body, "isBase64Encoded": False,
    }


# --- direct invocations: failures are Lambda errors typed by kind ----------------

@pytest.mark.parametrize(
    "event, kind",
    [
        (task(function="TIME_SERIES_DAILY"), "bad_request"),
        (task(function="TIME_SERIES_DAILY", symbol="IBM", interval="5min"), "bad_request"),
        (task(function="NOT_A_FUNCTION", symbol="IBM"), "bad_request"),
        ({"provider": "bloomberg"}, "bad_request"),
        ({"hello": "world"}, "unrecognized_event"),
        ({**quote(), "httpMethod": "GET", "requestContext": {}}, "unrecognized_event"),
        ([1, 2, 3], "unrecognized_event"),
        (quote("UNKNOWN"), "unknown_symbol"),
        (quote("EMPTY"), "unknown_symbol"),
        (quote("LIMIT"), "upstream_throttled"),
        (quote("MINUTE"), "upstream_throttled"),
        (quote("HTML"), "upstream_failed"),
        (task(function="TIME_SERIES_DAILY_ADJUSTED", symbol="IBM"), "premium_required"),
        (task(function="TIME_SERIES_DAILY", symbol="IBM", outputsize="full"), "premium_required"),
        (quote("DEMO"), "upstream_auth_failed"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_direct_errors_are_typed(fn, event, kind):
    failed, body = fn.invoke(event)
    assert failed, body
    assert body["errorType"] == kind, body
    assert body["errorMessage"]


def test_validation_happens_before_any_call(stack, fn):
    before = stack.av("/__stats")["requests"]
    failed, body = fn.invoke(task(function="TIME_SERIES_INTRADAY", symbol="IBM", interval="2min"))
    assert failed and body["errorType"] == "bad_request"
    assert stack.av("/__stats")["requests"] == before


def test_burst_limit_is_retried_once(stack, fn):
    stack.av("/__reset", {})
    failed, body = fn.invoke(quote("BURST"))
    assert not failed, body
    assert body["rows"][0]["symbol"] == "BURST"
    assert stack.av("/__stats")["requests"] == 2


def test_scheduler_without_input_and_no_default_task_fails(stack):
    f = stack.start_function(env={"ALPHA_VANTAGE_SECRET": SECRET})
    event = json.loads((ROOT / "events" / "scheduler-default-notification.json").read_text())
    failed, body = f.invoke(event)
    assert failed and body["errorType"] == "bad_request" and "DEFAULT_TASK" in body["errorMessage"]


# --- HTTP: errors become proxy responses with status codes --------------------------

@pytest.mark.parametrize(
    "event, status, kind",
    [
        (rest_get("/v1/alpha-vantage/GLOBAL_QUOTE", {"symbol": "UNKNOWN"}), 400, "unknown_symbol"),
        (rest_get("/v1/alpha-vantage/GLOBAL_QUOTE", {"symbol": "IBM", "foo": "1"}), 400, "bad_request"),
        (rest_get("/v1/alpha-vantage/TIME_SERIES_DAILY_ADJUSTED", {"symbol": "IBM"}), 403, "premium_required"),
        (rest_get("/v1/nowhere"), 404, "not_found"),
        (rest_get("/v1/fetch", method="GET"), 405, "method_not_allowed"),
        (rest_get("/v1/fetch", method="POST", body="{not json"), 400, "bad_request"),
        (rest_get("/v1/alpha-vantage/GLOBAL_QUOTE", {"symbol": "LIMIT"}), 429, "upstream_throttled"),
        (rest_get("/v1/alpha-vantage/GLOBAL_QUOTE", {"symbol": "HTML"}), 502, "upstream_failed"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_http_errors_map_to_statuses(fn, event, status, kind):
    failed, response = fn.invoke(event)
    assert not failed, "HTTP callers get a proxy response, not a Lambda error"
    assert response["statusCode"] == status
    assert response["headers"]["content-type"] == "application/json"
    err = http_body(response)["error"]
    assert err["kind"] == kind and err["message"] and err["request_id"]
    if status == 405:
        assert response["headers"]["allow"] == "POST"


def test_response_cap_gives_413_over_http_and_too_large_directly(stack):
    f = stack.start_function(env={"ALPHA_VANTAGE_SECRET": SECRET, "MAX_RESPONSE_BYTES": "2048"})
    failed, body = f.invoke(task(function="TIME_SERIES_DAILY", symbol="IBM"))
    assert failed and body["errorType"] == "too_large"
    failed, response = f.invoke(rest_get("/v1/alpha-vantage/TIME_SERIES_DAILY", {"symbol": "IBM"}))
    assert response["statusCode"] == 413 and http_body(response)["error"]["kind"] == "too_large"


# --- secrets ----------------------------------------------------------------------

def test_warm_invocations_share_one_secret_read(stack):
    stack.moto.put("cache/av", SENTINEL)  # a plain-string secret
    f = stack.start_function(env={"ALPHA_VANTAGE_SECRET": "cache/av"})
    before = stack.secret_calls()
    for _ in range(25):
        failed, body = f.invoke(quote())
        assert not failed, body
    assert stack.secret_calls() - before == 1


def test_ttl_zero_reads_every_time(stack):
    stack.moto.put("cache/av-ttl0", SENTINEL)
    # Every call must reach the secret, so no upstream cache answers it.
    f = stack.start_function(env={"ALPHA_VANTAGE_SECRET": "cache/av-ttl0", "SECRET_CACHE_TTL_SECS": "0",
                                  "UPSTREAM_CACHE_TTL_SECS": "0"})
    before = stack.secret_calls()
    for _ in range(3):
        assert not f.invoke(quote())[0]
    assert stack.secret_calls() - before == 3


def test_rotation_refreshes_once_and_retries(stack):
    old, new = "SENTINEL-rotate-old-111", "SENTINEL-rotate-new-222"
    stack.moto.put("rotate/av", json.dumps({"apikey": old}))
    stack.av("/__keys", {"keys": [SENTINEL, old]})
    # Every call must reach Alpha Vantage with the current key: no upstream cache.
    f = stack.start_function(env={"ALPHA_VANTAGE_SECRET": "rotate/av", "UPSTREAM_CACHE_TTL_SECS": "0"})
    try:
        assert not f.invoke(quote())[0]
        # Rotate: the service now accepts only the new key, the secret holds it.
        stack.moto.put("rotate/av", json.dumps({"apikey": new}))
        stack.av("/__keys", {"keys": [SENTINEL, new]})
        calls, requests = stack.secret_calls(), stack.av("/__stats")["requests"]
        failed, body = f.invoke(quote())
        assert not failed, body
        assert stack.secret_calls() - calls == 1, "one forced refresh"
        assert stack.av("/__stats")["requests"] - requests == 2, "rejected once, retried once"
        # A key that stays wrong: one refresh, no pointless retry, auth error.
        stack.av("/__keys", {"keys": [SENTINEL]})
        failed, body = f.invoke(quote())
        assert failed and body["errorType"] == "upstream_auth_failed"
    finally:
        stack.av("/__keys", {"keys": [SENTINEL], "premium_keys": [PREMIUM]})


@pytest.fixture(scope="module")
def broken_secrets(stack):
    stack.moto.put("deleted/av", SENTINEL)
    stack.moto.client.delete_secret(SecretId="deleted/av", RecoveryWindowInDays=7)
    stack.moto.put("plain/av", SENTINEL)


@pytest.mark.parametrize(
    "reference, kind",
    [
        ("does/not/exist", "secret_not_found"),
        ("fault/access-denied", "secret_access_denied"),
        ("fault/throttled", "secret_throttled"),
        ("fault/decryption", "secret_decryption_failed"),
        ("fault/internal", "secret_unavailable"),
        ("deleted/av", "secret_deleted"),
        (f"{SECRET}:no_such_key", "secret_malformed"),
        ("plain/av:apikey", "secret_malformed"),
        ("secret-fetch/alpha-vantage::AWSPREVIOUS", "secret_not_found"),
    ],
)
def test_secret_failures_are_typed_and_name_the_reference(stack, broken_secrets, reference, kind):
    f = stack.start_function(env={"ALPHA_VANTAGE_SECRET": reference})
    failed, body = f.invoke(quote())
    assert failed, body
    assert body["errorType"] == kind, body
    assert reference.split(":")[0] in body["errorMessage"]
    assert SENTINEL not in json.dumps(body)


def test_binary_and_arn_references_work(stack):
    arn = stack.moto.put("binary/av", json.dumps({"apikey": SENTINEL}).encode())
    for reference in (arn, f"{arn}:apikey", "binary/av:apikey:AWSCURRENT"):
        f = stack.start_function(env={"ALPHA_VANTAGE_SECRET": reference})
        failed, body = f.invoke(quote())
        assert not failed, (reference, body)


def test_missing_configuration_is_a_configuration_error(stack):
    f = stack.start_function(env={})
    failed, body = f.invoke(quote())
    assert failed and body["errorType"] == "configuration_error"
    assert "ALPHA_VANTAGE_SECRET" in body["errorMessage"]


# --- deadlines ----------------------------------------------------------------------

def test_slow_upstream_fails_with_deadline_before_the_timeout(stack):
    f = stack.start_function(env={"ALPHA_VANTAGE_SECRET": SECRET}, timeout=2.0)
    started = time.monotonic()
    failed, body = f.invoke(quote("SLOW"), timeout=2.0)
    took = time.monotonic() - started
    assert failed and body["errorType"] == "deadline_exceeded", body
    assert took < 2.0, f"answered after {took:.2f}s, past the 2 s timeout"


def test_http_budget_is_capped(stack):
    f = stack.start_function(env={"ALPHA_VANTAGE_SECRET": SECRET, "HTTP_TIMEOUT_MS": "1500"})
    failed, response = f.invoke(rest_get("/v1/alpha-vantage/GLOBAL_QUOTE", {"symbol": "SLOW"}))
    assert response["statusCode"] == 504
    assert http_body(response)["error"]["kind"] == "deadline_exceeded"


def test_timed_out_invocation_is_followed_by_a_cold_start(stack):
    """As in Lambda, a sandbox whose invocation timed out is reset: its process is
    killed and the next invocation starts a new one, with empty caches. The
    constant (legacy) deadline lets the function run past its 1 s timeout."""
    f = stack.start_function(env={"ALPHA_VANTAGE_SECRET": SECRET}, timeout=1.0, legacy_deadline=True, grace=0.5)
    for _ in range(2):
        failed, body = f.invoke(quote())
        assert not failed, body
    first = f.proc
    calls = stack.secret_calls()
    failed, body = f.invoke(quote("SLOW"))   # the stand-in answers after 5 s
    assert failed and body["errorType"] == "Sandbox.Timedout", body
    assert first.poll() is not None, "the timed-out process was killed"
    failed, body = f.invoke(quote())
    assert not failed, body
    assert f.proc.pid != first.pid and f.proc.poll() is None, "a new process served it"
    assert stack.secret_calls() - calls == 1, "the new process read the secret again: empty caches"
    time.sleep(0.2)
    emf = [line for line in f.log_lines() if "_aws" in line]
    assert [e["ColdStart"] for e in emf] == [1, 0, 1], "cold, warm, (timed out: no line), cold again"
    assert emf[-1]["SecretCacheMiss"] == 1
    stats = f.emulator.stats()
    assert stats["timeouts"] == 1 and stats["sandbox_resets"] == 1 and f.starts == 2


def test_emulator_constant_deadline_is_handled(stack):
    f = stack.start_function(env={"ALPHA_VANTAGE_SECRET": SECRET}, legacy_deadline=True)
    failed, body = f.invoke(quote())
    assert not failed, body


# --- telemetry and the sentinel ------------------------------------------------------

def test_logs_are_json_with_request_ids_and_one_emf_line_per_invocation(stack):
    f = stack.start_function(env={"ALPHA_VANTAGE_SECRET": SECRET})
    for event in (quote(), quote("UNKNOWN")):
        f.invoke(event)
    time.sleep(0.2)
    raw = f.stdout_path.read_text().splitlines()
    assert raw and all(line.startswith("{") for line in raw), "every stdout line is JSON"
    lines = f.log_lines()
    emf = [l for l in lines if "_aws" in l]
    assert len(emf) == 2
    assert [e["Errors"] for e in emf] == [0, 1]
    assert emf[0]["Rows"] == 1 and emf[0]["ColdStart"] == 1 and emf[1]["ColdStart"] == 0
    assert emf[0]["SecretCacheMiss"] == 1 and emf[1]["SecretCacheHit"] == 1
    assert emf[1]["errorKind"] == "unknown_symbol"
    metric_names = {m["Name"] for m in emf[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"Rows", "UpstreamLatency", "SecretCacheHit"} <= metric_names
    logs = [l for l in lines if "_aws" not in l]
    assert all(l["level"] in ("TRACE", "DEBUG", "INFO", "WARN", "ERROR") for l in logs)
    finished = [l for l in logs if l.get("message", "").startswith("invocation ")]
    assert len(finished) == 2
    ids = {l["span"]["requestId"] for l in finished}
    assert len(ids) == 2 and all(ids)
    assert {e["requestId"] for e in emf} == ids
    assert all("xrayTraceId" in l["span"] for l in finished)
