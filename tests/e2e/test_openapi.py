"""openapi.yaml against the real binary.

Every operation in the spec has a table of example requests (CASES, keyed by
operationId) that covers a success and every status the operation documents.
Each example runs through the binary as an API Gateway REST (payload 1.0) and
an HTTP API (payload 2.0) request; the response's status must be the example's
and one the spec documents for the operation, its body must match the
documented schema, and documented required headers must be there.

The static tests make the table and the spec move together: an operation
added to openapi.yaml without examples, an example for an operation the spec
lacks, a documented status no example produces, or an example expecting an
undocumented status all fail here.
"""

from __future__ import annotations

import base64
import json
import re
from typing import NamedTuple
from urllib.parse import urlencode

import jsonschema
import pytest
import yaml
from conftest import ROOT, SECRET, SF_SECRET, http_body

from emulators import snowflake as sf

SPEC_PATH = ROOT / "openapi.yaml"
SPEC = yaml.safe_load(SPEC_PATH.read_text())
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def operations() -> dict[str, tuple[str, str, dict]]:
    """operationId → (path template, method, operation)."""
    ops = {}
    for path, item in SPEC["paths"].items():
        for method in METHODS:
            if method in item:
                op = item[method]
                assert "operationId" in op, f"{method.upper()} {path} has no operationId"
                ops[op["operationId"]] = (path, method, op)
    return ops


def deref(node: dict) -> dict:
    """Follow a local `$ref` (responses, headers, parameters)."""
    while isinstance(node, dict) and "$ref" in node:
        target = SPEC
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def validate(schema: dict, instance) -> None:
    """Validate against a schema of the spec, resolving its `#/components/...` refs."""
    jsonschema.Draft202012Validator({**schema, "components": SPEC["components"]}).validate(instance)


def template_regex(template: str) -> re.Pattern:
    return re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$")


# --- the example requests -------------------------------------------------------------

class Case(NamedTuple):
    name: str
    status: int
    method: str
    path: str
    query: dict | None = None
    body: str | None = None
    base64: bool = False
    # Which function answers: "fn" (the shared warm one), "tiny"
    # (MAX_RESPONSE_BYTES=2048), "slow" (HTTP_TIMEOUT_MS=1500), "unconfigured"
    # (no secrets configured), "extra" (tests/e2e/extra-statements.toml:
    # statements the stand-in fails, throttles or never finishes),
    # "lost-secret" (SNOWFLAKE_SECRET names no secret).
    function: str = "fn"
    headers: tuple[str, ...] = ()  # response headers this example must carry


def task(**fields) -> str:
    return json.dumps({"provider": "alpha_vantage", **fields})


AV = "/v1/alpha-vantage/"
SF = "/v1/snowflake/"


def sf_task(query, **fields) -> str:
    return json.dumps({"provider": "snowflake", "query": query, **fields})


