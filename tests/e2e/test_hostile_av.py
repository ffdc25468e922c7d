"""Hostile inputs for the Alpha Vantage, Secrets Manager, raw-event and HTTP
paths (the hardening contract, issue 8, sections 1-8), through the real
binary. The stand-in's hostile modes are special symbols (UTF8CUT, ECHO*,
BIG11, BIG60, REDIRECT-<port>; see emulators/alpha_vantage.py) and the
secrets proxy's POST /__fault injects a failure for one secret id."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import PREMIUM, SECRET, SENTINEL, http_body
from test_behaviour import quote, rest_get, task

from emulators import alpha_vantage as av

UTF8_CUT = "ABCDEFGHI\u00e912345678"
assert len(UTF8_CUT.encode()) == 19


# --- helpers -------------------------------------------------------------------------------

def call(f, event, **kwargs):
    """Invoke and check what holds for every answer: a Lambda error's type is
    one of ours, never a Rust type path (§2, §5)."""
    failed, body = f.invoke(event, **kwargs)
    if failed:
        kind = body.get("errorType", "")
        assert "::" not in kind and not kind.startswith("&"), body
    return failed, body


def expect_error(f, event, *kinds):
    failed, body = call(f, event)
    assert failed, body
    assert body["errorType"] in kinds, body
    assert body["errorMessage"], body
    return body


def http_api_get(path, query):
    """An HTTP API (payload 2.0) GET."""
    return {
        "version": "2.0", "routeKey": "$default", "rawPath": path,
        "rawQueryString": urllib.parse.urlencode(query or {}),
        "headers": {"accept": "application/json", "host": "abc123.execute-api.us-east-1.amazonaws.com"},
        "queryStringParameters": query,
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123", "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123", "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1",
                                               "sourceIp": "203.0.113.7", "userAgent": "curl/8.5.0"},
            "requestId": "Jx2kQhT0oAMEb4w=", "routeKey": "$default", "stage": "$default",
            "time": "16/Jan/2026:06:00:00 +0000", "timeEpoch": 1768543200000,
        },
        "isBase64Encoded": False,
    }


def av_requests(stack) -> int:
    return stack.av("/__stats")["requests"]


def av_by_symbol(stack, symbol) -> int:
    return stack.av("/__stats")["by_symbol"].get(symbol, 0)


def set_fault(stack, secret_id, fault):
    req = urllib.request.Request(stack.secrets_url + "/__fault", method="POST",
                                 data=json.dumps({"secret_id": secret_id, "fault": fault}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as resp:
        return json.load(resp)


def output_of(f) -> str:
    time.sleep(0.2)  # let the last lines reach the files
    return f.output()


_TAG = re.compile(r"<[^>]*>")
_U_ESCAPE = re.compile(r"\\+u([0-9a-fA-F]{4})")


def key_forms(text: str, key: str) -> list[str]:
    """The forms of `key` that `text` reveals (§4): any letter case,
    percent-encoded, JSON \\u-escaped (also inside a JSON string, `\\\\u`),
    split by HTML tags, or a mix of those."""
    want = key.lower()
    views = {
        "verbatim or re-cased": text,
        "percent-encoded": urllib.parse.unquote(text),
        "\\u-escaped": _U_ESCAPE.sub(lambda m: chr(int(m[1], 16)), text),
        "split by HTML tags": _TAG.sub("", text),
    }
    mixed = text
    for step in (lambda t: _U_ESCAPE.sub(lambda m: chr(int(m[1], 16)), t), urllib.parse.unquote,
                 lambda t: _TAG.sub("", t)):
        mixed = step(mixed)
    views["mixed"] = mixed
    return [name for name, view in views.items() if want in view.lower()]


def assert_no_key(key: str, *texts: str):
    for text in texts:
        found = key_forms(text, key)
        assert not found, f"the key leaked ({', '.join(found)})"


@pytest.fixture
def fresh(stack):
    """Start functions for one test; they stop when it ends (their logs stay
    readable for the sentinel test)."""
    started = []

    def start(reference=SECRET, **env):
        f = stack.start_function(env={"ALPHA_VANTAGE_SECRET": reference, "AWS_LAMBDA_LOG_LEVEL": "TRACE", **env})
        started.append(f)
        return f

    yield start
    for f in started:
        f.stop()


@pytest.fixture(scope="module")
def hfn(stack):
    """A warm function for this module (TRACE, the sentinel key)."""
    return stack.start_function(env={"ALPHA_VANTAGE_SECRET": SECRET, "AWS_LAMBDA_LOG_LEVEL": "TRACE"})


# --- §1 secrets are sent only when positively the credential ---------------------------------

def test_json_looking_secret_that_does_not_parse_is_malformed_and_never_sent(stack, fresh):
    key, password = "HOSTILE-trailing-comma-key-31a", "HOSTILE-db-password-9f2"
    reference = "hostile/av-trailing-comma"
    stack.moto.put(reference, '{"apikey": "%s", "db_password": "%s",}' % (key, password))
    f = fresh(reference)
    before = av_requests(stack)
    body = expect_error(f, quote(), "secret_malformed")
    assert reference in body["errorMessage"]
    assert av_requests(stack) == before, "the malformed secret reached Alpha Vantage"
    for text in (json.dumps(body), output_of(f)):
        assert key not in text and password not in text


@pytest.mark.parametrize(
    "name, value, shown",
    [
        pytest.param(name, value, shown, id=name) for name, value, shown in [
            ("spaces", "HOSTILE key with spaces 4b1", "HOSTILE key with spaces"),
            ("newline", "HOSTILE-newline-key\nsecond-line-4d", "second-line-4d"),
            ("header-injection", "HOSTILE-crlf-key\r\nX-Injected: 1", "X-Injected"),
            ("json-spaces", json.dumps({"apikey": "HOSTILE json key 7c"}), "HOSTILE json key"),
            ("json-newline", json.dumps({"apikey": "HOSTILE-json-nl\nkey-5e"}), "key-5e"),
            ("json-object", json.dumps({"apikey": {"key": "HOSTILE-object-key-0d"}}), "HOSTILE-object-key-0d"),
            ("json-array", json.dumps({"apikey": ["HOSTILE-array-key-6a"]}), "HOSTILE-array-key-6a"),
            ("quotes", json.dumps({"apikey": '"HOSTILE-quoted-key-2f"'}), "HOSTILE-quoted-key-2f"),
            ("too-long", "HOSTILE" + "k" * 122, "HOSTILE" + "k" * 122),   # 129 characters
        ]
    ],
)
def test_key_that_is_not_an_api_key_is_malformed_and_never_sent(stack, fresh, name, value, shown):
    reference = f"hostile/av-key-{name}"
    stack.moto.put(reference, value)
    f = fresh(reference)
    before = av_requests(stack)
    body = expect_error(f, quote(), "secret_malformed")
    assert reference in body["errorMessage"]
    assert av_requests(stack) == before, "a key that is not an API key reached Alpha Vantage"
    for text in (json.dumps(body), output_of(f)):
        assert shown not in text


def test_key_of_every_allowed_character_is_sent(stack, fresh):
    """The positive control for the shape check: [A-Za-z0-9._~-], 128 long, is a key."""
    key = ("HOSTILE.allowed_key~0-9" * 8)[:128]
    stack.moto.put("hostile/av-key-allowed", json.dumps({"apikey": key}))
    f = fresh("hostile/av-key-allowed")
    before = av_requests(stack)
    # The stand-in only accepts the sentinel keys, so it rejects this one: that
    # is the proof the key was sent.
    expect_error(f, quote(), "upstream_auth_failed")
    assert av_requests(stack) > before


# --- §2 no panic: a multibyte character where a date is sniffed -------------------------------

def test_multibyte_quote_field_passes_through(hfn):
    failed, body = call(hfn, quote("UTF8CUT"))
    assert not failed, body
    assert body["rows"][0]["latest_trading_day"] == UTF8_CUT
    failed, response = call(hfn, rest_get("/v1/alpha-vantage/GLOBAL_QUOTE", {"symbol": "UTF8CUT"}))
    assert not failed and response["statusCode"] == 200, response
    assert http_body(response)["rows"][0]["latest_trading_day"] == UTF8_CUT
    assert hfn.proc.poll() is None, "the function process died"


def test_multibyte_series_field_passes_through(hfn):
    failed, body = call(hfn, task(function="TIME_SERIES_DAILY", symbol="UTF8CUT"))
    assert not failed, body
    newest = body["rows"][-1]
    assert newest["date"] == "2026-01-15"
    assert newest["open"] == UTF8_CUT
    assert body["row_count"] == len(body["rows"]) == 100, "every bar of the compact series"
    assert hfn.proc.poll() is None


# --- §3 dates: exactly YYYY-MM-DD, and the window is exact -----------------------------------

BAD_DATES = ["+2025-12-1", " 2025-12-1", "2025-12-1", "-2025-12-01", "2025-13-01", "2025-02-30",
             "2025-12-01 ", "2025/12/01"]


@pytest.mark.parametrize("field", ["start", "end"])
@pytest.mark.parametrize("value", BAD_DATES, ids=repr)
def test_malformed_date_is_rejected_before_any_call(stack, hfn, field, value):
    before = av_requests(stack)
    body = expect_error(hfn, task(function="TIME_SERIES_DAILY", symbol="IBM", **{field: value}), "bad_request")
    assert re.search(rf"\b{field}\b", body["errorMessage"]), body
    assert av_requests(stack) == before, "a malformed date cost an Alpha Vantage request"


def test_malformed_date_over_http_is_a_400(stack, hfn):
    before = av_requests(stack)
    failed, response = call(hfn, rest_get("/v1/alpha-vantage/TIME_SERIES_DAILY",
                                          {"symbol": "IBM", "start": "+2025-12-1"}))
    assert not failed and response["statusCode"] == 400, response
    err = http_body(response)["error"]
    assert err["kind"] == "bad_request" and "start" in err["message"]
    assert av_requests(stack) == before


@pytest.fixture(scope="module")
def ibm_daily_full(stack):
    """The stand-in's own IBM daily history, asked for directly (premium key, full)."""
    query = urllib.parse.urlencode({"function": "TIME_SERIES_DAILY", "symbol": "IBM", "outputsize": "full",
                                    "apikey": PREMIUM})
    with urllib.request.urlopen(f"{stack.av_url}?{query}") as resp:
        return json.load(resp)["Time Series (Daily)"]


