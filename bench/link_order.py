"""`scripts/link-order`: record which functions of the release `bootstrap` a
cold start and the common invocations run, and write them, in their link
order, to `link-order/<target>.txt` (build.rs hands the file to the linker,
which places those functions side by side).

The binary runs under valgrind's callgrind behind the benchmark's stand-ins
(moto, Alpha Vantage, Snowflake; bench/run.py sets them up): init, then the
Alpha Vantage daily series (full, compact, a window), a quote, two pages of
a Snowflake statement, and the API Gateway, Scheduler and EventBridge events
from events/ (some of them end in errors here; their paths count too), and
two more after the stand-ins have closed their idle connections, the first
while Secrets Manager's connection drops.
callgrind names the functions of a stripped binary by their start address;
the linker map of the same build (SECRET_FETCH_LINK_MAP) turns each address
into the input section that holds it, and so into the symbol the ordering
file names. `--check MAP` only reports how much of the current list a build
(its map) still has.

Run it through scripts/link-order, which builds the binary and its map.
"""

from __future__ import annotations

import argparse
import bisect
import json
import re
import shutil
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from . import run as bench

ROOT = bench.ROOT
EVENTS = ROOT / "events"
SCENARIO = [
    bench.FULL,
    bench.COMPACT,
    bench.WINDOW,
    bench.QUOTE,
    {"provider": "snowflake", "query": "bench_10k", "max_rows": 5000},
    "next_cursor",
    *(EVENTS / name for name in (
        "http-api-get-alpha-vantage-monthly.json",
        "rest-get-alpha-vantage-intraday.json",
        "function-url-post-alpha-vantage-crypto.json",
        "http-api-get-snowflake-customers.json",
        "scheduler-input-alpha-vantage-weekly.json",
        "eventbridge-rule-input-alpha-vantage-quote.json",
        "console-alpha-vantage-daily.json",
    )),
    # A sandbox thawed after a while: the stand-ins have closed their idle keep-alive connections
    # (after 30 s, as real endpoints do), so the pool finds them dead and connects again; the
    # secret's TTL has run out too, and Secrets Manager's connection drops (a network blip: the
    # SDK retries, then the cached secret is served stale) before it answers again.
    "idle",
    "drop",
    bench.COMPACT,
    "undrop",
    bench.QUOTE,
]
IDLE_SECONDS = 32
SECRET_TTL_SECONDS = 20

# An input section in LLD's map: "VMA LMA Size Align <object>:(.text.<symbol>)". With function
# sections (rustc's default, and the cc crate's for aws-lc) each function has its own, named after
# its mangled symbol (the map's own symbol lines are demangled); LLVM may prefix a hot or cold one.
SECTION = re.compile(r"^\s*([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+\s+\S.*:\(\.text\.([^)]+)\)$")
PREFIXES = ("unlikely.", "hot.", "startup.", "exit.", "split.")


def read_map(path: Path) -> list[tuple[int, int, str]]:
    """The function sections of an LLD map as (start, end, symbol), sorted by address."""
    sections = []
    for line in path.read_text(errors="replace").splitlines():
        m = SECTION.match(line)
        if not m or not int(m.group(2), 16):
            continue
        name = m.group(3)
        for prefix in PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix):]
        start = int(m.group(1), 16)
        sections.append((start, start + int(m.group(2), 16), name))
    return sorted(sections)


def executed(callgrind_out: Path, binary: Path) -> set[int]:
    """Addresses of the instructions of `binary` that callgrind saw run (--dump-instr: every one,
    since without symbols callgrind files code reached by a jump under the function it came from)."""
    addrs, in_binary = set(), False
    for line in callgrind_out.read_text(errors="replace").splitlines():
        if line.startswith("ob="):
            in_binary = Path(line[3:].strip()).name == binary.name
        elif in_binary and line.startswith("0x"):
            addrs.add(int(line.split()[0], 16))
        elif in_binary and line.startswith("fn=0x"):
            addrs.add(int(line[3:].split()[0].split("'")[0], 16))
    return addrs


# Code chosen at run time by CPU feature: valgrind emulates no SHA extensions and no AVX-512, so
# under it the portable variant runs and the one the machine runs is not seen. Functions whose
# names carry a feature, of crates the profile saw, are listed too (about 20 KiB).
FEATURES = re.compile(r"x86_sha|avx2|avx512|sse2|sse41|sse42|ssse3|shani|x86_avx|pclmul|aesni|vaes")


def crate_of(symbol: str) -> str | None:
    m = re.match(r"_ZN(\d+)", symbol)   # legacy mangling: _ZN<len><crate>...
    return symbol[m.end():m.end() + int(m.group(1))] if m else None