CASES: dict[str, list[Case]] = {
    "getAlphaVantage": [
        Case("daily", 200, "GET", AV + "TIME_SERIES_DAILY", {"symbol": "IBM", "start": "2025-12-01", "end": "2025-12-31"}),
        Case("intraday", 200, "GET", AV + "TIME_SERIES_INTRADAY",
             {"symbol": "IBM", "interval": "5min", "extended_hours": "false", "adjusted": "TRUE"}),
        Case("quote", 200, "GET", AV + "global_quote", {"symbol": "IBM"}),
        Case("fx", 200, "GET", AV + "FX_DAILY", {"from_symbol": "EUR", "to_symbol": "USD", "outputsize": "compact"}),
        Case("exchange-rate", 200, "GET", AV + "CURRENCY_EXCHANGE_RATE", {"from_currency": "USD", "to_currency": "JPY"}),
        Case("crypto", 200, "GET", AV + "digital-currency-weekly", {"symbol": "BTC", "market": "EUR"}),
        Case("unknown-parameter", 400, "GET", AV + "GLOBAL_QUOTE", {"symbol": "IBM", "foo": "1"}),
        Case("bad-boolean", 400, "GET", AV + "TIME_SERIES_INTRADAY", {"symbol": "IBM", "interval": "5min", "adjusted": "yes"}),
        Case("unknown-symbol", 400, "GET", AV + "GLOBAL_QUOTE", {"symbol": "UNKNOWN"}),
        Case("premium", 403, "GET", AV + "TIME_SERIES_DAILY_ADJUSTED", {"symbol": "IBM"}),
        Case("no-function", 404, "GET", AV),
        Case("wrong-method", 405, "POST", AV + "GLOBAL_QUOTE", {"symbol": "IBM"}, headers=("allow",)),
        Case("too-large", 413, "GET", AV + "TIME_SERIES_DAILY", {"symbol": "IBM"}, function="tiny"),
        Case("daily-quota", 429, "GET", AV + "GLOBAL_QUOTE", {"symbol": "LIMIT"}),
        Case("per-minute", 429, "GET", AV + "GLOBAL_QUOTE", {"symbol": "MINUTE"}, headers=("retry-after",)),
        Case("unconfigured", 500, "GET", AV + "GLOBAL_QUOTE", {"symbol": "IBM"}, function="unconfigured"),
        Case("upstream-down", 502, "GET", AV + "GLOBAL_QUOTE", {"symbol": "HTML"}),
        Case("demo-key", 502, "GET", AV + "GLOBAL_QUOTE", {"symbol": "DEMO"}),
        Case("slow-upstream", 504, "GET", AV + "GLOBAL_QUOTE", {"symbol": "SLOW"}, function="slow"),
    ],
    "getSnowflake": [
        Case("customers", 200, "GET", SF + "customers_by_city", {"city": "Berlin", "max_rows": "100"}),
        Case("orders", 200, "GET", SF + "daily_orders", {"start": "2026-01-01", "end": "2026-01-14"}),
        Case("missing-parameter", 400, "GET", SF + "customers_by_city"),
        Case("mistyped-parameter", 400, "GET", SF + "daily_orders", {"start": "soon", "end": "2026-01-14"}),
        Case("bad-cursor", 400, "GET", SF + "customers_by_city", {"city": "Berlin", "cursor": "forged.cursor"}),
        Case("insert-over-http", 403, "GET", SF + "add_customers"),
        Case("unknown-query", 404, "GET", SF + "no_such_statement"),
        Case("wrong-method", 405, "POST", SF + "customers_by_city", headers=("allow",)),
        Case("sql-error", 422, "GET", SF + "broken", function="extra"),
        Case("throttled", 429, "GET", SF + "throttled", function="extra", headers=("retry-after",)),
        Case("unconfigured", 500, "GET", SF + "customers_by_city", {"city": "Oslo"}, function="unconfigured"),
        Case("secret-missing", 502, "GET", SF + "customers_by_city", {"city": "Oslo"}, function="lost-secret"),
        Case("runs-too-long", 504, "GET", SF + "forever", function="extra"),
    ],
    "postFetch": [
        Case("fx", 200, "POST", "/v1/fetch", body=task(function="FX_DAILY", from_symbol="EUR", to_symbol="USD")),
        Case("base64-body", 200, "POST", "/v1/fetch",
             body=base64.b64encode(task(function="GLOBAL_QUOTE", symbol="IBM").encode()).decode(), base64=True),
        Case("window", 200, "POST", "/v1/fetch",
             body=task(function="TIME_SERIES_DAILY", symbol="IBM", start="2025-12-01", end="2025-12-31")),
        Case("snowflake", 200, "POST", "/v1/fetch", body=sf_task("customers_by_city", params={"city": "Berlin"}, max_rows=10)),
        Case("ad-hoc-sql", 400, "POST", "/v1/fetch", body=json.dumps({"provider": "snowflake", "statement": "select 1"})),
        Case("unknown-query", 404, "POST", "/v1/fetch", body=sf_task("no_such_statement")),
        Case("sql-error", 422, "POST", "/v1/fetch", body=sf_task("broken"), function="extra"),
        Case("empty-body", 400, "POST", "/v1/fetch"),
        Case("not-json", 400, "POST", "/v1/fetch", body="{not json"),
        Case("not-a-task", 400, "POST", "/v1/fetch", body=json.dumps({"provider": "bloomberg"})),
        Case("missing-parameter", 400, "POST", "/v1/fetch", body=task(function="TIME_SERIES_DAILY")),
        Case("premium", 403, "POST", "/v1/fetch", body=task(function="TIME_SERIES_DAILY", symbol="IBM", outputsize="full")),
        Case("insert-over-http", 403, "POST", "/v1/fetch",
             body=sf_task("add_customers", params={"names": ["Ada"], "cities": ["Oslo"]})),
        Case("wrong-method", 405, "GET", "/v1/fetch", headers=("allow",)),
        Case("too-large", 413, "POST", "/v1/fetch", body=task(function="TIME_SERIES_DAILY", symbol="IBM"), function="tiny"),
        Case("daily-quota", 429, "POST", "/v1/fetch", body=task(function="GLOBAL_QUOTE", symbol="LIMIT")),
        Case("unconfigured", 500, "POST", "/v1/fetch", body=task(function="GLOBAL_QUOTE", symbol="IBM"), function="unconfigured"),
        Case("upstream-down", 502, "POST", "/v1/fetch", body=task(function="GLOBAL_QUOTE", symbol="HTML")),
        Case("slow-upstream", 504, "POST", "/v1/fetch", body=task(function="GLOBAL_QUOTE", symbol="SLOW"), function="slow"),
    ],
}