@pytest.mark.parametrize(
    "start, end",
    [
        ("2025-11-01", "2025-11-30"),   # a weekend at both ends
        ("2026-01-05", "2026-01-05"),   # one trading day
        ("2026-01-10", "2026-01-11"),   # a weekend only: no rows
        ("2025-12-24", None),
        (None, "2025-09-05"),           # the oldest compact rows
        ("2026-01-15", "2026-01-15"),   # the newest row
    ],
)
def test_window_keeps_exactly_the_rows_within_it(hfn, ibm_daily_full, start, end):
    compact = list(ibm_daily_full)[:100]   # compact output is the newest 100 rows of full output
    expected = sorted(d for d in compact if (start is None or start <= d) and (end is None or d <= end))
    event = task(function="TIME_SERIES_DAILY", symbol="IBM")
    event.update({k: v for k, v in (("start", start), ("end", end)) if v is not None})
    failed, body = call(hfn, event)
    assert not failed, body
    assert [r["date"] for r in body["rows"]] == expected
    assert body["row_count"] == len(expected)
    for row in body["rows"]:
        assert row["close"] == float(ibm_daily_full[row["date"]]["4. close"])


# --- §4 one redactor: the key in no form --------------------------------------------------------

@pytest.mark.parametrize("function", ["GLOBAL_QUOTE", "TIME_SERIES_DAILY"])
@pytest.mark.parametrize(
    "mode",
    ["ECHOKEYOBJ", "ECHOSERIES", "ECHOLOWER", "ECHOUPPER", "ECHOPCT", "ECHOESC", "ECHOESC500", "ECHOHTML"],
)
def test_key_echoed_by_alpha_vantage_leaves_in_no_form(fresh, mode, function):
    f = fresh()
    responses = [call(f, task(function=function, symbol=mode)),
                 call(f, rest_get(f"/v1/alpha-vantage/{function}", {"symbol": mode}))]
    assert f.proc.poll() is None
    assert_no_key(SENTINEL, *(json.dumps(r) for r in responses), output_of(f))


