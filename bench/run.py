"""`scripts/bench`: secret-fetch (`target/release/bootstrap`) measured against
floors and baselines built and run in the same run, behind the same local
Lambda Runtime API emulator, moto Secrets Manager (behind the counting
proxy) and Alpha Vantage / Snowflake stand-ins (emulators/harness.py):

- floor     `target/release/examples/floor` (bench/floor.rs): a hello-world
            lambda_runtime function, constant JSON;
- naive     `target/release/examples/naive` (bench/naive.rs): aws_config
            defaults + Secrets Manager client + reqwest client at start-up,
            handler doing nothing;
- lean      bench/lean_lambda.py: boto3 client kept, secret cached per TTL,
            urllib, json — the fairest Python;
- recipe    bench/baseline_lambda.py: the seed recipe (new boto3 session per
            call, requests, pandas);
- sf_floor  `target/release/examples/sf_floor` (bench/sf_floor.rs): downloads
            the Snowflake partitions and only gunzips, parses and re-serialises
            them with serde_json, in one process.

Run it from the repository root with the project venv's python, as a module
(`scripts/bench` builds everything first): `.venv/bin/python -m bench.run
[--quick]`. Samples of different implementations are interleaved (the order
rotates every round) and reported as medians; ratios are taken within the
run, because the machine is shared and noisy. Every loop is bounded by a
count and a per-phase time limit. Every run checks that all implementations
return identical rows and exits non-zero (after printing) if they do not.
The metrics are described in the README's performance section.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import http.client
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

from emulators import harness, snowflake as sf_standin

from . import sf_tables

ROOT = Path(__file__).resolve().parent.parent
RELEASE = ROOT / "target" / "release"
OUT = ROOT / "target" / "bench"
STATEMENTS = ROOT / "bench" / "statements.toml"

KEY = "bench-premium-key-3b81f0"
PAT = "bench-pat-" + "7c1e94d2a05b4f38"
AV_SECRET = "secret-fetch/alpha-vantage"
SF_SECRET = "secret-fetch/snowflake-pat"
COMPACT = {"provider": "alpha_vantage", "function": "TIME_SERIES_DAILY", "symbol": "IBM", "outputsize": "compact"}
FULL = {"provider": "alpha_vantage", "function": "TIME_SERIES_DAILY", "symbol": "IBM", "outputsize": "full"}
QUOTE = {"provider": "alpha_vantage", "function": "GLOBAL_QUOTE", "symbol": "IBM"}
WINDOW = {**COMPACT, "start": "2025-12-01", "end": "2025-12-31"}
NOOP = {"bench": "noop"}
SF_PAGE_ROWS = 50_000          # rows per Snowflake page (about 4.5 MB of JSON: under MAX_RESPONSE_BYTES)
SF_MAX_PAGES = 200
CLK = os.sysconf("SC_CLK_TCK")
PHASES = ("sizes", "cold", "warm", "ttl", "snowflake")

PROFILES = {
    "full": {"cold_rounds": 12, "cold_s": 90, "warm_rounds": 30, "warm_s": 60, "full_rounds": 30, "full_s": 90,
             "ttl_s": 2, "ttl_windows": 3, "sf_rounds": {"bench_10k": 5, "bench_500k": 2}, "sf_s": 150,
             "floor_iterations": 7},
    "quick": {"cold_rounds": 4, "cold_s": 25, "warm_rounds": 12, "warm_s": 15, "full_rounds": 8, "full_s": 20,
              "ttl_s": 1, "ttl_windows": 2, "sf_rounds": {"bench_10k": 2, "bench_500k": 1}, "sf_s": 60,
              "floor_iterations": 3},
}


LINK_MAP = OUT / "bootstrap.map"          # written by the linker when scripts/bench builds (build.rs)


def link_order_coverage() -> dict | None:
    """How much of build.rs's list of hot functions this build has, and whether they lead .text:
    a list gone stale (a changed lock file or toolchain) shows here (scripts/link-order renews it)."""
    from . import link_order
    target = subprocess.run(["rustc", "-vV"], capture_output=True, text=True).stdout
    host = next((line.split()[1] for line in target.splitlines() if line.startswith("host:")), "")
    listed_path = ROOT / "link-order" / f"{host}.txt"
    if not LINK_MAP.exists() or not listed_path.exists():
        return None
    listed = [n for n in listed_path.read_text().splitlines() if n]
    return link_order.coverage(link_order.read_map(LINK_MAP), listed)


class BenchError(RuntimeError):
    pass


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- /proc --------------------------------------------------------------------------------------


def sample(pid: int) -> dict:
    """CPU (schedstat ns over live threads; utime+stime ticks incl. exited threads), faults, memory."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    minflt, majflt, utime, stime = int(fields[7]), int(fields[9]), int(fields[11]), int(fields[12])
    ns = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            ns += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    mem = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            mem[line.split(":")[0]] = int(line.split()[1])
    tick_ms = (utime + stime) * 1000 / CLK
    return {"t": time.monotonic(), "cpu_ms": max(ns / 1e6, 0.0), "tick_cpu_ms": tick_ms, "minflt": minflt,
            "majflt": majflt, "rss_kib": mem.get("VmRSS", 0), "hwm_kib": mem.get("VmHWM", 0)}


