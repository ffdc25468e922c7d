"""The real binary behind cargo-lambda's own emulator, as its users run it.

`cargo lambda watch --only-lambda-apis` (from PyPI, installed into .venv by the
test command) is the Runtime API; the bootstrap binary runs against it with
the environment cargo-lambda asks for, pointed at the session's stand-ins
(moto, Alpha Vantage, Snowflake). Then:

- `cargo lambda invoke --data-file events/<file>.json` for the Alpha Vantage
  samples of every trigger (and two Snowflake ones): rows come back;
- an invalid task comes back as a typed error (`bad_request`);
- plain HTTP requests through cargo-lambda's Function URL front
  (`/lambda-url/_/v1/...`): 200 with rows for every route openapi.yaml
  documents, and the documented 4xx statuses for client mistakes.
"""

from __future__ import annotations

import base64
import json
import re

import pytest
import yaml
from conftest import DEFAULT_TASK, ROOT, SECRET, SF_SECRET

from emulators import cargo_lambda


@pytest.fixture(scope="module")
def watch(stack):
    w = cargo_lambda.Watch()
    try:
        w.start_function(stack.function_env(
            ALPHA_VANTAGE_SECRET=SECRET,
            SNOWFLAKE_SECRET=SF_SECRET,
            DEFAULT_TASK=json.dumps(DEFAULT_TASK),
        ))
        yield w
    finally:
        w.stop()


def rows_of(result: dict) -> dict:
    """The result body: a direct result as is, a proxy response's JSON body."""
    if "statusCode" in result:
        assert result["statusCode"] == 200, result
        assert isinstance(result["body"], str), result
        return json.loads(result["body"])
    return result


ALPHA_VANTAGE_EVENTS = [
    "console-alpha-vantage-daily.json",                 # direct
    "eventbridge-alpha-vantage-fx.json",                # EventBridge envelope
    "eventbridge-rule-input-alpha-vantage-quote.json",  # rule with constant Input
    "scheduler-default-notification.json",              # Scheduler, no Input: DEFAULT_TASK
    "scheduler-input-alpha-vantage-weekly.json",        # Scheduler with Input
    "rest-get-alpha-vantage-intraday.json",             # API Gateway REST
    "rest-post-alpha-vantage-exchange-rate.json",
    "http-api-get-alpha-vantage-monthly.json",          # HTTP API
    "http-api-post-alpha-vantage-fx-weekly.json",
    "function-url-post-alpha-vantage-crypto.json",      # Function URL
    "console-snowflake-customers.json",                 # and two Snowflake ones
    "function-url-get-snowflake-daily-orders.json",
]


@pytest.mark.parametrize("name", ALPHA_VANTAGE_EVENTS)
def test_cargo_lambda_invoke_returns_rows(watch, name):
    path = ROOT / "events" / name
    assert path.exists(), path
    done = watch.invoke("--data-file", f"events/{name}")
    assert done.returncode == 0, f"{done.stderr}\n{watch.log()}\n{watch.function_log()[-2000:]}"
    body = rows_of(json.loads(done.stdout))
    assert body["row_count"] == len(body["rows"]) > 0, body
    assert body["columns"], body
    expected = "snowflake" if "snowflake" in name else "alpha_vantage"
    assert body["provider"] == expected


def test_cargo_lambda_invoke_reports_a_typed_error(watch, stack):
    before = stack.av_state.stats()["requests"]
    done = watch.invoke("--data-ascii", json.dumps({"provider": "alpha_vantage", "function": "TIME_SERIES_DAILY"}))
    assert done.returncode != 0
    assert re.search(r"\bbad_request\b", done.stderr), done.stderr
    assert "symbol" in done.stderr, done.stderr   # the message names the missing field
    assert stack.av_state.stats()["requests"] == before, "an invalid task reached Alpha Vantage"


# --- HTTP through cargo-lambda's Function URL front ------------------------------------

SPEC = yaml.safe_load((ROOT / "openapi.yaml").read_text())
TASK = {"provider": "alpha_vantage", "function": "GLOBAL_QUOTE", "symbol": "IBM"}