def test_key_forms_detector_sees_every_form():
    """The detector above is what the redaction tests rest on: check it."""
    key = SENTINEL
    assert key_forms("nothing here", key) == []
    assert key_forms(key.lower(), key) and key_forms(key.upper(), key)
    assert key_forms("".join(f"%{b:02X}" for b in key.encode()), key)
    assert key_forms(av.u_escaped(key), key) and key_forms(json.dumps(av.u_escaped(key, upper=True)), key)
    assert key_forms(av.split_by_tags(key), key) and key_forms(json.dumps(av.split_by_tags(key)), key)


# --- §5 events the runtime cannot parse --------------------------------------------------------

@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 128 + b"]" * 128,
        b"[" * 10000 + b"]" * 10000,
        b'{"provider": 1e400}',
        b'{"provider": "alpha_vantage", "function": "GLOBAL_QUOTE", "symbol": "IBM", "n": -1e400}',
        b'{"a": "\\ud800"}',
        b'{"provider": "alpha_vantage", "function": "GLOBAL_QUOTE", "symbol": "\\udfff"}',
    ],
    ids=["nested-128", "nested-10000", "1e400", "minus-1e400-in-task", "lone-surrogate", "lone-low-surrogate"],
)
def test_unparseable_raw_event_is_typed(hfn, raw):
    expect_error(hfn, raw, "unrecognized_event", "bad_request")
    assert hfn.proc.poll() is None, "the function process died"
    failed, body = call(hfn, quote())
    assert not failed, body