class Sandbox(harness.Function):
    """harness.Function that samples /proc/<pid> when the process's first GET /next arrives (the end
    of init) and notes when each invocation is handed out and answered (function-side time)."""

    def __init__(self, *args, **kwargs):
        self.init_sample: dict | None = None
        self.handed_out: float | None = None
        self.answered: float | None = None
        super().__init__(*args, **kwargs)
        emu = self.emulator
        next_invocation, answer = emu.next_invocation, emu.answer

        def timed_next():
            inv = next_invocation()
            self.handed_out = time.monotonic()
            return inv

        def timed_answer(*a, **k):
            self.answered = time.monotonic()
            return answer(*a, **k)

        emu.next_invocation, emu.answer = timed_next, timed_answer

    def _next_arrived(self) -> None:
        first = self.first_next is None
        super()._next_arrived()
        if first:
            with self._lock:   # start() holds it until Popen returned and self.proc is set
                try:
                    self.init_sample = sample(self.proc.pid)
                except OSError:
                    self.init_sample = None

    def wait_init(self, limit: float = 30.0) -> dict:
        end = time.monotonic() + limit
        while self.init_sample is None and time.monotonic() < end:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.binary} exited during init (logs: {self.logdir})")
            time.sleep(0.0005)
        if self.init_sample is None:
            raise BenchError(f"{self.binary}: no GET /next within {limit} s (logs: {self.logdir})")
        return self.init_sample


class InFlight:
    """Wraps the Snowflake stand-in's request handler (reply computed and sent): the most partition
    downloads (partition >= 1) it served at once, the client connections (ports) they came on, and its
    busy time (the sum over all requests). A client that downloads one partition after another reuses
    one keep-alive connection; parallel downloads need several."""

    def __init__(self):
        self.lock, self.now, self.peak, self.busy = threading.Lock(), 0, 0, 0.0
        self.ports: set[int] = set()
        handle = sf_standin.Handler._handle
        tracker = self

        def counted(handler):
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(handler.path).query)
            part = query.get("partition", ["0"])[0]
            download = handler.command == "GET" and part.isdigit() and int(part) >= 1
            t0 = time.perf_counter()
            if download:
                with tracker.lock:
                    tracker.now += 1
                    tracker.peak = max(tracker.peak, tracker.now)
                    tracker.ports.add(handler.client_address[1])
            try:
                return handle(handler)
            finally:
                with tracker.lock:
                    tracker.busy += time.perf_counter() - t0
                    if download:
                        tracker.now -= 1

        sf_standin.Handler.do_GET = sf_standin.Handler.do_POST = counted

    def reset(self) -> tuple[int, float, int]:
        """(peak parallel downloads, busy ms, connections used for downloads) since the last reset."""
        with self.lock:
            out = (self.peak, self.busy * 1000, len(self.ports))
            self.peak, self.busy, self.ports = 0, 0.0, set()
        return out

    def connections(self) -> int:
        with self.lock:
            n, self.ports = len(self.ports), set()
        return n


class Impl:
    def __init__(self, name: str, binary: Path, env: dict[str, str], kind: str):
        self.name, self.binary, self.env, self.kind = name, binary, env, kind   # kind: "full" | "noop"
        self.logdir = OUT / "logs" / name
        self.logdir.mkdir(parents=True, exist_ok=True)

    def start(self, **env) -> Sandbox:
        return Sandbox({**self.env, **env}, binary=self.binary, logdir=self.logdir, timeout=120.0)


def invoke(impl: Impl, fn: Sandbox, event: dict, want_rows: bool = True) -> tuple[float, dict, int]:
    """(caller's wall ms, body, response bytes). Fails loudly on an error or a body without rows."""
    data = json.dumps(event).encode()
    req = urllib.request.Request(fn.invoke_url, data=data, headers={"Content-Type": "application/json"},
                                 method="POST")
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=180) as resp:
        failed = resp.headers.get("X-Amz-Function-Error") is not None
        raw = resp.read()
    elapsed = (time.perf_counter() - t0) * 1000
    body = json.loads(raw) if raw else None
    if failed or not isinstance(body, dict) or (want_rows and "rows" not in body):
        detail = {k: str(v)[:300] for k, v in body.items() if k != "stackTrace"} if isinstance(body, dict) else body
        raise BenchError(f"{impl.name}: {event} failed: {detail} (logs: {impl.logdir})")
    return elapsed, body, len(raw)


def stop(fn: Sandbox) -> None:
    harness.stop_process(fn.proc)
    fn._fresh = False
    threading.Thread(target=fn.server.shutdown, daemon=True).start()


def rotate(items: list, i: int) -> list:
    k = i % len(items)
    return items[k:] + items[:k]


def med(xs):
    return statistics.median(xs) if xs else None


def pct(xs, q: float):
    if not xs:
        return None
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def stats(xs: list[float]) -> dict:
    if not xs:
        return {"n": 0}
    return {"n": len(xs), "median": med(xs), "p95": pct(xs, 0.95), "min": min(xs), "max": max(xs),
            "samples": [round(x, 4) for x in xs]}


def canon(rows: list[dict]) -> list[str]:
    return [json.dumps(r, sort_keys=True, ensure_ascii=False) for r in rows]


def same_rows(a: list[dict], b: list[dict]) -> str | None:
    """None when identical (values and JSON types, any key order); else where they differ."""
    ca, cb = canon(a), canon(b)
    if ca == cb:
        return None
    if len(ca) != len(cb):
        return f"{len(ca)} rows vs {len(cb)}"
    i = next(i for i, (x, y) in enumerate(zip(ca, cb)) if x != y)
    return f"row {i}: {ca[i][:200]} vs {cb[i][:200]}"


# --- the run ------------------------------------------------------------------------------------


