"""Hostile Snowflake: the fault matrix of the hardening contract (sections 1,
2, 3, 4, 6 and 7, Snowflake classes) through the real binary. The SQL API
stand-in serves lying answers (Canned and Tampered results, forgotten
statement handles), a second local origin counts what a redirect would leak,
and /proc shows the function's peak memory."""

from __future__ import annotations

import functools
import json
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, urlencode

import pytest
from conftest import ROOT, SF_SECRET, http_body
from test_behaviour import rest_get
from test_sentinel import JWT
from test_snowflake import customers, posts, sf_task

from emulators import snowflake as sf
from emulators import snowflake_demo

HOSTILE_STATEMENTS = ROOT / "tests" / "e2e" / "hostile-statements.toml"
NAMED = snowflake_demo.statements(HOSTILE_STATEMENTS)
# A PAT the stand-in accepts, with characters that percent-encoding changes.
PAT = "SENTINEL-hostile+pat/7Qx=9k"
MB = 1 << 20
PEAK_LIMIT = 200 * MB


@pytest.fixture(scope="module")
def hostile(stack):
    """Key-pair auth, the hostile named statements, ad-hoc SQL for direct calls; logs at TRACE."""
    return stack.start_function(env={"SNOWFLAKE_SECRET": SF_SECRET, "SNOWFLAKE_ALLOW_AD_HOC": "true",
                                     "SNOWFLAKE_STATEMENTS_FILE": str(HOSTILE_STATEMENTS),
                                     "AWS_LAMBDA_LOG_LEVEL": "TRACE"})


@pytest.fixture(scope="module")
def pat_fn(stack):
    """A programmatic access token (PAT above) and the hostile named statements; logs at TRACE."""
    stack.sf.set_tokens({**stack.sf.tokens, PAT: "PROGRAMMATIC_ACCESS_TOKEN"})
    stack.moto.put("hostile/pat", json.dumps({"token": PAT, "account": "acme-analytics"}))
    return stack.start_function(env={"SNOWFLAKE_SECRET": "hostile/pat", "AWS_LAMBDA_LOG_LEVEL": "TRACE",
                                     "SNOWFLAKE_STATEMENTS_FILE": str(HOSTILE_STATEMENTS)})


# --- helpers ------------------------------------------------------------------------------