# --- §6 memory bounded by the function's memory size -----------------------------------------

def vm_hwm_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM line")


def test_huge_bodies_are_refused_within_the_memory_budget(stack, fresh):
    f = fresh(AWS_LAMBDA_LOG_LEVEL="INFO")   # a new process: earlier tests do not inflate its VmHWM
    assert not call(f, quote())[0]
    for symbol in ("BIG11", "BIG60"):
        before = av_by_symbol(stack, symbol)
        expect_error(f, task(function="TIME_SERIES_DAILY", symbol=symbol), "too_large", "upstream_failed")
        assert av_by_symbol(stack, symbol) - before == 1, f"{symbol}: a too-large body was asked for again"
        assert f.proc.poll() is None
    peak = vm_hwm_mb(f.proc.pid)
    assert peak < 200, f"peak RSS {peak:.0f} MB with AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256"
    assert not call(f, quote())[0], "the function still serves"


def test_the_largest_body_under_the_cap_fits_the_memory(stack, fresh):
    """BIG5 is a valid 5.25 MiB series, just under the cap of a 256 MB
    function: it is served whole, and the process stays well under 256 MB."""
    f = fresh(AWS_LAMBDA_LOG_LEVEL="INFO")
    failed, body = call(f, task(function="TIME_SERIES_DAILY", symbol="BIG5"))
    assert not failed, body
    assert body["row_count"] > 30_000
    peak = vm_hwm_mb(f.proc.pid)
    assert peak < 180, f"peak RSS {peak:.0f} MB with AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256"


# --- §7 HTTP callers ---------------------------------------------------------------------------

ACCOUNT_DETAILS = ["arn:", "123456789012", "assumed-role", "secret-fetch/fn"]


@pytest.mark.parametrize(
    "reference, status, kind",
    [
        ("fault/access-denied", 502, "secret_access_denied"),
        ("fault/decryption", 502, "secret_decryption_failed"),
        ("hostile/no-such-secret", 502, "secret_not_found"),
    ],
)
def test_secret_failure_over_http_exposes_no_account_details(fresh, reference, status, kind):
    f = fresh(reference)
    for event in (rest_get("/v1/alpha-vantage/GLOBAL_QUOTE", {"symbol": "IBM"}),
                  http_api_get("/v1/alpha-vantage/GLOBAL_QUOTE", {"symbol": "IBM"})):
        failed, response = call(f, event)
        assert not failed and response["statusCode"] == status, response
        err = http_body(response)["error"]
        assert err["kind"] == kind and err["message"] and err["request_id"], err
        text = json.dumps(response)
        for detail in ACCOUNT_DETAILS + [reference]:
            assert detail not in text, f"{detail!r} reached the HTTP caller"
    # The full message still reaches the log.
    assert reference in output_of(f)