# --- the spec and the table agree (no binary needed) ------------------------------------

def test_spec_is_valid_openapi():
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(SPEC)


def test_every_operation_has_examples_and_every_example_an_operation():
    documented, exercised = set(operations()), set(CASES)
    assert documented - exercised == set(), "operations in openapi.yaml without examples in CASES"
    assert exercised - documented == set(), "examples in CASES for operations openapi.yaml lacks"


@pytest.mark.parametrize("operation_id", sorted(operations()))
def test_examples_cover_exactly_the_documented_statuses(operation_id):
    _, _, op = operations()[operation_id]
    documented = {int(status) for status in op["responses"]}
    cases = CASES.get(operation_id, [])
    assert 200 in {c.status for c in cases}, f"{operation_id} has no success example"
    assert documented - {c.status for c in cases} == set(), "documented statuses no example produces"
    assert {c.status for c in cases} - documented == set(), "examples expecting undocumented statuses"


@pytest.mark.parametrize("operation_id", sorted(CASES))
def test_examples_target_their_operation(operation_id):
    template, method, op = operations()[operation_id]
    pattern = template_regex(template)
    parameters = {deref(p)["name"] for p in op.get("parameters", []) if deref(p)["in"] == "query"}
    free_form = any(deref(p)["in"] == "query" and deref(p).get("explode") and deref(p)["schema"].get("type") == "object"
                    for p in op.get("parameters", []))
    for case in CASES[operation_id]:
        if case.name == "unknown-query":  # a well-formed request naming no statement
            assert case.status == 404, case
            continue
        if case.status == 404:  # the path itself is what is wrong
            assert not pattern.match(case.path), case
            continue
        assert pattern.match(case.path), case
        if case.status == 405:
            assert case.method.lower() != method, case
            continue
        assert case.method.lower() == method, case
        if case.status == 200:
            if not free_form:
                assert set(case.query or {}) <= parameters, f"{case.name}: undocumented query parameters"
            if "requestBody" in op:
                body = base64.b64decode(case.body) if case.base64 else case.body
                validate(op["requestBody"]["content"]["application/json"]["schema"], json.loads(body))


def test_error_kinds_are_the_codes_of_src_error_rs():
    source = (ROOT / "src" / "error.rs").read_text()
    codes = set(re.findall(r'ErrorKind::\w+ => "([a-z_]+)"', source))
    assert codes, "no ErrorKind codes found in src/error.rs"
    assert set(SPEC["components"]["schemas"]["ErrorKind"]["enum"]) == codes


def test_alpha_vantage_parameters_are_the_task_fields():
    found = sorted(ROOT.glob("src/**/alpha_vantage/task.rs"))   # wherever the provider module lives
    assert len(found) == 1, f"expected one src/**/alpha_vantage/task.rs, found {found}"
    source = found[0].read_text()
    # Besides the query parameters: the fields that stay in the function
    # (the window filters the answer; `cache` picks the upstream cache's use).
    local = set(re.findall(r'pub\(crate\) (start|end|cache): Option<', source))
    assert local == {"start", "end", "cache"}, f"task fields start/end/cache not found in {found[0]}"
    fields = set(re.findall(r'Param::\w+ => "([a-z_]+)"', source)) | local
    assert len(fields) > 2, f"no Param names found in {found[0]}"
    _, _, op = operations()["getAlphaVantage"]
    query = {deref(p)["name"] for p in op["parameters"] if deref(p)["in"] == "query"}
    assert query == fields
    properties = set(SPEC["components"]["schemas"]["AlphaVantageTask"]["properties"])
    # `output` and `as_of` belong to every provider's task (src/job.rs).
    assert properties == fields | {"provider", "function", "output", "as_of"}
    assert {"output", "as_of"} <= set(SPEC["components"]["schemas"]["SnowflakeTask"]["properties"])


# --- through the binary -----------------------------------------------------------------

EXTRA_STATEMENTS = ROOT / "tests" / "e2e" / "extra-statements.toml"


@pytest.fixture(scope="module")
def functions(stack, fn):
    import tomllib
    extra = {name: st["sql"] for name, st in tomllib.loads(EXTRA_STATEMENTS.read_text()).items()}
    stack.sf.register(extra["throttled"], sf.Throttle(1000, retry_after=1))
    stack.sf.register(extra["forever"], sf.Slow(3600))
    # `broken` is left alone: DuckDB has no table CUSTOMERZ, the stand-in answers 422 002003.
    return {
        "fn": fn,
        "tiny": stack.start_function(env={"ALPHA_VANTAGE_SECRET": SECRET, "MAX_RESPONSE_BYTES": "2048"}),
        "slow": stack.start_function(env={"ALPHA_VANTAGE_SECRET": SECRET, "HTTP_TIMEOUT_MS": "1500"}),
        "unconfigured": stack.start_function(env={}),
        "extra": stack.start_function(env={"SNOWFLAKE_SECRET": SF_SECRET, "HTTP_TIMEOUT_MS": "4000",
                                           "SNOWFLAKE_STATEMENTS_FILE": str(EXTRA_STATEMENTS)}),
        "lost-secret": stack.start_function(env={"SNOWFLAKE_SECRET": "no/such/secret"}),
    }