def outcome(body) -> str:
    """What an invocation answered, for the log: rows, an HTTP status or an error type."""
    if not isinstance(body, dict):
        return "answered"
    if "rows" in body:
        return f"{body['row_count']} rows"
    if "statusCode" in body:
        return f"HTTP {body['statusCode']}"
    return body.get("errorType", "answered")


def record(binary: Path, out: Path) -> set[int]:
    with tempfile.TemporaryDirectory() as tmp:
        cg = Path(tmp) / "callgrind.out"
        wrapper = Path(tmp) / "bootstrap"
        wrapper.write_text(f"#!/bin/sh\nexec valgrind --tool=callgrind --compress-strings=no --compress-pos=no "
                           f"--dump-instr=yes --dump-line=no --callgrind-out-file={cg} {binary}\n")
        wrapper.chmod(0o755)
        b = bench.Bench(argparse.Namespace(binary=binary), bench.PROFILES["quick"])
        try:
            impl = bench.Impl("link-order", wrapper, {**b.ours.env, "UPSTREAM_CACHE_TTL_SECS": "0",
                                                      "SECRET_CACHE_TTL_SECS": str(SECRET_TTL_SECONDS)}, "full")
            fn = impl.start()
            fn.wait_init(limit=300)
            cursor = None
            for step in SCENARIO:
                if step == "idle":
                    bench.log(f"  idle for {IDLE_SECONDS} s")
                    time.sleep(IDLE_SECONDS)
                    continue
                if step in ("drop", "undrop"):
                    fault = json.dumps({"secret_id": bench.AV_SECRET, "fault": "drop" if step == "drop" else None})
                    urllib.request.urlopen(urllib.request.Request(
                        b.stack.secrets_url + "/__fault", data=fault.encode(), method="POST")).read()
                    continue
                if step == "next_cursor":
                    if not cursor:
                        raise SystemExit("link-order: the Snowflake statement gave no cursor")
                    step = {"provider": "snowflake", "query": "bench_10k", "max_rows": 5000, "cursor": cursor}
                event = json.loads(step.read_text()) if isinstance(step, Path) else step
                _, body = fn.invoke(event)   # an error is fine: its code path is recorded too
                if isinstance(body, dict) and body.get("next_cursor"):
                    cursor = body["next_cursor"]
                bench.log(f"  {step.name if isinstance(step, Path) else json.dumps(step)[:90]}: {outcome(body)}")
            bench.stop(fn)
        finally:
            b.close()
        if not cg.exists():
            raise SystemExit("link-order: valgrind wrote no profile")
        shutil.copy(cg, out)
        return executed(cg, binary)


def hot_functions(sections: list[tuple[int, int, str]], addrs: set[int]) -> list[str]:
    """The symbols of the sections holding `addrs`, with their CPU-feature siblings, in link order."""
    starts = [s for s, _, _ in sections]
    hot: dict[str, int] = {}
    for a in addrs:
        i = bisect.bisect_right(starts, a) - 1
        if i >= 0 and sections[i][0] <= a < sections[i][1]:
            hot.setdefault(sections[i][2], sections[i][0])
    crates = {crate_of(n) for n in hot}
    for start, _, name in sections:
        if name not in hot and FEATURES.search(name) and crate_of(name) in crates:
            hot[name] = start
    return sorted(hot, key=hot.get)


def coverage(sections: list[tuple[int, int, str]], listed: list[str]) -> dict:
    """How much of the list `listed` a build (its map's `sections`) has, and how many of the
    build's first function sections are listed ones (a list that took effect leads .text)."""
    names = {n for _, _, n in sections}
    want = set(listed)
    lead = next((i for i, (_, _, n) in enumerate(sections) if n not in want), len(sections))
    return {"listed": len(listed), "in_build": sum(1 for n in listed if n in names), "leading_sections": lead}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", type=Path, required=True)
    ap.add_argument("--map", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--work", type=Path, default=ROOT / "target" / "link-order", help="where the raw profile is kept")
    ap.add_argument("--check", action="store_true", help="only report how much of --out the map still has")
    args = ap.parse_args()
    sections = read_map(args.map)
    if not sections:
        raise SystemExit(f"link-order: no .text sections in {args.map}")
    if args.check:
        listed = [line for line in args.out.read_text().splitlines() if line]
        have = coverage(sections, listed)["in_build"]
        print(f"{args.out}: {have} of {len(listed)} symbols are in this build")
        return 0 if listed and have >= 0.9 * len(listed) else 1
    addrs = record(args.binary, args.work / "callgrind.out")
    ordered = hot_functions(sections, addrs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(ordered) + "\n")
    hot = set(ordered)
    size = sum(e - s for s, e, n in sections if n in hot)
    bench.log(f"link-order: {len(ordered)} functions ({size / 1024:.0f} KiB) of {len(sections)} "
              f"sections, from {len(addrs)} instruction addresses, written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
