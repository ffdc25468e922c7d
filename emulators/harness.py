"""Start the whole local stack and invoke the real binary through it.

Used by `scripts/run-local`, the end-to-end tests (tests/e2e) and the
benchmark (bench/run.py): `from emulators import harness`. It runs:

- moto's Secrets Manager server (a subprocess from the project's .venv),
  behind `secrets_proxy` (call counts, injected AWS faults);
- the Alpha Vantage stand-in (`alpha_vantage`);
- the Snowflake SQL API stand-in (`snowflake`), its DuckDB holding the demo
  tables of `snowflake_demo`;
- the Lambda Runtime API emulator (`runtime_api`), one per `Function`;
- the `bootstrap` binary, with a scrubbed environment that points the AWS SDK
  at the proxy and holds no real credentials. A `Function` is the emulator's
  sandbox: when an invocation times out the emulator resets it, which kills
  the process, and the next invocation starts a fresh one (a cold start).

Every server binds 127.0.0.1 on a free port. The binary's stdout and stderr
go to files (each new process appends) so callers can read logs and metrics
lines.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Callable

from . import alpha_vantage, runtime_api, secrets_proxy, snowflake, snowflake_demo

ROOT = Path(__file__).resolve().parent.parent

REGION = "us-east-1"
# The bucket events/scheduler-input-alpha-vantage-daily-to-s3.json writes to
# (moto's S3, in the suite and in scripts/run-local).
EVENTS_BUCKET = "secret-fetch-events"
SNOWFLAKE_KEYS = ROOT / "tests" / "fixtures" / "snowflake"
SNOWFLAKE_ACCOUNT = "ACME-ANALYTICS"
SNOWFLAKE_USER = "SVC_SECRET_FETCH"


def snowflake_private_key() -> str:
    """The test-only key pair's private key (PKCS#8 PEM)."""
    return (SNOWFLAKE_KEYS / "rsa_key.p8").read_text()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def stop_process(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()


def default_binary() -> Path:
    env = os.environ.get("SECRET_FETCH_BIN")
    if env:
        return Path(env)
    for profile in ("ci", "release"):
        candidate = ROOT / "target" / profile / "bootstrap"
        if candidate.exists():
            return candidate
    raise RuntimeError("no bootstrap binary: build it with `cargo build --profile ci` or set SECRET_FETCH_BIN")


class Moto:
    """moto_server in a subprocess, with a boto3 client to seed it."""

    def __init__(self):
        exe = Path(sys.executable).parent / "moto_server"
        if not exe.exists():
            raise RuntimeError(f"{exe} not found: run the test command, which installs moto into .venv")
        self.port = free_port()
        self.proc = subprocess.Popen(
            [str(exe), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        self.url = f"http://127.0.0.1:{self.port}"
        import boto3

        self.client = boto3.client(
            "secretsmanager",
            region_name=REGION,
            endpoint_url=self.url,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    def s3(self):
        """A boto3 S3 client on the same server (path-style, as the function addresses it)."""
        import boto3

        return boto3.client("s3", region_name=REGION, endpoint_url=self.url,
                            aws_access_key_id="test", aws_secret_access_key="test")

    def put(self, name: str, value: str | bytes) -> str:
        """Create or update a secret; returns its ARN."""
        kind = "SecretBinary" if isinstance(value, bytes) else "SecretString"
        try:
            return self.client.create_secret(Name=name, **{kind: value})["ARN"]
        except self.client.exceptions.ResourceExistsException:
            self.client.put_secret_value(SecretId=name, **{kind: value})
            return self.client.describe_secret(SecretId=name)["ARN"]

    def stop(self):
        stop_process(self.proc)


class Function:
    """The bootstrap binary behind a Runtime API emulator, whose sandbox it is:
    the emulator calls `start` before each invocation and `reset` when one timed
    out. `on_next` (optional) is called as each GET /invocation/next arrives;
    `first_next` is when the current process's first one arrived (monotonic),
    `started` when the process was spawned, `starts` how many were."""

    def __init__(self, env: dict[str, str], binary: Path | None = None, timeout: float = 30.0,
                 legacy_deadline: bool = False, logdir: Path | None = None,
                 grace: float = runtime_api.GRACE_SECONDS, on_next: Callable[[], None] | None = None):
        self._lock = threading.RLock()
        self._on_next = on_next
        self.proc: subprocess.Popen | None = None
        self._fresh = True           # the next start() spawns a process
        self.starts = 0
        self.first_next: float | None = None
        self.server, self.emulator = runtime_api.serve(timeout=timeout, legacy_deadline=legacy_deadline,
                                                       grace=grace, sandbox=self, on_next=self._next_arrived)
        port = self.server.server_address[1]
        self.invoke_url = f"http://127.0.0.1:{port}{runtime_api.INVOKE}"
        self.logdir = logdir or Path(tempfile.mkdtemp(prefix="secret-fetch-"))
        self.stdout_path = self.logdir / "stdout.log"
        self.stderr_path = self.logdir / "stderr.log"
        self.binary = binary or default_binary()
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
            "AWS_LAMBDA_FUNCTION_NAME": "secret-fetch",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/secret-fetch",
            "AWS_LAMBDA_LOG_STREAM_NAME": "local",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            **env,
        }
        self.start()

    # -- the emulator's sandbox hooks ---------------------------------------------------------
    def start(self) -> None:
        """Spawn the process unless one is serving (the first, or the one after a reset)."""
        with self._lock:
            if not self._fresh:
                return
            mode = "ab" if self.starts else "wb"
            with open(self.stdout_path, mode) as out, open(self.stderr_path, mode) as err:
                self.started = time.monotonic()
                self.first_next = None
                self.proc = subprocess.Popen([str(self.binary)], env=self.env, stdout=out, stderr=err)
            self.starts += 1
            self._fresh = False

    def reset(self) -> None:
        """After a timed-out invocation: kill the process, as Lambda resets the sandbox."""
        with self._lock:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._fresh = True

    def _next_arrived(self) -> None:
        if self.first_next is None:
            self.first_next = time.monotonic()
        if self._on_next is not None:
            self._on_next()

    # -- callers ------------------------------------------------------------------------------
    def invoke(self, event, timeout: float | None = None) -> tuple[bool, object]:
        """Invoke with `event` (a dict or raw bytes); returns (failed, body)."""
        data = event if isinstance(event, bytes) else json.dumps(event).encode()
        headers = {"Content-Type": "application/json"}
        if timeout is not None:
            headers["X-Emulator-Timeout"] = str(timeout)
        req = urllib.request.Request(self.invoke_url, data=data, headers=headers, method="POST")
        limit = (timeout if timeout is not None else self.emulator.timeout) + self.emulator.grace + 10
        with urllib.request.urlopen(req, timeout=limit) as resp:
            failed = resp.headers.get("X-Amz-Function-Error") is not None
            raw = resp.read()
        return failed, json.loads(raw) if raw else None

    def output(self) -> str:
        """Everything the binary's processes wrote so far (stdout then stderr)."""
        return self.stdout_path.read_text(errors="replace") + self.stderr_path.read_text(errors="replace")

    def log_lines(self) -> list[dict]:
        lines = []
        for line in self.stdout_path.read_text(errors="replace").splitlines():
            line = line.strip()
            if line.startswith("{"):
                try:
                    lines.append(json.loads(line))
                except ValueError:
                    pass
        return lines

    def stop(self):
        with self._lock:
            if self.proc is not None:
                stop_process(self.proc)
            self._fresh = False   # stopped for good: no restart
        self.server.shutdown()


class Stack:
    """moto + secrets proxy + Alpha Vantage and Snowflake stand-ins, ready
    for functions."""

    def __init__(self, av_keys: list[str], premium_keys: list[str] | None = None, today: str = "2026-01-15",
                 snowflake_tokens: dict[str, str] | None = None):
        self.moto = Moto()
        self.proxy, self.proxy_stats = secrets_proxy.serve(self.moto.url)
        self.secrets_url = f"http://127.0.0.1:{self.proxy.server_address[1]}"
        self.av_server, self.av_state = alpha_vantage.serve("127.0.0.1", 0, av_keys, premium_keys or [], today)
        self.av_url = f"http://127.0.0.1:{self.av_server.server_address[1]}/query"
        self.sf_server, self.sf = snowflake.serve(
            "127.0.0.1", 0, account=SNOWFLAKE_ACCOUNT, user=SNOWFLAKE_USER,
            public_key_pem=(SNOWFLAKE_KEYS / "rsa_key.pub").read_bytes(), tokens=snowflake_tokens or {},
        )
        self.sf_url = f"http://127.0.0.1:{self.sf_server.server_address[1]}"
        self.sf_sql = snowflake_demo.load(self.sf)
        self.functions: list[Function] = []

    def function_env(self, **overrides: str) -> dict[str, str]:
        env = {
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": self.secrets_url,
            "ALPHA_VANTAGE_BASE_URL": self.av_url,
            "SNOWFLAKE_BASE_URL": self.sf_url,
            "SNOWFLAKE_ACCOUNT": SNOWFLAKE_ACCOUNT.lower(),
            "SNOWFLAKE_WAREHOUSE": "REPORTING_WH",
            "SNOWFLAKE_DATABASE": "ANALYTICS",
            "SNOWFLAKE_SCHEMA": "PUBLIC",
            "SNOWFLAKE_STATEMENTS_FILE": str(ROOT / "statements.toml"),
        }
        env.update(overrides)
        return env

    def start_function(self, **kwargs) -> Function:
        env = kwargs.pop("env", {})
        fn = Function(self.function_env(**env), **kwargs)
        self.functions.append(fn)
        return fn

    def secret_calls(self) -> int:
        with urllib.request.urlopen(self.secrets_url + "/__stats") as resp:
            return json.load(resp)["counts"].get("GetSecretValue", 0)

    def av(self, path: str, body: dict | None = None) -> dict:
        base = self.av_url.rsplit("/", 1)[0]
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(base + path, data=data, method="POST" if data is not None else "GET",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as resp:
            return json.load(resp)

    def stop(self):
        for fn in self.functions:
            fn.stop()
        self.av_server.shutdown()
        self.sf_server.shutdown()
        self.proxy.shutdown()
        self.moto.stop()
