"""The Python recipe secret-fetch replaces, as a custom-runtime Lambda: the
baseline for `scripts/bench`.

The recipe (a Python Lambda that reads an Alpha Vantage key with awswrangler
and calls pandas-datareader), reproduced faithfully enough to be timed behind
the same Lambda Runtime API emulator as the `bootstrap` binary:

- **Runtime loop.** Like a Python function on a custom runtime: GET
  `/2018-06-01/runtime/invocation/next` on `AWS_LAMBDA_RUNTIME_API`, run the
  handler, POST `…/{id}/response` or `…/{id}/error` (`errorType` = the
  exception's class name, as the managed Python runtime reports it). One
  keep-alive `http.client` connection to the Runtime API, like awslambdaric.
  Imports (boto3, pandas, requests) happen at init, before the first GET.
- **Secret on every invocation.** `wr.secretsmanager.get_secret_json(name)`
  as awswrangler 3.x implements it: a new `boto3.Session()` (no default
  session is set up), a new `secretsmanager` client with awswrangler's
  botocore config (`max_attempts` 5, `connect_timeout` 10,
  `max_pool_connections` 10), one `GetSecretValue`, `json.loads`. Nothing is
  cached between invocations. boto3 honours `AWS_ENDPOINT_URL_SECRETS_MANAGER`.
- **Fetch** like pandas-datareader's `_BaseReader`: a new `requests.Session`
  per read (a reader object per call), GET with the key in the query string,
  `.json()`; up to 3 retries on non-200 with a 0.1 s pause.
- **Normalise** like pandas-datareader's `AlphaVantage._read_lines` and
  `AVTimeSeriesReader._read_lines`, with **pandas** (bench/requirements.txt):
  `DataFrame.from_dict(series, orient="index")`, `sort_index()` (oldest
  first), drop the `"1. "` prefixes, `.loc[start:end]`, `volume` as int64 and
  every other column as float64. A body without the data key raises (an
  `"Error Message"` → ValueError, anything else → RemoteDataError), as the
  reader does. pandas-datareader itself is not installed: its Alpha Vantage
  URL is hard-coded and its quote reader calls a retired endpoint, so the
  same steps are written out here with pandas.
- **GLOBAL_QUOTE** (pandas-datareader has no reader for it): one row built
  the same way (prefix stripped, numbers as float64, volume int64,
  `"1.8%"` → 1.8).
- **Response** in secret-fetch's shape, so both can be compared row for row:
  `{"provider", "columns", "rows", "row_count", "meta", "next_cursor"}`,
  field names snake_case (`"10. change percent"` → `change_percent`).

Only Alpha Vantage tasks given directly (console/SDK-style events) are
supported: that is all the recipe did. Environment: `ALPHA_VANTAGE_SECRET`
(secret id; the JSON secret's `apikey`), `ALPHA_VANTAGE_BASE_URL`,
`AWS_LAMBDA_RUNTIME_API`, and the usual AWS variables.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import sys
import time
import traceback

import boto3
import botocore.config
import pandas as pd
import requests

AV_BASE_URL = os.environ.get("ALPHA_VANTAGE_BASE_URL", "https://www.alphavantage.co/query")
SECRET_ID = os.environ.get("ALPHA_VANTAGE_SECRET", "secret-fetch/alpha-vantage")
RUNTIME = "/2018-06-01/runtime"

DATA_KEYS = {
    "TIME_SERIES_DAILY": "Time Series (Daily)",
    "TIME_SERIES_DAILY_ADJUSTED": "Time Series (Daily)",
    "TIME_SERIES_WEEKLY": "Weekly Time Series",
    "TIME_SERIES_WEEKLY_ADJUSTED": "Weekly Adjusted Time Series",
    "TIME_SERIES_MONTHLY": "Monthly Time Series",
    "TIME_SERIES_MONTHLY_ADJUSTED": "Monthly Adjusted Time Series",
    "GLOBAL_QUOTE": "Global Quote",
}
TEXT_FIELDS = {"symbol", "latest_trading_day"}
DATE_FIELDS = {"date", "latest_trading_day"}
PREFIX = re.compile(r"^\d{1,2}[a-z]?\. ")


class RemoteDataError(IOError):
    """pandas-datareader's error for a body it cannot read."""


# --- awswrangler: wr.secretsmanager.get_secret_json --------------------------------


def _botocore_config() -> botocore.config.Config:
    return botocore.config.Config(
        retries={"max_attempts": int(os.getenv("AWS_MAX_ATTEMPTS", "5"))},
        connect_timeout=10,
        max_pool_connections=10,
    )


def get_secret_json(name: str) -> dict:
    session = boto3.DEFAULT_SESSION or boto3.Session()
    client = session.client(service_name="secretsmanager", use_ssl=True, config=_botocore_config())
    response = client.get_secret_value(SecretId=name)
    return json.loads(response["SecretString"])


# --- pandas-datareader: _BaseReader._get_response + AlphaVantage readers ------------


