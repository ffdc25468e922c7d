"""Invoke the real bootstrap binary with sample events and print the rows.

Local mode (default): moto holds the secrets `secret-fetch/alpha-vantage`
({"apikey": "local-demo-key"}) and `secret-fetch/snowflake` (a test key pair,
account and user); the Alpha Vantage stand-in accepts that key and the
Snowflake SQL API stand-in verifies the JWTs signed with that key. moto's S3
holds the bucket the scheduled export event writes to (OUTPUT_S3_PREFIXES
allows its `exports/` folder).
--aws mode: nothing is emulated but the Lambda Runtime API; the binary reads
ALPHA_VANTAGE_SECRET / SNOWFLAKE_SECRET from real Secrets Manager with your
AWS credentials and calls the real services.

Run from the repository root as a module (scripts/run-local does):
`.venv/bin/python -m scripts.run_local [events...]`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from emulators import harness

ROOT = Path(__file__).resolve().parent.parent

DEMO_KEY = "local-demo-key"
SECRET_NAME = "secret-fetch/alpha-vantage"
SNOWFLAKE_SECRET = "secret-fetch/snowflake"
DEFAULT_TASK = {"provider": "alpha_vantage", "function": "GLOBAL_QUOTE", "symbol": "IBM"}


def show(name: str, failed: bool, body, rows_shown: int, full: bool) -> bool:
    print(f"\n== {name}")
    if full:
        print(json.dumps(body, indent=2))
    if failed:
        print(f"   Lambda error {body.get('errorType')}: {body.get('errorMessage')}")
        return False
    status = None
    if isinstance(body, dict) and "statusCode" in body:
        status = body["statusCode"]
        body = json.loads(body["body"])
        print(f"   HTTP {status}")
    if "error" in body:
        print(f"   error {body['error']['kind']}: {body['error']['message']}")
        return False
    if "output" in body:
        out = body["output"]
        print(f"   {'wrote' if out['written'] else 'already there, nothing written:'} {out['uri']}"
              f" ({out['format']}, {out['rows']} rows, {out['bytes']} bytes)")
        return True
    more = "; more: next_cursor" if body.get("next_cursor") else ""
    print(f"   {body['row_count']} rows{more}; columns: " + ", ".join(f"{c['name']}:{c['type']}" for c in body["columns"]))
    for row in body["rows"][:rows_shown]:
        print("   " + json.dumps(row))
    if body["row_count"] > rows_shown:
        print(f"   … {body['row_count'] - rows_shown} more")
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events", nargs="*", help="event files (default: every file in events/)")
    parser.add_argument("--aws", action="store_true", help="use real Secrets Manager and Alpha Vantage")
    parser.add_argument("--rows", type=int, default=3, help="rows to print per event")
    parser.add_argument("--full", action="store_true", help="print each whole response")
    args = parser.parse_args()
    events = [Path(e) for e in args.events] or sorted((ROOT / "events").glob("*.json"))

    stack = None
    if args.aws:
        if not os.environ.get("ALPHA_VANTAGE_SECRET"):
            print("--aws needs ALPHA_VANTAGE_SECRET (a secret reference) and AWS credentials in the environment")
            return 2
        passthrough = [k for k in os.environ if k.startswith(("AWS_", "SNOWFLAKE_")) or k == "ALPHA_VANTAGE_SECRET"]
        env = {k: os.environ[k] for k in passthrough}
        env.setdefault("DEFAULT_TASK", json.dumps(DEFAULT_TASK))
        fn = harness.Function(env)
    else:
        stack = harness.Stack(av_keys=[DEMO_KEY])
        stack.moto.put(SECRET_NAME, json.dumps({"apikey": DEMO_KEY}))
        stack.moto.put(SNOWFLAKE_SECRET, json.dumps({
            "private_key": harness.snowflake_private_key(),
            "account": harness.SNOWFLAKE_ACCOUNT,
            "user": harness.SNOWFLAKE_USER.lower(),
        }))
        stack.moto.s3().create_bucket(Bucket=harness.EVENTS_BUCKET)
        fn = stack.start_function(env={
            "ALPHA_VANTAGE_SECRET": SECRET_NAME,
            "SNOWFLAKE_SECRET": SNOWFLAKE_SECRET,
            "DEFAULT_TASK": json.dumps(DEFAULT_TASK),
            "AWS_ENDPOINT_URL_S3": stack.moto.url,
            "OUTPUT_S3_PREFIXES": f"s3://{harness.EVENTS_BUCKET}/exports/",
        })
    ok = True
    try:
        for path in events:
            failed, body = fn.invoke(json.loads(path.read_text()))
            ok &= show(path.name, failed, body, args.rows, args.full)
    finally:
        print(f"\nfunction logs: {fn.stdout_path}")
        if stack:
            stack.stop()
        else:
            fn.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
