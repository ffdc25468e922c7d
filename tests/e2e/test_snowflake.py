"""The Snowflake provider through the real binary against the SQL API
stand-in, which runs the statements on DuckDB over the demo tables
(emulators/snowflake_demo.py): JWT and PAT auth, typed bindings, partitions,
cursors, polling and cancel, retries without double execution, rotation, SQL
errors."""

from __future__ import annotations

import json
import time

import pytest
from conftest import SF_PAT, SF_SECRET, http_body
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from test_behaviour import rest_get

from emulators import harness
from emulators import snowflake as sf


def sf_task(query=None, **fields):
    task = {"provider": "snowflake", **fields}
    if query:
        task["query"] = query
    return task


def customers(**fields):
    return sf_task("customers_by_city", params={"city": "Berlin"}, **fields)


def posts(stack, sql):
    norm = sf.normalise(sql)
    return [r for r in stack.sf.requests if r["method"] == "POST" and r["path"] == sf.BASE
            and sf.normalise((r.get("body") or {}).get("statement", "")) == norm]


@pytest.fixture(scope="module")
def adhoc(stack):
    """A function that accepts ad-hoc statements from direct invocations."""
    return stack.start_function(env={"SNOWFLAKE_SECRET": SF_SECRET, "SNOWFLAKE_ALLOW_AD_HOC": "true",
                                     "DEADLINE_MARGIN_MS": "300"}, timeout=6.0)


def test_named_query_binds_typed_parameters_and_authenticates_with_a_jwt(stack, fn):
    sql = stack.sf_sql["customers_by_city"]
    before = len(posts(stack, sql))
    failed, body = fn.invoke(customers(max_rows=10))
    assert not failed, body
    request = posts(stack, sql)[before]
    assert request["body"]["bindings"] == {"1": {"type": "TEXT", "value": "Berlin"},
                                           "2": {"type": "DATE", "value": "1704067200000"}}
    assert request["body"]["warehouse"] == "REPORTING_WH" and request["body"]["role"] == "SECRET_FETCH_READER"
    assert request["body"]["timeout"] >= 1
    assert "Berlin" not in request["body"]["statement"], "values never enter the SQL text"
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["x-snowflake-authorization-token-type"] == "KEYPAIR_JWT"
    assert headers["user-agent"].startswith("secret-fetch/")
    assert request["query"]["requestId"] and "retry" not in request["query"]


def test_decoded_types(fn):
    failed, body = fn.invoke(customers(max_rows=3))
    assert not failed, body
    types = {c["name"]: c["type"] for c in body["columns"]}
    assert types == {"ID": "integer", "NAME": "string", "CITY": "string", "SIGNUP_DATE": "date",
                     "BALANCE": "decimal", "LAST_LOGIN": "timestamp", "PROFILE": "variant"}
    first = body["rows"][0]
    assert first == {"ID": 1, "NAME": "Customer 1", "CITY": "Berlin", "SIGNUP_DATE": "2024-01-02", "BALANCE": 0.37,
                     "LAST_LOGIN": "2024-01-02T05:04:05.001000000+01:00",
                     "PROFILE": {"tier": "basic", "tags": ["a", 1]}}
    assert body["rows"][1]["LAST_LOGIN"].endswith("-05:00")


def test_number_beyond_2_53_decodes_as_a_string(adhoc):
    """customers_by_city does not select EXTERNAL_ID (a NUMBER(38,0) beyond 2^53): ask for it."""
    failed, body = adhoc.invoke(sf_task(statement="select id, external_id from customers where id <= ? order by id",
                                         bindings=[2]))
    assert not failed, body
    assert {c["name"]: c["type"] for c in body["columns"]} == {"ID": "integer", "EXTERNAL_ID": "integer"}
    assert body["rows"] == [{"ID": 1, "EXTERNAL_ID": "9007199254740994"}, {"ID": 2, "EXTERNAL_ID": "9007199254740995"}]


