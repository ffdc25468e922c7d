"""Asking Snowflake for less, through the real binary: a cursor past
partition 0 fetches only its partitions (the warm sandbox remembers the
result's metadata), and a statement marked `cache_secs` pages the stored
result of an identical execution instead of running the statement again."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT, SF_SECRET

from emulators import snowflake as sf

CACHED = """
[customers_cached]
description = "customers_by_city, with its result reused for a minute"
sql = \"\"\"
select id, name, city, signup_date, balance, last_login, profile
from customers
where city = ? and signup_date >= ?
order by id
\"\"\"
cache_secs = 60
params = [
  { name = "city", type = "text" },
  { name = "since", type = "date", default = "2024-01-01" },
]
"""


@pytest.fixture(scope="module")
def cached(stack, tmp_path_factory):
    path = tmp_path_factory.mktemp("statements") / "statements.toml"
    path.write_text((ROOT / "statements.toml").read_text() + CACHED)
    return stack.start_function(env={"SNOWFLAKE_SECRET": SF_SECRET, "SNOWFLAKE_STATEMENTS_FILE": str(path)})


def answers(stack, since):
    """GETs of a statement's answer (with partition 0) rather than of a partition."""
    return [r for r in stack.sf.requests[since:]
            if r["method"] == "GET" and r["path"].startswith(sf.BASE + "/") and "partition" not in r["query"]
            and not r["path"].endswith("/cancel")]


def submits(stack, since):
    return [r for r in stack.sf.requests[since:] if r["method"] == "POST" and r["path"] == sf.BASE]


def task(query, city, **fields):
    return {"provider": "snowflake", "query": query, "params": {"city": city}, **fields}


def test_cursors_past_partition_zero_fetch_only_partitions(stack, fn):
    mark = len(stack.sf.requests)
    seen, cursor, pages, in_zero = [], None, 0, 0
    while True:
        failed, body = fn.invoke(task("customers_by_city", "Berlin", max_rows=300,
                                      **({"cursor": cursor} if cursor else {})))
        assert not failed, body
        seen += [r["ID"] for r in body["rows"]]
        if pages and body["meta"]["page"]["partition"] == 0:
            in_zero += 1
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == list(range(1, 2501)) and pages == 9
    assert len(submits(stack, mark)) == 1
    assert pages - 1 > in_zero, "some pages start past partition 0"
    assert len(answers(stack, mark)) == in_zero, \
        "only a page that continues inside partition 0 asks for the statement's answer again"
    partitions = {r["query"]["partition"] for r in stack.sf.requests[mark:] if "partition" in r["query"]}
    assert len(partitions) >= 2


def test_a_cursor_from_another_sandbox_loads_the_answer_once(stack, fn):
    failed, first = fn.invoke(task("customers_by_city", "Berlin", max_rows=700))
    assert not failed
    other = stack.start_function(env={"SNOWFLAKE_SECRET": SF_SECRET})
    try:
        mark = len(stack.sf.requests)
        failed, page = other.invoke({"provider": "snowflake", "query": "customers_by_city",
                                     "cursor": first["next_cursor"], "max_rows": 700})
        assert not failed, page
        assert page["rows"][0]["ID"] == 701
        assert len(answers(stack, mark)) == 1, "a cold sandbox reads the result's answer once"
        assert submits(stack, mark) == []
    finally:
        other.stop()


def test_cache_secs_reuses_an_identical_execution(stack, cached):
    mark = len(stack.sf.requests)
    failed, first = cached.invoke(task("customers_cached", "Oslo"))
    assert not failed, first
    assert first["meta"]["cache"] == "miss"
    failed, second = cached.invoke(task("customers_cached", "Oslo"))
    assert not failed, second
    assert second["meta"]["cache"] == "hit"
    emf = [json.loads(line) for line in cached.output().splitlines() if '"_aws"' in line]
    assert emf[-1]["UpstreamCacheHits"] == 1, "the metric counts the reuse"
    assert second["rows"] == first["rows"] and second["row_count"] == first["row_count"] > 0
    assert second["meta"]["statement_handle"] == first["meta"]["statement_handle"]
    assert len(submits(stack, mark)) == 1, "the statement ran once"
    # Other bindings are another execution.
    failed, berlin = cached.invoke(task("customers_cached", "Berlin", max_rows=5))
    assert not failed and berlin["meta"]["cache"] == "miss"
    assert len(submits(stack, mark)) == 2
    # Statements without cache_secs always run, and say nothing of a cache.
    failed, plain = cached.invoke(task("customers_by_city", "Oslo", max_rows=5))
    assert not failed and "cache" not in plain["meta"]
    failed, plain = cached.invoke(task("customers_by_city", "Oslo", max_rows=5))
    assert len(submits(stack, mark)) == 4


def test_cache_secs_runs_again_when_the_stored_result_is_gone(stack, cached):
    failed, first = cached.invoke(task("customers_cached", "Lisboa", max_rows=3))
    assert not failed, first
    stack.sf.forget(first["meta"]["statement_handle"])
    mark = len(stack.sf.requests)
    failed, again = cached.invoke(task("customers_cached", "Lisboa", max_rows=3))
    assert not failed, again
    assert again["meta"]["cache"] == "miss" and again["rows"] == first["rows"]
    assert len(submits(stack, mark)) == 1


def test_cache_secs_on_a_statement_that_changes_data_stops_start_up(stack, tmp_path):
    path = tmp_path / "statements.toml"
    path.write_text('[wipe]\nsql = "delete from customers"\ncache_secs = 60\n')
    f = stack.start_function(env={"SNOWFLAKE_SECRET": SF_SECRET, "SNOWFLAKE_STATEMENTS_FILE": str(path)})
    try:
        f.proc.wait(10)
        assert f.proc.returncode != 0
        assert "configuration_error" in f.output() and "cache_secs" in f.output()
    finally:
        f.stop()