def get_json(params: dict, retry_count: int = 3, pause: float = 0.1) -> dict:
    with requests.Session() as session:
        response = None
        for _ in range(retry_count + 1):
            response = session.get(AV_BASE_URL, params=params, timeout=30)
            if response.status_code == requests.codes.ok:
                return response.json()
            time.sleep(pause)
        raise RemoteDataError(f"Unable to read URL: {AV_BASE_URL} (HTTP {response.status_code})")


def field(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", PREFIX.sub("", name).lower()).strip("_")


def read_lines(out: dict, data_key: str, symbol: str) -> pd.DataFrame:
    """AlphaVantage._read_lines: the data object as a frame, sorted, prefixes dropped."""
    try:
        df = pd.DataFrame.from_dict(out[data_key], orient="index")
    except KeyError:
        if "Error Message" in out:
            raise ValueError(f"The requested symbol {symbol} could not be retrived. Check valid ticker.") from None
        raise RemoteDataError(next(iter(out.values()), "no data") if out else "empty response") from None
    df = df.sort_index(ascending=True)
    df.columns = [field(c) for c in df.columns]
    return df


def time_series(task: dict, key: str) -> tuple[pd.DataFrame, dict]:
    function = task["function"].upper()
    params = {"symbol": task["symbol"], "function": function, "apikey": key,
              "outputsize": task.get("outputsize", "compact")}
    out = get_json(params)
    data = read_lines(out, DATA_KEYS[function], task["symbol"])
    # AVTimeSeriesReader._read_lines: the date window, then the dtypes.
    data = data.loc[task.get("start") or data.index.min():task.get("end") or data.index.max()]
    if data.empty:
        raise ValueError("Please input a valid date range")
    for column in data.columns:
        data[column] = data[column].astype("int64" if column == "volume" else "float64")
    data.index.name = "date"
    meta = {field(k): v for k, v in out.get("Meta Data", {}).items()}
    return data.reset_index(), meta


def global_quote(task: dict, key: str) -> tuple[pd.DataFrame, dict]:
    out = get_json({"symbol": task["symbol"], "function": "GLOBAL_QUOTE", "apikey": key})
    quote = out.get("Global Quote")
    if not quote:
        raise ValueError(f"The requested symbol {task['symbol']} could not be retrived. Check valid ticker.")
    data = read_lines({"q": {task["symbol"]: quote}}, "q", task["symbol"])
    for column in data.columns:
        if column == "volume":
            data[column] = data[column].astype("int64")
        elif column not in TEXT_FIELDS:
            data[column] = data[column].str.rstrip("%").astype("float64")
    return data.reset_index(drop=True), {}


READERS = {name: time_series for name in DATA_KEYS} | {"GLOBAL_QUOTE": global_quote}


def column_type(dtype) -> str:
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "number"
    return "string"


def handler(event: dict, context: dict) -> dict:
    if event.get("provider") != "alpha_vantage":
        raise ValueError("only direct Alpha Vantage tasks are supported")
    function = str(event.get("function", "")).upper()
    reader = READERS.get(function)
    if reader is None:
        raise ValueError(f"unsupported function {function!r}")
    key = get_secret_json(SECRET_ID)["apikey"]
    df, meta = reader(event, key)
    meta["function"] = function
    columns = [{"name": c, "type": "date" if c in DATE_FIELDS else column_type(t)} for c, t in df.dtypes.items()]
    rows = df.to_dict(orient="records")
    return {"provider": "alpha_vantage", "columns": columns, "rows": rows, "row_count": len(rows),
            "meta": meta, "next_cursor": None}


# --- the custom runtime ---------------------------------------------------------------


def error_document(exc: BaseException) -> dict:
    return {"errorMessage": str(exc), "errorType": type(exc).__name__,
            "stackTrace": traceback.format_tb(exc.__traceback__)}


def main() -> None:
    host, _, port = os.environ["AWS_LAMBDA_RUNTIME_API"].partition(":")
    conn = http.client.HTTPConnection(host, int(port or 80))

    def post(path: str, doc: dict, headers: dict | None = None) -> None:
        conn.request("POST", RUNTIME + path, body=json.dumps(doc).encode(),
                     headers={"Content-Type": "application/json", **(headers or {})})
        conn.getresponse().read()

    while True:
        conn.request("GET", RUNTIME + "/invocation/next")
        resp = conn.getresponse()
        payload = resp.read()
        request_id = resp.getheader("Lambda-Runtime-Aws-Request-Id")
        context = {"aws_request_id": request_id, "deadline_ms": resp.getheader("Lambda-Runtime-Deadline-Ms"),
                   "invoked_function_arn": resp.getheader("Lambda-Runtime-Invoked-Function-Arn")}
        try:
            result = handler(json.loads(payload), context)
        except Exception as exc:  # noqa: BLE001 - every failure is an invocation error
            doc = error_document(exc)
            post(f"/invocation/{request_id}/error", doc, {"Lambda-Runtime-Function-Error-Type": doc["errorType"]})
            continue
        post(f"/invocation/{request_id}/response", result)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
