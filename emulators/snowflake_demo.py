"""Canned Snowflake results for the statements in statements.toml, in the
SQL API's wire encodings, for the local demo and the end-to-end suite.

customers_by_city answers 2,500 rows in three partitions (1,000 rows each,
the last 500) covering every common type: NUMBER, TEXT (non-ASCII), DATE,
NUMBER(12,2), TIMESTAMP_TZ, VARIANT and a NUMBER beyond 2^53.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import snowflake as sf

ROOT = Path(__file__).resolve().parent.parent
CUSTOMERS = 2500
BIG = 9007199254740993  # 2^53 + 1


def customers() -> sf.Rows:
    cols = [
        sf.column("ID", "fixed", precision=38, scale=0, nullable=False),
        sf.column("NAME", "text", length=200),
        sf.column("CITY", "text", length=100),
        sf.column("SIGNUP_DATE", "date"),
        sf.column("BALANCE", "fixed", precision=12, scale=2),
        sf.column("LAST_LOGIN", "timestamp_tz", scale=9),
        sf.column("PROFILE", "variant"),
        sf.column("EXTERNAL_ID", "fixed", precision=38, scale=0),
    ]
    rows = []
    for i in range(1, CUSTOMERS + 1):
        days = 19723 + i % 400  # from 2024-01-01
        offset = 1440 + (60 if i % 2 else -300)  # +01:00 or -05:00
        rows.append([
            str(i),
            f"Zoë Kund {i}" if i % 7 == 0 else f"Customer {i}",
            "Berlin" if i % 3 else "Oslo",
            str(days),
            f"{(i * 37) % 100000 / 100:.2f}",
            f"{1704164645 + i * 3600}.{i % 1000:03d}000000 {offset}",
            None if i % 11 == 0 else '{\n  "tier": "%s",\n  "tags": [\n    "a",\n    %d\n  ]\n}' % ("gold" if i % 5 == 0 else "basic", i),
            str(BIG + i),
        ])
    return sf.Rows(cols, rows)


def daily_orders() -> sf.Rows:
    cols = [
        sf.column("ORDER_DATE", "date"),
        sf.column("ORDERS", "fixed", precision=18, scale=0),
        sf.column("REVENUE", "fixed", precision=38, scale=2),
    ]
    rows = [[str(20454 + d), str(100 + d * 3), f"{12345.5 + d * 101.25:.2f}"] for d in range(14)]  # 2026-01-01…
    return sf.Rows(cols, rows)


def statements(path: Path | None = None) -> dict[str, str]:
    data = tomllib.loads((path or ROOT / "statements.toml").read_text())
    return {name: st["sql"] for name, st in data.items()}


def register(state, path: Path | None = None) -> dict[str, str]:
    """Register the demo results; returns name → SQL."""
    sql = statements(path)
    state.register(sql["customers_by_city"], customers(), partition_rows=1000)
    state.register(sql["daily_orders"], daily_orders())
    state.register(sql["add_customers"], sf.Dml(inserted=None))
    return sql
