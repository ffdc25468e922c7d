"""A Lambda Runtime API emulator for running the real `bootstrap` binary locally.

It implements the side a custom runtime talks to (the 2018-06-01 Runtime API)
and the side a caller uses (the 2015-03-31 Invoke API, as the Runtime
Interface Emulator exposes it):

  GET  /2018-06-01/runtime/invocation/next            long poll for the next event
  POST /2018-06-01/runtime/invocation/{id}/response   the result
  POST /2018-06-01/runtime/invocation/{id}/error      an error ({errorType, errorMessage})
  POST /2018-06-01/runtime/init/error                 start-up failure
  POST /2015-03-31/functions/function/invocations     invoke; blocks until done

Like real Lambda, an invocation that fails answers HTTP 200 with
`X-Amz-Function-Error: Unhandled` and the error document as the body; one that
runs past its timeout (plus `grace` seconds) answers an error of type
`Sandbox.Timedout`, and the sandbox is reset: its process is killed (through
the `sandbox` hooks, see `Sandbox`) and the next invocation starts a fresh one,
a cold start with empty caches. Each event gets `Lambda-Runtime-Deadline-Ms` =
now + timeout (epoch ms), or the constant 600000 with `--legacy-deadline`
(what cargo-lambda sends), a request id, a function ARN and an X-Ray trace id.

Control endpoints (emulators/base.py): GET /__stats → {"invocations",
"errors", "timeouts", "sandbox_resets", "init_errors"}, POST /__reset.

Standard library only; binds 127.0.0.1. `python -m emulators.runtime_api`
prints `LISTENING http://HOST:PORT` (without a sandbox: start the runtime yourself).
"""

from __future__ import annotations

import argparse
import json
import queue
import select
import socket
import threading
import time
import uuid
from typing import Callable, Protocol

from . import base

RUNTIME = "/2018-06-01/runtime"
INVOKE = "/2015-03-31/functions/function/invocations"
GRACE_SECONDS = 2.0   # how long past its timeout an invocation may still answer


class Sandbox(Protocol):
    """The process side of an execution environment (harness.Function implements it)."""

    def start(self) -> None:
        """Make sure a runtime process is running; called before every invocation is queued."""

    def reset(self) -> None:
        """Kill the runtime process; called when an invocation timed out."""


class Invocation:
    def __init__(self, payload: bytes, timeout: float):
        self.id = str(uuid.uuid4())
        self.payload = payload
        self.timeout = timeout
        self.done = threading.Event()
        self.status = "pending"
        self.body = b""
        self.error_type_header = None


class Emulator(base.State):
    def __init__(self, timeout: float, legacy_deadline: bool, function_name: str, *,
                 grace: float = GRACE_SECONDS, sandbox: Sandbox | None = None,
                 on_next: Callable[[], None] | None = None):
        super().__init__()
        self.timeout = timeout
        self.legacy_deadline = legacy_deadline
        self.function_name = function_name
        self.grace = grace
        self.sandbox = sandbox
        self.on_next = on_next            # called when a GET /invocation/next arrives
        self.pending: queue.Queue[Invocation | None] = queue.Queue()   # the current sandbox's queue
        self.by_id: dict[str, Invocation] = {}
        self.init_error: bytes | None = None
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.counts = {"invocations": 0, "errors": 0, "timeouts": 0, "sandbox_resets": 0, "init_errors": 0}

    def stats(self) -> dict:
        with self.lock:
            return dict(self.counts)

    def count(self, name: str) -> None:
        with self.lock:
            self.counts[name] += 1

    def invoke(self, payload: bytes, timeout: float) -> Invocation:
        """Queue an invocation and wait for its answer, or reset the sandbox when it times out."""
        inv = Invocation(payload, timeout)
        if self.sandbox is not None:
            self.sandbox.start()
        with self.lock:
            self.by_id[inv.id] = inv
            self.counts["invocations"] += 1
            self.pending.put(inv)   # under the lock: a reset moves it, never loses it
        if not inv.done.wait(timeout + self.grace):
            with self.lock:
                unanswered = self.by_id.pop(inv.id, None) is not None
            if unanswered:
                inv.status = "error"
                inv.body = json.dumps(
                    {"errorType": "Sandbox.Timedout", "errorMessage": f"Task timed out after {timeout:.2f} seconds"}
                ).encode()
                self.count("timeouts")
                self.reset_sandbox()
            else:
                inv.done.wait()   # the answer arrived just now
        if inv.status == "error":
            self.count("errors")
        return inv

    def reset_sandbox(self) -> None:
        """As Lambda does after a timeout: the process goes, the next invocation starts a fresh one."""
        if self.sandbox is not None:
            self.sandbox.reset()   # first: a dead runtime's long poll is seen as closed below
        with self.lock:
            old, self.pending = self.pending, queue.Queue()
            self.counts["sandbox_resets"] += 1
        while True:   # invocations still queued run on the next process
            try:
                inv = old.get_nowait()
            except queue.Empty:
                break
            if inv is not None:
                self.pending.put(inv)
        old.put(None)   # wakes a long poll of the old process, if one is waiting

    def next_invocation(self) -> Invocation | None:
        """Block until an invocation is queued for the current sandbox; None if it was reset meanwhile."""
        if self.on_next is not None:
            self.on_next()
        with self.lock:
            pending = self.pending
        return pending.get()

    def requeue(self, inv: Invocation) -> None:
        with self.lock:
            self.pending.put(inv)

    def answer(self, inv_id: str, kind: str, body: bytes, error_type: str | None) -> bool:
        with self.lock:
            inv = self.by_id.pop(inv_id, None)
        if inv is None:
            return False
        inv.status = "ok" if kind == "response" else "error"
        inv.body = body
        inv.error_type_header = error_type
        inv.done.set()
        return True


