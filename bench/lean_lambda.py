"""The lean Python baseline for `scripts/bench`: the fairest Python version of
secret-fetch's hot paths, as a custom-runtime Lambda behind the same Runtime
API emulator as the `bootstrap` binary.

Unlike the recipe (bench/baseline_lambda.py: awswrangler-style new boto3
session per call, requests, pandas), this is what a careful Python author
would write:

- one boto3 Secrets Manager client, created at init and kept; each secret
  cached for `SECRET_CACHE_TTL_SECS` (default 300), as secret-fetch does;
- urllib.request for HTTP and the standard json module, nothing else;
- **Alpha Vantage** (`ALPHA_VANTAGE_SECRET`, a JSON secret's `apikey`):
  GLOBAL_QUOTE and the time series, normalised the way secret-fetch does it
  (src/providers/alpha_vantage/normalize.rs): field names lose their `1. `
  prefixes and become snake_case, numeric strings become numbers (integers
  stay integers, `%` dropped, `-`/`none`/empty → null, text fields stay
  strings), rows oldest first, `start`/`end` compared on the date part;
- **Snowflake** (`LEAN_SNOWFLAKE_SECRET`: a plain-string programmatic access
  token): a named statement from `SNOWFLAKE_STATEMENTS_FILE` (no parameters
  needed by the benchmark's statements), submitted to the SQL API v2, the
  partitions a page needs downloaded in parallel (a thread pool), gunzipped,
  and cells decoded by rowType as secret-fetch does (src/providers/snowflake/
  decode.rs: integers within ±(2^53 − 1) and decimals of at most 15
  significant digits as numbers, DATE as `YYYY-MM-DD`, BOOLEAN, REAL, TEXT).
  `max_rows` pages the result; `next_cursor` (base64 JSON: handle and
  offset, not tamper-evident: a baseline) continues it without resubmitting.

Response shape as secret-fetch's: `{"provider", "columns", "rows",
"row_count", "meta", "next_cursor"}`. Environment as for the bootstrap
binary (AWS_LAMBDA_RUNTIME_API, AWS_ENDPOINT_URL_SECRETS_MANAGER,
ALPHA_VANTAGE_BASE_URL, SNOWFLAKE_BASE_URL, SNOWFLAKE_WAREHOUSE/DATABASE/SCHEMA).
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import http.client
import json
import os
import sys
import time
import tomllib
import traceback
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import boto3

RUNTIME = "/2018-06-01/runtime"
AV_BASE_URL = os.environ.get("ALPHA_VANTAGE_BASE_URL", "https://www.alphavantage.co/query")
AV_SECRET = os.environ.get("ALPHA_VANTAGE_SECRET", "secret-fetch/alpha-vantage")
SF_SECRET = os.environ.get("LEAN_SNOWFLAKE_SECRET", "secret-fetch/snowflake-pat")
SF_BASE_URL = os.environ.get("SNOWFLAKE_BASE_URL", "")
TTL = float(os.environ.get("SECRET_CACHE_TTL_SECS", "300"))
HTTP_TIMEOUT = 30
EPOCH = dt.date(1970, 1, 1)
MAX_SAFE = 2**53 - 1
META_KEY = "Meta Data"
MESSAGE_KEYS = {"Error Message", "Information", "Note"}
SERIES = {"TIME_SERIES_INTRADAY", "TIME_SERIES_DAILY", "TIME_SERIES_DAILY_ADJUSTED", "TIME_SERIES_WEEKLY",
          "TIME_SERIES_WEEKLY_ADJUSTED", "TIME_SERIES_MONTHLY", "TIME_SERIES_MONTHLY_ADJUSTED"}
TEXT_FIELDS = {"symbol", "latest_trading_day", "from_currency_code", "from_currency_name", "to_currency_code",
               "to_currency_name", "last_refreshed", "time_zone", "name", "type", "region", "currency",
               "market_open", "market_close", "timezone", "information"}

SECRETS = boto3.client("secretsmanager")   # kept across invocations
_cache: dict[str, tuple[float, str]] = {}
_pool: ThreadPoolExecutor | None = None
_statements: dict[str, str] | None = None


class UpstreamError(RuntimeError):
    pass


def secret(name: str) -> str:
    hit = _cache.get(name)
    now = time.monotonic()
    if hit is not None and now - hit[0] < TTL:
        return hit[1]
    value = SECRETS.get_secret_value(SecretId=name)["SecretString"]
    _cache[name] = (now, value)
    return value


# --- Alpha Vantage ----------------------------------------------------------------------------


def field_name(raw: str) -> str:
    prefix, sep, rest = raw.partition(". ")
    if not (sep and 0 < len(prefix) <= 3 and prefix[0].isdigit() and prefix.isascii() and prefix.isalnum()):
        rest = raw
    out = []
    for c in rest:
        if c.isalnum():
            out.append(c.lower())
        elif out and out[-1] != "_":
            out.append("_")
    return "".join(out).rstrip("_")


def field_value(name: str, v):
    if not isinstance(v, str):
        return v
    t = v.strip()
    if not t or t == "-" or t.lower() == "none":
        return None
    if name in TEXT_FIELDS:
        return v
    digits = t[:-1] if t.endswith("%") else t
    body = digits[1:] if digits[:1] in ("-", "+") else digits
    if not body or body.count(".") > 1 or not all(c.isdigit() or c == "." for c in body) \
            or not any(c.isdigit() for c in body) or not body.isascii():
        return v
    if "." not in digits:
        try:
            n = int(digits)
            if -2**63 <= n < 2**63:
                return n
        except ValueError:
            pass
    return float(digits)


def alpha_vantage(task: dict) -> dict:
    function = str(task.get("function", "")).upper()
    key = json.loads(secret(AV_SECRET))["apikey"]
    params = {k: v for k, v in task.items() if k not in ("provider", "start", "end")}
    params["function"] = function
    params["apikey"] = key
    url = AV_BASE_URL + "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as resp:
        body = json.loads(resp.read())
    meta = {field_name(k): v for k, v in (body.get(META_KEY) or {}).items()}
    meta["function"] = function
    data = next(((k, v) for k, v in body.items()
                 if k != META_KEY and k not in MESSAGE_KEYS and isinstance(v, (dict, list))), None)
    if data is None:
        raise UpstreamError(next(iter(body.values()), "empty answer") if body else "empty answer")
    _, value = data
    if isinstance(value, list):
        rows = [{field_name(k): field_value(field_name(k), v) for k, v in item.items()} for item in value]
    elif function in SERIES:
        key_name = "timestamp" if function == "TIME_SERIES_INTRADAY" else "date"
        start, end = task.get("start"), task.get("end")
        names: dict[str, str] = {}
        rows = []
        for day in sorted(value):
            if (start and day[:10] < start) or (end and day[:10] > end):
                continue
            row = {key_name: day}
            for raw, v in value[day].items():
                name = names.get(raw)
                if name is None:
                    name = names[raw] = field_name(raw)
                row[name] = field_value(name, v)
            rows.append(row)
    else:
        rows = [{field_name(k): field_value(field_name(k), v) for k, v in value.items()}]
    return result("alpha_vantage", columns_of(rows), rows, meta, None)


def columns_of(rows: list[dict]) -> list[dict]:
    first = rows[0] if rows else {}
    return [{"name": k} for k in first]


def result(provider, columns, rows, meta, cursor) -> dict:
    return {"provider": provider, "columns": columns, "rows": rows, "row_count": len(rows), "meta": meta,
            "next_cursor": cursor}


# --- Snowflake --------------------------------------------------------------------------------


def statements() -> dict[str, str]:
    global _statements
    if _statements is None:
        path = os.environ.get("SNOWFLAKE_STATEMENTS_FILE", "statements.toml")
        with open(path, "rb") as fh:
            _statements = {name: st["sql"] for name, st in tomllib.load(fh).items()}
    return _statements


def sf_request(method: str, path: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}", "X-Snowflake-Authorization-Token-Type": "PROGRAMMATIC_ACCESS_TOKEN",
               "Accept": "application/json", "User-Agent": "lean-python/1", "Accept-Encoding": "gzip"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(SF_BASE_URL + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT) as resp:
        raw = resp.read()
        if resp.headers.get("Content-Encoding", "").lower() == "gzip":
            raw = gzip.decompress(raw)
        return resp.status, json.loads(raw)


def decimal(cell: str, scale: int):
    text = cell.strip()
    digits = text.lstrip("+-")
    if not digits or not all(c.isdigit() or c == "." for c in digits) or digits.count(".") > 1:
        return cell
    if scale == 0 and "." not in digits:
        n = int(text)
        return n if -MAX_SAFE <= n <= MAX_SAFE else str(n)
    significant = len(digits.replace(".", "").lstrip("0"))
    return float(text) if significant <= 15 else cell


def decoder(col: dict):
    kind, scale = col.get("type"), col.get("scale") or 0
    if kind in ("fixed", "decfloat"):
        return lambda c: decimal(c, scale)
    if kind == "real":
        return float
    if kind == "boolean":
        return lambda c: c.lower() == "true"
    if kind == "date":
        return lambda c: (EPOCH + dt.timedelta(days=int(c))).isoformat()
    return lambda c: c


def snowflake(task: dict) -> dict:
    global _pool
    token = secret(SF_SECRET).strip()
    max_rows = int(task.get("max_rows") or 1000)
    if task.get("cursor"):
        pos = json.loads(base64.urlsafe_b64decode(task["cursor"]))
        handle, offset = pos["h"], pos["o"]
        status, doc = sf_request("GET", f"/api/v2/statements/{handle}", token)
    else:
        sql = statements()[task["query"]]
        body = {"statement": sql, "timeout": 60, "warehouse": os.environ.get("SNOWFLAKE_WAREHOUSE"),
                "database": os.environ.get("SNOWFLAKE_DATABASE"), "schema": os.environ.get("SNOWFLAKE_SCHEMA")}
        status, doc = sf_request("POST", f"/api/v2/statements?requestId={uuid.uuid4()}", token, body)
        handle, offset = doc.get("statementHandle"), 0
        for _ in range(600):   # 202: poll, bounded
            if status != 202:
                break
            time.sleep(0.05)
            status, doc = sf_request("GET", f"/api/v2/statements/{handle}", token)
    if status != 200:
        raise UpstreamError(f"Snowflake answered {status}: {doc.get('message')}")
    meta_data = doc["resultSetMetaData"]
    row_type = meta_data["rowType"]
    info = meta_data["partitionInfo"]
    # Which partitions hold rows offset .. offset + max_rows.
    wanted, first_row, start = [], 0, None
    for i, part in enumerate(info):
        n = part["rowCount"]
        if first_row + n > offset and first_row < offset + max_rows:
            if start is None:
                start = offset - first_row
            wanted.append(i)
        first_row += n
    total = first_row

    def fetch(i: int) -> list:
        if i == 0:
            return doc["data"]
        return sf_request("GET", f"/api/v2/statements/{handle}?partition={i}", token)[1]["data"]

    if len(wanted) > 1:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=int(os.environ.get("SNOWFLAKE_PARTITION_CONCURRENCY", "4")))
        parts = list(_pool.map(fetch, wanted))
    else:
        parts = [fetch(i) for i in wanted]
    names = [c["name"] for c in row_type]
    decoders = [decoder(c) for c in row_type]
    rows = []
    skip = start or 0
    for part in parts:
        for cells in part[skip:]:
            if len(rows) == max_rows:
                break
            rows.append({n: (None if c is None else d(c)) for n, d, c in zip(names, decoders, cells)})
        skip = 0
    end = offset + len(rows)
    cursor = None
    if end < total:
        cursor = base64.urlsafe_b64encode(json.dumps({"h": handle, "o": end}).encode()).decode()
    meta = {"query": task.get("query"), "statement_handle": handle, "num_rows": total, "partitions": len(info)}
    return result("snowflake", [{"name": n, "type": c.get("type")} for n, c in zip(names, row_type)], rows, meta,
                  cursor)


def handler(event: dict) -> dict:
    provider = event.get("provider")
    if provider == "alpha_vantage":
        return alpha_vantage(event)
    if provider == "snowflake":
        return snowflake(event)
    raise ValueError(f"unsupported provider {provider!r}")


# --- the custom runtime -------------------------------------------------------------------------


def main() -> None:
    host, _, port = os.environ["AWS_LAMBDA_RUNTIME_API"].partition(":")
    conn = http.client.HTTPConnection(host, int(port or 80))

    def post(path: str, data: bytes, headers: dict | None = None) -> None:
        conn.request("POST", RUNTIME + path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
        conn.getresponse().read()

    while True:
        conn.request("GET", RUNTIME + "/invocation/next")
        resp = conn.getresponse()
        payload = resp.read()
        request_id = resp.getheader("Lambda-Runtime-Aws-Request-Id")
        try:
            out = json.dumps(handler(json.loads(payload))).encode()
        except Exception as exc:  # noqa: BLE001 - every failure is an invocation error
            doc = {"errorMessage": str(exc)[:1000], "errorType": type(exc).__name__,
                   "stackTrace": traceback.format_tb(exc.__traceback__)}
            post(f"/invocation/{request_id}/error", json.dumps(doc).encode(),
                 {"Lambda-Runtime-Function-Error-Type": doc["errorType"]})
            continue
        post(f"/invocation/{request_id}/response", out)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
