"""The demo database behind the Snowflake stand-in: the tables the statements
in statements.toml (and tests/e2e/*.toml) read and write, loaded into the
stand-in's DuckDB at start (`load`). Every answer is DuckDB executing the
statement; nothing is canned.

customers — 3,000 rows covering every common type: ID NUMBER(38,0), NAME
  TEXT (non-ASCII for every 7th), CITY, SIGNUP_DATE DATE, BALANCE
  NUMBER(12,2), LAST_LOGIN TIMESTAMP_TZ (offsets +01:00 and -05:00
  alternating), PROFILE VARIANT (NULL for every 11th) and EXTERNAL_ID, a
  NUMBER beyond 2^53.
  - Berlin: IDs 1–2,500, signed up 2024-01-02…2025-02-03, so
    customers_by_city(Berlin) answers 2,500 rows: three partitions of 1,000,
    1,000 and 500 rows;
  - Oslo: IDs 2,501–3,000, signed up from 2023-09-01 on, so the `since`
    parameter (default 2024-01-01) matters: OSLO_SINCE_2024 of them qualify.
  New rows (add_customers) get IDs from 3,001 on and no SIGNUP_DATE, so they
  never change what customers_by_city answers.
orders — one row per order, 2025-12-01…2026-01-14 (45 days, 20–32 orders a
  day): ORDER_ID, CUSTOMER_ID, ORDER_DATE DATE, AMOUNT NUMBER(12,2), so
  daily_orders answers one row per day of its window.
audit — EVENT_ID NUMBER, NOTE TEXT; empty (for INSERT tests).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BERLIN = 2500
OSLO = 500
BIG = 9007199254740993  # 2^53 + 1
OSLO_SINCE_2024 = 356   # Oslo customers with SIGNUP_DATE >= 2024-01-01
ORDER_DAYS = ("2025-12-01", 45)

SCHEMA = f"""
CREATE SEQUENCE customer_ids START {BERLIN + OSLO + 1};
CREATE TABLE customers (
    id          DECIMAL(38,0) NOT NULL DEFAULT nextval('customer_ids') PRIMARY KEY,
    name        VARCHAR,
    city        VARCHAR,
    signup_date DATE,
    balance     DECIMAL(12,2),
    last_login  SF_TIMESTAMP_TZ,
    profile     VARIANT,
    external_id DECIMAL(38,0)
);
CREATE TABLE orders (
    order_id    DECIMAL(38,0) NOT NULL PRIMARY KEY,
    customer_id DECIMAL(38,0) NOT NULL,
    order_date  DATE NOT NULL,
    amount      DECIMAL(12,2) NOT NULL
);
CREATE TABLE audit (event_id DECIMAL(38,0), note VARCHAR);
"""

DATA = f"""
INSERT INTO customers
SELECT i,
       CASE WHEN i % 7 = 0 THEN 'Zoë Kund ' ELSE 'Customer ' END || i,
       CASE WHEN i <= {BERLIN} THEN 'Berlin' ELSE 'Oslo' END,
       CASE WHEN i <= {BERLIN} THEN DATE '2024-01-01' + CAST(i % 400 AS INTEGER)
            ELSE DATE '2023-09-01' + CAST(i % 300 AS INTEGER) END,
       CAST((i * 37) % 100000 * 0.01 AS DECIMAL(12,2)),
       {{'utc': to_timestamp(1704164645 + i * 3600) + to_milliseconds(i % 1000),
        'tz_offset': CASE WHEN i % 2 = 1 THEN 60 ELSE -300 END}}::SF_TIMESTAMP_TZ,
       CASE WHEN i % 11 <> 0 THEN json_object('tier', CASE WHEN i % 5 = 0 THEN 'gold' ELSE 'basic' END,
                                              'tags', json_array('a', i))::VARIANT END,
       CAST({BIG} + i AS DECIMAL(38,0))
FROM range(1, {BERLIN + OSLO + 1}) r(i);

INSERT INTO orders
SELECT row_number() OVER (ORDER BY d, k),
       1 + (d * 53 + k * 17) % {BERLIN + OSLO},
       DATE '{ORDER_DAYS[0]}' + CAST(d AS INTEGER),
       CAST((d * 131 + k * 977) % 40000 * 0.01 + 5 AS DECIMAL(12,2))
FROM range({ORDER_DAYS[1]}) days(d), range(40) n(k)
WHERE k < 20 + (d * 7) % 13;
"""


def statements(path: Path | None = None) -> dict[str, str]:
    """name → SQL of a statements file (default: the shipped statements.toml)."""
    data = tomllib.loads((path or ROOT / "statements.toml").read_text())
    return {name: st["sql"] for name, st in data.items()}


def load(state, path: Path | None = None) -> dict[str, str]:
    """Create and fill the demo tables in the stand-in's database; returns name → SQL."""
    for sql in (SCHEMA + DATA).split(";"):
        if sql.strip():
            state.engine.run(sql)
    return statements(path)