def _peer_closed(sock: socket.socket) -> bool:
    """Whether the other end has closed the connection (a killed runtime's long poll)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class Handler(base.Handler):
    timeout = None   # the runtime's connection idles between invocations

    def do_GET(self):
        emu: Emulator = self.state
        if self.control(self.path):
            return
        if self.path != f"{RUNTIME}/invocation/next":
            self.send_json(404, {"message": "not found"})
            return
        inv = emu.next_invocation()
        if inv is None or _peer_closed(self.connection):
            if inv is not None:
                emu.requeue(inv)   # its runtime is gone: the next one gets it
            self.close_connection = True
            return
        deadline = 600000 if emu.legacy_deadline else int((time.time() + inv.timeout) * 1000)
        self.send_bytes(200, inv.payload, headers={
            "Lambda-Runtime-Aws-Request-Id": inv.id,
            "Lambda-Runtime-Deadline-Ms": str(deadline),
            "Lambda-Runtime-Invoked-Function-Arn": f"arn:aws:lambda:us-east-1:123456789012:function:{emu.function_name}",
            "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0",
        })

    def do_POST(self):
        emu: Emulator = self.state
        body = self.read_body()
        if self.control(self.path, body) or self.inject_fault(body):
            return
        if self.path == INVOKE:
            timeout = float(self.headers.get("X-Emulator-Timeout") or emu.timeout)
            inv = emu.invoke(body, timeout)
            headers = {"X-Amz-Request-Id": inv.id}
            if inv.status == "error":
                headers["X-Amz-Function-Error"] = "Unhandled"
            self.send_bytes(200, inv.body, headers=headers)
            return
        if self.path == f"{RUNTIME}/init/error":
            emu.init_error = body
            emu.count("init_errors")
            self.send_json(202, {"status": "OK"})
            return
        parts = self.path.split("/")
        # /2018-06-01/runtime/invocation/{id}/{response|error}
        if self.path.startswith(f"{RUNTIME}/invocation/") and len(parts) == 6 and parts[5] in ("response", "error"):
            if emu.answer(parts[4], parts[5], body, self.headers.get("Lambda-Runtime-Function-Error-Type")):
                self.send_json(202, {"status": "OK"})
            else:
                self.send_json(400, {"errorMessage": "unknown invocation"})
            return
        self.send_json(404, {"message": "not found"})


def serve(host: str = "127.0.0.1", port: int = 0, timeout: float = 30.0, legacy_deadline: bool = False,
          function_name: str = "secret-fetch", *, grace: float = GRACE_SECONDS, sandbox: Sandbox | None = None,
          on_next: Callable[[], None] | None = None) -> tuple[base.Server, Emulator]:
    """Start the emulator in a daemon thread; returns (server, emulator). `sandbox` gets the
    start/reset calls (process management); `on_next` is called as each GET /invocation/next arrives."""
    emu = Emulator(timeout, legacy_deadline, function_name, grace=grace, sandbox=sandbox, on_next=on_next)
    server = base.Server((host, port), Handler, emu).start("runtime-api-emulator")
    return server, emu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=30.0, help="function timeout in seconds")
    parser.add_argument("--legacy-deadline", action="store_true", help="send the constant deadline 600000")
    args = parser.parse_args()
    emu = Emulator(args.timeout, args.legacy_deadline, "secret-fetch")
    server = base.Server((args.host, args.port), Handler, emu)
    base.serve_until_interrupted(server, server.url)


if __name__ == "__main__":
    main()
