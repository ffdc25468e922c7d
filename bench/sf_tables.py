"""The benchmark's Snowflake results: deterministic generated tables of 10,000
and 500,000 rows, registered with the Snowflake stand-in as canned results
(emulators/snowflake.py `Rows`) under the statements of bench/statements.toml.

Canned, not DuckDB-executed, so that every submission of the same statement
costs the stand-in the same small amount (its encoded gzip partitions, and
partition 0's rows inside the submit answer, are compressed once and shared
between statements through `Rows.shared_cache`): what is measured is
the function's download, decode and serialisation, not the stand-in's SQL
engine. Cells are encoded as Snowflake's SQL API encodes them (numbers and
dates as strings, DATE as days since 1970-01-01, NULL as null).
"""

from __future__ import annotations

from emulators import snowflake
from emulators.snowflake_demo import statements

CITIES = ("Berlin", "Oslo", "Lisboa", "Kraków", "Zürich")

ROW_TYPE = [
    snowflake.column("ID", "fixed", precision=38, scale=0, nullable=False, table="BENCH_ROWS"),
    snowflake.column("NAME", "text", length=64, byte_length=256, table="BENCH_ROWS"),
    snowflake.column("CITY", "text", length=32, byte_length=128, table="BENCH_ROWS"),
    snowflake.column("AMOUNT", "fixed", precision=12, scale=2, table="BENCH_ROWS"),
    snowflake.column("DAY", "date", table="BENCH_ROWS"),
    snowflake.column("QTY", "fixed", precision=38, scale=0, table="BENCH_ROWS"),
]

# name in bench/statements.toml → (rows, rows per partition): both over 20+ gzip partitions
# (partition 0 comes inline in the submit answer, the rest are gzip downloads).
TABLES = {"bench_10k": (10_000, 400), "bench_500k": (500_000, 20_000)}


def cells(i: int) -> list[str | None]:
    name = f"Zoë Kund {i}" if i % 7 == 0 else f"Customer {i}"
    amount = f"{(i * 37) % 1_000_000 / 100:.2f}"
    qty = None if i % 17 == 0 else str(i % 1000)
    return [str(i), name, CITIES[i % len(CITIES)], amount, str(19_723 + i % 400), qty]


def register(state, statements_file) -> dict[str, dict]:
    """Register every table's statement; returns name → {"rows", "partition_rows", "partitions", "sql"}."""
    sql = statements(statements_file)
    out = {}
    for name, (rows, per_partition) in TABLES.items():
        data = [cells(i) for i in range(1, rows + 1)]
        state.register(sql[name], snowflake.Rows(ROW_TYPE, data, per_partition, shared_cache={}))
        out[name] = {"rows": rows, "partition_rows": per_partition,
                     "partitions": -(-rows // per_partition), "sql": sql[name]}
    return out
