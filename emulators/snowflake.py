#!/usr/bin/env python3
"""Local stand-in for the Snowflake SQL API v2 (/api/v2/statements).

Follows the snowflake-sql-api fact sheet (reference/snowflake-sql-api.md): the
three endpoints and their query parameters (section 1), key-pair JWT / OAuth /
PAT authentication on every request (section 2), the request body and typed
positional bindings (section 3), the 200 / 202 / 408 / 422 / 429 / 5xx
response shapes with partitioned results (section 4: partition 0 inline,
partitions >= 1 always gzip with `Content-Encoding: gzip`), the cell encodings
(section 5) and requestId + retry=true deduplication (section 6).

Statements really run: an embedded DuckDB (emulators/snowflake_sql.py) executes
the submitted SQL with the bindings converted from the SQL API's encodings, and
the answer carries a rowType derived from DuckDB's result types, cells encoded
as Snowflake encodes them, partitions of `partition_rows` rows, and for DML the
one-row count result and `stats` (numRowsInserted, ...). Several statements in
one request (with MULTI_STATEMENT_COUNT) run in order, each with its own
handle (`statementHandles`). `state.engine` is the database; harness.Stack
loads the demo tables of emulators/snowflake_demo.py into it.

Registrations change how a statement is answered, for fault and hostile
tests, keyed by the normalised statement text (stripped, whitespace collapsed,
lower-cased, one trailing `;` dropped):

    server, state = serve(public_key_pem=pub_pem)
    state.register("select 'slow' as s", Slow(1.0))             # 202 for a second, then DuckDB's answer
    state.register("select id from customers where city = ?", Throttle(2),
                   expect_bindings={"1": {"type": "TEXT", "value": "Berlin"}})

Slow (202 then the wrapped result), Throttle (429 + Retry-After for the first N
submissions), ServerError (5xx for the first N submissions; `executed=True`
runs the statement but loses the answer, for idempotent-retry tests) wrap
another result; their `then=None` (the default) means "execute the statement".
Rows, Dml and Failure are canned final answers for what a real engine cannot
produce (absurd cells, lying shapes); Canned (every submission gets exactly this
status, headers and body, e.g. a 307 to another origin, a 401 whose message
echoes the token, a 50 MB inline partition 0; no statement is created) and
Tampered (a Rows result, or with rows=None the executed result, whose answer
lies: another rowType, a code such as 391908 on the 200, partitionInfo entries
that disagree with the partitions, or raw bytes served for a partition, e.g. a
gzip bomb). `state.forget(handle)` drops a statement as if its stored result
had expired. `expect_bindings` fails the statement (422 100037) when the
request's bindings differ.

Error codes this stand-in had to choose (the fact sheet leaves them open; SQL
errors from DuckDB are listed in emulators/snowflake_sql.py):
  401 390101  missing / non-Bearer Authorization header, or an unknown
              X-Snowflake-Authorization-Token-Type value
  401 390144  any JWT failure, and an unknown / wrong-type PAT (like a JWT)
  401 390303  unknown OAuth token (also: no type header, not a JWT, unknown)
  400 390142  missing User-Agent, non-JSON / malformed body, non-string binding
              value, bad binding keys, bad requestId / partition / timeout
  422 002049  (42601) number of bindings != number of `?` placeholders
  422 002040  (42601) binding type outside the documented set
  422 002099  (42601) array bindings of different lengths
  422 000008  (0A000) several statements without a matching MULTI_STATEMENT_COUNT
  422 100132  (P0000) a statement of a multi-statement request failed
  422 100037  (22018) a binding that does not convert, or bindings that differ
              from the registration's expect_bindings
  422 391920  (22023) partition number out of range
  408 000630  (57014) a Slow statement outlived the request's `timeout`

Test-only control endpoints (no auth): GET /__stats and POST /__reset
(emulators/base.py), POST /__register (body: one fixture entry or a list, see
`load_fixtures`), POST /__forget (body: {"handle": H} or {"statement": SQL},
optional "status": 404).

CLI:  python -m emulators.snowflake --port 0 --public-key rsa_key.pub
          [--public-key-2 other.pub] [--account ACME-ANALYTICS] [--user SVC_SECRET_FETCH]
          [--pat TOKEN]... [--oauth TOKEN]... [--partition-rows 1000] [--fixtures file.json]
          [--demo]   (load the demo tables)
Import: server, state = serve(host, port, account=..., user=..., public_key_pem=...,
                              tokens={...}, partition_rows=1000)
Tokens, JWTs and keys are never printed or logged; recorded requests keep the
Authorization header only as "Bearer <redacted>". (A Canned body may ask for the
header to be echoed back to the client: that is its whole point.)
"""

from __future__ import annotations

import argparse
import base64
import binascii
import dataclasses
import gzip
import hashlib
import json
import re
import secrets
import struct
import sys
import time
import uuid
import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from . import base
from .snowflake_sql import (Engine, SqlError, count_placeholders, count_statements, normalise,  # noqa: F401
                            split_statements)

BASE = "/api/v2/statements"
BINDING_TYPES = frozenset({"FIXED", "REAL", "DECFLOAT", "TEXT", "BINARY", "BOOLEAN", "DATE", "TIME",
                           "TIMESTAMP_NTZ", "TIMESTAMP_LTZ", "TIMESTAMP_TZ"})
TOKEN_TYPES = ("KEYPAIR_JWT", "OAUTH", "PROGRAMMATIC_ACCESS_TOKEN")
MSG_OK = "Statement executed successfully."
MSG_ASYNC = ("Asynchronous execution in progress. Use provided query id to perform query monitoring "
             "and management.")
MSG_PAYLOAD = "Incoming request does not contain a valid payload."
MSG_CANCELED = "SQL execution canceled"
TEXT_LENGTH = 16777216
REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


# --- Canned results -----------------------------------------------------------------

@dataclass
class Rows:
    """A result set. `rows` hold cells already encoded as Snowflake sends them (str or None)."""
    row_type: list[dict]
    rows: list[list[str | None]]
    partition_rows: int | list[int] | None = None   # rows per partition (a list: sizes, the last repeats)
    # A dict to share the encoded (JSON, gzip) partitions between the statements that answer with this
    # result (the benchmark's large tables); None: each statement encodes its own partitions.
    shared_cache: dict | None = field(default=None, repr=False, compare=False)


@dataclass
class Dml:
    """A DML result. inserted=None: one row, or the length of the array bindings."""
    inserted: int | None = 0
    updated: int = 0
    deleted: int = 0
    duplicates_updated: int = 0
    statement: str | None = None   # "insert", "update" or "delete": the result's shape even at 0 rows


@dataclass
class Failure:
    """A failed statement: 422 QueryFailureStatus (http_status=408 for a timeout-style failure)."""
    code: str
    sql_state: str
    message: str
    http_status: int = 422


@dataclass
class Slow:
    """The POST answers 202 at once; GET status answers 202 until `seconds` have passed, then `then`
    (None: the statement's executed result)."""
    seconds: float
    then: Any = None


@dataclass
class Throttle:
    """The first `times` submissions answer 429 390505 (with Retry-After unless None), then `then`
    (None: the statement runs)."""
    times: int
    retry_after: int | None = 1
    then: Any = None


@dataclass
class ServerError:
    """The first `times` submissions answer `status`, then `then` (None: the statement runs).
    executed=True: the statement does run (handle remembered under its requestId) but the client
    only sees the error."""
    times: int
    status: int = 503
    then: Any = None
    executed: bool = False
    retry_after: int | None = None


