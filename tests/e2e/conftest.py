"""Fixtures for the end-to-end suite: the real bootstrap binary behind the
Runtime API emulator, with moto (Secrets Manager), the Alpha Vantage and the
Snowflake stand-ins, all on 127.0.0.1. The stand-ins are the `emulators`
package (pytest.ini puts the repository root on sys.path)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emulators import harness

ROOT = Path(__file__).resolve().parents[2]

# Planted in Secrets Manager and accepted by the stand-in; must never appear
# in any output. The stand-in echoes it in its daily-limit message, as the real
# service does.
SENTINEL = "SENTINEL-av-key-7f3a9c1e5b"
PREMIUM = "SENTINEL-premium-key-0d4e8b"
SECRET = "secret-fetch/alpha-vantage"
SF_SECRET = "secret-fetch/snowflake"
SF_PAT = "SENTINEL-snowflake-pat-5c9e2a"
EVENTS_BUCKET = harness.EVENTS_BUCKET
DEFAULT_TASK = {"provider": "alpha_vantage", "function": "GLOBAL_QUOTE", "symbol": "IBM"}


@pytest.fixture(scope="session")
def stack():
    s = harness.Stack(av_keys=[SENTINEL], premium_keys=[PREMIUM],
                      snowflake_tokens={SF_PAT: "PROGRAMMATIC_ACCESS_TOKEN"})
    s.moto.put(SECRET, json.dumps({"apikey": SENTINEL, "note": "json secret"}))
    # The bucket events/scheduler-input-alpha-vantage-daily-to-s3.json writes to.
    s.moto.s3().create_bucket(Bucket=EVENTS_BUCKET)
    s.moto.put(SF_SECRET, json.dumps({"private_key": harness.snowflake_private_key(),
                                      "user": "svc_secret_fetch", "role": "SECRET_FETCH_READER"}))
    yield s
    s.stop()


@pytest.fixture(scope="session")
def fn(stack):
    """One warm function shared by the read-only tests."""
    return stack.start_function(
        env={
            "ALPHA_VANTAGE_SECRET": SECRET,
            "SNOWFLAKE_SECRET": SF_SECRET,
            "DEFAULT_TASK": json.dumps(DEFAULT_TASK),
            "AWS_LAMBDA_LOG_LEVEL": "TRACE",
            "AWS_ENDPOINT_URL_S3": stack.moto.url,
            "OUTPUT_S3_PREFIXES": f"s3://{EVENTS_BUCKET}/exports/",
        }
    )


def events() -> list[Path]:
    return sorted((ROOT / "events").glob("*.json"))


def http_body(response: dict) -> dict:
    assert isinstance(response["body"], str), "proxy body must be a string"
    return json.loads(response["body"])
