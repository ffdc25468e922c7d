"""Benchmark secret-fetch (`target/release/bootstrap`) against the Python
recipe it replaces (`bench/baseline_lambda.py`), both behind the same local
Lambda Runtime API emulator, moto Secrets Manager (behind the counting proxy)
and Alpha Vantage / Snowflake stand-ins (emulators/harness.py).

Run it with the project venv's python from the repository root, as a module
(`scripts/bench` does, after building the release binary):
`.venv/bin/python -m bench.run [--quick]`.

Every measurement interleaves the two implementations (ours, baseline,
baseline, ours, … so neither always goes first), takes medians, and reports
ratios measured in the same run, because the machine is small, shared and
noisy: absolute numbers move between runs, the ratios much less.

- cold start: a fresh process per sample; wall time from spawn to the first
  invocation's (GLOBAL_QUOTE) response, and init = spawn until its first
  `GET /invocation/next` reaches the emulator;
- warm latency: GLOBAL_QUOTE on one warm process each, caller's wall time;
- Secrets Manager: GetSecretValue calls (counted by the proxy) around each
  of those warm invocations, per 100;
- large result: TIME_SERIES_DAILY outputsize=full with a premium key
  (~5,200 rows from the stand-in); rows per second of caller's wall time on
  warm processes, and VmHWM from /proc/<pid>/status afterwards;
- Snowflake: customers_by_city with max_rows 2500, ours only (the recipe has
  no Snowflake path, so there is no baseline).

Writes the table to stdout and the same numbers, with every sample, to
target/bench/results.json. Loops are bounded by counts and per-phase time
limits.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import statistics
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

from emulators import harness

ROOT = Path(__file__).resolve().parent.parent

KEY = "bench-premium-key-3b81f0"
SECRET = "secret-fetch/alpha-vantage"
SF_SECRET = "secret-fetch/snowflake"
SMALL = {"provider": "alpha_vantage", "function": "GLOBAL_QUOTE", "symbol": "IBM"}
LARGE = {"provider": "alpha_vantage", "function": "TIME_SERIES_DAILY", "symbol": "IBM", "outputsize": "full"}
SNOWFLAKE = {"provider": "snowflake", "query": "customers_by_city", "params": {"city": "Berlin"}, "max_rows": 2500}

# counts are upper bounds; `*_s` are per-phase time limits (a phase always
# completes at least one round).
PROFILES = {
    "full": {"cold_rounds": 20, "cold_s": 60, "warm_rounds": 300, "warm_s": 30,
             "large_processes": 3, "large_rounds": 10, "large_s": 35, "sf_invocations": 30, "sf_s": 10},
    "quick": {"cold_rounds": 3, "cold_s": 10, "warm_rounds": 30, "warm_s": 5,
              "large_processes": 1, "large_rounds": 3, "large_s": 6, "sf_invocations": 5, "sf_s": 3},
}

RATIO_DEFINITION = ("baseline's cost / ours (times, memory, calls) or ours / baseline (rows per second): "
                    "bigger = ours better")


class BenchError(RuntimeError):
    pass


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class Impl:
    def __init__(self, name: str, binary: Path, env: dict[str, str]):
        self.name, self.binary, self.env = name, binary, env
        self.logdir = ROOT / "target" / "bench" / "logs" / name
        self.logdir.mkdir(parents=True, exist_ok=True)

    def start(self) -> harness.Function:
        return harness.Function(self.env, binary=self.binary, logdir=self.logdir)

    def invoke(self, fn: harness.Function, event: dict) -> tuple[float, dict]:
        t0 = time.perf_counter()
        failed, body = fn.invoke(event)
        elapsed = time.perf_counter() - t0
        if failed or not isinstance(body, dict) or "rows" not in body:
            detail = body
            if isinstance(body, dict):
                detail = {k: str(v)[:300] for k, v in body.items() if k != "stackTrace"}
            raise BenchError(f"{self.name}: {event.get('function') or event.get('query')} failed: {detail} "
                             f"(logs: {self.logdir})")
        return elapsed, body


def stop(fn: harness.Function) -> None:
    harness.stop_process(fn.proc)
    # shutdown() waits up to the 0.5 s poll interval: not on the clock.
    threading.Thread(target=fn.server.shutdown, daemon=True).start()


def vm_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise BenchError(f"no {field} in /proc/{pid}/status")


def order(i: int, a, b):
    """ABBA…: interleaved, and each goes first half of the time."""
    return (a, b) if i % 2 == 0 else (b, a)


def summary(samples: list[float]) -> dict:
    if not samples:
        return {"n": 0, "median": None}
    return {"n": len(samples), "median": statistics.median(samples), "min": min(samples), "max": max(samples),
            "samples": [round(s, 4) for s in samples]}


def metric(key: str, label: str, unit: str, better: str, ours: list[float], base: list[float],
           paired: bool = False) -> dict:
    m = {"key": key, "label": label, "unit": unit, "better": better,
         "ours": summary(ours), "baseline": summary(base)}
    mo, mb = m["ours"]["median"], m["baseline"]["median"]
    if mo is None or mb is None:
        m["ratio"] = None
    elif better == "lower":
        m["ratio"] = mb / mo if mo > 0 else None
    else:
        m["ratio"] = mo / mb if mb > 0 else None
    if m["ratio"] is None and mo == 0 and mb:
        m["ratio_note"] = "ours is 0: unbounded"
    if paired and len(ours) == len(base) and ours:
        pairs = [b / o if better == "lower" else o / b
                 for o, b in zip(ours, base) if (o if better == "lower" else b) > 0]
        if pairs:
            m["paired_ratio_median"] = statistics.median(pairs)
    return m


class Bench:
    def __init__(self, args, profile: dict):
        self.args, self.p = args, profile
        self.stack = harness.Stack(av_keys=[], premium_keys=[KEY])
        try:
            self._setup(args)
        except BaseException:
            self.stack.stop()
            raise
        self.checks: dict[str, object] = {}

    def _setup(self, args):
        self.stack.moto.put(SECRET, json.dumps({"apikey": KEY}))
        self.stack.moto.put(SF_SECRET, json.dumps({
            "private_key": harness.snowflake_private_key(),
            "account": harness.SNOWFLAKE_ACCOUNT,
            "user": harness.SNOWFLAKE_USER.lower(),
        }))
        wrapper = ROOT / "target" / "bench" / "baseline-bootstrap"
        wrapper.parent.mkdir(parents=True, exist_ok=True)
        # exec: the wrapper's pid becomes python's, so /proc/<pid> is the baseline's.
        wrapper.write_text("#!/bin/sh\nexec " + shlex.quote(sys.executable) + " "
                           + shlex.quote(str(ROOT / "bench" / "baseline_lambda.py")) + "\n")
        wrapper.chmod(0o755)
        self.ours = Impl("ours", args.binary, self.stack.function_env(
            ALPHA_VANTAGE_SECRET=SECRET, SNOWFLAKE_SECRET=SF_SECRET))
        self.base = Impl("baseline", wrapper, self.stack.function_env(ALPHA_VANTAGE_SECRET=SECRET))

    def close(self):
        self.stack.stop()

    # --- phases ---------------------------------------------------------------------------

    def cold(self) -> list[dict]:
        # One untimed start each: page cache, and the baseline's .pyc files.
        for impl in (self.ours, self.base):
            fn = impl.start()
            try:
                impl.invoke(fn, SMALL)
            finally:
                stop(fn)
        wall = {"ours": [], "baseline": []}
        init = {"ours": [], "baseline": []}
        hwm = {"ours": [], "baseline": []}
        deadline = time.monotonic() + self.p["cold_s"]
        for i in range(self.p["cold_rounds"]):
            if i and time.monotonic() > deadline:
                break
            for impl in order(i, self.ours, self.base):
                fn = impl.start()
                try:
                    impl.invoke(fn, SMALL)
                    done = time.monotonic()
                    wall[impl.name].append((done - fn.started) * 1000)
                    first = fn.first_next   # the emulator's on_next hook, noted by harness.Function
                    if first is not None:
                        init[impl.name].append((first - fn.started) * 1000)
                    hwm[impl.name].append(vm_kib(fn.proc.pid, "VmHWM") / 1024)
                finally:
                    stop(fn)
            log(f"  cold round {i + 1}: ours {wall['ours'][-1]:.0f} ms, baseline {wall['baseline'][-1]:.0f} ms")
        return [
            metric("cold_start_ms", "Cold start: spawn → first response (GLOBAL_QUOTE)", "ms", "lower",
                   wall["ours"], wall["baseline"], paired=True),
            metric("init_ms", "Init: spawn → first GET /invocation/next", "ms", "lower",
                   init["ours"], init["baseline"], paired=True),
            metric("small_peak_mib", "Peak memory (VmHWM) after one GLOBAL_QUOTE", "MiB", "lower",
                   hwm["ours"], hwm["baseline"]),
        ]

    def warm(self) -> list[dict]:
        fns = {impl.name: impl.start() for impl in (self.ours, self.base)}
        lat = {"ours": [], "baseline": []}
        calls = {"ours": 0, "baseline": 0}
        first_calls = {}
        bodies = {}
        try:
            for impl in (self.ours, self.base):   # the cold invocation, then one more warm-up
                c0 = self.stack.secret_calls()
                impl.invoke(fns[impl.name], SMALL)
                first_calls[impl.name] = self.stack.secret_calls() - c0
                bodies[impl.name] = impl.invoke(fns[impl.name], SMALL)[1]
            self.checks["quote_rows_agree"] = bodies["ours"]["rows"] == bodies["baseline"]["rows"]
            warm_counted = {"ours": 0, "baseline": 0}
            deadline = time.monotonic() + self.p["warm_s"]
            for i in range(self.p["warm_rounds"]):
                if i and time.monotonic() > deadline:
                    break
                for impl in order(i, self.ours, self.base):
                    c0 = self.stack.secret_calls()
                    elapsed, _ = impl.invoke(fns[impl.name], SMALL)
                    calls[impl.name] += self.stack.secret_calls() - c0
                    warm_counted[impl.name] += 1
                    lat[impl.name].append(elapsed * 1000)
            log(f"  warm: {warm_counted['ours']} invocations each")
        finally:
            for fn in fns.values():
                stop(fn)
        # A rate, not a median: every warm invocation's calls, counted by the proxy.
        per100 = {k: calls[k] * 100 / warm_counted[k] for k in calls}
        sm = metric("secret_calls_per_100", "GetSecretValue calls per 100 warm invocations", "calls", "lower",
                    [per100["ours"]], [per100["baseline"]])
        for k in calls:
            sm["ours" if k == "ours" else "baseline"] = {"n": warm_counted[k], "median": per100[k],
                                                        "total_calls": calls[k]}
        sm["first_invocation_calls"] = first_calls
        return [
            metric("warm_latency_ms", "Warm latency, GLOBAL_QUOTE (caller's wall time)", "ms", "lower",
                   lat["ours"], lat["baseline"], paired=True),
            sm,
        ]

    def large(self) -> list[dict]:
        rate = {"ours": [], "baseline": []}
        hwm = {"ours": [], "baseline": []}
        rows = {}
        floor = []
        av_query = self.stack.av_url + "?" + urllib.parse.urlencode(
            {"function": "TIME_SERIES_DAILY", "symbol": "IBM", "outputsize": "full", "apikey": KEY})
        deadline = time.monotonic() + self.p["large_s"]
        for p in range(self.p["large_processes"]):
            if p and time.monotonic() > deadline:
                break
            fns = {impl.name: impl.start() for impl in (self.ours, self.base)}
            try:
                bodies = {impl.name: impl.invoke(fns[impl.name], LARGE)[1] for impl in (self.ours, self.base)}
                if p == 0:
                    self.checks["large_rows_agree"] = bodies["ours"]["rows"] == bodies["baseline"]["rows"]
                    self.checks["large_row_count"] = bodies["ours"]["row_count"]
                rows = {k: b["row_count"] for k, b in bodies.items()}
                del bodies
                for i in range(self.p["large_rounds"]):
                    if i and time.monotonic() > deadline:
                        break
                    for impl in order(i + p, self.ours, self.base):
                        elapsed, body = impl.invoke(fns[impl.name], LARGE)
                        rate[impl.name].append(body["row_count"] / elapsed)
                    t0 = time.perf_counter()   # the stand-in alone, same request
                    with urllib.request.urlopen(av_query, timeout=30) as resp:
                        resp.read()
                    floor.append((time.perf_counter() - t0) * 1000)
                for impl in (self.ours, self.base):
                    hwm[impl.name].append(vm_kib(fns[impl.name].proc.pid, "VmHWM") / 1024)
            finally:
                for fn in fns.values():
                    stop(fn)
            log(f"  large: process pair {p + 1}, {rows.get('ours')} rows")
        self.checks["upstream_floor_ms"] = summary(floor)
        return [
            metric("large_rows_per_s", f"Throughput, TIME_SERIES_DAILY full ({rows.get('ours', '?')} rows)",
                   "rows/s", "higher", rate["ours"], rate["baseline"], paired=True),
            metric("large_peak_mib", "Peak memory (VmHWM) after the large result", "MiB", "lower",
                   hwm["ours"], hwm["baseline"]),
        ]

    def snowflake(self) -> dict:
        fn = self.ours.start()
        rate, rows = [], 0
        try:
            self.ours.invoke(fn, SNOWFLAKE)   # cold: secret, JWT, first connection
            deadline = time.monotonic() + self.p["sf_s"]
            for i in range(self.p["sf_invocations"]):
                if i and time.monotonic() > deadline:
                    break
                elapsed, body = self.ours.invoke(fn, SNOWFLAKE)
                rows = body["row_count"]
                rate.append(rows / elapsed)
        finally:
            stop(fn)
        log(f"  snowflake: {len(rate)} invocations, {rows} rows")
        return {"key": "snowflake_rows_per_s", "label": f"Throughput, Snowflake customers_by_city ({rows} rows)",
                "unit": "rows/s", "better": "higher", "ours": summary(rate), "baseline": None, "ratio": None,
                "ratio_note": "no baseline: the Python recipe has no Snowflake SQL API path"}


# --- output ----------------------------------------------------------------------------------


def fmt(value, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "rows/s":
        return f"{value:,.0f}"
    if unit == "calls":
        return f"{value:.0f}"
    if unit == "MiB":
        return f"{value:.1f}"
    return f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def table(metrics: list[dict]) -> str:
    lines = ["| metric | unit | ours (median) | baseline (median) | ratio (bigger = ours better) | n |",
             "|---|---|---:|---:|---:|---:|"]
    for m in metrics:
        base = m["baseline"]["median"] if m["baseline"] else None
        if m["ratio"] is not None:
            ratio = f"{m['ratio']:.1f}×"
        elif m.get("ratio_note", "").startswith("ours is 0"):
            ratio = "∞ (ours: 0)"
        else:
            ratio = "no baseline"
        n = f"{m['ours']['n']}" + (f" / {m['baseline']['n']}" if m["baseline"] else "")
        lines.append(f"| {m['label']} | {m['unit']} | {fmt(m['ours']['median'], m['unit'])} | "
                     f"{fmt(base, m['unit'])} | {ratio} | {n} |")
    return "\n".join(lines)


def versions() -> dict:
    out = {"python": platform.python_version()}
    for name in ("boto3", "pandas", "requests"):
        try:
            from importlib.metadata import version
            out[name] = version(name)
        except Exception:  # noqa: BLE001
            out[name] = None
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description="Benchmark secret-fetch against the Python recipe")
    parser.add_argument("--quick", action="store_true", help="fewer samples (under ~40 s)")
    parser.add_argument("--binary", type=Path, default=ROOT / "target" / "release" / "bootstrap",
                        help="our bootstrap (default: the release build)")
    parser.add_argument("--out", type=Path, default=ROOT / "target" / "bench" / "results.json")
    args = parser.parse_args()
    if not args.binary.exists():
        print(f"{args.binary} not found: cargo build --release --bin bootstrap", file=sys.stderr)
        return 2
    mode = "quick" if args.quick else "full"
    profile = PROFILES[mode]
    started, load_start = time.monotonic(), os.getloadavg()
    log(f"bench ({mode}): starting the local stack")
    bench = Bench(args, profile)
    metrics: list[dict] = []
    try:
        log("cold start")
        metrics += bench.cold()
        log("warm invocations")
        metrics += bench.warm()
        log("large result")
        metrics += bench.large()
        log("snowflake (ours only)")
        metrics.append(bench.snowflake())
    except BenchError as err:
        print(f"bench failed: {err}", file=sys.stderr)
        return 1
    finally:
        bench.close()
    wanted = ["cold_start_ms", "init_ms", "warm_latency_ms", "large_rows_per_s", "large_peak_mib",
              "small_peak_mib", "secret_calls_per_100", "snowflake_rows_per_s"]
    metrics.sort(key=lambda m: wanted.index(m["key"]))
    elapsed = time.monotonic() - started
    result = {
        "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "mode": mode,
        "profile": profile,
        "elapsed_s": round(elapsed, 1),
        "machine": {"cpus": os.cpu_count(), "loadavg_start": load_start, "loadavg_end": os.getloadavg(),
                    "platform": platform.platform()},
        "ours": {"binary": str(args.binary)},
        "baseline": {"command": f"python {ROOT / 'bench' / 'baseline_lambda.py'}", **versions()},
        "ratio_definition": RATIO_DEFINITION,
        "checks": bench.checks,
        "metrics": metrics,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(table(metrics))
    agree = "yes" if bench.checks.get("large_rows_agree") and bench.checks.get("quote_rows_agree") else "NO"
    floor = bench.checks.get("upstream_floor_ms", {}).get("median")
    print(f"\nratio: {RATIO_DEFINITION}. Medians of interleaved samples, {mode} run, "
          f"{os.cpu_count()} CPUs, load {load_start[0]:.1f} → {os.getloadavg()[0]:.1f}, {elapsed:.0f} s.")
    print(f"rows identical (ours vs baseline): {agree}; Alpha Vantage stand-in alone serves the large "
          f"response in {fmt(floor, 'ms')} ms (included in both throughputs).")
    print(f"results: {args.out}")
    return 0 if agree == "yes" else 1


if __name__ == "__main__":
    sys.exit(main())