@dataclass
class Canned:
    """Every submission of the statement is answered with exactly this reply; no statement is
    created. `body`: a dict (sent as JSON), bytes (sent verbatim: set Content-Encoding yourself
    if they are gzip) or None. In the string values of a dict body, and in a bytes body,
    "{{AUTHORIZATION}}" becomes the request's Authorization header and "{{TOKEN}}" its bearer
    token (state.echoes counts the replies that echoed one; state.echoed_tokens keeps the echoed
    bearer tokens in memory so a test can search its output for them)."""
    status: int
    body: Any = None
    headers: dict = field(default_factory=dict)


@dataclass
class Tampered:
    """A Rows result (rows=None: the executed result) whose answer lies. `row_type` replaces the
    rowType sent (the cells stay as they are), `code` / `message` replace the 200's code and message (e.g. "391908"),
    `partition_info` maps a partition index to fields overriding its partitionInfo entry, and
    `raw_partitions` maps a partition index >= 1 to the exact bytes served for it (gzip bytes
    are sent with Content-Encoding: gzip). partitionInfo otherwise describes the honest rows."""
    rows: Rows | None = None
    row_type: list | None = None
    code: str | None = None
    message: str | None = None
    partition_info: dict = field(default_factory=dict)
    raw_partitions: dict = field(default_factory=dict)


def column(name: str, type: str, *, precision: int | None = None, scale: int | None = None,  # noqa: A002
           length: int | None = None, byte_length: int | None = None, nullable: bool = True,
           database: str = "ANALYTICS", schema: str = "PUBLIC", table: str = "",
           collation: str | None = None) -> dict:
    """A rowType entry shaped like Snowflake's (lower-case type names)."""
    return {"name": name, "database": database, "schema": schema, "table": table, "type": type.lower(),
            "precision": precision, "scale": scale, "length": length, "byteLength": byte_length,
            "nullable": nullable, "collation": collation}


# --- Keys and JWTs --------------------------------------------------------------------

def load_public_key(pem: bytes | str):
    """An RSA public key from SPKI PEM, PKCS#1 PEM, a private-key PEM, or bare base64 DER (the
    `ALTER USER ... SET RSA_PUBLIC_KEY='MIIB...'` form)."""
    data = pem.encode() if isinstance(pem, str) else bytes(pem)
    if b"-----BEGIN" not in data:
        body = b"".join(data.split())
        data = b"-----BEGIN PUBLIC KEY-----\n" + body + b"\n-----END PUBLIC KEY-----\n"
    if b"PRIVATE KEY" in data:
        key = serialization.load_pem_private_key(data, password=None).public_key()
    else:
        key = serialization.load_pem_public_key(data)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    if key.key_size < 2048:
        raise ValueError("Snowflake requires RSA keys of at least 2048 bits")
    return key


def fingerprint(public_key) -> str:
    """`SHA256:` + standard base64 of sha256(DER SubjectPublicKeyInfo), as DESC USER shows it."""
    if not isinstance(public_key, rsa.RSAPublicKey):
        public_key = load_public_key(public_key)
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "SHA256:" + base64.b64encode(hashlib.sha256(der).digest()).decode()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    text = text.rstrip("=")
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


