"""Serve the local stand-ins for a cargo-lambda loop until interrupted.

Starts moto's Secrets Manager (holding `secret-fetch/alpha-vantage` and
`secret-fetch/snowflake`, as scripts/run-local does), the Alpha Vantage
stand-in and the Snowflake SQL API stand-in on free 127.0.0.1 ports, and
writes the function's environment (secrets, endpoints, region, test-only AWS
credentials) to an env file that both `cargo lambda watch --env-file` and a
POSIX shell (`set -a; . FILE; set +a`) read. Every value is single-quoted.

Run from the repository root as a module (scripts/cargo-lambda-stand-ins does).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from emulators import harness

from .run_local import DEFAULT_TASK, DEMO_KEY, SECRET_NAME, SNOWFLAKE_SECRET

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-file", default="target/cargo-lambda.env",
                        help="where to write the function's environment (default: %(default)s)")
    args = parser.parse_args()
    stack = harness.Stack(av_keys=[DEMO_KEY])
    stack.moto.put(SECRET_NAME, json.dumps({"apikey": DEMO_KEY}))
    stack.moto.put(SNOWFLAKE_SECRET, json.dumps({
        "private_key": harness.snowflake_private_key(),
        "account": harness.SNOWFLAKE_ACCOUNT,
        "user": harness.SNOWFLAKE_USER.lower(),
    }))
    env = stack.function_env(
        ALPHA_VANTAGE_SECRET=SECRET_NAME,
        SNOWFLAKE_SECRET=SNOWFLAKE_SECRET,
        DEFAULT_TASK=json.dumps(DEFAULT_TASK),
        AWS_REGION=harness.REGION,
        AWS_DEFAULT_REGION=harness.REGION,
        AWS_EC2_METADATA_DISABLED="true",
        # What `cargo lambda watch --only-lambda-apis` asks the function to be
        # started with, but for the two that name it (AWS_LAMBDA_RUNTIME_API,
        # AWS_LAMBDA_FUNCTION_NAME: see the README). When cargo-lambda starts
        # the function itself it sets these and the file's values are the same.
        AWS_LAMBDA_FUNCTION_VERSION="1",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="4096",
    )
    path = Path(args.env_file)
    if not path.is_absolute():
        path = ROOT / path
    path.parent.mkdir(parents=True, exist_ok=True)
    for key, value in env.items():
        if "'" in value or "\n" in value:
            raise SystemExit(f"{key} cannot be written single-quoted")
    path.write_text("".join(f"{key}='{value}'\n" for key, value in env.items()))
    print(f"cargo-lambda-stand-ins: moto {stack.secrets_url}, Alpha Vantage {stack.av_url}, "
          f"Snowflake {stack.sf_url}", flush=True)
    print(f"cargo-lambda-stand-ins: the function's environment is in {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}"
          " (Ctrl-C stops the stand-ins)", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
        path.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
