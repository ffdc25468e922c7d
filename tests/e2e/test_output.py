"""The output stage through the real binary, against moto's S3 (path-style,
`AWS_ENDPOINT_URL_S3`): objects are read back (JSONL as text, CSV and
Parquet with pyarrow and DuckDB) and compared with the rows the JSON
response returns for the same task; a second delivery of the same occurrence
writes nothing and calls no upstream; destinations outside
`OUTPUT_S3_PREFIXES` are refused before any call; a multi-partition
Snowflake result beyond 6 MB lands whole, in parts."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import pytest
from conftest import ROOT, SECRET, SF_SECRET, http_body
from test_behaviour import rest_get

from bench import sf_tables
from emulators import snowflake as sf
from emulators.snowflake_demo import statements

BUCKET = "secret-fetch-out"
PREFIX = f"s3://{BUCKET}/exports/"
PART = 5 * 1024 * 1024

BIG = """
[big_export]
description = "a canned 160,000-row result over 32 partitions (test_output.py)"
sql = "select id, name, city, amount, day, qty from big_export"

[broken_export]
description = "the same result, with partition 30 corrupt (test_output.py)"
sql = "select id, name, city, amount, day, qty from broken_export"
"""

# The benchmark's generated table (bench/sf_tables.py): 160,000 rows in 32 partitions.
BIG_ROWS, BIG_PER_PARTITION = 160_000, 5_000


@pytest.fixture(scope="module")
def s3(stack):
    client = stack.moto.s3()
    for bucket in (BUCKET, "not-allowed-bucket"):
        try:
            client.create_bucket(Bucket=bucket)
        except client.exceptions.BucketAlreadyOwnedByYou:
            pass
    return client


@pytest.fixture(scope="module")
def statements_file(stack, tmp_path_factory):
    path = tmp_path_factory.mktemp("statements") / "statements.toml"
    path.write_text((ROOT / "statements.toml").read_text() + BIG)
    sql = statements(path)["big_export"]
    rows = sf.Rows(sf_tables.ROW_TYPE, [sf_tables.cells(i) for i in range(1, BIG_ROWS + 1)], BIG_PER_PARTITION,
                   shared_cache={})
    stack.sf.register(sql, rows)
    stack.sf.register(statements(path)["broken_export"], sf.Tampered(rows, raw_partitions={30: b"not gzip"}))
    return path


def output_env(stack, statements_file, **extra):
    return {"ALPHA_VANTAGE_SECRET": SECRET, "SNOWFLAKE_SECRET": SF_SECRET,
            "SNOWFLAKE_STATEMENTS_FILE": str(statements_file), "AWS_ENDPOINT_URL_S3": stack.moto.url,
            "OUTPUT_S3_PREFIXES": f"{PREFIX}, s3://missing-bucket-zz/x/", "OUTPUT_PART_BYTES": str(PART),
            "AWS_LAMBDA_LOG_LEVEL": "TRACE", **extra}


@pytest.fixture(scope="module")
def writer(stack, s3, statements_file):
    f = stack.start_function(env=output_env(stack, statements_file), timeout=120)
    yield f
    f.stop()


def av_requests(stack, symbol) -> int:
    return stack.av("/__stats")["by_symbol"].get(symbol.upper(), 0)


def daily(symbol, **fields):
    return {"provider": "alpha_vantage", "function": "TIME_SERIES_DAILY", "symbol": symbol, **fields}


def ok(f, event, timeout=None):
    failed, body = f.invoke(event, timeout=timeout)
    assert not failed, body
    return body


def read(s3, uri: str) -> tuple[bytes, dict]:
    assert uri.startswith(f"s3://{BUCKET}/")
    obj = s3.get_object(Bucket=BUCKET, Key=uri.removeprefix(f"s3://{BUCKET}/"))
    return obj["Body"].read(), obj


def keys(s3, prefix) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]


def test_a_scheduled_task_lands_once_as_jsonl(stack, writer, s3):
    symbol = "IBM"
    task = daily(symbol, start="2025-12-01", end="2025-12-31")
    expected = ok(writer, task)
    out = {"uri": PREFIX + "av/{function}/{symbol}/dt={date}/{time}.jsonl", "format": "jsonl"}
    scheduled = {**task, "output": out, "as_of": "2026-01-15T06:30:00Z"}
    secrets, before = stack.secret_calls(), av_requests(stack, symbol)
    body = ok(writer, {**scheduled, "cache": False})
    assert av_requests(stack, symbol) == before + 1
    manifest = body["output"]
    assert "rows" not in body and body["row_count"] == expected["row_count"] > 0
    assert body["columns"] == expected["columns"] and body["provider"] == "alpha_vantage"
    assert manifest["uri"] == f"{PREFIX}av/TIME_SERIES_DAILY/IBM/dt=2026-01-15/063000.jsonl"
    assert manifest["written"] is True and manifest["format"] == "jsonl"
    assert manifest["rows"] == expected["row_count"]
    data, obj = read(s3, manifest["uri"])
    assert manifest["bytes"] == len(data) and manifest["etag"] == obj["ETag"]
    assert [json.loads(line) for line in data.decode().splitlines()] == expected["rows"]
    assert data.endswith(b"\n")
    assert obj["ContentType"] == "application/x-ndjson"
    assert obj["Metadata"] == {"provider": "alpha_vantage", "function": "TIME_SERIES_DAILY",
                               "symbol": "IBM", "rows": str(expected["row_count"])}
    # A second delivery of the same occurrence: nothing fetched, nothing written.
    before, secrets = av_requests(stack, symbol), stack.secret_calls()
    again = ok(writer, {**scheduled, "cache": False})
    assert av_requests(stack, symbol) == before, "a retried schedule makes no upstream call"
    assert stack.secret_calls() == secrets, "nor reads the secret"
    assert again["output"] == {**manifest, "written": False}
    data2, obj2 = read(s3, manifest["uri"])
    assert data2 == data and obj2["LastModified"] == obj["LastModified"]


def test_the_eventbridge_envelope_time_names_the_object(stack, writer, s3):
    detail = daily("MSFT", start="2025-12-01", output={"uri": PREFIX + "eb/{symbol}-{date}-{time}.csv"})
    event = {"version": "0", "id": "5c2b", "detail-type": "Scheduled Event", "source": "aws.events",
             "account": "123456789012", "time": "2026-01-14T23:00:00Z", "region": "us-east-1",
             "resources": ["arn:aws:events:us-east-1:123456789012:rule/nightly"], "detail": detail}
    body = ok(writer, event)
    assert body["output"]["uri"] == f"{PREFIX}eb/MSFT-2026-01-14-230000.csv"
    before = av_requests(stack, "MSFT")
    again = ok(writer, {**event, "id": "another-delivery"})
    assert again["output"]["written"] is False and av_requests(stack, "MSFT") == before


def test_csv_reads_back_with_pyarrow_and_duckdb(stack, writer, s3, tmp_path):
    import duckdb
    import pyarrow.csv as pcsv

    task = daily("AAPL", start="2025-11-01", end="2025-12-31")
    expected = ok(writer, task)
    body = ok(writer, {**task, "output": {"uri": PREFIX + "csv/{symbol}/{date}.csv", "format": "csv"},
                       "as_of": "2026-01-02T00:00:00+01:00"})
    assert body["output"]["uri"].endswith("/csv/AAPL/2026-01-01.csv"), "as_of is taken in UTC"
    data, obj = read(s3, body["output"]["uri"])
    assert obj["ContentType"].startswith("text/csv")
    names = [c["name"] for c in expected["columns"]]
    assert data.split(b"\r\n")[0].decode() == ",".join(names)
    table = pcsv.read_csv(io.BytesIO(data)).to_pylist()
    assert len(table) == expected["row_count"]
    for got, want in zip(table, expected["rows"], strict=True):
        assert str(got["date"]) == want["date"]
        assert got["close"] == pytest.approx(want["close"]) and got["volume"] == want["volume"]
    path = tmp_path / "out.csv"
    path.write_bytes(data)
    rows = duckdb.sql(f"select * from read_csv('{path}', header = true)").fetchall()
    assert len(rows) == expected["row_count"]
    assert [list(map(str, r)) for r in csv.reader(io.StringIO(data.decode()))][1][0] == expected["rows"][0]["date"]


def test_destinations_outside_the_allowed_prefixes_make_no_call(stack, writer, s3):
    before, secrets = av_requests(stack, "ORCL"), stack.secret_calls()
    for uri in (f"s3://{BUCKET}/elsewhere/x.jsonl", "s3://not-allowed-bucket/exports/x.jsonl",
                f"s3://{BUCKET}/exports-old/x.jsonl", PREFIX + "../x.jsonl", PREFIX + "{query}.jsonl",
                PREFIX + "{nope}.jsonl", PREFIX + "{symbol}/", f"s3://{BUCKET}/exports"):
        failed, body = writer.invoke(daily("ORCL", output={"uri": uri, "format": "jsonl"}))
        assert failed and body["errorType"] == "bad_request", (uri, body)
    failed, body = writer.invoke(daily("OR/CL", output={"uri": PREFIX + "{symbol}.jsonl"}))
    assert failed and body["errorType"] == "bad_request"
    assert av_requests(stack, "ORCL") == before and stack.secret_calls() == secrets
    assert keys(s3, "elsewhere/") == [] and keys(s3, "exports-old/") == []


def test_http_callers_need_the_deployment_to_allow_it(stack, writer, s3, statements_file):
    task = daily("IBM", start="2025-12-01", output={"uri": PREFIX + "http/{symbol}.jsonl"})
    response = writer.invoke(rest_get("/v1/fetch", method="POST", body=json.dumps(task)))[1]
    assert response["statusCode"] == 400 and http_body(response)["error"]["kind"] == "bad_request"
    assert "OUTPUT_ALLOW_HTTP" in http_body(response)["error"]["message"]
    assert keys(s3, "exports/http/") == []
    allowed = stack.start_function(env=output_env(stack, statements_file, OUTPUT_ALLOW_HTTP="true"))
    try:
        response = allowed.invoke(rest_get("/v1/fetch", method="POST", body=json.dumps(task)))[1]
        assert response["statusCode"] == 200, response
        assert http_body(response)["output"]["written"] is True
        assert keys(s3, "exports/http/") == ["exports/http/IBM.jsonl"]
    finally:
        allowed.stop()


def test_write_failures_are_typed_and_nothing_is_returned_as_success(stack, writer, s3):
    failed, body = writer.invoke(daily("IBM", output={"uri": "s3://missing-bucket-zz/x/a.jsonl"}))
    assert failed and body["errorType"] == "output_bucket_not_found", body
    assert "missing-bucket-zz" in body["errorMessage"]


def test_snowflake_result_beyond_6_mb_lands_whole_in_parts(stack, writer, s3):
    sql = statements(Path(writer.env["SNOWFLAKE_STATEMENTS_FILE"]))["big_export"]
    runs = stack.sf.executions[sf.normalise(sql)]
    task = {"provider": "snowflake", "query": "big_export",
            "output": {"uri": PREFIX + "sf/{query}/{date}.jsonl"}, "as_of": "2026-01-15T00:00:00Z"}
    body = ok(writer, task, timeout=120)
    manifest = body["output"]
    assert manifest["written"] and manifest["rows"] == BIG_ROWS == body["row_count"]
    assert manifest["bytes"] > 6_000_000, "beyond what any response could carry"
    data, obj = read(s3, manifest["uri"])
    assert len(data) == manifest["bytes"]
    parts = int(obj["ETag"].strip('"').rsplit("-", 1)[1])
    assert 2 <= parts <= len(data) // PART, "written as a multipart upload of parts of at least PART bytes"
    lines = data.decode().splitlines()
    assert len(lines) == BIG_ROWS
    first, last = json.loads(lines[0]), json.loads(lines[-1])
    assert first == {"ID": 1, "NAME": "Customer 1", "CITY": "Oslo", "AMOUNT": 0.37, "DAY": "2024-01-02", "QTY": 1}
    assert last["ID"] == BIG_ROWS
    # The rows equal the paged JSON response's first page.
    page = ok(writer, {"provider": "snowflake", "query": "big_export", "max_rows": 1000})
    assert [json.loads(line) for line in lines[:1000]] == page["rows"]
    assert stack.sf.executions[sf.normalise(sql)] == runs + 2
    again = ok(writer, task, timeout=120)
    assert again["output"]["written"] is False
    assert stack.sf.executions[sf.normalise(sql)] == runs + 2, "a second delivery runs nothing"
    # No multipart upload is left behind.
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_a_large_snowflake_result_lands_whole_as_parquet(stack, writer, s3, tmp_path):
    import pyarrow.parquet as pq

    task = {"provider": "snowflake", "query": "big_export",
            "output": {"uri": PREFIX + "sf/{query}/{date}.parquet"}, "as_of": "2026-01-16T00:00:00Z"}
    manifest = ok(writer, task, timeout=120)["output"]
    assert manifest["written"] and manifest["rows"] == BIG_ROWS
    data, _ = read(s3, manifest["uri"])
    path = tmp_path / "big.parquet"
    path.write_bytes(data)
    meta = pq.ParquetFile(path).metadata
    assert meta.num_rows == BIG_ROWS and meta.num_row_groups >= 2, "row groups as partitions arrive"
    table = pq.read_table(path)
    assert str(table.schema.field("AMOUNT").type) == "decimal128(12, 2)"
    assert str(table.schema.field("DAY").type) == "date32[day]"
    ids = table.column("ID").to_pylist()
    assert ids == list(range(1, BIG_ROWS + 1)), "every row, in order"
    assert table.column("QTY").null_count == len([i for i in ids if i % 17 == 0])


def test_a_result_that_breaks_off_mid_upload_leaves_no_object_and_no_upload(stack, writer, s3):
    task = {"provider": "snowflake", "query": "broken_export", "output": {"uri": PREFIX + "sf/broken.jsonl"}}
    failed, body = writer.invoke(task, timeout=120)
    assert failed and body["errorType"] == "upstream_failed", body
    assert keys(s3, "exports/sf/broken") == []
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == [], "the parts already sent are aborted"
    # The next delivery starts afresh (nothing is there to skip to).
    failed, body = writer.invoke(task, timeout=120)
    assert failed and body["errorType"] == "upstream_failed"


def test_snowflake_output_refuses_a_cursor(writer):
    failed, body = writer.invoke({"provider": "snowflake", "query": "customers_by_city", "params": {"city": "Oslo"},
                                  "cursor": "x.y", "output": {"uri": PREFIX + "c.jsonl"}})
    assert failed and body["errorType"] == "bad_request" and "cursor" in body["errorMessage"]


def test_sentinel_never_reaches_an_object(stack, writer, s3):
    from conftest import SENTINEL
    time.sleep(0.1)
    for key in keys(s3, "exports/"):
        assert SENTINEL.encode() not in s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def as_json_value(value, column_type):
    """A pyarrow value in the form the JSON response gives it."""
    import datetime
    import decimal

    if value is None:
        return None
    if column_type in ("variant", "object", "array", "geojson"):
        return json.loads(value)
    if isinstance(value, decimal.Decimal):
        return value
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            return value.astimezone(datetime.timezone.utc).replace(tzinfo=None).isoformat() + "Z"
        return value.isoformat()
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return value


def instant(text):
    """An ISO date-time (any fraction length, `Z`, an offset or none) as a
    datetime at microsecond precision, in UTC when it has an offset."""
    import datetime
    import re

    m = re.fullmatch(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?", text)
    assert m, text
    frac = (m.group(3) or "").ljust(6, "0")[:6]
    zone = {"Z": "+00:00", None: ""}.get(m.group(4), m.group(4))
    t = datetime.datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}.{frac}{zone}")
    return t.astimezone(datetime.timezone.utc) if t.tzinfo else t


def same(got, want, column_type):
    import decimal

    if isinstance(got, decimal.Decimal):
        return want is not None and got == decimal.Decimal(str(want))
    if column_type in ("datetime", "timestamp") and isinstance(got, str) and isinstance(want, str):
        return instant(got) == instant(want)
    if isinstance(got, float) and isinstance(want, (int, float)):
        return got == pytest.approx(want)
    return got == want


@pytest.mark.parametrize("task", [
    {"provider": "snowflake", "query": "customers_by_city", "params": {"city": "Oslo"}},
    daily("IBM", start="2025-10-01"),
    {"provider": "alpha_vantage", "function": "TIME_SERIES_INTRADAY", "symbol": "IBM", "interval": "60min"},
], ids=["snowflake-customers", "av-daily", "av-intraday"])
def test_parquet_reads_back_with_pyarrow_and_duckdb_as_the_json_rows(stack, writer, s3, tmp_path, task):
    import duckdb
    import pyarrow.parquet as pq

    expected = ok(writer, task)
    assert expected["next_cursor"] is None
    name = task.get("query") or task["function"]
    body = ok(writer, {**task, "output": {"uri": PREFIX + f"pq/{name}/{{date}}.parquet"},
                       "as_of": "2026-01-15T06:30:00Z"})
    manifest = body["output"]
    assert manifest["written"] and manifest["rows"] == expected["row_count"] > 0
    data, obj = read(s3, manifest["uri"])
    assert obj["ContentType"] == "application/vnd.apache.parquet"
    path = tmp_path / "out.parquet"
    path.write_bytes(data)
    table = pq.read_table(path)
    types = {c["name"]: c["type"] for c in expected["columns"]}
    assert table.column_names == list(types)
    physical = {f.name: str(f.type) for f in table.schema}
    for column, kind in types.items():
        want = {"integer": "int64", "number": "double", "date": "date32[day]", "boolean": "bool",
                "string": "string", "variant": "string", "object": "string", "array": "string"}.get(kind)
        if want:
            assert physical[column] == want, (column, kind, physical[column])
        if kind == "datetime":
            assert physical[column].startswith("timestamp[") and "tz" not in physical[column]
        if kind == "timestamp":
            assert physical[column].startswith("timestamp[") and "tz=UTC" in physical[column]
        if kind == "decimal":
            assert physical[column].startswith("decimal"), physical[column]
    rows = table.to_pylist()
    assert len(rows) == expected["row_count"]
    for got, want in zip(rows, expected["rows"], strict=True):
        for column, kind in types.items():
            g = as_json_value(got[column], kind)
            assert same(g, want.get(column), kind), (column, kind, got[column], want.get(column))
    count, = duckdb.sql(f"select count(*) from read_parquet('{path}')").fetchall()[0]
    assert count == expected["row_count"]