# One or more requests per documented operation that must answer 200 with rows.
SUCCESS = {
    ("get", "/v1/alpha-vantage/{function}"): [
        ("GET", "/v1/alpha-vantage/GLOBAL_QUOTE?symbol=IBM", None, {}),
        ("GET", "/v1/alpha-vantage/TIME_SERIES_DAILY?symbol=IBM&start=2025-12-01&end=2025-12-31", None, {}),
        ("GET", "/v1/alpha-vantage/fx-daily?from_symbol=EUR&to_symbol=USD", None, {}),
    ],
    ("get", "/v1/snowflake/{query}"): [
        ("GET", "/v1/snowflake/customers_by_city?city=Berlin&max_rows=5", None, {}),
        ("GET", "/v1/snowflake/daily_orders?start=2026-01-01&end=2026-01-14", None, {}),
    ],
    ("post", "/v1/fetch"): [
        ("POST", "/v1/fetch", json.dumps(TASK).encode(), {"content-type": "application/json"}),
        # Not a text content type: the front sends it base64-encoded.
        ("POST", "/v1/fetch", json.dumps({"provider": "snowflake", "query": "customers_by_city",
                                          "params": {"city": "Berlin"}, "max_rows": 3}).encode(),
         {"content-type": "application/octet-stream"}),
    ],
}


def test_every_documented_operation_has_a_success_request():
    documented = {(method, path) for path, item in SPEC["paths"].items()
                  for method in item if method in ("get", "post", "put", "delete", "patch")}
    assert documented == set(SUCCESS)


@pytest.mark.parametrize("method,path,body,headers",
                         [r for requests in SUCCESS.values() for r in requests],
                         ids=lambda v: v if isinstance(v, str) and v.startswith(("/", "GET", "POST")) else "")
def test_function_url_front_returns_rows(watch, method, path, body, headers):
    status, response_headers, raw = watch.request(method, path, body, headers)
    assert status == 200, raw[:500]
    assert response_headers.get("content-type", "").startswith("application/json")
    result = json.loads(raw)
    assert result["row_count"] == len(result["rows"]) > 0, result
    assert result["next_cursor"] is None or isinstance(result["next_cursor"], str)


@pytest.mark.parametrize("method,path,body,status,kind", [
    ("GET", "/v1/alpha-vantage/GLOBAL_QUOTE?symbol=IBM&foo=1", None, 400, "bad_request"),
    ("GET", "/v1/snowflake/no_such_statement", None, 404, "unknown_query"),
    ("GET", "/v2/nothing", None, 404, "not_found"),
    ("GET", "/v1/fetch", None, 405, "method_not_allowed"),
    ("POST", "/v1/fetch", b"{not json", 400, "bad_request"),
    ("GET", "/v1/snowflake/add_customers", None, 403, "forbidden"),
])
def test_function_url_front_client_mistakes_are_typed_4xx(watch, stack, method, path, body, status, kind):
    av, sf = stack.av_state.stats()["requests"], stack.sf.stats()["requests"]
    got, headers, raw = watch.request(method, path, body, {"content-type": "application/json"} if body else {})
    assert got == status, raw[:500]
    error = json.loads(raw)["error"]
    assert error["kind"] == kind, error
    assert error["request_id"]
    if status == 405:
        assert headers.get("allow") == "POST"
    assert stack.av_state.stats()["requests"] == av and stack.sf.stats()["requests"] == sf, \
        "a client mistake reached an upstream"


def test_base64_bodies_from_the_front_are_decoded(watch):
    """The front base64-encodes non-text bodies; an octet-stream POST must
    still be the task, not its base64 text."""
    raw = json.dumps({"provider": "alpha_vantage", "function": "CURRENCY_EXCHANGE_RATE",
                      "from_currency": "USD", "to_currency": "JPY"}).encode()
    status, _, body = watch.request("POST", "/v1/fetch", raw, {"content-type": "application/octet-stream"})
    assert status == 200, body[:500]
    assert json.loads(body)["rows"][0]["to_currency_code"] == "JPY"
    assert base64.b64encode(raw) not in body