def mint_jwt(private_key_pem: bytes, account: str, user: str, *, iat: float | None = None,
             lifetime: float = 3540, exp: float | None = None, iss: str | None = None,
             sub: str | None = None, password: bytes | None = None, fingerprint_of=None) -> str:
    """A key-pair JWT (test helper). account/user are used verbatim (no upper-casing)."""
    key = serialization.load_pem_private_key(private_key_pem, password=password)
    now = int(time.time()) if iat is None else int(iat)
    fp = fingerprint(fingerprint_of if fingerprint_of is not None else key.public_key())
    claims = {"iss": iss if iss is not None else f"{account}.{user}.{fp}",
              "sub": sub if sub is not None else f"{account}.{user}",
              "iat": now, "exp": int(exp) if exp is not None else int(now + lifetime)}
    head = _b64url(json.dumps({"alg": "RS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    sig = key.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{head}.{body}.{_b64url(sig)}"


def _jwt_parts(token: str):
    """(header, claims, signing input, signature) or None when the token is not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        header = json.loads(_b64url_decode(parts[0]))
        claims = json.loads(_b64url_decode(parts[1]))
        sig = _b64url_decode(parts[2])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    return header, claims, f"{parts[0]}.{parts[1]}".encode(), sig


def _seconds(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value / 1000.0 if value > 1e11 else float(value)   # milliseconds are accepted too


class AuthError(Exception):
    def __init__(self, reason: str, code: str = "390144", message: str = "JWT token is invalid."):
        super().__init__(reason)
        self.reason, self.code, self.message = reason, code, message


# --- Server state ---------------------------------------------------------------------

@dataclass
class _Registration:
    sql: str
    result: Any
    expect_bindings: dict | None
    partition_rows: int | list[int] | None
    fault_counts: dict = field(default_factory=dict)


@dataclass
class _Statement:
    handle: str
    request_id: str
    sql: str
    created_on: int
    submitted: float
    ready_at: float
    timeout: float | None
    final: Any                       # Rows / Dml / Failure (already resolved)
    nullable: bool
    row_type: list | None = None
    partitions: list | None = None   # list of row lists
    stats: dict | None = None
    canceled: bool = False
    timed_out: bool = False
    _cache: dict = field(default_factory=dict)
    tamper: Any = None               # a Tampered result's overrides
    handles: list | None = None      # a multi-statement request's child statements
    reply_cache: dict | None = None  # a shared_cache result's encoded 200 answer (it never changes)

    @property
    def status_url(self) -> str:
        return f"{BASE}/{self.handle}?requestId={self.request_id}"


class State(base.State):
    """What tests inspect and configure. All access goes through `lock`; `engine` is the DuckDB
    database statements run on (it keeps its tables across reset())."""

    def __init__(self, account: str, user: str, public_key_pem=None, tokens=None, partition_rows: int = 1000):
        super().__init__()
        self.engine = Engine()
        self.account = account.upper()
        self.user = user.upper()
        self.partition_rows = partition_rows
        self.tokens: dict[str, str] = dict(tokens or {})
        self.public_keys: dict[int, tuple[Any, str]] = {}
        if public_key_pem:
            self.set_public_key(public_key_pem)
        self.clock = time.time            # JWT clock; tests may replace it to simulate skew
        self.jwt_skew = 60.0
        self.jwt_max_age = 3600.0
        self.require_accept = True        # 406 when Accept lacks application/json and */*
        self.gzip_when_accepted = True    # partition 0 / status bodies gzip only if Accept-Encoding asks
        self.registry: dict[str, _Registration] = {}
        self.reset()

    # -- configuration -----------------------------------------------------------------
    def reset(self) -> None:
        """Forget registrations, statements, requestIds, requests and counters (keys, tokens and the
        database's tables stay)."""
        with self.lock:
            self.registry = {}
            self.statements: dict[str, _Statement] = {}
            self.request_ids: dict[str, str] = {}
            self.requests: list[dict] = []
            self.auth_failures: list[str] = []
            self.request_errors: list[str] = []
            self.auth_ok: Counter = Counter()
            self.executions: Counter = Counter()
            self.submissions: Counter = Counter()
            self.partition_gets = 0
            self.status_gets = 0
            self.cancels = 0
            self.dedup_hits = 0
            self.forgotten: dict[str, int] = {}
            self.echoes = 0
            self.echoed_tokens: list[str] = []

    def set_public_key(self, pem, slot: int = 1) -> str | None:
        """Register (or with None, clear) RSA_PUBLIC_KEY (slot 1) or RSA_PUBLIC_KEY_2 (slot 2).
        Returns the fingerprint."""
        if slot not in (1, 2):
            raise ValueError("slot must be 1 or 2")
        with self.lock:
            if pem is None:
                self.public_keys.pop(slot, None)
                return None
            key = load_public_key(pem)
            fp = fingerprint(key)
            self.public_keys[slot] = (key, fp)
            return fp

    def fingerprints(self) -> list[str]:
        with self.lock:
            return [fp for _, fp in self.public_keys.values()]

    def set_tokens(self, tokens: dict[str, str]) -> None:
        with self.lock:
            self.tokens = dict(tokens)

    def register(self, sql: str, result=None, *, expect_bindings: dict | None = None,
                 partition_rows: int | list[int] | None = None) -> str:
        """Register how a statement is answered (result None: it runs, only `expect_bindings` and
        `partition_rows` apply); returns the normalised key."""
        _validate_result(result)
        key = normalise(sql)
        with self.lock:
            self.registry[key] = _Registration(key, result, expect_bindings, partition_rows)
        return key

    def unregister(self, sql: str) -> None:
        with self.lock:
            self.registry.pop(normalise(sql), None)

    def forget(self, handle: str, status: int = 422) -> bool:
        """Drop a statement as if Snowflake no longer held its result: status, partition and
        cancel requests for the handle answer 422 000709 "Statement <handle> not found" (or, with
        status=404, a bare 404). Returns whether the handle was known."""
        with self.lock:
            known = self.statements.pop(handle, None) is not None
            self.forgotten[handle] = status
            return known

    # -- inspection ----------------------------------------------------------------------
    def execution_count(self, sql: str) -> int:
        with self.lock:
            return self.executions[normalise(sql)]

    def handles_for(self, sql: str) -> list[str]:
        key = normalise(sql)
        with self.lock:
            return [h for h, st in self.statements.items() if st.sql == key]

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        """Run SQL on the stand-in's database directly (setup and checks; no statement is recorded)."""
        return self.engine.run(sql, params)

    def stats(self) -> dict:
        with self.lock:
            return {"requests": len(self.requests), "executions": dict(self.executions),
                    "submissions": dict(self.submissions), "partition_gets": self.partition_gets,
                    "status_gets": self.status_gets, "cancels": self.cancels, "dedup_hits": self.dedup_hits,
                    "auth_ok": dict(self.auth_ok), "auth_failures": list(self.auth_failures),
                    "request_errors": list(self.request_errors), "fingerprints": self.fingerprints()}

    # -- authentication --------------------------------------------------------------------
    def authenticate(self, authorization: str | None, token_type: str | None) -> str:
        """The accepted token type, or raises AuthError (the reason is recorded)."""
        try:
            kind = self._authenticate(authorization, token_type)
        except AuthError as exc:
            with self.lock:
                self.auth_failures.append(exc.reason)
            raise
        with self.lock:
            self.auth_ok[kind] += 1
        return kind

    def _authenticate(self, authorization: str | None, token_type: str | None) -> str:
        if not authorization:
            raise AuthError("missing Authorization header", "390101", "Authorization header not found in the request data.")
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthError("Authorization header is not 'Bearer <token>'", "390101",
                            "Authorization header not found in the request data.")
        declared = token_type.strip() if token_type is not None else None
        if declared is not None and declared not in TOKEN_TYPES:
            raise AuthError(f"unknown token type header {declared[:40]!r}", "390101",
                            "Invalid value for header X-Snowflake-Authorization-Token-Type.")
        parsed = _jwt_parts(token)
        if declared == "KEYPAIR_JWT" or (declared is None and parsed is not None and "alg" in parsed[0]):
            self._verify_jwt(parsed)
            return "KEYPAIR_JWT"
        with self.lock:
            known = self.tokens.get(token)
        known = known.upper() if isinstance(known, str) else None
        if declared == "PROGRAMMATIC_ACCESS_TOKEN":
            if known != "PROGRAMMATIC_ACCESS_TOKEN":
                raise AuthError("pat: token not accepted" if known is None else f"pat: token registered as {known}",
                                "390144", "Programmatic access token is invalid.")
            return known
        if declared == "OAUTH":
            if known != "OAUTH":
                raise AuthError("oauth: token not accepted" if known is None else f"oauth: token registered as {known}",
                                "390303", "Invalid OAuth access token.")
            return known
        # No type header and not a JWT: Snowflake assumes OAuth; any known token is let through.
        if known is None:
            raise AuthError("untyped token: not a JWT and not an accepted token", "390303", "Invalid OAuth access token.")
        return known

    def _verify_jwt(self, parsed) -> None:
        if parsed is None:
            raise AuthError("jwt malformed: not three base64url JSON segments")
        header, claims, signing_input, sig = parsed
        if header.get("alg") != "RS256":
            raise AuthError(f"jwt alg: expected RS256, got {str(header.get('alg'))[:20]!r}")
        for name in ("iss", "sub", "iat", "exp"):
            if name not in claims:
                raise AuthError(f"jwt claims: missing {name}")
        iss, sub = claims["iss"], claims["sub"]
        if not isinstance(iss, str) or not isinstance(sub, str):
            raise AuthError("jwt claims: iss/sub are not strings")
        principal = f"{self.account}.{self.user}"
        prefix = f"{principal}.SHA256:"
        if not iss.startswith(prefix):
            shown = iss.split(".SHA256:")[0] if ".SHA256:" in iss else iss[:120]
            raise AuthError(f"jwt iss: expected '{prefix}<fp>', got account.user '{shown}'"
                            + ("" if ".SHA256:" in iss else " (no '.SHA256:' fingerprint part)"))
        fp = "SHA256:" + iss[len(prefix):]
        with self.lock:
            keys = {kfp: key for key, kfp in self.public_keys.values()}
        if not keys:
            raise AuthError("jwt fingerprint: no public key registered for the user")
        key = keys.get(fp)
        if key is None:
            raise AuthError(f"jwt fingerprint: {fp[:80]} matches no registered key (registered: {', '.join(keys)})")
        try:
            key.verify(sig, signing_input, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise AuthError("jwt signature: RS256 verification failed") from None
        if sub != principal:
            raise AuthError(f"jwt sub: expected '{principal}', got '{sub[:120]}'")
        iat, exp = _seconds(claims["iat"]), _seconds(claims["exp"])
        if iat is None or exp is None:
            raise AuthError("jwt claims: iat/exp are not numbers")
        now = self.clock()
        if iat > now + self.jwt_skew:
            raise AuthError(f"jwt iat: {iat - now:.0f}s in the future")
        if exp <= now:
            raise AuthError(f"jwt exp: expired {now - exp:.0f}s ago")
        if now - iat > self.jwt_max_age:
            raise AuthError(f"jwt iat: issued {now - iat:.0f}s ago, more than {self.jwt_max_age:.0f}s")


def _validate_result(result, depth: int = 0) -> None:
    if depth > 20:
        raise ValueError("result nesting too deep")
    if result is None:   # execute the statement
        return
    if isinstance(result, (Throttle, ServerError)):
        _validate_result(result.then, depth + 1)
    elif isinstance(result, Slow):
        if isinstance(result.then, (Throttle, ServerError, Canned)):
            raise ValueError("Slow needs then=<None | Rows | Dml | Failure | Tampered | Slow>")
        _validate_result(result.then, depth + 1)
    elif isinstance(result, Canned):
        if not isinstance(result.status, int) or not isinstance(result.body, (dict, list, bytes, type(None))):
            raise ValueError("Canned needs an int status and a dict, list, bytes or None body")
    elif isinstance(result, Tampered):
        if result.rows is not None and not isinstance(result.rows, Rows):
            raise ValueError("Tampered needs rows=<Rows> or None (the executed result)")
        _validate_result(result.rows, depth + 1)
        for i, raw in result.raw_partitions.items():
            if not isinstance(i, int) or i < 1 or not isinstance(raw, bytes):
                raise ValueError("Tampered.raw_partitions maps partition numbers >= 1 to bytes")
    elif isinstance(result, Rows):
        width = len(result.row_type)
        for n, row in enumerate(result.rows):
            if len(row) != width:
                raise ValueError(f"row {n} has {len(row)} cells, rowType has {width}")
            for cell in row:
                if cell is not None and not isinstance(cell, str):
                    raise ValueError(f"row {n}: cells must be encoded strings or None, got {cell!r}")
    elif not isinstance(result, (Dml, Failure)):
        raise ValueError(f"not a result: {result!r}")


# --- Response bodies ------------------------------------------------------------------

def _new_handle() -> str:
    h = secrets.token_hex(16)
    return f"01{h[:6]}-{h[6:10]}-{h[10:14]}-0000-{h[14:26]}"


def _json(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def _error(code: str, message: str, **extra) -> dict:
    return {"code": code, "message": message, **extra}


def _payload_error() -> dict:
    return _error("390142", MSG_PAYLOAD)


def _split(rows: list, sizes) -> list[list]:
    if isinstance(sizes, int):
        sizes = [sizes]
    sizes = [max(1, int(s)) for s in sizes] or [1000]
    parts, i, k = [], 0, 0
    while i < len(rows):
        size = sizes[min(k, len(sizes) - 1)]
        parts.append(rows[i:i + size])
        i, k = i + size, k + 1
    return parts or [[]]


def _dml_shape(dml: Dml, inserted: int):
    counts = {"inserted": inserted, "updated": dml.updated, "deleted": dml.deleted}
    fixed = dict(type="fixed", precision=19, scale=0, nullable=False, database="", schema="", table="")
    if dml.statement == "update" or (dml.updated and not inserted and not dml.deleted):
        cols = [("number of rows updated", dml.updated), ("number of multi-joined rows updated", 0)]
    elif dml.statement == "delete" or (dml.deleted and not inserted and not dml.updated):
        cols = [("number of rows deleted", dml.deleted)]
    elif dml.updated or dml.deleted:
        cols = [(f"number of rows {k}", v) for k, v in counts.items()]
    else:
        cols = [("number of rows inserted", inserted)]
    row_type = [column(name, **fixed) for name, _ in cols]
    stats = {k: v for k, v in (("numRowsInserted", inserted), ("numRowsUpdated", dml.updated),
                                ("numRowsDeleted", dml.deleted),
                                ("numDuplicateRowsUpdated", dml.duplicates_updated)) if v}
    return row_type, [[str(v) for _, v in cols]], stats


class Reply:
    def __init__(self, status: int, body=None, headers: dict | None = None, gzip_always: bool = False,
                 cache: dict | None = None):
        self.status, self.body, self.headers, self.gzip_always = status, body, headers or {}, gzip_always
        self.cache = cache   # the encoded body by "gzipped?", for a reply that never changes (see _Statement)


class Spliced:
    """A JSON body in three pieces, the middle one shared between replies
    (partition 0 of a shared result, the same for every statement): sent as
    is, or gzipped with the middle's deflate segment compressed once. Each
    piece is its own deflate segment, byte-aligned by a full flush (the way
    pigz compresses in parallel), so the gzip member is one valid stream."""

    def __init__(self, prefix: bytes, middle: bytes, suffix: bytes, middle_deflated: bytes):
        self.prefix, self.middle, self.suffix, self.middle_deflated = prefix, middle, suffix, middle_deflated

    def plain(self) -> bytes:
        return self.prefix + self.middle + self.suffix

    def gzipped(self) -> bytes:
        crc = zlib.crc32(self.suffix, zlib.crc32(self.middle, zlib.crc32(self.prefix)))
        size = len(self.prefix) + len(self.middle) + len(self.suffix)
        return (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + deflate_segment(self.prefix, final=False)
                + self.middle_deflated + deflate_segment(self.suffix, final=True)
                + struct.pack("<II", crc, size & 0xFFFFFFFF))


def deflate_segment(data: bytes, final: bool) -> bytes:
    """Raw deflate of `data` from a fresh dictionary, ended by a full flush
    (`final=False`: more segments follow) or as the stream's last block."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush(zlib.Z_FINISH if final else zlib.Z_FULL_FLUSH)


def _link(st: _Statement, current: int | None) -> str:
    last = len(st.partitions) - 1
    url = f"{BASE}/{st.handle}?requestId={st.request_id}&partition="
    links = [f'<{url}0>; rel="first"']
    if current is not None and current > 0:
        links.append(f'<{url}{current - 1}>; rel="prev"')
    nxt = 1 if current is None else current + 1
    if nxt <= last:
        links.append(f'<{url}{nxt}>; rel="next"')
    links.append(f'<{url}{last}>; rel="last"')
    return ",".join(links)


def _partition_bytes(st: _Statement, i: int) -> tuple[bytes, bytes]:
    """(uncompressed JSON, gzip) of partition i >= 1, cached."""
    if i not in st._cache:
        raw = _json({"data": st.partitions[i]})
        st._cache[i] = (raw, gzip.compress(raw, mtime=0))
    return st._cache[i]


def _result_reply(st: _Statement) -> Reply:
    final = st.final
    if isinstance(final, Failure):
        return Reply(final.http_status, {"code": final.code, "message": final.message, "sqlState": final.sql_state,
                                         "statementHandle": st.handle, "statementStatusUrl": st.status_url,
                                         "createdOn": st.created_on})
    info = []
    for i, part in enumerate(st.partitions):
        if i == 0:
            if "size0" not in st._cache:
                st._cache["size0"] = len(_json(part))
            info.append({"rowCount": len(part), "uncompressedSize": st._cache["size0"]})
        else:
            raw, packed = _partition_bytes(st, i)
            info.append({"rowCount": len(part), "uncompressedSize": len(raw), "compressedSize": len(packed)})
    body = {"resultSetMetaData": {"numRows": sum(len(p) for p in st.partitions), "format": "jsonv2",
                                  "partitionInfo": info, "rowType": st.row_type},
            "data": st.partitions[0], "code": "090001", "statementStatusUrl": st.status_url,
            "sqlState": "00000", "statementHandle": st.handle, "message": MSG_OK, "createdOn": st.created_on}
    if st.stats is not None:
        body["stats"] = st.stats
    if st.handles is not None:
        body["statementHandles"] = list(st.handles)
    t = st.tamper
    if t is not None:
        if t.row_type is not None:
            body["resultSetMetaData"]["rowType"] = t.row_type
        for i, fields in t.partition_info.items():
            if 0 <= i < len(info):
                info[i].update(fields)
        if t.code is not None:
            body["code"] = t.code
        if t.message is not None:
            body["message"] = t.message
    if st.reply_cache is not None and st.tamper is None:
        # A shared result: partition 0's rows are encoded and compressed once for every statement
        # that answers them (the benchmark's 500k: 1.2 MB, 120 ms of gzip per submission otherwise).
        if "data0" not in st._cache:
            middle = _json(st.partitions[0])
            st._cache["data0"] = (middle, deflate_segment(middle, final=False))
        middle, deflated = st._cache["data0"]
        head = {"resultSetMetaData": body.pop("resultSetMetaData")}
        body.pop("data")
        prefix = _json(head)[:-1] + b',"data":'
        suffix = b"," + _json(body)[1:]
        return Reply(200, Spliced(prefix, middle, suffix, deflated), {"Link": _link(st, None)})
    return Reply(200, body, {"Link": _link(st, None)}, cache=st.reply_cache)


def _running_reply(st: _Statement) -> Reply:
    return Reply(202, {"code": "333334", "message": MSG_ASYNC, "statementHandle": st.handle,
                       "statementStatusUrl": st.status_url})


def _echo(value, authorization: str | None):
    """Substitute {{AUTHORIZATION}} / {{TOKEN}} in a Canned body; returns (body, echoed)."""
    auth = authorization or ""
    token = auth.strip().partition(" ")[2].strip()
    if isinstance(value, bytes):
        out = value.replace(b"{{AUTHORIZATION}}", auth.encode("latin-1", "replace")).replace(
            b"{{TOKEN}}", token.encode("latin-1", "replace"))
        return out, out != value
    if isinstance(value, str):
        out = value.replace("{{AUTHORIZATION}}", auth).replace("{{TOKEN}}", token)
        return out, out != value
    if isinstance(value, dict):
        pairs = [(k, _echo(v, authorization)) for k, v in value.items()]
        return {k: v for k, (v, _) in pairs}, any(e for _, (_, e) in pairs)
    if isinstance(value, list):
        items = [_echo(v, authorization) for v in value]
        return [v for v, _ in items], any(e for _, e in items)
    return value, False


def _canned_reply(state: State, canned: Canned, authorization: str | None) -> Reply:
    body, echoed = _echo(canned.body, authorization)
    if echoed:
        state.echoes += 1
        state.echoed_tokens.append((authorization or "").strip().partition(" ")[2].strip())
    return Reply(canned.status, body, dict(canned.headers))


def _not_found(handle: str) -> Reply:
    return Reply(422, {"code": "000709", "message": f"Statement {handle} not found", "sqlState": "02000",
                       "statementHandle": handle, "statementStatusUrl": f"{BASE}/{handle}"})


def _status_reply(st: _Statement) -> Reply:
    """Current status of a statement (as GET without partition, or a deduplicated POST)."""
    if st.canceled:
        return Reply(422, {"code": "000604", "message": MSG_CANCELED, "sqlState": "57014",
                           "statementHandle": st.handle, "statementStatusUrl": st.status_url,
                           "createdOn": st.created_on})
    now = time.monotonic()
    if st.timeout and not st.timed_out and now < st.ready_at and now - st.submitted >= st.timeout:
        st.timed_out = True
    if st.timed_out:
        secs = int(st.timeout)
        return Reply(408, {"code": "000630", "sqlState": "57014",
                           "message": f"Statement reached its statement or warehouse timeout of {secs} second(s) "
                                      f"and was canceled.",
                           "statementHandle": st.handle, "statementStatusUrl": st.status_url})
    if now < st.ready_at:
        return _running_reply(st)
    return _result_reply(st)


# --- Request handling -------------------------------------------------------------------

class BindingProblem(Exception):
    """A bad `bindings` object: a 400 reply is a malformed payload, a 422 reply becomes the statement's
    failure (it gets a handle, like a compilation error)."""

    def __init__(self, reply: Reply, reason: str):
        super().__init__(reason)
        self.reply, self.reason = reply, reason


def _bad_payload(reason: str) -> BindingProblem:
    return BindingProblem(Reply(400, _payload_error()), reason)


def _compile_error(code: str, message: str, reason: str) -> BindingProblem:
    return BindingProblem(Reply(422, _error(code, message, sqlState="42601")), reason)


def check_bindings(bindings, placeholders: int) -> int | None:
    """Validate `bindings` against the placeholder count; returns the array length (None if scalar)."""
    if bindings is None:
        bindings = {}
    if not isinstance(bindings, dict):
        raise _bad_payload("bindings is not an object")
    array_len = None
    for key, binding in bindings.items():
        if not re.fullmatch(r"[1-9][0-9]*", key):
            raise _bad_payload(f"binding key {key[:20]!r} is not a positive integer string")
        if not isinstance(binding, dict) or "type" not in binding or "value" not in binding:
            raise _bad_payload(f"binding {key} is not {{type, value}}")
        kind, value = binding["type"], binding["value"]
        if not isinstance(kind, str):
            raise _bad_payload(f"binding {key}: type is not a string")
        if isinstance(value, list):
            if not all(v is None or isinstance(v, str) for v in value):
                raise _bad_payload(f"binding {key}: array elements must be strings or null")
        elif value is not None and not isinstance(value, str):
            raise _bad_payload(f"binding {key}: value is a JSON {type(value).__name__}, not a string")
    kinds = {isinstance(b["value"], list) for b in bindings.values()}
    if len(kinds) > 1:
        raise _bad_payload("array and scalar bindings mixed")
    for key, binding in sorted(bindings.items(), key=lambda kv: int(kv[0])):
        kind, value = binding["type"], binding["value"]
        if kind not in BINDING_TYPES:
            raise _compile_error("002040", f"SQL compilation error:\nUnsupported data type '{kind[:40]}'.",
                                 f"binding {key}: unsupported type {kind[:40]!r}")
        if isinstance(value, list):
            if array_len is None:
                array_len = len(value)
            elif len(value) != array_len:
                raise _compile_error("002099", f"SQL compilation error: Batch size of {len(value)} for bind "
                                               f"variable {key} not the same as previous size of {array_len}.",
                                     f"binding {key}: array length {len(value)} != {array_len}")
    expected = {str(i) for i in range(1, placeholders + 1)}
    if set(bindings) != expected:
        missing = sorted(expected - set(bindings), key=int)
        extra = sorted(set(bindings) - expected, key=int)
        if missing:
            msg = (f"SQL compilation error: error line 1 at position 0\nBind variable ? not set. "
                   f"(binding {missing[0]} missing)")
        else:
            msg = (f"SQL compilation error:\nThe statement has {placeholders} bind variable(s) but the request "
                   f"also binds {', '.join(extra)}.")
        raise _compile_error("002049", msg, f"bindings: statement has {placeholders} placeholder(s), "
                                            f"request has keys {sorted(bindings, key=int)}")
    return array_len


def _bindings_diff(expected: dict, got: dict) -> list[str]:
    diffs = []
    for key in sorted(set(expected) | set(got), key=lambda k: (len(k), k)):
        if key not in got:
            diffs.append(f"binding {key} missing (expected {json.dumps(expected[key])})")
        elif key not in expected:
            diffs.append(f"binding {key} unexpected ({json.dumps(got[key])})")
        elif expected[key] != got[key]:
            diffs.append(f"binding {key}: expected {json.dumps(expected[key])}, got {json.dumps(got[key])}")
    return diffs


def _flag(query: dict, name: str) -> bool:
    return query.get(name, "").strip().lower() == "true"


def submit(state: State, query: dict, body, authorization: str | None = None) -> Reply:
    """POST /api/v2/statements (after auth and header checks). `authorization` is only used by
    Canned results that echo it."""
    def reject(reply: Reply, reason: str) -> Reply:
        with state.lock:
            state.request_errors.append(reason)
        return reply

    if not isinstance(body, dict) or not isinstance(body.get("statement"), str) or not body["statement"].strip():
        return reject(Reply(400, _payload_error()), "body: missing or empty 'statement'")
    for name in ("database", "schema", "warehouse", "role"):
        if name in body and body[name] is not None and not isinstance(body[name], str):
            return reject(Reply(400, _payload_error()), f"body: {name} is not a string")
    timeout = body.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 0):
        return reject(Reply(400, _payload_error()), "body: timeout is not a non-negative integer")
    params = body.get("parameters")
    if params is not None and not isinstance(params, dict):
        return reject(Reply(400, _payload_error()), "body: parameters is not an object")
    request_id = query.get("requestId")
    if request_id is not None:
        try:
            uuid.UUID(request_id)
        except ValueError:
            return reject(Reply(400, _payload_error()), "requestId is not a UUID")
    sql_text = body["statement"]
    key = normalise(sql_text)
    bindings = body.get("bindings")
    problem, array_len = None, None
    try:
        array_len = check_bindings(bindings, count_placeholders(sql_text))
    except BindingProblem as exc:
        if exc.reply.status == 400:
            return reject(exc.reply, exc.reason)
        problem = exc

    with state.lock:
        state.submissions[key] += 1
        reg = state.registry.get(key)
        # Faults (429 / 5xx) come first: they count every submission of the statement.
        node, executed_fault = reg.result if reg else None, None
        while isinstance(node, (Throttle, ServerError)):
            used = reg.fault_counts.get(id(node), 0)
            if used < node.times:
                reg.fault_counts[id(node)] = used + 1
                if isinstance(node, Throttle):
                    headers = {} if node.retry_after is None else {"Retry-After": str(node.retry_after)}
                    return Reply(429, _error("390505", "Too many requests."), headers)
                headers = {} if node.retry_after is None else {"Retry-After": str(node.retry_after)}
                fault = Reply(node.status, _error(str(node.status), REASONS.get(node.status, "Server Error")), headers)
                if not node.executed:
                    return fault
                executed_fault = fault
                node = node.then
                break
            node = node.then
        while isinstance(node, (Throttle, ServerError)):   # after an executed fault
            node = node.then
        if isinstance(node, Canned):
            return executed_fault or _canned_reply(state, node, authorization)

        # Idempotent resubmission.
        if executed_fault is None and request_id and _flag(query, "retry") and request_id in state.request_ids:
            st = state.statements.get(state.request_ids[request_id])
            if st is not None:
                state.dedup_hits += 1
                return _status_reply(st)

        # A new statement.
        now = time.monotonic()
        st = _Statement(handle=_new_handle(), request_id=request_id or str(uuid.uuid4()), sql=key,
                        created_on=int(time.time() * 1000), submitted=now, ready_at=now,
                        timeout=float(timeout) if timeout else None, final=None,
                        nullable=query.get("nullable", "").strip().lower() != "false")
        state.statements[st.handle] = st
        if request_id:
            state.request_ids[request_id] = st.handle
        state.executions[key] += 1

        failure = _precheck(state, reg, sql_text, params, bindings, problem)
        delay = 0.0
        if failure is None:
            while isinstance(node, Slow):
                delay += max(0.0, float(node.seconds))
                node = node.then
            st.ready_at = now + delay
            final = node
            if final is None or (isinstance(final, Tampered) and final.rows is None):
                final = _execute(state, st, sql_text, body, final)
        else:
            final = failure
        _materialise(state, st, final, reg, array_len)

        if executed_fault is not None:
            return executed_fault
        if delay > 0 or (_flag(query, "async") and not isinstance(final, Failure)):
            return _running_reply(st)   # as if the 45 s synchronous wait had elapsed
        return _status_reply(st)


def _precheck(state: State, reg, sql_text, params, bindings, problem: BindingProblem | None) -> Failure | None:
    """Compile-time failures: statement count, binding count/type, expect_bindings."""
    count = count_statements(sql_text)
    if count > 1:
        wanted = None
        for k, v in (params or {}).items():
            if k.lower() == "multi_statement_count":
                wanted = v
        try:
            wanted = 1 if wanted is None else int(wanted)
        except (TypeError, ValueError):
            wanted = 1
        if wanted != 0 and wanted != count:
            state.request_errors.append(f"statement count {count} != MULTI_STATEMENT_COUNT {wanted}")
            return Failure("000008", "0A000",
                           f"Actual statement count {count} did not match the desired statement count {wanted}.")
    if problem is not None:
        state.request_errors.append(problem.reason)
        b = problem.reply.body
        return Failure(b["code"], b["sqlState"], b["message"])
    if reg is not None and reg.expect_bindings is not None:
        diffs = _bindings_diff(reg.expect_bindings, bindings or {})
        if diffs:
            state.request_errors.append("expect_bindings: " + "; ".join(diffs))
            return Failure("100037", "22018", "Bindings do not match the expected bindings: " + "; ".join(diffs))
    return None


MULTI_ROW_TYPE = [column("multiple statement execution", "text", length=TEXT_LENGTH, byte_length=TEXT_LENGTH,
                         database="", schema="")]


def _run(state: State, sql_text: str, bindings, body: dict):
    """Run one statement on the engine: Rows, Dml or Failure."""
    names = {k: str(body.get(k) or "").upper() for k in ("database", "schema")}
    try:
        result = state.engine.execute(sql_text, bindings, database=names["database"], schema=names["schema"])
    except SqlError as exc:
        state.request_errors.append(f"sql error {exc.code}")
        return Failure(exc.code, exc.sql_state, exc.message)
    if result.kind == "rows":
        return Rows(result.row_type, result.rows)
    if result.kind == "ddl":
        return Rows([column("status", "text", length=TEXT_LENGTH, byte_length=TEXT_LENGTH, database="",
                            schema="")], [[MSG_OK]])
    counts = {"inserted": 0, "updated": 0, "deleted": 0}
    counts[{"insert": "inserted", "update": "updated", "delete": "deleted"}[result.kind]] = result.count
    return Dml(**counts, statement=result.kind)


def _execute(state: State, st: _Statement, sql_text: str, body: dict, tampered: Tampered | None):
    """The executed result of a new statement (several statements: each its own child statement)."""
    pieces = split_statements(sql_text)
    if len(pieces) == 1:
        final = _run(state, sql_text, body.get("bindings"), body)
        if tampered is not None:
            return dataclasses.replace(tampered, rows=final) if isinstance(final, Rows) else final
        return final
    if body.get("bindings"):
        return Failure("000008", "0A000", "Bindings are not supported in a request with multiple statements.")
    handles = []
    for n, piece in enumerate(pieces, 1):
        child = _Statement(handle=_new_handle(), request_id=str(uuid.uuid4()), sql=normalise(piece),
                           created_on=int(time.time() * 1000), submitted=st.submitted, ready_at=st.ready_at,
                           timeout=st.timeout, final=None, nullable=st.nullable)
        state.statements[child.handle] = child
        handles.append(child.handle)
        result = _run(state, piece, None, body)
        _materialise(state, child, result, None, None)
        if isinstance(result, Failure):
            return Failure("100132", "P0000", f"Execution of multiple statements failed on statement {n} "
                                              f"(\"{' '.join(piece.split())[:60]}\").\n{result.message}")
    st.handles = handles
    return Rows([dict(c) for c in MULTI_ROW_TYPE], [["Multiple statements executed successfully."]])


def _materialise(state: State, st: _Statement, final, reg, array_len) -> None:
    if isinstance(final, Tampered):
        st.tamper, final = final, final.rows
    st.final = final
    if isinstance(final, Rows):
        sizes = (reg.partition_rows if reg and reg.partition_rows is not None else
                 final.partition_rows if final.partition_rows is not None else state.partition_rows)
        st.row_type = [dict(c) for c in final.row_type]
        shared = None
        if final.shared_cache is not None:
            shared = final.shared_cache.setdefault((json.dumps(sizes), st.nullable), {})
            st._cache = shared
            if st.tamper is None:
                st.reply_cache = {}
        if shared is not None and "partitions" in shared:
            # Read-only from here on: every statement of a shared result answers the same rows, so the
            # copy and split of a large table happen once, not per submission (the benchmark's 500k).
            st.partitions = shared["partitions"]
        else:
            rows = final.rows if st.nullable else [["null" if c is None else c for c in r] for r in final.rows]
            st.partitions = _split([list(r) for r in rows], sizes)
            if shared is not None:
                shared["partitions"] = st.partitions
    elif isinstance(final, Dml):
        inserted = final.inserted if final.inserted is not None else (array_len if array_len is not None else 1)
        st.row_type, data, st.stats = _dml_shape(final, inserted)
        st.partitions = [data]


def status(state: State, handle: str, query: dict) -> Reply:
    """GET /api/v2/statements/{handle}[?partition=N]."""
    raw = query.get("partition")
    part = 0
    if raw is not None:
        if not re.fullmatch(r"[0-9]+", raw.strip()):
            with state.lock:
                state.request_errors.append("partition is not a non-negative integer")
            return Reply(400, _payload_error())
        part = int(raw)
    with state.lock:
        if part >= 1:
            state.partition_gets += 1
        else:
            state.status_gets += 1
        st = state.statements.get(handle)
        if st is None:
            if state.forgotten.get(handle) == 404:
                return Reply(404, _error("404", f"Not found: {BASE}/{handle[:80]}"))
            return _not_found(handle)
        reply = _status_reply(st)
        if reply.status != 200 or part == 0:
            return reply
        last = len(st.partitions) - 1
        if part > last:
            state.request_errors.append(f"partition {part} out of range 0..{last}")
            return Reply(422, {"code": "391920", "sqlState": "22023",
                               "message": f"Partition number {part} is out of range: the result has "
                                          f"{last + 1} partition(s) (0..{last}).",
                               "statementHandle": st.handle, "statementStatusUrl": st.status_url})
        raw = st.tamper.raw_partitions.get(part) if st.tamper is not None else None
        if raw is not None:
            return Reply(200, raw, {"Link": _link(st, part)}, gzip_always=raw[:2] == b"\x1f\x8b")
        _, packed = _partition_bytes(st, part)
        return Reply(200, packed, {"Link": _link(st, part)}, gzip_always=True)


def cancel(state: State, handle: str) -> Reply:
    """POST /api/v2/statements/{handle}/cancel."""
    with state.lock:
        state.cancels += 1
        st = state.statements.get(handle)
        if st is None:
            if state.forgotten.get(handle) == 404:
                return Reply(404, _error("404", f"Not found: {BASE}/{handle[:80]}/cancel"))
            return _not_found(handle)
        if not st.canceled and not st.timed_out and _status_reply(st).status == 202:
            st.canceled = True   # only a running statement is cancelled; a finished one keeps its result
        return Reply(200, {"code": "000604", "sqlState": "57014", "message": MSG_CANCELED,
                           "statementHandle": st.handle, "statementStatusUrl": f"{BASE}/{st.handle}"})


# --- Fixtures (JSON) for the CLI and /__register ------------------------------------------

def result_from_json(obj: dict | None):
    """None or {"kind": "execute"} (run the statement) | {"kind": "rows", "rowType": [...], "data": [...],
    "partitionRows": N} | {"kind": "dml", "inserted": N, "updated": N, "deleted": N} | {"kind": "failure",
    "code", "sqlState", "message"} | {"kind": "slow", "seconds", "then"} | {"kind": "throttle", "times",
    "retryAfter", "then"} | {"kind": "server_error", "times", "status", "executed", "then"} |
    {"kind": "canned", "status", "headers", "body" | "bodyBase64"} (a missing "then" runs the statement)"""
    if obj is None:
        return None
    kind = str(obj.get("kind", "")).lower()
    if kind == "execute":
        return None
    if kind == "rows":
        return Rows(obj["rowType"], obj.get("data", []), obj.get("partitionRows"))
    if kind == "dml":
        return Dml(obj.get("inserted", 0), obj.get("updated", 0), obj.get("deleted", 0),
                   obj.get("duplicatesUpdated", 0))
    if kind == "failure":
        return Failure(obj["code"], obj.get("sqlState", "42000"), obj["message"], obj.get("httpStatus", 422))
    if kind == "slow":
        return Slow(obj["seconds"], result_from_json(obj.get("then")))
    if kind == "throttle":
        return Throttle(obj.get("times", 1), obj.get("retryAfter", 1), result_from_json(obj.get("then")))
    if kind == "server_error":
        return ServerError(obj.get("times", 1), obj.get("status", 503), result_from_json(obj.get("then")),
                           bool(obj.get("executed", False)), obj.get("retryAfter"))
    if kind == "canned":
        body = base64.b64decode(obj["bodyBase64"]) if "bodyBase64" in obj else obj.get("body")
        return Canned(int(obj["status"]), body, dict(obj.get("headers") or {}))
    raise ValueError(f"unknown result kind {kind!r}")


def load_fixtures(state: State, entries) -> int:
    """Register [{"statement": ..., "result": {...}, "expectBindings": {...}, "partitionRows": N}, ...]."""
    if isinstance(entries, dict):
        entries = [entries]
    for entry in entries:
        state.register(entry["statement"], result_from_json(entry.get("result")),
                       expect_bindings=entry.get("expectBindings"), partition_rows=entry.get("partitionRows"))
    return len(entries)


# --- HTTP plumbing ------------------------------------------------------------------------

def _route(path: str):
    if path == BASE:
        return "submit", None
    if path.startswith(BASE + "/"):
        parts = path[len(BASE) + 1:].split("/")
        if len(parts) == 1 and parts[0]:
            return "status", parts[0]
        if len(parts) == 2 and parts[0] and parts[1] == "cancel":
            return "cancel", parts[0]
    return None, None


ALLOWED = {"submit": "POST", "status": "GET", "cancel": "POST"}


def _accepts_json(accept: str | None) -> bool:
    if accept is None:
        return False
    for item in accept.split(","):
        media = item.split(";")[0].strip().lower()
        params = item.split(";")[1:]
        if any(p.strip().replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000") for p in params):
            continue
        if media in ("application/json", "*/*", "application/*"):
            return True
    return False


def _accepts_gzip(value: str | None) -> bool:
    for item in (value or "").split(","):
        bits = [b.strip().lower() for b in item.split(";")]
        if bits[0] in ("gzip", "*") and not any(b.replace(" ", "") in ("q=0", "q=0.0") for b in bits[1:]):
            return True
    return False


class Handler(base.Handler):
    server_version = "SnowflakeEmulator/1.0"
    controls = {("POST", "/__forget"): "control_forget", ("POST", "/__register"): "control_register"}
    _record: dict | None = None

    # -- I/O ---------------------------------------------------------------------------------
    def _send(self, reply: Reply) -> None:
        if self._record is not None:
            self._record["status"] = reply.status
        body, compressed = reply.body, reply.gzip_always
        if body is None:
            data = b""
        elif isinstance(body, bytes):
            data = body
        elif isinstance(body, Spliced):
            packed = reply.status == 200 and self.state.gzip_when_accepted and _accepts_gzip(
                self.headers.get("Accept-Encoding")) and self.command != "HEAD"
            data = body.gzipped() if packed else body.plain()
            compressed = compressed or packed
        else:
            packed = reply.status == 200 and self.state.gzip_when_accepted and _accepts_gzip(
                self.headers.get("Accept-Encoding")) and self.command != "HEAD"
            data = reply.cache.get(packed) if reply.cache is not None else None
            if data is None:
                data = _json(body)
                if packed:
                    data = gzip.compress(data, mtime=0)
                if reply.cache is not None:
                    reply.cache[packed] = data
            compressed = compressed or packed
        headers = dict(reply.headers)
        if compressed:
            headers["Content-Encoding"] = "gzip"
        self.send_bytes(reply.status, data, "application/json", headers)

    # -- dispatch ----------------------------------------------------------------------------
    def _handle(self) -> None:
        self._record = None
        url = urlsplit(self.path)
        try:
            raw = self.read_body()
        except (ValueError, OSError, EOFError):
            self.close_connection = True
            self._send(Reply(400, _payload_error()))
            return
        if self.control(url.path, raw) or self.inject_fault(raw):
            return
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        kind, handle = _route(url.path)
        self._record = self._make_record(url.path, query)
        if kind is None:
            self._send(Reply(404, _error("404", f"Not found: {url.path[:200]}")))
            return
        if self.command != ALLOWED[kind]:
            self._send(Reply(405, None, {"Allow": ALLOWED[kind]}))
            return
        try:
            self._send(self._dispatch(kind, handle, query, raw))
        except Exception as exc:  # never echo request data: it may hold a token
            line = exc.__traceback__.tb_lineno if exc.__traceback__ else 0
            while exc.__traceback__ and exc.__traceback__.tb_next:   # innermost frame's line, no data
                exc.__traceback__ = exc.__traceback__.tb_next
                line = exc.__traceback__.tb_lineno
            print(f"snowflake emulator: internal error ({type(exc).__name__} at line {line})", file=sys.stderr)
            self._send(Reply(500, _error("500", "internal emulator error")))

    def _make_record(self, path: str, query: dict) -> dict:
        auth = self.headers.get("Authorization")
        headers = {"authorization": None if auth is None else
                   ("Bearer <redacted>" if auth.strip().lower().startswith("bearer") else "<redacted>")}
        for name in ("X-Snowflake-Authorization-Token-Type", "User-Agent", "Content-Type", "Accept",
                     "Accept-Encoding"):
            headers[name.lower()] = self.headers.get(name)
        record = {"method": self.command, "path": path, "query": dict(query), "headers": headers,
                  "body": None, "status": None, "time": time.time()}
        with self.state.lock:
            self.state.requests.append(record)
        return record

    def _dispatch(self, kind: str, handle: str | None, query: dict, raw: bytes) -> Reply:
        state = self.state
        try:
            state.authenticate(self.headers.get("Authorization"),
                               self.headers.get("X-Snowflake-Authorization-Token-Type"))
        except AuthError as exc:
            return Reply(401, _error(exc.code, f"{exc.message} [{uuid.uuid4()}]"))

        def reject(status: int, body: dict, reason: str) -> Reply:
            with state.lock:
                state.request_errors.append(reason)
            return Reply(status, body)

        if not (self.headers.get("User-Agent") or "").strip():
            return reject(400, _payload_error(), "missing User-Agent header")
        if state.require_accept and not _accepts_json(self.headers.get("Accept")):
            return reject(406, _error("406", "Not Acceptable: Accept must include application/json"),
                          f"Accept header {str(self.headers.get('Accept'))[:80]!r} lacks application/json")
        ctype = self.headers.get("Content-Type")
        if self.command == "POST" and ctype is not None and (raw or kind == "submit"):
            media = ctype.split(";")[0].strip().lower()
            if media != "application/json":
                return reject(415, _error("415", f"Unsupported Media Type: {media[:80]}"),
                              f"Content-Type {media[:80]!r} is not application/json")
        if kind == "status":
            return status(state, handle, query)
        if kind == "cancel":
            return cancel(state, handle)
        try:
            body = json.loads(raw.decode("utf-8")) if raw.strip() else None
        except (ValueError, UnicodeDecodeError):
            return reject(400, _payload_error(), "body is not valid JSON")
        self._record["body"] = body
        return submit(state, query, body, self.headers.get("Authorization"))

    def control_forget(self, raw: bytes) -> None:
        state = self.state
        try:
            req = json.loads(raw or b"{}")
            code = int(req.get("status", 422))
            handles = [req["handle"]] if "handle" in req else state.handles_for(req["statement"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            self.send_json(400, {"error": f"bad request: {type(exc).__name__}"})
            return
        known = [h for h in handles if state.forget(h, code)]
        self.send_json(200, {"ok": True, "forgotten": known})

    def control_register(self, raw: bytes) -> None:
        try:
            n = load_fixtures(self.state, json.loads(raw or b"[]"))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            self.send_json(400, {"error": f"bad fixture: {type(exc).__name__}: {exc}"[:300]})
            return
        self.send_json(200, {"ok": True, "registered": n})

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle


def make_server(host: str = "127.0.0.1", port: int = 0, *, account: str = "ACME-ANALYTICS",
                user: str = "SVC_SECRET_FETCH", public_key_pem: bytes | None = None,
                tokens: dict[str, str] | None = None, partition_rows: int = 1000) -> base.Server:
    return base.Server((host, port), Handler, State(account, user, public_key_pem, tokens, partition_rows))


def serve(host: str = "127.0.0.1", port: int = 0, *, account: str = "ACME-ANALYTICS",
          user: str = "SVC_SECRET_FETCH", public_key_pem: bytes | None = None,
          tokens: dict[str, str] | None = None, partition_rows: int = 1000):
    """Start the stand-in in a daemon thread; returns (server, state). Stop with server.shutdown()."""
    server = make_server(host, port, account=account, user=user, public_key_pem=public_key_pem,
                         tokens=tokens, partition_rows=partition_rows).start("snowflake-emulator")
    return server, server.state


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local stand-in for the Snowflake SQL API v2.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--account", default="ACME-ANALYTICS")
    parser.add_argument("--user", default="SVC_SECRET_FETCH")
    parser.add_argument("--public-key", help="PEM file: the user's RSA_PUBLIC_KEY")
    parser.add_argument("--public-key-2", help="PEM file: the user's RSA_PUBLIC_KEY_2")
    parser.add_argument("--pat", action="append", default=[], help="an accepted programmatic access token")
    parser.add_argument("--oauth", action="append", default=[], help="an accepted OAuth access token")
    parser.add_argument("--partition-rows", type=int, default=1000)
    parser.add_argument("--fixtures", help="JSON file of registrations (see load_fixtures)")
    parser.add_argument("--demo", action="store_true", help="load the demo tables (emulators/snowflake_demo.py)")
    args = parser.parse_args(argv)
    tokens = {t: "PROGRAMMATIC_ACCESS_TOKEN" for t in args.pat}
    tokens.update({t: "OAUTH" for t in args.oauth})
    pem = open(args.public_key, "rb").read() if args.public_key else None
    server = make_server(args.host, args.port, account=args.account, user=args.user, public_key_pem=pem,
                         tokens=tokens, partition_rows=args.partition_rows)
    if args.public_key_2:
        server.state.set_public_key(open(args.public_key_2, "rb").read(), slot=2)
    if args.demo:
        from . import snowflake_demo
        snowflake_demo.load(server.state)
    if args.fixtures:
        with open(args.fixtures, encoding="utf-8") as fh:
            load_fixtures(server.state, json.load(fh))
    base.serve_until_interrupted(server, server.url)


if __name__ == "__main__":
    main()