def http_api(path, method="GET", query=None, body=None):
    """API Gateway HTTP API (payload 2.0), $default stage."""
    event = {
        "version": "2.0", "routeKey": f"{method} {path}", "rawPath": path, "rawQueryString": urlencode(query or {}),
        "headers": {"accept": "application/json", "content-type": "application/json",
                    "host": "abc123.execute-api.us-east-1.amazonaws.com"},
        "requestContext": {"accountId": "123456789012", "apiId": "abc123",
                           "domainName": "abc123.execute-api.us-east-1.amazonaws.com", "domainPrefix": "abc123",
                           "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                                    "sourceIp": "203.0.113.7", "userAgent": "pytest"},
                           "requestId": "hostile-http", "routeKey": f"{method} {path}", "stage": "$default",
                           "time": "16/Jan/2026:06:00:00 +0000", "timeEpoch": 1768543200000},
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = query
    if body is not None:
        event["body"] = body
    return event


def assert_error(failed, body, *kinds):
    """A direct invocation failed with one of `kinds` (never a Rust type name)."""
    assert failed, body
    assert "::" not in body["errorType"], body
    assert body["errorType"] in kinds, body


def assert_http_error(response, status, kind):
    assert response["statusCode"] == status, response
    err = http_body(response)["error"]
    assert err["kind"] == kind and err["message"] and err["request_id"], err
    return err


def gz(data: bytes) -> bytes:
    c = zlib.compressobj(1, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


def partition(rows) -> bytes:
    """A later partition as Snowflake sends it: gzip of {"data": rows}."""
    return gz(json.dumps({"data": rows}).encode())


@functools.cache
def gzip_bomb() -> bytes:
    """gzip of 1 GiB of spaces (about 1 MB), built once by streaming."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31, 9, zlib.Z_RLE)
    chunk = b" " * (4 * MB)
    parts = [c.compress(chunk) for _ in range(256)]
    parts.append(c.flush())
    return b"".join(parts)


@functools.cache
def huge_inline_result(compressed: bool) -> bytes:
    """A 200 whose partition 0 (inline `data`) is about 50 MB of small cells."""
    row = b'["1234567890","Customer 1234567890","19723"]'
    n = 50 * MB // (len(row) + 1) + 1
    data = b"[" + b",".join([row] * n) + b"]"
    meta = {"numRows": n, "format": "jsonv2", "partitionInfo": [{"rowCount": n, "uncompressedSize": len(data)}],
            "rowType": [sf.column("ID", "fixed", precision=38, scale=0), sf.column("NAME", "text"),
                        sf.column("SIGNUP_DATE", "date")]}
    body = (b'{"resultSetMetaData":' + json.dumps(meta).encode() + b',"data":' + data
            + b',"code":"090001","sqlState":"00000","statementHandle":"01b2c3d4-0000-4000-0000-000000000050",'
              b'"message":"Statement executed successfully."}')
    assert len(body) > 50 * MB
    return gz(body) if compressed else body


def vm_hwm(f) -> int:
    """Peak resident set size of the bootstrap process, bytes."""
    with open(f"/proc/{f.proc.pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/PID/status")


def partition_gets(stack, handle: str, n: int) -> int:
    with stack.sf.lock:
        return sum(1 for r in stack.sf.requests if r["method"] == "GET" and r["path"] == f"{sf.BASE}/{handle}"
                   and r["query"].get("partition") == str(n))


def output_mark(f) -> tuple[int, int]:
    return f.stdout_path.stat().st_size, f.stderr_path.stat().st_size


def output_since(f, mark: tuple[int, int]) -> str:
    time.sleep(0.2)
    text = ""
    for path, offset in ((f.stdout_path, mark[0]), (f.stderr_path, mark[1])):
        with open(path, "rb") as fh:
            fh.seek(offset)
            text += fh.read().decode(errors="replace")
    return text


def strings(value):
    """Every string in a JSON value (HTTP bodies are strings themselves: both the raw
    string and, when it is JSON, its strings)."""
    if isinstance(value, str):
        yield value
        try:
            inner = json.loads(value)
        except ValueError:
            return
        if not isinstance(inner, str):
            yield from strings(inner)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def u_escaped(text: str) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in text)


# --- section 1: a token that is not a header value is malformed, before any call --------------

MALFORMED_TOKENS = {
    "crlf-header-injection": {"token": "hostile-tok\r\nX-Evil: 1"},
    "space": {"token": "hostile-tok with-space"},
    "non-ascii": {"token": "hostile-tok-\u00e9t\u00e9"},
    "tab": {"token": "hostile-tok\tX"},
    "oauth-newline": {"oauth_token": "hostile-tok\nX-Evil: 1"},
}


@pytest.mark.parametrize("name", list(MALFORMED_TOKENS))
def test_token_that_cannot_be_a_header_value_is_malformed_before_any_request(stack, name):
    secret = f"hostile/token-{name}"
    stack.moto.put(secret, json.dumps({**MALFORMED_TOKENS[name], "account": "acme-analytics"}))
    requests, calls = len(stack.sf.requests), stack.secret_calls()
    f = stack.start_function(env={"SNOWFLAKE_SECRET": secret})
    failed, body = f.invoke(customers(max_rows=1))
    assert_error(failed, body, "secret_malformed")
    assert "hostile-tok" not in json.dumps(body), "the token is not quoted back"
    assert len(stack.sf.requests) == requests, "nothing reached Snowflake"
    assert stack.secret_calls() - calls == 1, "one GetSecretValue: a malformed secret is not refreshed"


# --- section 2: absurd date and time cells pass through, no panic --------------------------------

ABSURD = {
    "date": ["1000000000000000", "-1000000000000000", "99999999999999999999", "1e400"],
    "time": ["99999999999999999999", "86400000000000", "1e400"],
    "timestamp_ntz": ["99999999999999999999", "-99999999999999999999", "9223372036854775807.999999999", "1e400"],
    "timestamp_ltz": ["99999999999999999999", "9223372036854775807.999999999", "1e400"],
    "timestamp_tz": ["1700000000.000000000 -2147483648", "1700000000.000000000 2147483647",
                     "99999999999999999999 1440", "1e400 1440", "1000000000000000 1440"],
}


@pytest.mark.parametrize("kind", list(ABSURD))
def test_absurd_date_and_time_cells_pass_through_as_strings(stack, hostile, kind):
    sql = f"select v from absurd_{kind}"
    cells = ABSURD[kind]
    stack.sf.register(sql, sf.Rows([sf.column("V", kind, scale=9)], [[c] for c in cells]))
    failed, body = hostile.invoke(sf_task(statement=sql))
    assert "::" not in str(body.get("errorType", "")), body
    assert not failed, body
    assert body["rows"] == [{"V": c} for c in cells]


def test_a_sane_date_next_to_an_absurd_one_still_decodes(stack, hostile):
    sql = "select v from absurd_and_sane_dates"
    stack.sf.register(sql, sf.Rows([sf.column("V", "date")], [["1000000000000000"], ["19723"]]))
    failed, body = hostile.invoke(sf_task(statement=sql))
    assert not failed, body
    assert body["rows"] == [{"V": "1000000000000000"}, {"V": "2024-01-01"}]


# --- section 3: no silently wrong rows -------------------------------------------------------------

COLS = [sf.column("A", "fixed", precision=38, scale=0), sf.column("B", "text"),
        sf.column("C", "fixed", precision=38, scale=0)]
CELLS = [["1", "a", "10"], ["2", "b", "20"], ["3", "c", "30"], ["4", "d", "40"], ["5", "e", "50"], ["6", "f", "60"]]


@pytest.mark.parametrize("names, expected", [
    (["ID", "NAME", "ID"], ["ID", "NAME", "ID_2"]),
    (["ID", "ID_2", "ID"], ["ID", "ID_2", "ID_3"]),
], ids=["ID-NAME-ID", "ID-ID_2-ID"])
def test_duplicate_column_names_are_suffixed(stack, hostile, names, expected):
    # Real SQL: Snowflake (and the stand-in's DuckDB) answer duplicate column names as they are.
    sql = ("select " + ", ".join(f"{c} as {n.lower()}" for c, n in zip("abc", names))
           + " from (values (1, 'a', 10), (2, 'b', 20)) as t(a, b, c) order by a")
    failed, body = hostile.invoke(sf_task(statement=sql))
    assert not failed, body
    assert [c["name"] for c in body["columns"]] == expected
    assert body["rows"] == [{expected[0]: 1, expected[1]: "a", expected[2]: 10},
                            {expected[0]: 2, expected[1]: "b", expected[2]: 20}]


MISMATCHED = {
    "rowtype-shorter-than-cells": sf.Tampered(sf.Rows(COLS, CELLS[:2]), row_type=COLS[:2]),
    "rowtype-longer-than-cells": sf.Tampered(sf.Rows(COLS, CELLS[:2]), row_type=COLS + [sf.column("D", "text")]),
    "empty-rowtype-with-data": sf.Tampered(sf.Rows(COLS, CELLS[:2]), row_type=[]),
    "ragged-row-in-partition-1": sf.Tampered(sf.Rows(COLS, CELLS[:4], partition_rows=2),
                                             raw_partitions={1: partition([["3", "c", "30"], ["4", "d"]])}),
    "partition-1-has-fewer-rows-than-partitionInfo": sf.Tampered(sf.Rows(COLS, CELLS, partition_rows=3),
                                                                 partition_info={1: {"rowCount": 4}}),
    "partition-1-has-more-rows-than-partitionInfo": sf.Tampered(
        sf.Rows(COLS, CELLS, partition_rows=3), raw_partitions={1: partition(CELLS[3:] + [["7", "g", "70"]])}),
}


@pytest.mark.parametrize("case", list(MISMATCHED))
def test_shape_mismatches_fail_instead_of_returning_wrong_rows(stack, hostile, case):
    sql = f"select a, b, c from mismatch where case_name = '{case}'"
    stack.sf.register(sql, MISMATCHED[case])
    failed, body = hostile.invoke(sf_task(statement=sql))
    assert_error(failed, body, "upstream_failed")
    assert "rows" not in body


def test_result_set_too_large_code_is_too_large(stack, hostile):
    stack.sf.register(NAMED["too_big"], sf.Tampered(   # the executed result, with code 391908
        code="391908", message="Result set is too large; the response holds only part of it."))   # composed message
    failed, body = hostile.invoke(sf_task("too_big"))
    assert_error(failed, body, "too_large")
    for event in (rest_get("/v1/snowflake/too_big"), http_api("/v1/snowflake/too_big")):
        failed, response = hostile.invoke(event)
        assert not failed
        err = assert_http_error(response, 413, "too_large")
        assert err["details"]["snowflake_code"] == "391908"


# --- section 4: upstream echoes of the credential never reach the output ---------------------------

PAT_FORMS = {
    "verbatim": PAT,
    "authorization-header": f"Authorization: Bearer {PAT}",
    "lower-cased": PAT.lower(),
    "upper-cased": PAT.upper(),
    "percent-encoded": quote(PAT, safe=""),
    "json-u-escaped": None,   # \uXXXX escapes in the raw JSON bytes
}
ECHO_STATUS = {401: ("390144", None, "upstream_auth_failed", 502), 422: ("002003", "42S02", "sql_error", 422)}


def pat_echo(status: int, form: str) -> sf.Canned:
    code, sql_state, _, _ = ECHO_STATUS[status]
    if form == "json-u-escaped":
        raw = (f'{{"code":"{code}",' + (f'"sqlState":"{sql_state}",' if sql_state else "")
               + f'"message":"Request token {u_escaped(PAT)} is not accepted."}}').encode()
        return sf.Canned(status, raw)
    body = {"code": code, "message": f"Request token {PAT_FORMS[form]} is not accepted. [5f0c]"}
    if sql_state:
        body["sqlState"] = sql_state
    return sf.Canned(status, body)


def assert_no_pat(texts):
    needles = {PAT.lower(), quote(PAT, safe="").lower(), u_escaped(PAT).lower()}
    for text in texts:
        for needle in needles:
            assert needle not in text.lower(), f"the PAT leaked as {needle!r}: {text[:300]!r}"


@pytest.mark.parametrize("status", list(ECHO_STATUS))
@pytest.mark.parametrize("form", list(PAT_FORMS))
def test_snowflake_message_echoing_the_pat_is_redacted(stack, pat_fn, form, status):
    _, _, kind, http_status = ECHO_STATUS[status]
    stack.sf.register(NAMED["echo"], pat_echo(status, form))
    mark = output_mark(pat_fn)
    failed, body = pat_fn.invoke(sf_task("echo"))
    assert_error(failed, body, kind)
    failed, response = pat_fn.invoke(rest_get("/v1/snowflake/echo"))
    assert not failed
    assert_http_error(response, http_status, kind)
    assert_no_pat([*strings(body), *strings(response), output_since(pat_fn, mark)])


@pytest.mark.parametrize("status", [422, 401])
@pytest.mark.parametrize("template", ["Authorization: {{AUTHORIZATION}}", "token {{TOKEN}} is not valid here"],
                         ids=["authorization-header", "bare-jwt"])
def test_snowflake_message_echoing_the_jwt_is_redacted(stack, hostile, template, status):
    code, sql_state, kind, http_status = ECHO_STATUS[status]
    body = {"code": code, "message": f"SQL compilation error: request carried {template}"}
    if sql_state:
        body["sqlState"] = sql_state
    stack.sf.register(NAMED["echo"], sf.Canned(status, body))
    echoes, mark = len(stack.sf.echoed_tokens), output_mark(hostile)
    failed, body = hostile.invoke(sf_task("echo"))
    assert_error(failed, body, kind)
    failed, response = hostile.invoke(rest_get("/v1/snowflake/echo"))
    assert_http_error(response, http_status, kind)
    echoed = stack.sf.echoed_tokens[echoes:]
    assert len(echoed) >= 2 and all(JWT.fullmatch(t) for t in echoed), "the stand-in echoed the JWTs it was sent"
    # The signature is what makes a JWT a credential: not even a 24-character piece of it.
    pieces = {t.rsplit(".", 1)[1][i:i + 24].lower() for t in echoed for i in range(0, 320, 24)} - {""}
    for text in [*strings(body), *strings(response), output_since(hostile, mark)]:
        assert not JWT.search(text), f"a JWT reached the output: {text[:300]!r}"
        assert not any(p in text.lower() for p in pieces), f"part of a JWT signature leaked: {text[:300]!r}"


# --- section 6: memory stays bounded by the function's memory size (256 MB here) -------------------

def test_gzip_bomb_partition_is_refused_once_within_memory(stack):
    f = stack.start_function(env={"SNOWFLAKE_SECRET": SF_SECRET, "SNOWFLAKE_ALLOW_AD_HOC": "true"})
    sql = "select s from gzip_bomb"
    rows = sf.Rows([sf.column("S", "text")], [["a"], ["b"], ["c"], ["d"]], partition_rows=2)
    stack.sf.register(sql, sf.Tampered(rows, raw_partitions={1: gzip_bomb()}))
    try:
        failed, body = f.invoke(sf_task(statement=sql))
        peak = vm_hwm(f)
    finally:
        f.stop()
    handles = stack.sf.handles_for(sql)
    assert len(handles) == 1
    assert_error(failed, body, "upstream_failed", "too_large")
    gets = partition_gets(stack, handles[0], 1)
    assert gets == 1, f"the bomb is requested once, never retried (got {gets}; peak RSS {peak / MB:.0f} MB)"
    assert peak < PEAK_LIMIT, f"peak RSS {peak / MB:.0f} MB"


@pytest.mark.parametrize("encoding", ["gzip", "identity"])
def test_50_mb_inline_partition_0_fails_within_memory(stack, encoding):
    f = stack.start_function(env={"SNOWFLAKE_SECRET": SF_SECRET, "SNOWFLAKE_ALLOW_AD_HOC": "true"})
    sql = f"select id, name, signup_date from huge_partition_0_{encoding}"
    headers = {"Content-Encoding": "gzip"} if encoding == "gzip" else {}
    stack.sf.register(sql, sf.Canned(200, huge_inline_result(encoding == "gzip"), headers))
    try:
        failed, body = f.invoke(sf_task(statement=sql))
        peak = vm_hwm(f)
    finally:
        f.stop()
    assert_error(failed, body, "upstream_failed", "too_large")
    assert len(posts(stack, sql)) == 1, "never retried"
    assert peak < PEAK_LIMIT, f"peak RSS {peak / MB:.0f} MB"


# --- section 7: caller classes, cursors bound to their parameters, expired results, redirects ------

INSERT = sf_task("add_customers", params={"names": ["a", "b"], "cities": ["x", "y"]})


@pytest.mark.parametrize("style", ["rest", "http-api"])
def test_http_callers_may_not_run_a_writing_statement(stack, fn, style):
    body = json.dumps(INSERT)
    event = (rest_get("/v1/fetch", method="POST", body=body) if style == "rest"
             else http_api("/v1/fetch", method="POST", body=body))
    requests = len(stack.sf.requests)
    failed, response = fn.invoke(event)
    assert not failed, "HTTP callers get a proxy response"
    assert_http_error(response, 403, "forbidden")
    assert len(stack.sf.requests) == requests, "no request reached Snowflake"


def test_direct_and_scheduled_callers_still_run_the_insert(stack, fn):
    sql = stack.sf_sql["add_customers"]
    before = len(posts(stack, sql))
    failed, body = fn.invoke(INSERT)
    assert not failed, body
    assert body["rows"] == [{"number of rows inserted": 2}]
    scheduled = {"version": "0", "id": "5b0f7e1c-4a1d-4c1e-9a55-1f2e3d4c5b6a", "detail-type": "Scheduled Event",
                 "source": "aws.events", "account": "123456789012", "time": "2026-01-16T06:00:00Z",
                 "region": "us-east-1", "resources": ["arn:aws:events:us-east-1:123456789012:rule/hostile"],
                 "detail": INSERT}
    failed, body = fn.invoke(scheduled)
    assert not failed, body
    assert len(posts(stack, sql)) == before + 2


def test_cursor_is_bound_to_the_parameters_it_was_issued_for(fn):
    failed, body = fn.invoke(customers(max_rows=5))
    assert not failed, body
    cursor = body["next_cursor"]
    failed, body = fn.invoke(sf_task("customers_by_city", params={"city": "Paris"}, cursor=cursor, max_rows=5))
    assert_error(failed, body, "bad_request")
    failed, response = fn.invoke(rest_get("/v1/snowflake/customers_by_city",
                                          {"city": "Paris", "cursor": cursor, "max_rows": "5"}))
    assert_http_error(response, 400, "bad_request")
    for task in (customers(cursor=cursor, max_rows=5), sf_task("customers_by_city", cursor=cursor, max_rows=5)):
        failed, page = fn.invoke(task)
        assert not failed, page
        assert [r["ID"] for r in page["rows"]] == [6, 7, 8, 9, 10]
    for query in ({"city": "Berlin", "cursor": cursor, "max_rows": "5"}, {"cursor": cursor, "max_rows": "5"}):
        failed, response = fn.invoke(rest_get("/v1/snowflake/customers_by_city", query))
        assert response["statusCode"] == 200, response
        assert [r["ID"] for r in http_body(response)["rows"]] == [6, 7, 8, 9, 10]


@pytest.mark.parametrize("status", [422, 404])
def test_cursor_whose_result_snowflake_forgot_is_cursor_expired(stack, fn, status):
    failed, body = fn.invoke(customers(max_rows=5))
    assert not failed, body
    cursor, handle = body["next_cursor"], body["meta"]["statement_handle"]
    assert stack.sf.forget(handle, status)
    failed, body = fn.invoke(customers(cursor=cursor, max_rows=5))
    assert_error(failed, body, "cursor_expired")
    failed, response = fn.invoke(rest_get("/v1/snowflake/customers_by_city", {"cursor": cursor}))
    assert_http_error(response, 400, "cursor_expired")
    status_gets = [r for r in stack.sf.requests if r["path"] == f"{sf.BASE}/{handle}"]
    assert status_gets and all(r["status"] == status for r in status_gets[-2:]), "the stand-in did forget"


class OtherOrigin:
    """Another origin a redirect points to: counts requests, answers a plausible result."""

    def __init__(self):
        requests = self.requests = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                requests.append({"method": self.command, "path": self.path, "body": self.rfile.read(length),
                                 "authorization": self.headers.get("Authorization") is not None})
                data = json.dumps({"resultSetMetaData": {"numRows": 1, "format": "jsonv2",
                                                         "partitionInfo": [{"rowCount": 1, "uncompressedSize": 20}],
                                                         "rowType": [sf.column("S", "text")]},
                                   "data": [["from another origin"]], "code": "090001", "sqlState": "00000",
                                   "statementHandle": "01b2c3d4-0000-4000-0000-0000000000ff",
                                   "message": "Statement executed successfully."}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def other_origin():
    origin = OtherOrigin()
    yield origin
    origin.server.shutdown()


@pytest.mark.parametrize("status", [307, 308])
def test_submit_redirect_to_another_origin_is_not_followed(stack, hostile, other_origin, status):
    location = f"{other_origin.url}{sf.BASE}?requestId=5b0f7e1c-4a1d-4c1e-9a55-1f2e3d4c5b6a"
    stack.sf.register(NAMED["redirected"], sf.Canned(status, None, {"Location": location}))
    seen = len(other_origin.requests)
    failed, body = hostile.invoke(sf_task("redirected"))
    failed_http, response = hostile.invoke(rest_get("/v1/snowflake/redirected"))
    assert other_origin.requests[seen:] == [], "nothing was re-posted to the other origin"
    assert_error(failed, body, "upstream_failed")
    assert not failed_http
    assert_http_error(response, 502, "upstream_failed")