class _Counting(BaseHTTPRequestHandler):
    """A server that should never be reached: counts and answers a good quote."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.hits += 1
        data = json.dumps({"Global Quote": {"01. symbol": "IBM", "05. price": "1.0000",
                                            "07. latest trading day": "2026-01-15"}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def elsewhere():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    server.daemon_threads = True
    server.hits = 0
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def test_redirect_to_another_origin_is_not_followed(fresh, elsewhere):
    f = fresh()
    symbol = f"REDIRECT-{elsewhere.server_address[1]}"
    body = expect_error(f, quote(symbol), "upstream_failed")
    failed, response = call(f, rest_get("/v1/alpha-vantage/GLOBAL_QUOTE", {"symbol": symbol}))
    assert not failed and response["statusCode"] == 502, response
    assert http_body(response)["error"]["kind"] == "upstream_failed"
    assert elsewhere.hits == 0, "the redirect was followed: the key went to another origin"
    assert_no_key(SENTINEL, json.dumps(body), json.dumps(response), output_of(f))


# --- §8 a Secrets Manager blip serves the cached secret ---------------------------------------

def emf_lines(f) -> list[dict]:
    return [line for line in f.log_lines() if "_aws" in line]


def stale_warnings(f) -> list[dict]:
    return [line for line in f.log_lines()
            if "_aws" not in line and "serving the cached secret" in json.dumps(line)]


def emf_metric_names(emf: dict) -> set[str]:
    return {m["Name"] for d in emf["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}


@pytest.mark.parametrize("fault", ["throttled", "internal", "slow", "drop"])
def test_transient_refresh_failure_serves_the_cached_secret(stack, fresh, fault):
    reference = f"stale/av-{fault}"
    stack.moto.put(reference, SENTINEL)
    # Every call must read the secret, so no upstream cache answers it.
    f = fresh(reference, SECRET_CACHE_TTL_SECS="1", UPSTREAM_CACHE_TTL_SECS="0")
    try:
        failed, body = call(f, quote())
        assert not failed, body
        set_fault(stack, reference, fault)
        time.sleep(1.5)   # past the 1 s TTL
        started = time.monotonic()
        failed, body = call(f, quote())
        took = time.monotonic() - started
        assert not failed, body
        assert body["rows"][0]["symbol"] == "IBM"
        if fault == "slow":
            assert took < 4.5, f"waited {took:.1f}s for a refresh that takes 5 s"
        time.sleep(0.2)
        warnings = stale_warnings(f)
        assert warnings, "no 'serving the cached secret' log line"
        assert all(w["level"] == "WARN" for w in warnings), warnings
        emf = emf_lines(f)
        assert len(emf) == 2
        assert emf[0].get("SecretStaleServed", 0) == 0
        assert emf[1]["SecretStaleServed"] == 1
        assert "SecretStaleServed" in emf_metric_names(emf[1])
    finally:
        set_fault(stack, reference, None)


def test_access_denied_refresh_is_never_served_stale(stack, fresh):
    reference = "stale/av-denied"
    stack.moto.put(reference, SENTINEL)
    # Every call must read the secret, so no upstream cache answers it.
    f = fresh(reference, SECRET_CACHE_TTL_SECS="1", UPSTREAM_CACHE_TTL_SECS="0")
    try:
        assert not call(f, quote())[0]
        # A blip first (served stale), then a real denial: the denial wins.
        set_fault(stack, reference, "throttled")
        time.sleep(1.5)
        failed, body = call(f, quote())
        assert not failed, body
        set_fault(stack, reference, "access-denied")
        time.sleep(1.5)
        body = expect_error(f, quote(), "secret_access_denied")
        assert reference in body["errorMessage"]
        set_fault(stack, reference, "decryption")
        time.sleep(1.5)
        expect_error(f, quote(), "secret_decryption_failed")
    finally:
        set_fault(stack, reference, None)
    time.sleep(1.5)
    failed, body = call(f, quote())
    assert not failed, body
