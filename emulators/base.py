"""The HTTP server every local stand-in is built on.

The Lambda Runtime API emulator, the Alpha Vantage and Snowflake stand-ins
and the Secrets Manager proxy each subclass `Handler` and `State` and start
a `Server`. What they share is written here once:

- a ThreadingHTTPServer with daemon threads and TCP_NODELAY on every
  connection (headers and body go out in separate writes: without it a
  delayed ACK adds ~40 ms to every call on a kept-alive connection);
- quiet logging: request lines are never printed (requests carry API keys,
  tokens and payloads) and a failed request prints only its exception type
  and line, never data;
- body reading (Content-Length or chunked, gzip when the client says so) and
  JSON / bytes send helpers;
- the test-only control endpoints: `GET /__stats` answers `state.stats()`,
  `POST /__reset` calls `state.reset()` and answers {"ok": true}; a server
  adds its own (`POST /__keys`, `/__fault`, ...) through `Handler.controls`;
- the fault-injection hook: before a request is served, `state.fault(handler,
  body)` may return a `Fault` that answers it instead (any status, body and
  headers), delays it, or drops the connection without an answer. The default
  asks `state.fault_hook`, a callable a test may set on any stand-in.
"""

from __future__ import annotations

import gzip
import json
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, NamedTuple


class Fault(NamedTuple):
    """What the fault-injection hook makes of one request.

    status=None with a delay: wait, then serve the request as usual. drop: close
    the connection without an answer (after the delay, if any)."""
    status: int | None = None
    body: Any = None                   # dict/list (sent as JSON), bytes (verbatim) or None
    headers: dict | None = None
    content_type: str = "application/json"
    delay: float = 0.0
    drop: bool = False


class State:
    """A stand-in's shared state: one lock, what the control endpoints report and
    clear, and the fault-injection hook."""

    def __init__(self):
        self.lock = threading.RLock()
        self.fault_hook: Callable[[Handler, bytes], Fault | None] | None = None

    def stats(self) -> dict:
        return {}

    def reset(self) -> None:
        """Zero the counters (POST /__reset)."""

    def fault(self, request: Handler, body: bytes) -> Fault | None:
        """The fault for this request, or None to serve it as usual."""
        hook = self.fault_hook
        return hook(request, body) if hook is not None else None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "Emulator/1.0"
    timeout = 30                    # close idle keep-alive connections
    json_indent: int | None = None  # how send_json formats bodies
    # Extra control endpoints: (method, path) -> name of a method taking the body.
    controls: dict[tuple[str, str], str] = {}

    @property
    def state(self) -> Any:
        return self.server.state

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - quiet: requests carry secrets
        pass

    # -- I/O ---------------------------------------------------------------------------------
    def read_body(self) -> bytes:
        """The request body: Content-Length or chunked, gunzipped if Content-Encoding: gzip."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []   # joined once: `+=` per chunk is quadratic for a large body in small chunks
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            data = b"".join(chunks)
        else:
            length = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(length) if length > 0 else b""
        if (self.headers.get("Content-Encoding") or "").lower() == "gzip" and data:
            data = gzip.decompress(data)
        return data

    def send_bytes(self, status: int, data: bytes = b"", content_type: str | None = "application/json",
                   headers: dict | None = None) -> None:
        """One complete answer with Content-Length (no body on HEAD)."""
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if content_type and data:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    def send_json(self, status: int, obj: Any, headers: dict | None = None) -> None:
        self.send_bytes(status, json.dumps(obj, indent=self.json_indent).encode(), "application/json", headers)

    # -- control endpoints and faults --------------------------------------------------------------
    def control(self, path: str, body: bytes = b"") -> bool:
        """Serve a test-only control endpoint (no auth); False when `path` is not one."""
        if not path.startswith("/__"):
            return False
        route = (self.command, path)
        if route == ("GET", "/__stats"):
            self.send_json(200, self.state.stats())
        elif route == ("POST", "/__reset"):
            self.state.reset()
            self.send_json(200, {"ok": True})
        elif route in self.controls:
            getattr(self, self.controls[route])(body)
        else:
            self.send_json(404, {"error": "not found", "path": path[:200]})
        return True

    def inject_fault(self, body: bytes = b"") -> bool:
        """Apply the fault-injection hook; True when the request is answered (or dropped)."""
        fault = self.state.fault(self, body)
        if fault is None:
            return False
        if fault.delay > 0:
            time.sleep(fault.delay)
        if fault.drop:
            self.close_connection = True
            return True
        if fault.status is None:
            return False
        data = fault.body
        if isinstance(data, (dict, list)):
            data = json.dumps(data).encode()
        self.send_bytes(fault.status, data or b"", fault.content_type, fault.headers)
        return True


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[Handler], state: State):
        super().__init__(address, handler)
        self.state = state

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def handle_error(self, request, client_address) -> None:
        """Client disconnects are expected; anything else gets one line without request data."""
        exc = sys.exc_info()[1]
        if exc is None or isinstance(exc, (ConnectionError, TimeoutError)):
            return
        frame = traceback.extract_tb(exc.__traceback__)[-1:] or [None]
        where = f" at {frame[0].filename.rsplit('/', 1)[-1]}:{frame[0].lineno}" if frame[0] else ""
        print(f"{type(self.state).__name__} server: {type(exc).__name__}{where}", file=sys.stderr)

    def start(self, name: str) -> Server:
        """Serve in a daemon thread; stop with shutdown()."""
        threading.Thread(target=self.serve_forever, name=name, daemon=True).start()
        return self


def serve_until_interrupted(server: Server, banner: str) -> None:
    """The CLIs' main loop: print `LISTENING <url>` and serve until Ctrl-C."""
    print(f"LISTENING {banner}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
