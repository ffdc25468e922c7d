"""A counting, fault-injecting proxy in front of moto's Secrets Manager.

moto serves Secrets Manager faithfully but cannot deny access, throttle or
fail decryption, and does not count calls. This proxy forwards every request
to moto unchanged and:

- counts requests by their `X-Amz-Target` (GET /__stats → {"counts": {...}});
- answers GetSecretValue for secret ids beginning with `fault/` with the AWS
  JSON error a real account would return:
    fault/access-denied → AccessDeniedException
    fault/throttled     → ThrottlingException
    fault/decryption    → DecryptionFailure
    fault/internal      → InternalServiceError (HTTP 500)
- POST /__reset zeroes the counters;
- POST /__fault {"secret_id": ID, "fault": F} makes GetSecretValue for exactly
  that SecretId fail from now on, until a call with "fault": null clears it
  (answers {"faults": {...}}). F is one of the FAULTS names without
  `fault/` (access-denied, throttled, decryption, internal), or
    slow → wait SLOW_SECONDS, then forward to moto as usual
    drop → close the connection without an answer
  /__reset leaves injected faults alone.

Bodies are forwarded, never logged. Standard library only; binds 127.0.0.1.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULTS = {
    "fault/access-denied": (400, "AccessDeniedException",
                            "User: arn:aws:sts::123456789012:assumed-role/secret-fetch/fn is not authorized to perform: "
                            "secretsmanager:GetSecretValue on resource: fault/access-denied"),
    "fault/throttled": (400, "ThrottlingException", "Rate exceeded"),
    "fault/decryption": (400, "DecryptionFailure",
                         "Secrets Manager can't decrypt the protected secret text using the provided KMS key."),
    "fault/internal": (500, "InternalServiceError", "An error occurred on the server side."),
}

# Faults POST /__fault can inject besides FAULTS (their name without `fault/`).
SLOW_SECONDS = 5.0
EXTRA_FAULTS = {"slow", "drop"}


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {}
        self.faults: dict[str, str] = {}   # SecretId -> injected fault name

    def count(self, target: str):
        with self.lock:
            self.counts[target] = self.counts.get(target, 0) + 1


def make_handler(upstream: str, stats: Stats):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes: without TCP_NODELAY a
        # delayed ACK adds ~40 ms to every call on a kept-alive connection.
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def _send(self, status: int, body: bytes, content_type: str = "application/x-amz-json-1.1", extra=None):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/__stats":
                with stats.lock:
                    body = json.dumps({"counts": dict(stats.counts)}).encode()
                self._send(200, body, "application/json")
                return
            self._forward(b"")

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.path == "/__reset":
                with stats.lock:
                    stats.counts.clear()
                self._send(200, b"{}", "application/json")
                return
            if self.path == "/__fault":
                self._set_fault(body)
                return
            target = (self.headers.get("X-Amz-Target") or "").split(".")[-1]
            stats.count(target or "unknown")
            if target == "GetSecretValue":
                try:
                    secret_id = json.loads(body or b"{}").get("SecretId", "")
                except ValueError:
                    secret_id = ""
                if secret_id in FAULTS:
                    status, code, message = FAULTS[secret_id]
                    self._send(status, json.dumps({"__type": code, "message": message}).encode(),
                               extra={"x-amzn-ErrorType": code})
                    return
                with stats.lock:
                    injected = stats.faults.get(secret_id) if isinstance(secret_id, str) else None
                if injected == "slow":
                    time.sleep(SLOW_SECONDS)
                    try:
                        self._forward(body)
                    except (BrokenPipeError, ConnectionResetError):
                        self.close_connection = True   # the caller gave up waiting: the point of "slow"
                    return
                if injected == "drop":
                    self.close_connection = True
                    return
                if injected:
                    status, code, message = FAULTS["fault/" + injected]
                    message = message.replace("fault/" + injected, secret_id)
                    self._send(status, json.dumps({"__type": code, "message": message}).encode(),
                               extra={"x-amzn-ErrorType": code})
                    return
            self._forward(body)

        def _set_fault(self, body: bytes):
            try:
                request = json.loads(body or b"{}")
                secret_id, fault = request["secret_id"], request.get("fault")
                if not isinstance(secret_id, str) or not (
                        fault is None or fault in EXTRA_FAULTS or f"fault/{fault}" in FAULTS):
                    raise ValueError
            except (ValueError, KeyError, TypeError, AttributeError):
                names = sorted(EXTRA_FAULTS | {name.split("/", 1)[1] for name in FAULTS})
                error = f'expected {{"secret_id": ID, "fault": one of {names} or null}}'
                self._send(400, json.dumps({"error": error}).encode(), "application/json")
                return
            with stats.lock:
                if fault is None:
                    stats.faults.pop(secret_id, None)
                else:
                    stats.faults[secret_id] = fault
                faults = dict(stats.faults)
            self._send(200, json.dumps({"faults": faults}).encode(), "application/json")

        def _forward(self, body: bytes):
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "connection")}
            req = urllib.request.Request(upstream + self.path, data=body or None, method=self.command, headers=headers)
            try:
                with urllib.request.urlopen(req, timeout=30) as resp:
                    status, data, rh = resp.status, resp.read(), resp.headers
            except urllib.error.HTTPError as err:
                status, data, rh = err.code, err.read(), err.headers
            extra = {k: v for k, v in rh.items() if k.lower().startswith("x-amz")}
            self._send(status, data, rh.get("Content-Type", "application/x-amz-json-1.1"), extra)

    return Handler


def serve(upstream: str, host: str = "127.0.0.1", port: int = 0):
    stats = Stats()
    server = ThreadingHTTPServer((host, port), make_handler(upstream.rstrip("/"), stats))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, stats
