"""A counting, fault-injecting proxy in front of moto's Secrets Manager.

moto serves Secrets Manager faithfully but cannot deny access, throttle or
fail decryption, and does not count calls. This proxy forwards every request
to moto unchanged and:

- counts requests by their `X-Amz-Target` (GET /__stats → {"counts": {...}},
  POST /__reset zeroes the counters; both from emulators/base.py);
- answers GetSecretValue for secret ids beginning with `fault/` with the AWS
  JSON error a real account would return:
    fault/access-denied → AccessDeniedException
    fault/throttled     → ThrottlingException
    fault/decryption    → DecryptionFailure
    fault/internal      → InternalServiceError (HTTP 500)
- POST /__fault {"secret_id": ID, "fault": F} makes GetSecretValue for exactly
  that SecretId fail from now on, until a call with "fault": null clears it
  (answers {"faults": {...}}). F is one of the FAULTS names without
  `fault/` (access-denied, throttled, decryption, internal), or
    slow → wait SLOW_SECONDS, then forward to moto as usual
    drop → close the connection without an answer
  /__reset leaves injected faults alone.

The faults go through the shared fault-injection hook (`Proxy.fault`, see
emulators/base.py). Bodies are forwarded, never logged. Standard library only;
binds 127.0.0.1.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from . import base

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
AMZ_JSON = "application/x-amz-json-1.1"


def _aws_error(status: int, code: str, message: str) -> base.Fault:
    return base.Fault(status, {"__type": code, "message": message}, {"x-amzn-ErrorType": code}, AMZ_JSON)


def _target(request: base.Handler) -> str:
    return (request.headers.get("X-Amz-Target") or "").split(".")[-1]


class Proxy(base.State):
    """Call counts by target, and the faults injected per SecretId."""

    def __init__(self, upstream: str):
        super().__init__()
        self.upstream = upstream.rstrip("/")
        self.counts: dict[str, int] = {}
        self.faults: dict[str, str] = {}   # SecretId -> injected fault name (POST /__reset keeps them)

    def count(self, target: str) -> None:
        with self.lock:
            self.counts[target] = self.counts.get(target, 0) + 1

    def stats(self) -> dict:
        with self.lock:
            return {"counts": dict(self.counts)}

    def reset(self) -> None:
        with self.lock:
            self.counts.clear()

    def fault(self, request: base.Handler, body: bytes) -> base.Fault | None:
        if request.command != "POST" or _target(request) != "GetSecretValue":
            return super().fault(request, body)
        try:
            secret_id = json.loads(body or b"{}").get("SecretId", "")
        except (ValueError, AttributeError):
            secret_id = ""
        if not isinstance(secret_id, str):
            return super().fault(request, body)
        if secret_id in FAULTS:
            return _aws_error(*FAULTS[secret_id])
        with self.lock:
            injected = self.faults.get(secret_id)
        if injected == "slow":
            return base.Fault(delay=SLOW_SECONDS)   # then forwarded as usual
        if injected == "drop":
            return base.Fault(drop=True)
        if injected:
            status, code, message = FAULTS["fault/" + injected]
            return _aws_error(status, code, message.replace("fault/" + injected, secret_id))
        return super().fault(request, body)


class Handler(base.Handler):
    timeout = None   # the SDK's pooled connections may idle as long as they like
    controls = {("POST", "/__fault"): "set_fault"}

    def do_GET(self):
        if not self.control(self.path):
            self.forward(b"")

    def do_POST(self):
        body = self.read_body()
        if self.control(self.path, body):
            return
        self.state.count(_target(self) or "unknown")
        if not self.inject_fault(body):
            self.forward(body)

    def set_fault(self, body: bytes):
        """POST /__fault {"secret_id": ID, "fault": F | null}."""
        try:
            request = json.loads(body or b"{}")
            secret_id, fault = request["secret_id"], request.get("fault")
            if not isinstance(secret_id, str) or not (
                    fault is None or fault in EXTRA_FAULTS or f"fault/{fault}" in FAULTS):
                raise ValueError
        except (ValueError, KeyError, TypeError, AttributeError):
            names = sorted(EXTRA_FAULTS | {name.split("/", 1)[1] for name in FAULTS})
            self.send_json(400, {"error": f'expected {{"secret_id": ID, "fault": one of {names} or null}}'})
            return
        state: Proxy = self.state
        with state.lock:
            if fault is None:
                state.faults.pop(secret_id, None)
            else:
                state.faults[secret_id] = fault
            faults = dict(state.faults)
        self.send_json(200, {"faults": faults})

    def forward(self, body: bytes):
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "connection")}
        req = urllib.request.Request(self.state.upstream + self.path, data=body or None, method=self.command,
                                     headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, data, rh = resp.status, resp.read(), resp.headers
        except urllib.error.HTTPError as err:
            status, data, rh = err.code, err.read(), err.headers
        extra = {k: v for k, v in rh.items() if k.lower().startswith("x-amz")}
        try:
            self.send_bytes(status, data, rh.get("Content-Type", AMZ_JSON), extra)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True   # the caller gave up waiting (the point of "slow")


def serve(upstream: str, host: str = "127.0.0.1", port: int = 0) -> tuple[base.Server, Proxy]:
    """Start the proxy in a daemon thread; returns (server, state)."""
    state = Proxy(upstream)
    return base.Server((host, port), Handler, state).start("secrets-proxy"), state
