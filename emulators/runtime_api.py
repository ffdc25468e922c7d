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
runs past its timeout answers an error of type `Sandbox.Timedout`. Each event
gets `Lambda-Runtime-Deadline-Ms` = now + timeout (epoch ms), or the constant
600000 with `--legacy-deadline` (what cargo-lambda sends), a request id, a
function ARN and an X-Ray trace id.

Standard library only; binds 127.0.0.1. Prints `LISTENING http://HOST:PORT`.
"""

from __future__ import annotations

import argparse
import json
import queue
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RUNTIME = "/2018-06-01/runtime"
INVOKE = "/2015-03-31/functions/function/invocations"


class Invocation:
    def __init__(self, payload: bytes, timeout: float):
        self.id = str(uuid.uuid4())
        self.payload = payload
        self.timeout = timeout
        self.done = threading.Event()
        self.status = "pending"
        self.body = b""
        self.error_type_header = None


class Emulator:
    def __init__(self, timeout: float, legacy_deadline: bool, function_name: str):
        self.timeout = timeout
        self.legacy_deadline = legacy_deadline
        self.function_name = function_name
        self.pending: "queue.Queue[Invocation]" = queue.Queue()
        self.by_id: dict[str, Invocation] = {}
        self.init_error: bytes | None = None
        self.lock = threading.Lock()
        self.log: list[dict] = []


def make_handler(emu: Emulator):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes: without TCP_NODELAY a
        # delayed ACK adds ~40 ms to every call on a kept-alive connection.
        disable_nagle_algorithm = True

        def log_message(self, *args):  # quiet: never echo payloads
            pass

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _send(self, status: int, body: bytes = b"", headers: dict | None = None):
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)

        def do_GET(self):
            if self.path == f"{RUNTIME}/invocation/next":
                inv = emu.pending.get()
                deadline = 600000 if emu.legacy_deadline else int((time.time() + inv.timeout) * 1000)
                self._send(
                    200,
                    inv.payload,
                    {
                        "Lambda-Runtime-Aws-Request-Id": inv.id,
                        "Lambda-Runtime-Deadline-Ms": str(deadline),
                        "Lambda-Runtime-Invoked-Function-Arn": f"arn:aws:lambda:us-east-1:123456789012:function:{emu.function_name}",
                        "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0",
                    },
                )
                return
            self._send(404, b'{"message":"not found"}')

        def do_POST(self):
            body = self._body()
            if self.path == INVOKE:
                timeout = float(self.headers.get("X-Emulator-Timeout") or emu.timeout)
                inv = Invocation(body, timeout)
                with emu.lock:
                    emu.by_id[inv.id] = inv
                emu.pending.put(inv)
                if not inv.done.wait(timeout + 2.0):
                    inv.status = "error"
                    inv.body = json.dumps(
                        {"errorType": "Sandbox.Timedout", "errorMessage": f"Task timed out after {timeout:.2f} seconds"}
                    ).encode()
                headers = {"X-Amz-Request-Id": inv.id}
                if inv.status == "error":
                    headers["X-Amz-Function-Error"] = "Unhandled"
                self._send(200, inv.body, headers)
                return
            if self.path == f"{RUNTIME}/init/error":
                emu.init_error = body
                self._send(202, b'{"status":"OK"}')
                return
            parts = self.path.split("/")
            # /2018-06-01/runtime/invocation/{id}/{response|error}
            if self.path.startswith(f"{RUNTIME}/invocation/") and len(parts) == 6:
                inv_id, kind = parts[4], parts[5]
                with emu.lock:
                    inv = emu.by_id.pop(inv_id, None)
                if inv is None or kind not in ("response", "error"):
                    self._send(400, b'{"errorMessage":"unknown invocation"}')
                    return
                inv.status = "ok" if kind == "response" else "error"
                inv.body = body
                inv.error_type_header = self.headers.get("Lambda-Runtime-Function-Error-Type")
                inv.done.set()
                self._send(202, b'{"status":"OK"}')
                return
            self._send(404, b'{"message":"not found"}')

    return Handler


def serve(host: str = "127.0.0.1", port: int = 0, timeout: float = 30.0, legacy_deadline: bool = False,
          function_name: str = "secret-fetch"):
    emu = Emulator(timeout, legacy_deadline, function_name)
    server = ThreadingHTTPServer((host, port), make_handler(emu))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, emu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=30.0, help="function timeout in seconds")
    parser.add_argument("--legacy-deadline", action="store_true", help="send the constant deadline 600000")
    args = parser.parse_args()
    server, _ = serve(args.host, args.port, args.timeout, args.legacy_deadline)
    print(f"LISTENING http://{server.server_address[0]}:{server.server_address[1]}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