class Bench:
    def __init__(self, args, profile: dict):
        self.args, self.p = args, profile
        self.stack = harness.Stack(av_keys=[], premium_keys=[KEY],
                                   snowflake_tokens={PAT: "PROGRAMMATIC_ACCESS_TOKEN"})
        self.results: dict = {"checks": {}}
        self.mismatches: list[str] = []
        try:
            self._setup()
        except BaseException:
            self.stack.stop()
            raise

    def _setup(self):
        s = self.stack
        s.moto.put(AV_SECRET, json.dumps({"apikey": KEY}))
        s.moto.put(SF_SECRET, PAT)
        self.tables = sf_tables.register(s.sf, STATEMENTS)
        self.inflight = InFlight()
        for table in self.tables.values():   # the stand-in encodes the shared partitions once, untimed
            self.sf_submit(table["sql"])
        env = s.function_env(ALPHA_VANTAGE_SECRET=AV_SECRET, SNOWFLAKE_SECRET=SF_SECRET,
                             LEAN_SNOWFLAKE_SECRET=SF_SECRET, SNOWFLAKE_STATEMENTS_FILE=str(STATEMENTS))
        wrappers = {}
        for name, script in (("lean", "lean_lambda.py"), ("recipe", "baseline_lambda.py")):
            w = OUT / f"{name}-bootstrap"
            w.parent.mkdir(parents=True, exist_ok=True)
            # exec: the wrapper's pid becomes python's, so /proc/<pid> is the function's.
            w.write_text("#!/bin/sh\nexec " + shlex.quote(sys.executable) + " "
                         + shlex.quote(str(ROOT / "bench" / script)) + "\n")
            w.chmod(0o755)
            wrappers[name] = w
        # The warm loops invoke the same full series again and again: the benchmark measures real
        # fetches, so our function runs without its upstream cache (the other implementations have none).
        self.ours = Impl("secret-fetch", self.args.binary, {**env, "UPSTREAM_CACHE_TTL_SECS": "0"}, "full")
        self.floor = Impl("floor", RELEASE / "examples" / "floor", env, "noop")
        self.naive = Impl("naive", RELEASE / "examples" / "naive", env, "noop")
        self.lean = Impl("lean", wrappers["lean"], env, "full")
        self.recipe = Impl("recipe", wrappers["recipe"], env, "full")
        self.impls = [self.ours, self.floor, self.naive, self.lean, self.recipe]
        for impl in self.impls:
            if not impl.binary.exists():
                raise BenchError(f"{impl.binary} not found: run scripts/bench (it builds everything)")
        # Direct upstream calls, for the stand-ins' own latency.
        self.av = urllib.parse.urlsplit(s.av_url)
        self.sm = urllib.parse.urlsplit(s.secrets_url)

    def close(self):
        self.stack.stop()

    # -- upstream alone --------------------------------------------------------------------------
    def av_get(self, conn: http.client.HTTPConnection | None, params: dict) -> float:
        """One GET to the Alpha Vantage stand-in (on `conn`, or a new connection): ms."""
        path = self.av.path + "?" + urllib.parse.urlencode({**params, "apikey": KEY})
        own = conn is None
        t0 = time.perf_counter()
        if own:
            conn = http.client.HTTPConnection(self.av.hostname, self.av.port, timeout=30)
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        ms = (time.perf_counter() - t0) * 1000
        if own:
            conn.close()
        if resp.status != 200 or b"Time Series" not in body:
            raise BenchError(f"Alpha Vantage stand-in: HTTP {resp.status}")
        return ms

    def sm_get(self) -> float:
        """One GetSecretValue over a new connection to the proxy (moto does not check signatures): ms."""
        t0 = time.perf_counter()
        conn = http.client.HTTPConnection(self.sm.hostname, self.sm.port, timeout=30)
        conn.request("POST", "/", body=json.dumps({"SecretId": AV_SECRET}),
                     headers={"Content-Type": "application/x-amz-json-1.1",
                              "X-Amz-Target": "secretsmanager.GetSecretValue",
                              "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/"
                                               "secretsmanager/aws4_request, SignedHeaders=host, Signature=0"})
        resp = conn.getresponse()
        resp.read()
        conn.close()
        if resp.status != 200:
            raise BenchError(f"Secrets Manager proxy: HTTP {resp.status}")
        return (time.perf_counter() - t0) * 1000

    # -- phases ----------------------------------------------------------------------------------
    def cold(self) -> None:
        for impl in self.impls:   # one untimed start each: page cache, .pyc files
            fn = impl.start()
            try:
                fn.wait_init()
                invoke(impl, fn, COMPACT if impl.kind == "full" else NOOP)
            finally:
                stop(fn)
        names = [i.name for i in self.impls]
        init_wall = {n: [] for n in names}
        init_cpu = {n: [] for n in names}
        init_tick = {n: [] for n in names}
        init_rss = {n: [] for n in names}
        first = {n: [] for n in names}
        upstream = []
        bodies = {}
        deadline = time.monotonic() + self.p["cold_s"]
        for r in range(self.p["cold_rounds"]):
            if r and time.monotonic() > deadline:
                break
            for impl in rotate(self.impls, r):
                fn = impl.start()
                try:
                    s0 = fn.wait_init()
                    init_wall[impl.name].append((fn.first_next - fn.started) * 1000)
                    init_cpu[impl.name].append(s0["cpu_ms"])
                    init_tick[impl.name].append(s0["tick_cpu_ms"])
                    init_rss[impl.name].append(s0["rss_kib"] / 1024)
                    _, body, _ = invoke(impl, fn, COMPACT if impl.kind == "full" else NOOP)
                    first[impl.name].append((time.monotonic() - fn.started) * 1000)
                    if impl.kind == "full" and r == 0:
                        bodies[impl.name] = body["rows"]
                finally:
                    stop(fn)
            upstream.append(self.sm_get() + self.av_get(None, {k: v for k, v in COMPACT.items() if k != "provider"}))
            log(f"  cold round {r + 1}: " + ", ".join(f"{n} {init_wall[n][-1]:.0f}/{first[n][-1]:.0f} ms"
                                                      for n in names))
        self.check_rows("cold compact daily", bodies)
        self.results["cold"] = {
            "init_wall_ms": {n: stats(v) for n, v in init_wall.items()},
            "init_cpu_ms": {n: stats(v) for n, v in init_cpu.items()},
            "init_cpu_ticks_ms": {n: stats(v) for n, v in init_tick.items()},
            "init_rss_mib": {n: stats(v) for n, v in init_rss.items()},
            "first_response_ms": {n: stats(v) for n, v in first.items()},
            "upstream_round_trips_ms": stats(upstream),
        }

    def warm(self) -> None:
        full_impls = [self.ours, self.lean, self.recipe]
        warm_impls = full_impls + [self.floor]
        fns = {i.name: i.start() for i in warm_impls}
        res = {}
        try:
            for impl in warm_impls:
                fns[impl.name].wait_init()
            # First invocation of each fresh process: the full series (memory above init per row).
            full_rows, mem = {}, {}
            for impl in full_impls:
                fn = fns[impl.name]
                s0 = fn.init_sample
                _, body, size = invoke(impl, fn, FULL)
                s1 = sample(fn.proc.pid)
                n = body["row_count"]
                full_rows[impl.name] = body["rows"]
                mem[impl.name] = {"rows": n, "response_bytes": size, "init_rss_kib": s0["rss_kib"],
                                  "hwm_after_kib": s1["hwm_kib"], "rss_after_kib": s1["rss_kib"],
                                  "kib_per_row": (s1["hwm_kib"] - s0["rss_kib"]) / n}
            self.check_rows("full daily series", full_rows)
            del full_rows
            # Warm-up and the other row checks.
            for event, label in ((COMPACT, "compact daily"), (QUOTE, "GLOBAL_QUOTE"), (WINDOW, "start/end window")):
                self.check_rows(label, {i.name: invoke(i, fns[i.name], event)[1]["rows"] for i in full_impls})
            invoke(self.floor, fns["floor"], NOOP)
            av_conn = http.client.HTTPConnection(self.av.hostname, self.av.port, timeout=30)
            calls0 = self.stack.secret_calls()
            per_impl_calls = {n: 0 for n in fns}
            for label, event, rounds, limit in (("compact", COMPACT, self.p["warm_rounds"], self.p["warm_s"]),
                                                ("full", FULL, self.p["full_rounds"], self.p["full_s"])):
                lat = {n: [] for n in fns}
                cpu = {n: [] for n in fns}
                flt = {n: [] for n in fns}
                standin = []
                params = {k: v for k, v in event.items() if k != "provider"}
                self.av_get(av_conn, params)   # the connection's first request is not a sample
                deadline = time.monotonic() + limit
                for r in range(rounds):
                    if r and time.monotonic() > deadline:
                        break
                    for impl in rotate(warm_impls, r):
                        fn = fns[impl.name]
                        c0 = self.stack.secret_calls()
                        a = sample(fn.proc.pid)
                        ms, _, _ = invoke(impl, fn, event if impl.kind == "full" else NOOP)
                        b = sample(fn.proc.pid)
                        per_impl_calls[impl.name] += self.stack.secret_calls() - c0
                        lat[impl.name].append(ms)
                        cpu[impl.name].append(b["cpu_ms"] - a["cpu_ms"])
                        flt[impl.name].append(b["minflt"] - a["minflt"])
                    standin.append(self.av_get(av_conn, params))
                res[label] = {"latency_ms": {n: stats(v) for n, v in lat.items()},
                              "cpu_ms": {n: stats(v) for n, v in cpu.items()},
                              "minflt": {n: stats(v) for n, v in flt.items()},
                              "standin_ms": stats(standin)}
                log(f"  warm {label}: {len(standin)} rounds; p50 " + ", ".join(
                    f"{n} {med(lat[n]):.2f}" for n in lat) + f", stand-in {med(standin):.2f} ms")
            av_conn.close()
            res["memory"] = mem
            res["secret_calls_warm"] = {"total": self.stack.secret_calls() - calls0, "by_impl": per_impl_calls}
        finally:
            for fn in fns.values():
                stop(fn)
        self.results["warm"] = res

    def ttl(self) -> None:
        """GetSecretValue calls per TTL window: SECRET_CACHE_TTL_SECS short, invocations every 50 ms."""
        ttl, windows = self.p["ttl_s"], self.p["ttl_windows"]
        out = {}
        for impl in (self.ours, self.lean):
            fn = impl.start(SECRET_CACHE_TTL_SECS=str(ttl))
            try:
                fn.wait_init()
                c0 = self.stack.secret_calls()
                t0 = time.monotonic()
                n = 0
                # Until the middle of the last window: every invocation is clearly inside one.
                while time.monotonic() - t0 < ttl * (windows - 0.5) and n < 2000:
                    invoke(impl, fn, QUOTE)
                    n += 1
                    time.sleep(0.05)
                elapsed = time.monotonic() - t0
                calls = self.stack.secret_calls() - c0
            finally:
                stop(fn)
            spanned = int(elapsed // ttl) + 1   # windows the invocations touched (= `windows`)
            out[impl.name] = {"ttl_s": ttl, "invocations": n, "elapsed_s": round(elapsed, 3), "calls": calls,
                              "windows": spanned, "calls_per_window": calls / spanned}
        self.results["ttl"] = out
        log("  ttl: " + ", ".join(f"{k} {v['calls']} calls / {v['windows']} windows" for k, v in out.items()))

    def sf_submit(self, sql: str) -> tuple[str, int, int]:
        """Submit directly (PAT): (handle, partitions, rows)."""
        req = urllib.request.Request(
            self.stack.sf_url + f"/api/v2/statements?requestId={uuid.uuid4()}", method="POST",
            data=json.dumps({"statement": sql, "timeout": 60}).encode(),
            headers={"Authorization": f"Bearer {PAT}", "X-Snowflake-Authorization-Token-Type":
                     "PROGRAMMATIC_ACCESS_TOKEN", "Accept": "application/json", "Content-Type": "application/json",
                     "User-Agent": "bench/1"})
        with urllib.request.urlopen(req, timeout=120) as resp:
            doc = json.loads(resp.read())
        info = doc["resultSetMetaData"]["partitionInfo"]
        return doc["statementHandle"], len(info), doc["resultSetMetaData"]["numRows"]

    def sf_floor(self, sql: str) -> dict:
        handle, parts, rows = self.sf_submit(sql)
        exe = RELEASE / "examples" / "sf_floor"
        proc = subprocess.Popen([str(exe), self.stack.sf_url, handle, str(parts), PAT,
                                 str(self.p["floor_iterations"]), "20"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        out, err = proc.communicate(timeout=180)
        if proc.returncode != 0:
            raise BenchError(f"sf_floor failed: {err.decode(errors='replace')[-500:]}")
        rep = json.loads(out)
        if rep["rows"] != rows:
            raise BenchError(f"sf_floor decoded {rep['rows']} rows, the result has {rows}")
        rep["decode_rows_per_s"] = rows / (med(rep["decode_ms"]) / 1000)
        rep["end_to_end_rows_per_s"] = rows / ((rep["download_ms"] + rep["decode_ms"][0]) / 1000)
        return rep

    def page_all(self, impl: Impl, fn: Sandbox, query: str, keep: list | None) -> dict:
        total_ms = fn_ms = 0.0
        pages, rows, biggest, cursor, conns = 0, 0, 0, None, 0
        cpu0 = sample(fn.proc.pid)
        f0 = cpu0["minflt"]
        self.inflight.reset()
        while pages < SF_MAX_PAGES:
            event = {"provider": "snowflake", "query": query, "max_rows": SF_PAGE_ROWS}
            if cursor:
                event["cursor"] = cursor
            ms, body, size = invoke(impl, fn, event)
            conns = max(conns, self.inflight.connections())
            total_ms += ms
            fn_ms += (fn.answered - fn.handed_out) * 1000
            pages += 1
            rows += body["row_count"]
            biggest = max(biggest, size)
            if keep is not None:
                keep.extend(canon(body["rows"]))
            cursor = body.get("next_cursor")
            if not cursor:
                break
        s1 = sample(fn.proc.pid)
        peak, busy, _ = self.inflight.reset()
        return {"pages": pages, "rows": rows, "caller_ms": total_ms, "function_ms": fn_ms,
                "largest_response_bytes": biggest, "cpu_ms": s1["cpu_ms"] - cpu0["cpu_ms"],
                "minflt": s1["minflt"] - f0, "hwm_kib": s1["hwm_kib"],
                "max_parallel_partition_gets": peak, "standin_busy_ms": busy,
                "max_download_connections_per_invocation": conns}

    def snowflake(self) -> None:
        out = {}
        impls = [self.ours, self.lean]
        fns = {i.name: i.start() for i in impls}
        deadline = time.monotonic() + self.p["sf_s"]
        try:
            for fn in fns.values():
                fn.wait_init()
            for query in ("bench_10k", "bench_500k"):
                table = self.tables[query]
                runs = {i.name: [] for i in impls}
                kept = {}
                for r in range(self.p["sf_rounds"][query]):
                    if r and time.monotonic() > deadline:
                        break
                    for impl in rotate(impls, r):
                        keep = [] if r == 0 else None
                        runs[impl.name].append(self.page_all(impl, fns[impl.name], query, keep))
                        if keep is not None:
                            kept[impl.name] = keep
                    log(f"  snowflake {query} round {r + 1}: " + ", ".join(
                        f"{n} {v[-1]['rows']} rows in {v[-1]['pages']} pages, {v[-1]['function_ms']:.0f} ms"
                        for n, v in runs.items()))
                a, b = kept[self.ours.name], kept[self.lean.name]
                if len(a) != table["rows"]:
                    self.mismatches.append(f"snowflake {query}: secret-fetch returned {len(a)} rows, "
                                           f"the table has {table['rows']}")
                if a != b:
                    i = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
                    self.mismatches.append(f"snowflake {query}: secret-fetch and lean differ at row {i}: "
                                           f"{a[i][:200] if i < len(a) else '-'} vs {b[i][:200] if i < len(b) else '-'}")
                self.results["checks"][f"snowflake {query} rows identical"] = a == b and len(a) == table["rows"]
                digest = hashlib.sha256("\n".join(a).encode()).hexdigest()[:16]
                del kept, a, b
                floor = self.sf_floor(table["sql"])
                out[query] = {"table": {k: v for k, v in table.items() if k != "sql"}, "rows_sha256": digest,
                              "runs": runs, "floor": floor}
                for name, rs in runs.items():
                    out[query][name] = {
                        "function_rows_per_s": med([x["rows"] / (x["function_ms"] / 1000) for x in rs]),
                        "caller_rows_per_s": med([x["rows"] / (x["caller_ms"] / 1000) for x in rs]),
                        "cpu_ms": med([x["cpu_ms"] for x in rs]),
                        "minflt": med([x["minflt"] for x in rs]),
                        "hwm_mib": max(x["hwm_kib"] for x in rs) / 1024,
                        "largest_response_mib": max(x["largest_response_bytes"] for x in rs) / 2**20,
                        "pages": rs[0]["pages"],
                        "max_parallel_partition_gets": max(x["max_parallel_partition_gets"] for x in rs),
                        "max_download_connections_per_invocation": max(
                            x["max_download_connections_per_invocation"] for x in rs),
                        "function_ms": med([x["function_ms"] for x in rs]),
                        "standin_busy_ms": med([x["standin_busy_ms"] for x in rs]),
                    }
                log(f"  snowflake {query} floor: decode {floor['decode_rows_per_s']:,.0f} rows/s, "
                    f"download+decode {floor['end_to_end_rows_per_s']:,.0f} rows/s")
        finally:
            for fn in fns.values():
                stop(fn)
        self.results["snowflake"] = out

    def sizes(self) -> None:
        out = {}
        strip = shutil.which("strip")
        for impl in (self.ours, self.floor, self.naive):
            size = impl.binary.stat().st_size
            stripped = size
            if strip:
                dst = OUT / "stripped" / impl.name
                dst.parent.mkdir(parents=True, exist_ok=True)
                if subprocess.run([strip, "-o", str(dst), str(impl.binary)], capture_output=True).returncode == 0:
                    stripped = dst.stat().st_size
            out[impl.name] = {"file_bytes": size, "stripped_bytes": stripped}
        self.results["binary"] = out
        self.results["link_order"] = link_order_coverage()

    def check_rows(self, label: str, bodies: dict[str, list]) -> None:
        names = list(bodies)
        ok = True
        for other in names[1:]:
            diff = same_rows(bodies[names[0]], bodies[other])
            if diff is not None:
                ok = False
                self.mismatches.append(f"{label}: {names[0]} vs {other}: {diff}")
        if not bodies[names[0]]:
            ok = False
            self.mismatches.append(f"{label}: no rows")
        self.results["checks"][f"{label} rows identical ({', '.join(names)})"] = ok


# --- report -------------------------------------------------------------------------------------


def f(x, d=1):
    if x is None:
        return "—"
    if abs(x) >= 10000:
        return f"{x:,.0f}"
    return f"{x:.{d}f}"


def ratio(a, b):
    return None if a is None or b in (None, 0) else a / b


def report(res: dict) -> tuple[str, list[dict]]:
    c, w, sf = res["cold"], res["warm"], res.get("snowflake", {})
    m = lambda d, n: d.get(n, {}).get("median")   # noqa: E731
    names = ["secret-fetch", "floor", "naive", "lean", "recipe"]
    lines = ["| metric | secret-fetch | floor | naive Rust | lean Python | recipe |", "|---|---:|---:|---:|---:|---:|"]

    def row(label, vals, unit="ms", d=1, rel=None):
        cells = []
        for n in names:
            v = vals.get(n)
            s = f(v, d) if v is not None else "—"
            if v is not None and rel is not None and n == "secret-fetch" and vals.get(rel):
                s += f" ({v / vals[rel]:.1f}× {rel})"
            cells.append(s)
        lines.append(f"| {label} ({unit}) | " + " | ".join(cells) + " |")

    row("init wall, spawn → first /next", {n: m(c["init_wall_ms"], n) for n in names}, rel="floor")
    row("init CPU", {n: m(c["init_cpu_ms"], n) for n in names}, rel="floor")
    row("RSS at init", {n: m(c["init_rss_mib"], n) for n in names}, "MiB")
    row("cold first response (GetSecretValue + compact daily; floor/naive: no work)",
        {n: m(c["first_response_ms"], n) for n in names})
    for label in ("compact", "full"):
        lat, cpu, flt = w[label]["latency_ms"], w[label]["cpu_ms"], w[label]["minflt"]
        what = "compact daily" if label == "compact" else f"full daily ({w['memory']['secret-fetch']['rows']:,} rows)"
        row(f"warm {what} p50", {n: m(lat, n) for n in names}, d=2)
        row(f"warm {what} p95", {n: lat.get(n, {}).get("p95") for n in names}, d=2)
        row(f"CPU per warm {what} invocation", {n: m(cpu, n) for n in names}, d=2)
        row(f"page faults per warm {what} invocation", {n: m(flt, n) for n in names}, "minflt", d=0)
    row("memory above init per full-series row", {n: w["memory"][n]["kib_per_row"] for n in w["memory"]}, "KiB", d=2)
    row("peak RSS after the full series", {n: w["memory"][n]["hwm_after_kib"] / 1024 for n in w["memory"]}, "MiB")
    for q, data in sf.items():
        row(f"Snowflake {data['table']['rows']:,} rows / {data['table']['partitions']} partitions, function-side",
            {n: data[n]["function_rows_per_s"] for n in ("secret-fetch", "lean") if n in data}, "rows/s", d=0)
        row(f"Snowflake {data['table']['rows']:,} rows, caller's wall",
            {n: data[n]["caller_rows_per_s"] for n in ("secret-fetch", "lean") if n in data}, "rows/s", d=0)
        row(f"Snowflake {data['table']['rows']:,} rows, peak RSS (VmHWM)",
            {n: data[n]["hwm_mib"] for n in ("secret-fetch", "lean") if n in data}, "MiB")
    b = res["binary"]
    row("stripped binary", {n: b[n]["stripped_bytes"] / 2**20 for n in b}, "MiB")
    ttl = res["ttl"]
    row(f"GetSecretValue per TTL window (TTL {ttl['secret-fetch']['ttl_s']} s)",
        {n: ttl[n]["calls_per_window"] for n in ttl}, "calls", d=2)
    calls = w["secret_calls_warm"]["by_impl"]
    row("GetSecretValue in the warm loops (TTL 300 s)", {n: calls.get(n) for n in names}, "calls", d=0)

    lo = res.get("link_order")
    extra = [f"\nLink order (build.rs): " + (f"{lo['in_build']:,} of {lo['listed']:,} listed hot functions are in this "
                                             f"build; the first {lo['leading_sections']:,} sections of .text are hot ones."
                                             if lo else "no linker map or no list for this target.")]
    extra += [f"Stand-in alone (same run, persistent connection): compact {f(w['compact']['standin_ms']['median'], 2)} ms, "
             f"full {f(w['full']['standin_ms']['median'], 2)} ms p50; upstream round trips of a cold start "
             f"(GetSecretValue + compact, new connections) {f(c['upstream_round_trips_ms']['median'], 2)} ms."]
    for q, data in sf.items():
        fl = data["floor"]
        extra.append(f"Snowflake {q}: sf_floor decode-only {f(fl['decode_rows_per_s'], 0)} rows/s, download+decode "
                     f"{f(fl['end_to_end_rows_per_s'], 0)} rows/s ({fl['partitions']} partitions, "
                     f"{fl['gzip_bytes'] / 2**20:.1f} MiB gzip, {fl['json_bytes'] / 2**20:.1f} MiB JSON); "
                     f"secret-fetch {data['secret-fetch']['pages']} pages of {SF_PAGE_ROWS:,} rows max, "
                     f"largest response {data['secret-fetch']['largest_response_mib']:.1f} MiB, "
                     f"{f(data['secret-fetch']['function_ms'], 0)} ms function-side of which the stand-in was "
                     f"busy {f(data['secret-fetch']['standin_busy_ms'], 0)} ms (sum over its requests).")

    # Targets (issue 10).
    t = []

    def target(name, value, limit, ok, detail):
        t.append({"target": name, "value": value, "limit": limit, "pass": ok, "detail": detail})

    ours_init, floor_init = m(c["init_wall_ms"], "secret-fetch"), m(c["init_wall_ms"], "floor")
    r = ratio(ours_init, floor_init)
    target("init wall ≤ 1.5× floor", r, 1.5, r is not None and r <= 1.5, f"{f(ours_init)} vs {f(floor_init)} ms")
    oc, fc = m(c["init_cpu_ms"], "secret-fetch"), m(c["init_cpu_ms"], "floor")
    r = ratio(oc, fc)
    target("init CPU ≤ 1.5× floor", r, 1.5, r is not None and r <= 1.5, f"{f(oc)} vs {f(fc)} ms")
    first, up = m(c["first_response_ms"], "secret-fetch"), c["upstream_round_trips_ms"]["median"]
    # As in the warm target: the emulator's invocation path (caller → emulator → the process's
    # first /next answered → its response → caller), which no function can avoid, is the floor's
    # first response less its init, measured in the same rounds.
    path = m(c["first_response_ms"], "floor") - floor_init
    net = first - path
    limit = ours_init + up + 2
    target("cold first response ≤ init + upstream round trips + 2 ms (over the floor's invocation path)", net,
           limit, net <= limit,
           f"{f(first)} − floor path {f(path)} = {f(net)} ms vs {f(ours_init)} + {f(up)} + 2 = {f(limit)} ms")
    lat = w["compact"]["latency_ms"]
    ours_c, floor_c, stand = m(lat, "secret-fetch"), m(lat, "floor"), w["compact"]["standin_ms"]["median"]
    over = ours_c - floor_c
    target("warm compact p50 ≤ stand-in latency + 0.3 ms (over the floor's invocation path)", over, stand + 0.3,
           over <= stand + 0.3, f"{f(ours_c, 2)} − floor {f(floor_c, 2)} = {f(over, 2)} ms vs stand-in "
                                f"{f(stand, 2)} + 0.3 ms")
    lf = w["full"]["latency_ms"]
    stand_full = w["full"]["standin_ms"]["median"]
    raw = ratio(m(lf, "lean"), m(lf, "secret-fetch"))
    r = ratio(m(lf, "lean") - stand_full, m(lf, "secret-fetch") - stand_full)
    cpu_r = ratio(m(w["full"]["cpu_ms"], "lean"), m(w["full"]["cpu_ms"], "secret-fetch"))
    target("warm full series ≥ 5× faster than lean Python (p50 net of the stand-in's own latency)", r, 5,
           r is not None and r >= 5,
           f"{f(m(lf, 'secret-fetch'), 2)} vs {f(m(lf, 'lean'), 2)} ms p50, stand-in {f(stand_full, 2)} ms: "
           f"{f(r, 1)}× net ({f(raw, 1)}× raw, {f(cpu_r, 1)}× CPU)")
    kib = w["memory"]["secret-fetch"]["kib_per_row"]
    target("memory above init ≤ 0.5 KiB per row", kib, 0.5, kib <= 0.5, f"{kib:.2f} KiB/row")
    big = sf.get("bench_500k")
    if big:
        ours_rate, floor_rate = big["secret-fetch"]["function_rows_per_s"], big["floor"]["decode_rows_per_s"]
        r = ratio(ours_rate, floor_rate)
        target("Snowflake 500k ≥ 0.7× the decode floor's throughput", r, 0.7, r is not None and r >= 0.7,
               f"{f(ours_rate, 0)} vs {f(floor_rate, 0)} rows/s")
        par = big["secret-fetch"]["max_parallel_partition_gets"]
        conns = big["secret-fetch"]["max_download_connections_per_invocation"]
        target("Snowflake partitions downloaded in parallel", conns, 2, conns >= 2 or par >= 2,
               f"up to {conns} connections for one invocation's partition downloads; at most {par} "
               f"being served at once")
        hwm, resp = big["secret-fetch"]["hwm_mib"], big["secret-fetch"]["largest_response_mib"]
        limit = 2.5 * resp + 30
        target("Snowflake 500k peak RSS ≤ 2.5× response + 30 MiB", hwm, limit, hwm <= limit,
               f"{hwm:.1f} MiB vs 2.5 × {resp:.1f} + 30 = {limit:.1f} MiB")
    cpw = ttl["secret-fetch"]["calls_per_window"]
    target("exactly one GetSecretValue per TTL window", cpw, 1.0,
           ttl["secret-fetch"]["calls"] == ttl["secret-fetch"]["windows"] and calls.get("secret-fetch") == 0,
           f"{ttl['secret-fetch']['calls']} calls over {ttl['secret-fetch']['windows']} windows; "
           f"{calls.get('secret-fetch')} in the warm loops")
    size = b["secret-fetch"]["stripped_bytes"] / 2**20
    target("stripped binary ≤ 12 MiB", size, 12, size <= 12, f"{size:.1f} MiB")
    lines += extra
    lines += ["", "| target (issue 10) | measured | pass |", "|---|---|---|"]
    lines += [f"| {x['target']} | {x['detail']} | {'✅' if x['pass'] else '❌'} |" for x in t]
    return "\n".join(lines), t


def merge(paths: list[Path]) -> str:
    """The tables of several results files as one: each cell "run 1 / run 2 / …" where they differ."""
    runs = [json.loads(p.read_text()) for p in paths]
    tables = [r["table"].splitlines() for r in runs]
    out = []
    for lines in zip(*tables):
        if len(set(lines)) == 1:
            out.append(lines[0])
            continue
        if not lines[0].startswith("|"):
            out += [f"Run {i}: {line.lstrip()}" for i, line in enumerate(lines, 1)]
            continue
        cells = [line.strip("|").split(" | ") for line in lines]
        if len({len(c) for c in cells}) != 1:
            out.append(lines[0])
            continue
        merged = [cells[0][0].strip()]
        for column in list(zip(*cells))[1:]:
            column = [c.strip() for c in column]
            merged.append(column[0] if len(set(column)) == 1 else " / ".join(column))
        out.append("| " + " | ".join(merged) + " |")
    head = ", ".join(f"{r['generated_at']} ({r['mode']}, load {r['machine']['loadavg_start'][0]:.1f} → "
                     f"{r['machine']['loadavg_end'][0]:.1f})" for r in runs)
    return f"Runs: {head}\n\n" + "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description="Benchmark secret-fetch against floors and Python baselines")
    parser.add_argument("--quick", action="store_true", help="fewer samples (about 2 minutes)")
    parser.add_argument("--binary", type=Path, default=RELEASE / "bootstrap", help="our bootstrap")
    parser.add_argument("--out", type=Path, default=OUT / "results.json")
    parser.add_argument("--only", nargs="+", choices=PHASES, metavar="PHASE",
                        help="run only these phases, for development: writes their raw results, no table or targets")
    parser.add_argument("--merge", type=Path, nargs="+", metavar="RESULTS_JSON",
                        help="print the tables of earlier runs' results files side by side, run nothing")
    args = parser.parse_args()
    if args.merge:
        print(merge(args.merge))
        return 0
    mode = "quick" if args.quick else "full"
    profile = PROFILES[mode]
    started, load_start = time.monotonic(), os.getloadavg()
    log(f"bench ({mode}): starting the local stack")
    bench = Bench(args, profile)
    try:
        for phase in args.only or PHASES:
            log(f"{phase}:")
            getattr(bench, phase)()
    finally:
        bench.close()
    elapsed = time.monotonic() - started
    res = bench.results
    if args.only:   # a partial run has no table: its raw results only
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(res, indent=1, ensure_ascii=False) + "\n")
        print(f"phases {', '.join(args.only)} only: no table or targets. Results: {args.out}")
        return 1 if bench.mismatches else 0
    text, targets = report(res)
    res.update({
        "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "mode": mode, "profile": profile, "elapsed_s": round(elapsed, 1),
        "machine": {"cpus": os.cpu_count(), "loadavg_start": load_start, "loadavg_end": os.getloadavg(),
                    "platform": platform.platform(), "python": platform.python_version()},
        "targets": targets, "mismatches": bench.mismatches, "table": text,
    })
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1, ensure_ascii=False) + "\n")
    print(text)
    print(f"\nMedians of interleaved samples, {mode} run, {os.cpu_count()} CPUs, load "
          f"{load_start[0]:.1f} → {os.getloadavg()[0]:.1f}, {elapsed:.0f} s. Results: {args.out}")
    if bench.mismatches:
        print("\nROWS DIFFER between implementations:\n  " + "\n  ".join(bench.mismatches))
        return 1
    print("Rows identical across implementations: yes (" + ", ".join(res["checks"]) + ")")
    return 0


if __name__ == "__main__":
    sys.exit(main())