def rest_event(case: Case) -> dict:
    """API Gateway REST API, Lambda proxy (payload 1.0), a `/{proxy+}` resource on stage prod."""
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    return {
        "resource": "/{proxy+}", "path": case.path, "httpMethod": case.method,
        "headers": headers, "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": case.query or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in case.query.items()} if case.query else None,
        "pathParameters": {"proxy": case.path.lstrip("/")}, "stageVariables": None,
        "requestContext": {"httpMethod": case.method, "path": "/prod" + case.path, "stage": "prod",
                           "requestId": "openapi-rest", "resourcePath": "/{proxy+}", "apiId": "abc123",
                           "accountId": "123456789012", "identity": {"sourceIp": "203.0.113.7"}},
        "body": case.body, "isBase64Encoded": case.base64,
    }


def http_event(case: Case, route_key: str) -> dict:
    """API Gateway HTTP API (payload 2.0), $default stage."""
    event = {
        "version": "2.0", "routeKey": route_key, "rawPath": case.path,
        "rawQueryString": urlencode(case.query or {}),
        "headers": {"accept": "application/json", "content-type": "application/json",
                    "host": "abc123.execute-api.us-east-1.amazonaws.com"},
        "requestContext": {"accountId": "123456789012", "apiId": "abc123",
                           "domainName": "abc123.execute-api.us-east-1.amazonaws.com", "domainPrefix": "abc123",
                           "http": {"method": case.method, "path": case.path, "protocol": "HTTP/1.1",
                                    "sourceIp": "203.0.113.7", "userAgent": "pytest"},
                           "requestId": "openapi-http", "routeKey": route_key, "stage": "$default",
                           "time": "16/Jan/2026:06:00:00 +0000", "timeEpoch": 1768543200000},
        "isBase64Encoded": case.base64,
    }
    if case.query:
        event["queryStringParameters"] = case.query
    if case.body is not None:
        event["body"] = case.body
    return event


def all_cases():
    for operation_id, cases in sorted(CASES.items()):
        for case in cases:
            for style in ("rest", "http"):
                yield pytest.param(operation_id, case, style, id=f"{operation_id}-{case.name}-{case.status}-{style}")


@pytest.mark.parametrize("operation_id, case, style", list(all_cases()))
def test_response_matches_the_spec(functions, operation_id, case, style):
    template, method, op = operations()[operation_id]
    if style == "rest":
        event = rest_event(case)
    else:
        # The HTTP API's own route for requests it routes to the operation;
        # $default (a catch-all, like a Function URL) for the others.
        matched = case.method.lower() == method and template_regex(template).match(case.path)
        event = http_event(case, f"{method.upper()} {template}" if matched else "$default")

    failed, response = functions[case.function].invoke(event)
    assert not failed, "HTTP callers get a proxy response, not a Lambda error"

    status = response["statusCode"]
    documented = op["responses"]
    assert str(status) in documented, f"{status} is not documented for {operation_id}: {http_body(response)}"
    assert status == case.status, http_body(response)

    headers = {k.lower(): v for k, v in response["headers"].items()}
    if style == "rest":
        multi = {k.lower(): v for k, v in response["multiValueHeaders"].items()}
        assert {k: [v] for k, v in headers.items()} == multi
    assert headers["content-type"] == "application/json"
    assert response["isBase64Encoded"] is False

    spec_response = deref(documented[str(status)])
    spec_headers = {name.lower(): deref(h) for name, h in spec_response.get("headers", {}).items()}
    for name, header in spec_headers.items():
        if header.get("required"):
            assert name in headers, f"required header {name} missing"
        if name in headers:
            value = headers[name]
            if header["schema"].get("type") == "integer":
                value = int(value)
            validate(header["schema"], value)
    for name in case.headers:
        assert name in headers, f"{case.name} should carry {name}"
        assert name in spec_headers, f"{name} is not documented for {status}"
    if status == 405:
        assert headers["allow"] == method.upper()

    body = http_body(response)
    validate(spec_response["content"]["application/json"]["schema"], body)
    if status == 200:
        for field in ("columns", "rows", "row_count", "meta", "next_cursor"):
            assert field in body, field
        assert body["row_count"] == len(body["rows"]) > 0
    else:
        error = body["error"]
        for field in ("kind", "message", "request_id"):
            assert isinstance(error[field], str) and error[field], field
