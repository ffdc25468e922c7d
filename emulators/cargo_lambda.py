"""cargo-lambda's own emulator in front of the real binary.

`cargo lambda watch --only-lambda-apis` serves the Lambda Runtime API (under
`/.rt`), the invoke endpoint `cargo lambda invoke` posts to, and a Function
URL front (`/lambda-url/<function>/<path>`, which turns plain HTTP requests
into payload-2.0 events) on one port, and starts no function and builds
nothing. `Watch` runs it on a free 127.0.0.1 port; `Watch.start_function`
runs the `bootstrap` binary against it with the environment cargo-lambda asks
for (it prints `AWS_LAMBDA_RUNTIME_API=http://<addr>/.rt` and
`AWS_LAMBDA_FUNCTION_NAME=_`) plus the stand-ins' settings.

Used by tests/e2e/test_cargo_lambda.py and tests/e2e/test_schemathesis.py
(the README's loop runs the same commands by hand). cargo-lambda comes from PyPI (tests/requirements.txt
installs it into .venv); a missing one is an error, never a skip.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from . import harness

ROOT = harness.ROOT
# cargo-lambda's default function: the one `cargo lambda invoke` and
# `/lambda-url/_/...` reach when no function name is given.
FUNCTION = "_"


def executable() -> Path:
    """The cargo-lambda binary of the running interpreter's environment (.venv)."""
    exe = Path(sys.executable).parent / "cargo-lambda"
    if not exe.exists():
        raise RuntimeError(f"{exe} not found: run scripts/venv.sh (tests/requirements.txt installs cargo-lambda)")
    return exe


class Watch:
    """`cargo lambda watch --only-lambda-apis` on a free port of 127.0.0.1."""

    def __init__(self, port: int | None = None, logdir: Path | None = None, start_timeout: float = 60.0):
        self.exe = executable()
        self.port = port or harness.free_port()
        self.logdir = logdir or Path(tempfile.mkdtemp(prefix="cargo-lambda-"))
        self.log_path = self.logdir / "cargo-lambda.log"
        self.functions: list[subprocess.Popen] = []
        with open(self.log_path, "wb") as log:
            # Run from the repository root: watch reads Cargo.toml's binary
            # targets (it checks function names against them) but, with
            # --only-lambda-apis, builds and starts nothing.
            self.proc = subprocess.Popen(
                [str(self.exe), "lambda", "watch", "--only-lambda-apis", "--ignore-changes",
                 "--invoke-address", "127.0.0.1", "--invoke-port", str(self.port)],
                cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )
        try:
            end = time.monotonic() + start_timeout
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"cargo lambda watch exited ({self.proc.returncode}): {self.log()}")
                try:
                    harness.wait_for_port(self.port, timeout=0.5)
                    break
                except RuntimeError:
                    if time.monotonic() > end:
                        raise RuntimeError(f"cargo lambda watch not listening after {start_timeout}s: {self.log()}")
        except BaseException:
            self.stop()
            raise
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.runtime_api = f"{self.base_url}/.rt"
        self.url_front = f"{self.base_url}/lambda-url/{FUNCTION}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def function_env(self, env: dict[str, str]) -> dict[str, str]:
        """What the binary runs with: cargo-lambda's variables, then `env`
        (the stand-ins' settings and secrets)."""
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AWS_LAMBDA_RUNTIME_API": self.runtime_api,
            "AWS_LAMBDA_FUNCTION_NAME": FUNCTION,
            "AWS_LAMBDA_FUNCTION_VERSION": "1",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "4096",
            "AWS_REGION": harness.REGION,
            "AWS_DEFAULT_REGION": harness.REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            **env,
        }

    def start_function(self, env: dict[str, str], binary: Path | None = None) -> subprocess.Popen:
        """Run the bootstrap binary against this emulator; it serves until stopped."""
        binary = binary or harness.default_binary()
        out = open(self.logdir / "function.log", "ab")
        proc = subprocess.Popen([str(binary)], env=self.function_env(env), stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT)
        out.close()
        self.functions.append(proc)
        return proc

    def function_log(self) -> str:
        path = self.logdir / "function.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def invoke(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
        """`cargo lambda invoke <args>` against this emulator."""
        return subprocess.run(
            [str(self.exe), "lambda", "invoke", "--invoke-address", "127.0.0.1", "--invoke-port", str(self.port),
             *args],
            cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
        )

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                timeout: float = 60.0) -> tuple[int, dict, bytes]:
        """An HTTP request through the Function URL front: (status, headers, body)."""
        req = urllib.request.Request(self.url_front + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()

    def stop(self) -> None:
        for proc in self.functions:
            harness.stop_process(proc)
        harness.stop_process(self.proc)
