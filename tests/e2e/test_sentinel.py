"""The sentinel-secret test: runs last (file order), so it also scans the
output of every function the other end-to-end tests started."""

from __future__ import annotations

import json
import re
import time

from conftest import PREMIUM, SENTINEL, SF_PAT, events
from test_behaviour import quote, rest_get, task
from test_hostile_av import key_forms

from emulators import harness
from emulators import snowflake as sf


# header.payload.signature, both JSON parts base64url ("eyJ" = '{"').
JWT = re.compile(r"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+")


def test_jwt_pattern_matches_a_real_jwt():
    token = sf.mint_jwt(harness.snowflake_private_key().encode(), "ACME", "USER")
    assert JWT.search(f"Authorization: Bearer {token}")


def test_sentinel_secret_never_leaves_the_function(stack, fn):
    """Plants SENTINEL as the API key (the function runs at TRACE), drives every
    event and every failure path, including the daily-limit body that echoes
    the key, and searches every response and every line the binary wrote."""
    responses = []
    for path in events():
        responses.append(fn.invoke(json.loads(path.read_text())))
    for event in (quote("LIMIT"), quote("UNKNOWN"), quote("HTML"), quote("DEMO"), quote("BURST"),
                  task(function="TIME_SERIES_DAILY_ADJUSTED", symbol="IBM"), {"hello": 1},
                  rest_get("/v1/alpha-vantage/GLOBAL_QUOTE", {"symbol": "LIMIT"}),
                  {"provider": "snowflake", "query": "customers_by_city", "params": {"city": "x"}, "max_rows": 2},
                  {"provider": "snowflake", "query": "nope"}):
        responses.append(fn.invoke(event))
    time.sleep(0.2)
    haystacks = [json.dumps(r) for r in responses] + [fn.output()]
    for f in stack.functions:
        haystacks.append(f.output())
    # Every object written to S3 (the scheduled export event's, and any other
    # test's), as text.
    s3 = stack.moto.s3()
    objects = 0
    for bucket in s3.list_buckets()["Buckets"]:
        for obj in s3.list_objects_v2(Bucket=bucket["Name"]).get("Contents", []):
            body = s3.get_object(Bucket=bucket["Name"], Key=obj["Key"])["Body"].read()
            haystacks.append(body.decode("latin-1"))
            objects += 1
    assert objects >= 1, "the scheduled export event wrote its object"
    # A line from the middle of the Snowflake private key's PEM body.
    key_line = harness.snowflake_private_key().splitlines()[5]
    assert len(key_line) > 40
    for text in haystacks:
        # Verbatim, in any case, percent-encoded, \u-escaped, split by HTML
        # tags, or a mix: the echo forms the hostile stand-ins produce.
        for secret in (SENTINEL, PREMIUM, SF_PAT, "SENTINEL-rotate", "SENTINEL-password"):
            assert not key_forms(text, secret), f"{secret[:12]}… leaked as {key_forms(text, secret)}"
        assert key_line not in text
        assert not JWT.search(text), "a JWT reached the output"
    assert len(fn.output()) > 1000, "the function did log (at TRACE)"
