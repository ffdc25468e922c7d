"""openapi.yaml fuzzed with schemathesis against the real binary, through
cargo-lambda's Function URL front.

schemathesis generates valid and invalid requests for every operation
(examples, boundary values, random data; a fixed number per operation, a
fixed seed) and sends them to `http://127.0.0.1:<port>/lambda-url/_/v1/...`,
where cargo-lambda turns each into a payload-2.0 event for the binary. For
every response:

- no 5xx: the stand-ins are healthy, so a 5xx is the function failing on what
  a client sent;
- its status is one the operation documents, its content type and body match
  the documented schema, and documented headers (`allow` on 405) are there;
- an answer that says the request was invalid (bad_request, not_found,
  method_not_allowed, unknown_query, forbidden) made no call to the Alpha
  Vantage or Snowflake stand-in: their request counters did not move.

One thing cargo-lambda's front cannot carry: a body that is not UTF-8 sent
with a text content type (it answers 500 itself, before any invocation; a
real Function URL base64-encodes such a body). Such a case is re-sent with
`application/octet-stream`, which the front base64-encodes as a Function URL
does, and that answer is the one checked.

The whole run is bounded: MAX_EXAMPLES cases per operation and generation
phase, each request with a timeout; it takes well under a minute.
"""

from __future__ import annotations

import json
import threading

import pytest
import schemathesis
from conftest import DEFAULT_TASK, ROOT, SECRET, SF_SECRET
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from emulators import cargo_lambda

MAX_EXAMPLES = 100
REQUEST_TIMEOUT = 20
# Error kinds that mean the request itself was wrong: decided before any
# upstream call. (unknown_symbol, premium_required, cursor_expired and the
# throttles are the upstream's answers, so they come after one.)
LOCAL_REJECTIONS = {"bad_request", "unrecognized_event", "not_found", "method_not_allowed", "unknown_query",
                    "forbidden"}

schema = schemathesis.openapi.from_path(ROOT / "openapi.yaml")

_lock = threading.Lock()
seen: dict[str, dict[int, int]] = {}   # operation → status → count (for the closing sanity test)


@pytest.fixture(scope="module")
def front(stack):
    w = cargo_lambda.Watch()
    try:
        w.start_function(stack.function_env(
            ALPHA_VANTAGE_SECRET=SECRET,
            SNOWFLAKE_SECRET=SF_SECRET,
            DEFAULT_TASK=json.dumps(DEFAULT_TASK),
        ))
        # One warm-up call so the first fuzzed case does not pay the cold start.
        status, _, body = w.request("GET", "/v1/alpha-vantage/GLOBAL_QUOTE?symbol=IBM")
        assert status == 200, body[:500]
        yield w
    finally:
        w.stop()


def upstream_calls(stack) -> tuple[int, int]:
    return stack.av_state.stats()["requests"], stack.sf.stats()["requests"]


def not_utf8_text(request) -> bool:
    """Whether the request sent a non-UTF-8 body under a text content type."""
    body = request.body
    if body is None or isinstance(body, str):
        return False
    content_type = request.headers.get("Content-Type", "").lower()
    if content_type and not content_type.startswith(("text/", "application/json")):
        return False
    try:
        body.decode("utf-8")
        return False
    except UnicodeDecodeError:
        return True


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_openapi_contract_through_cargo_lambda(case, front, stack):
    before = upstream_calls(stack)
    response = case.call(base_url=front.url_front, timeout=REQUEST_TIMEOUT)
    if not_utf8_text(response.request):
        # cargo-lambda's own 500 (String::from_utf8 on a text body), not the function's.
        assert response.status_code == 500 and b"httpstatuses.com/500" in response.content, response.content[:300]
        before = upstream_calls(stack)
        response = case.call(base_url=front.url_front, timeout=REQUEST_TIMEOUT,
                             headers={"Content-Type": "application/octet-stream"})
    after = upstream_calls(stack)
    with _lock:
        counts = seen.setdefault(case.operation.label, {})
        counts[response.status_code] = counts.get(response.status_code, 0) + 1
    case.validate_response(response, checks=[
        not_a_server_error, status_code_conformance, content_type_conformance,
        response_schema_conformance, response_headers_conformance,
    ])
    if 400 <= response.status_code < 500:
        kind = response.json()["error"]["kind"]
        if kind in LOCAL_REJECTIONS:
            assert after == before, (
                f"{case.method} {case.formatted_path} answered {response.status_code} {kind} "
                f"but called an upstream (Alpha Vantage, Snowflake requests {before} -> {after})")


def test_the_fuzzing_reached_every_operation_and_both_outcomes():
    """Runs after the fuzzing (file order): every operation was exercised,
    with successes and rejections both among the answers, so the checks above
    were not vacuous."""
    assert set(seen) == {"GET /v1/alpha-vantage/{function}", "GET /v1/snowflake/{query}", "POST /v1/fetch"}, seen
    for label, counts in seen.items():
        assert sum(counts.values()) >= 10, (label, counts)
        assert any(400 <= s < 500 for s in counts), (label, counts)
    assert any(200 in counts for counts in seen.values()), seen