def test_cursor_pages_through_every_partition_without_rerunning(stack, fn):
    sql = stack.sf_sql["customers_by_city"]
    runs = stack.sf.executions[sf.normalise(sql)]
    partition_gets = stack.sf.partition_gets
    seen, cursor, pages = [], None, 0
    while True:
        task = customers(max_rows=700, **({"cursor": cursor} if cursor else {}))
        failed, body = fn.invoke(task)
        assert not failed, body
        seen += [r["ID"] for r in body["rows"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == list(range(1, 2501)), "every row once, in order"
    assert pages == 4
    assert stack.sf.executions[sf.normalise(sql)] == runs + 1, "cursors continue the stored result"
    assert stack.sf.partition_gets > partition_gets


def test_byte_budget_pages_without_max_rows(stack):
    f = stack.start_function(env={"SNOWFLAKE_SECRET": SF_SECRET, "MAX_RESPONSE_BYTES": "200000"})
    total, cursor = 0, None
    while True:
        event = rest_get("/v1/snowflake/customers_by_city", {"city": "Berlin", **({"cursor": cursor} if cursor else {})})
        failed, response = f.invoke(event)
        assert response["statusCode"] == 200, response
        assert len(json.dumps(response)) <= 200000
        body = http_body(response)
        total += body["row_count"]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert total == 2500


def test_tampered_and_foreign_cursors_are_rejected(fn):
    failed, body = fn.invoke(customers(max_rows=5))
    cursor = body["next_cursor"]
    failed, page = fn.invoke(sf_task("customers_by_city", cursor=cursor, max_rows=5))
    assert not failed and page["rows"][0]["ID"] == 6, "a cursor needs no parameters again"
    payload, tag = cursor.split(".")
    forged = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + tag
    for task in (customers(cursor=forged), sf_task("daily_orders", params={"start": "2026-01-01", "end": "2026-01-02"}, cursor=cursor)):
        failed, body = fn.invoke(task)
        assert failed and body["errorType"] == "bad_request" and "invalid cursor" in body["errorMessage"]
    failed, response = fn.invoke(rest_get("/v1/snowflake/customers_by_city", {"city": "Berlin", "cursor": forged}))
    assert response["statusCode"] == 400


def test_multi_row_insert_uses_array_bindings(stack, fn):
    sql = stack.sf_sql["add_customers"]
    failed, body = fn.invoke(sf_task("add_customers", params={"names": ["a", "b"], "cities": ["x", "y"]}))
    assert not failed, body
    assert body["rows"] == [{"number of rows inserted": 2}]
    assert posts(stack, sql)[-1]["body"]["bindings"]["1"] == {"type": "TEXT", "value": ["a", "b"]}


@pytest.mark.parametrize(
    "task, status, kind",
    [
        (sf_task("nope"), 404, "unknown_query"),
        (sf_task("customers_by_city"), 400, "bad_request"),
        (sf_task("customers_by_city", params={"city": "x", "since": "yesterday"}), 400, "bad_request"),
        (sf_task(statement="select 1"), 400, "bad_request"),
    ],
)
def test_request_errors_over_http_and_direct(fn, task, status, kind):
    failed, body = fn.invoke(task)
    assert failed and body["errorType"] == kind, body
    event = rest_get("/v1/fetch", method="POST", body=json.dumps(task))
    failed, response = fn.invoke(event)
    assert response["statusCode"] == status and http_body(response)["error"]["kind"] == kind


def test_ad_hoc_statements_only_when_enabled_and_never_over_http(stack, adhoc):
    sql = "select 42 as answer"
    failed, body = adhoc.invoke(sf_task(statement=sql))
    assert not failed and body["rows"] == [{"ANSWER": 42}], body
    failed, response = adhoc.invoke(rest_get("/v1/fetch", method="POST", body=json.dumps(sf_task(statement=sql))))
    assert response["statusCode"] == 400 and "HTTP" in http_body(response)["error"]["message"]


def test_sql_errors_carry_sql_state(stack, adhoc):
    sql = "select * from customerz"
    failed, body = adhoc.invoke(sf_task(statement=sql))
    assert failed and body["errorType"] == "sql_error"
    assert "42S02" in body["errorMessage"] and "CUSTOMERZ" in body["errorMessage"]


def test_long_statement_is_polled(stack, adhoc):
    sql = "select 'done' as s"
    stack.sf.register(sql, sf.Slow(1.0))
    failed, body = adhoc.invoke(sf_task(statement=sql))
    assert not failed and body["rows"] == [{"S": "done"}], body
    assert stack.sf.status_gets > 0


def test_statement_outliving_the_deadline_is_cancelled(stack, adhoc):
    sql = "select 'forever' as s"
    stack.sf.register(sql, sf.Slow(60))
    cancels = stack.sf.cancels
    started = time.monotonic()
    failed, body = adhoc.invoke(sf_task(statement=sql), timeout=6.0)
    assert failed and body["errorType"] == "deadline_exceeded", body
    assert "cancelled" in body["errorMessage"]
    assert time.monotonic() - started < 6.0
    assert stack.sf.cancels == cancels + 1


def test_throttling_is_retried_with_the_same_request_id(stack, adhoc):
    sql = "select 'throttled twice, then fine' as s"
    stack.sf.register(sql, sf.Throttle(2, retry_after=1))
    before = len(posts(stack, sql))
    failed, body = adhoc.invoke(sf_task(statement=sql))
    assert not failed, body
    assert body["rows"] == [{"S": "throttled twice, then fine"}]
    attempts = posts(stack, sql)[before:]
    assert len(attempts) == 3
    assert len({a["query"]["requestId"] for a in attempts}) == 1
    assert [a["query"].get("retry") for a in attempts] == [None, "true", "true"]
    assert stack.sf.executions[sf.normalise(sql)] == 1


def test_lost_answer_is_resubmitted_without_running_twice(stack, adhoc):
    sql = "insert into audit (event_id, note) values (1, 'lost answer')"
    stack.sf.register(sql, sf.ServerError(1, status=503, executed=True))
    dedup = stack.sf.dedup_hits
    failed, body = adhoc.invoke(sf_task(statement=sql))
    assert not failed, body
    assert body["rows"] == [{"number of rows inserted": 1}]
    assert stack.sf.executions[sf.normalise(sql)] == 1, "the insert ran once"
    assert stack.sf.query("select count(*) from audit where note = 'lost answer'") == [(1,)], "one row, not two"
    assert stack.sf.dedup_hits == dedup + 1


def test_rotated_key_pair_refreshes_the_secret_once(stack):
    new_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    new_pem = new_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
    new_pub = new_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
    stack.moto.put("rotate/sf", json.dumps({"private_key": harness.snowflake_private_key(), "user": "svc_secret_fetch"}))
    f = stack.start_function(env={"SNOWFLAKE_SECRET": "rotate/sf"})
    old_pub = (harness.SNOWFLAKE_KEYS / "rsa_key.pub").read_bytes()
    try:
        assert not f.invoke(customers(max_rows=1))[0]
        stack.moto.put("rotate/sf", json.dumps({"private_key": new_pem, "user": "svc_secret_fetch"}))
        stack.sf.set_public_key(new_pub)
        calls = stack.secret_calls()
        failed, body = f.invoke(customers(max_rows=1))
        assert not failed, body
        assert stack.secret_calls() - calls == 1
        assert any(r.startswith("jwt fingerprint") for r in stack.sf.auth_failures)
    finally:
        stack.sf.set_public_key(old_pub)


def test_programmatic_access_token(stack):
    stack.moto.put("pat/sf", json.dumps({"token": SF_PAT, "account": "acme-analytics"}))
    f = stack.start_function(env={"SNOWFLAKE_SECRET": "pat/sf"})
    failed, body = f.invoke(customers(max_rows=1))
    assert not failed, body
    last = stack.sf.requests[-1]
    assert {k.lower(): v for k, v in last["headers"].items()}["x-snowflake-authorization-token-type"] == "PROGRAMMATIC_ACCESS_TOKEN"


def test_password_secret_is_refused_with_guidance(stack):
    stack.moto.put("password/sf", json.dumps({"user": "svc", "password": "SENTINEL-password-91"}))
    f = stack.start_function(env={"SNOWFLAKE_SECRET": "password/sf"})
    failed, body = f.invoke(customers())
    assert failed and body["errorType"] == "secret_malformed"
    assert "key pair" in body["errorMessage"] and "SENTINEL" not in body["errorMessage"]
