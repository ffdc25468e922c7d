"""The Snowflake stand-in's SQL engine: statements run on an embedded DuckDB.

What goes in is what the SQL API receives: SQL text with `?` (or `:N`)
placeholders and the typed bindings of the snowflake-sql-api fact sheet
(reference/snowflake-sql-api.md, section 3), every value a string:

  FIXED, REAL, DECFLOAT     number text            TEXT     the text itself
  BOOLEAN                   "true" / "false"       BINARY   hex
  DATE                      epoch milliseconds     TIME     nanoseconds since midnight
  TIMESTAMP_NTZ / _LTZ      epoch nanoseconds      TIMESTAMP_TZ  "<nanos> <offset minutes + 1440>"

An array value (one list per binding, all the same length) runs the statement
once per element, in one transaction, like a multi-row INSERT.

What comes out is what the SQL API answers (section 5): a rowType entry per
column with the Snowflake type name derived from DuckDB's result type, and
every cell a string (or None):

  DuckDB                                   rowType        cell
  TINYINT … HUGEINT, DECIMAL(p,s)          fixed(p,s)     decimal text, s fraction digits
  FLOAT, DOUBLE                            real           "2.5", "1e+21", "NaN", "inf"
  VARCHAR, UUID, ENUM, INTERVAL, ...       text           the text
  BOOLEAN                                  boolean        "true" / "false"
  BLOB                                     binary         upper-case hex
  DATE                                     date           days since 1970-01-01
  TIME                                     time (9)       seconds.nanoseconds since midnight
  TIMESTAMP[_S|_MS|_NS]                    timestamp_ntz  seconds.nanoseconds of the wall clock read as UTC
  TIMESTAMPTZ                              timestamp_ltz  seconds.nanoseconds since the epoch (an instant)
  SF_TIMESTAMP_TZ (see below)              timestamp_tz   "seconds.nanoseconds <offset minutes + 1440>"
  JSON, VARIANT                            variant        JSON text, 2-space indented
  STRUCT, MAP                              object         JSON text, 2-space indented
  LIST, ARRAY                              array          JSON text, 2-space indented

DuckDB's TIMESTAMPTZ is an instant, like Snowflake's TIMESTAMP_LTZ; a
Snowflake TIMESTAMP_TZ also keeps each value's own UTC offset, so tables hold
those as the type SF_TIMESTAMP_TZ = STRUCT(utc TIMESTAMPTZ, tz_offset
SMALLINT) (offset in minutes), created in every engine. Time and timestamp
columns report scale 9 (Snowflake's default precision; DuckDB keeps
microseconds, TIMESTAMP_NS nanoseconds), except TIMESTAMP_S (0) and
TIMESTAMP_MS (3).

INSERT, UPDATE and DELETE answer their row count (Result kind "insert",
"update", "delete"); other statements that return no rows (CREATE, DROP, ...)
answer a status row. A query is answered from the result cache while nothing
else ran in between (see `Engine`).

Errors become `SqlError(code, sqlState, message)` in Snowflake's shapes:
  002003 42S02  a table that does not exist ("Table 'X' does not exist or not authorized.")
  000904 42000  a column that does not exist ("invalid identifier 'X'")
  001003 42000  a syntax error
  002140 42601  any other compilation (binder / catalog) error
  100037 22018  a binding or value that cannot be converted ("FIXED value 'abc' is not recognized")
  100072 22000  a constraint violation (NOT NULL, primary key)
  000603 XX000  anything else DuckDB raises
Column names come back upper-cased, as Snowflake stores unquoted identifiers,
unless the statement double-quotes them.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

import duckdb

EPOCH_DATE = dt.date(1970, 1, 1)
EPOCH = dt.datetime(1970, 1, 1)
EPOCH_UTC = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
NANOS = 1_000_000_000
TZ_TYPE = "SF_TIMESTAMP_TZ"
TZ_FIELDS = ["utc", "tz_offset"]
TEXT_LENGTH = 16777216       # Snowflake's VARCHAR default (and maximum) length
BINARY_LENGTH = 8388608


class SqlError(Exception):
    def __init__(self, code: str, sql_state: str, message: str):
        super().__init__(message)
        self.code, self.sql_state, self.message = code, sql_state, message


@dataclass
class Result:
    """A result set (kind "rows": row_type and encoded cells) or a DML count
    (kind "insert" / "update" / "delete" with `count`) or "ddl" (a status row)."""
    kind: str
    row_type: list | None = None
    rows: list | None = None
    count: int = 0


# --- SQL text: placeholders and statements outside literals and comments ----------------

def normalise(sql: str) -> str:
    """The statement key: stripped, whitespace collapsed, lower-cased, one trailing `;` dropped."""
    text = " ".join(sql.split()).lower()
    if text.endswith(";"):
        text = text[:-1].rstrip()
    return text


def scan(sql: str):
    """Yield (index, char) for characters outside quotes, identifiers, comments and $$ blocks."""
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"":
            i += 1
            while i < n:
                if sql[i] == "\\" and c == "'":
                    i += 2
                    continue
                if sql[i] == c:
                    if i + 1 < n and sql[i + 1] == c:
                        i += 2
                        continue
                    break
                i += 1
            i += 1
        elif sql.startswith("--", i) or sql.startswith("//", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif sql.startswith("$$", i):
            end = sql.find("$$", i + 2)
            i = n if end < 0 else end + 2
        else:
            yield i, c
            i += 1


def _colon_placeholders(sql: str) -> list[tuple[int, int, int]]:
    """(start, end, N) of each `:N` placeholder outside literals (not `::` casts)."""
    found = []
    for i, c in scan(sql):
        if c == ":" and (i == 0 or sql[i - 1] != ":") and not sql.startswith("::", i):
            m = re.match(r":(\d+)", sql[i:])
            if m:
                found.append((i, i + len(m[0]), int(m[1])))
    return found


def count_placeholders(sql: str) -> int:
    """`?` placeholders outside literals; without any, the highest `:N` placeholder."""
    positions = [i for i, c in scan(sql) if c == "?"]
    if positions:
        return len(positions)
    return max((n for _, _, n in _colon_placeholders(sql)), default=0)


def split_statements(sql: str) -> list[str]:
    """The statements of a request, split at `;` outside literals (empty pieces dropped)."""
    cuts = [i for i, c in scan(sql) if c == ";"]
    pieces, start = [], 0
    for cut in cuts + [len(sql)]:
        pieces.append(sql[start:cut])
        start = cut + 1
    return [p for p in pieces if p.strip()] or [sql]


def count_statements(sql: str) -> int:
    return len(split_statements(sql))


def duckdb_sql(sql: str) -> str:
    """`:N` placeholders become DuckDB's `$N`; `?` stays as it is."""
    if any(c == "?" for _, c in scan(sql)):
        return sql
    out, last = [], 0
    for start, end, n in _colon_placeholders(sql):
        out += [sql[last:start], f"${n}"]
        last = end
    return "".join(out) + sql[last:]


def quoted_identifiers(sql: str) -> set[str]:
    return set(re.findall(r'"((?:[^"]|"")+)"', sql))


# --- Bindings in -------------------------------------------------------------------------

def _not_recognized(kind: str, value: str) -> SqlError:
    return SqlError("100037", "22018", f"{kind} value '{value[:100]}' is not recognized")


def _int(kind: str, value: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise _not_recognized(kind, value) from None


def _nanos_datetime(nanos: int, tz: dt.tzinfo | None) -> dt.datetime:
    base = EPOCH_UTC if tz is not None else EPOCH
    value = base + dt.timedelta(microseconds=nanos // 1000)
    return value.astimezone(tz) if tz is not None else value


def binding_value(kind: str, value: str | None):
    """One SQL API binding value as the Python value DuckDB binds."""
    if value is None:
        return None
    try:
        if kind == "TEXT":
            return value
        if kind == "FIXED":
            text = value.strip()
            return int(text) if re.fullmatch(r"[+-]?\d+", text) else decimal.Decimal(text)
        if kind == "REAL":
            return float(value)
        if kind == "DECFLOAT":
            return decimal.Decimal(value.strip())
        if kind == "BOOLEAN":
            text = value.strip().lower()
            if text in ("true", "1", "t", "yes", "y", "on"):
                return True
            if text in ("false", "0", "f", "no", "n", "off"):
                return False
            raise _not_recognized(kind, value)
        if kind == "BINARY":
            return bytes.fromhex(value)
        if kind == "DATE":
            return EPOCH_DATE + dt.timedelta(days=_int(kind, value) // 86_400_000)
        if kind == "TIME":
            nanos = _int(kind, value)
            if not 0 <= nanos < 86400 * NANOS:
                raise _not_recognized(kind, value)
            micros = nanos // 1000
            return dt.time(micros // 3_600_000_000, micros // 60_000_000 % 60, micros // 1_000_000 % 60,
                           micros % 1_000_000)
        if kind == "TIMESTAMP_NTZ":
            return _nanos_datetime(_int(kind, value), None)
        if kind == "TIMESTAMP_LTZ":
            return _nanos_datetime(_int(kind, value), dt.timezone.utc)
        if kind == "TIMESTAMP_TZ":
            nanos, _, offset = value.strip().partition(" ")
            minutes = _int(kind, offset) - 1440 if offset else 0
            if not -1440 < minutes < 1440:
                raise _not_recognized(kind, value)
            return _nanos_datetime(_int(kind, nanos), dt.timezone(dt.timedelta(minutes=minutes)))
    except (ValueError, ArithmeticError, OverflowError, decimal.InvalidOperation):
        raise _not_recognized(kind, value) from None
    raise SqlError("002040", "42601", f"SQL compilation error:\nUnsupported data type '{kind[:40]}'.")


def binding_rows(bindings: dict | None) -> list[list]:
    """Parameter lists, one per execution: one for scalar bindings, one per element for arrays."""
    ordered = [bindings[k] for k in sorted(bindings or {}, key=int)]
    if not ordered:
        return [[]]
    if isinstance(ordered[0]["value"], list):
        columns = [[binding_value(b["type"], v) for v in b["value"]] for b in ordered]
        return [list(row) for row in zip(*columns)]
    return [[binding_value(b["type"], b["value"]) for b in ordered]]


# --- Types and cells out -----------------------------------------------------------------

INT_PRECISION = {"tinyint": 3, "smallint": 5, "integer": 10, "bigint": 19, "hugeint": 38,
                 "utinyint": 3, "usmallint": 5, "uinteger": 10, "ubigint": 20, "uhugeint": 38}
TIMESTAMP_SCALE = {"timestamp": 9, "timestamp_s": 0, "timestamp_ms": 3, "timestamp_ns": 9}


def _signed_seconds(nanos: int) -> str:
    sign = "-" if nanos < 0 else ""
    nanos = abs(nanos)
    return f"{sign}{nanos // NANOS}.{nanos % NANOS:09d}"


def _delta_nanos(delta: dt.timedelta) -> int:
    return (delta.days * 86400 + delta.seconds) * NANOS + delta.microseconds * 1000


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex().upper()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _json_cell(value) -> str:
    return json.dumps(_jsonable(value), indent=2, ensure_ascii=False)


def _real(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(value)


def column_type(duck_type) -> tuple[dict, callable]:
    """(rowType fields, cell encoder) for a DuckDB result type."""
    tid, name = duck_type.id, str(duck_type)
    if tid in INT_PRECISION:
        return {"type": "fixed", "precision": INT_PRECISION[tid], "scale": 0}, str
    if tid == "decimal":
        precision, scale = (v for _, v in duck_type.children)
        return ({"type": "fixed", "precision": precision, "scale": scale},
                (lambda v, s=scale: f"{v:.{s}f}"))
    if tid in ("float", "double"):
        return {"type": "real"}, _real
    if tid == "boolean":
        return {"type": "boolean"}, lambda v: "true" if v else "false"
    if tid == "blob":
        return {"type": "binary", "length": BINARY_LENGTH, "byteLength": BINARY_LENGTH}, lambda v: bytes(v).hex().upper()
    if tid == "date":
        return {"type": "date"}, lambda v: str((v - EPOCH_DATE).days)
    if tid in ("time", "time with time zone", "time_ns"):
        return ({"type": "time", "precision": 0, "scale": 9},
                lambda v: _signed_seconds(((v.hour * 60 + v.minute) * 60 + v.second) * NANOS + v.microsecond * 1000))
    if tid in TIMESTAMP_SCALE:
        return ({"type": "timestamp_ntz", "precision": 0, "scale": TIMESTAMP_SCALE[tid]},
                lambda v: _signed_seconds(_delta_nanos(v - EPOCH)))
    if tid == "timestamp with time zone":
        return ({"type": "timestamp_ltz", "precision": 0, "scale": 9},
                lambda v: _signed_seconds(_delta_nanos(v - EPOCH_UTC)))
    if tid == "struct" and [n for n, _ in duck_type.children] == TZ_FIELDS:
        def tz_cell(v):
            if v["utc"] is None:
                return None
            return f"{_signed_seconds(_delta_nanos(v['utc'] - EPOCH_UTC))} {int(v['tz_offset'] or 0) + 1440}"
        return {"type": "timestamp_tz", "precision": 0, "scale": 9}, tz_cell
    if name == "JSON":
        return {"type": "variant"}, lambda v: _json_cell(json.loads(v))
    if tid in ("variant", "union"):
        return {"type": "variant"}, _json_cell
    if tid in ("struct", "map"):
        return {"type": "object"}, _json_cell
    if tid in ("list", "array"):
        return {"type": "array"}, _json_cell
    return {"type": "text", "length": TEXT_LENGTH, "byteLength": TEXT_LENGTH}, str


def row_type(description, sql: str, database: str, schema: str) -> tuple[list[dict], list]:
    quoted = quoted_identifiers(sql)
    entries, encoders = [], []
    for name, duck_type, *_ in description:
        fields, encode = column_type(duck_type)
        entries.append({"name": name if name in quoted else name.upper(), "database": database, "schema": schema,
                        "table": "", "type": fields["type"], "precision": fields.get("precision"),
                        "scale": fields.get("scale"), "length": fields.get("length"),
                        "byteLength": fields.get("byteLength"), "nullable": True, "collation": None})
        encoders.append(encode)
    return entries, encoders


# --- Execution -------------------------------------------------------------------------

def sql_error(exc: duckdb.Error) -> SqlError:
    """A DuckDB error in Snowflake's shape (see the module docstring)."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    detail = first.split(": ", 1)[1] if ": " in first else first
    if isinstance(exc, duckdb.CatalogException):
        m = re.search(r"Table with name (\S+) does not exist", first)
        if m:
            table = m[1].strip('"').upper()
            return SqlError("002003", "42S02",
                            f"SQL compilation error:\nTable '{table}' does not exist or not authorized.")
        return SqlError("002140", "42601", f"SQL compilation error:\n{detail}")
    if isinstance(exc, duckdb.BinderException):
        m = re.search(r'Referenced column "?([^"\s]+)"? not found', first)
        if m:
            return SqlError("000904", "42000", f"SQL compilation error: error line 1 at position 0\n"
                                               f"invalid identifier '{m[1].upper()}'")
        return SqlError("002140", "42601", f"SQL compilation error:\n{detail}")
    if isinstance(exc, duckdb.ParserException):
        return SqlError("001003", "42000", f"SQL compilation error:\n{detail}")
    if isinstance(exc, (duckdb.ConversionException, duckdb.InvalidInputException, duckdb.OutOfRangeException)):
        return SqlError("100037", "22018", detail)
    if isinstance(exc, duckdb.ConstraintException):
        return SqlError("100072", "22000", detail)
    return SqlError("000603", "XX000", f"SQL execution internal error: {detail}")


DML = {"INSERT": "insert", "UPDATE": "update", "DELETE": "delete"}
QUERIES = {"SELECT", "EXPLAIN", "PRAGMA", "CALL", "RELATION"}   # statements answered with their rows


VOLATILE = re.compile(r"\b(now|current_\w+|localtime\w*|get_current\w*|random|setseed|uuid|gen_random_uuid|nextval"
                      r"|currval|sysdate|getdate)\b", re.IGNORECASE)


class Engine:
    """One in-memory DuckDB database; every statement runs under one lock.

    Like Snowflake's result cache (USE_CACHED_RESULT), a query that reads no
    volatile function is answered from the previous identical query's result
    while no other statement has run since: any statement that is not a plain
    SELECT empties the cache."""

    CACHE_SIZE = 64

    def __init__(self):
        self.lock = threading.Lock()
        self.con = duckdb.connect(":memory:")
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute(f"CREATE TYPE {TZ_TYPE} AS STRUCT(utc TIMESTAMPTZ, tz_offset SMALLINT)")
        self.cache: OrderedDict[str, Result] = OrderedDict()

    def run(self, sql: str, params: list | None = None) -> list[tuple]:
        """Run SQL directly (setup, tests); returns the rows, if any."""
        with self.lock:
            self.cache.clear()
            cur = self.con.execute(sql, params) if params else self.con.execute(sql)
            return cur.fetchall() if cur.description else []

    def execute(self, sql: str, bindings: dict | None = None, *, database: str = "", schema: str = "") -> Result:
        """One statement with SQL API bindings; raises SqlError."""
        runs = binding_rows(bindings)
        try:
            parsed = duckdb.extract_statements(duckdb_sql(sql))
        except duckdb.Error as exc:
            raise sql_error(exc) from None
        if len(parsed) != 1:
            raise SqlError("000008", "0A000", f"Actual statement count {len(parsed)} did not match the desired "
                                              f"statement count 1.")
        kind = parsed[0].type.name
        text = duckdb_sql(sql)
        key = None
        if kind == "SELECT" and len(runs) == 1 and not VOLATILE.search(sql):
            key = json.dumps([sql, bindings, database, schema], sort_keys=True)
        with self.lock:
            if key is not None and key in self.cache:
                self.cache.move_to_end(key)
                return self.cache[key]
            if kind != "SELECT":
                self.cache.clear()
            try:
                if len(runs) > 1 or kind in DML:
                    return self._dml_or_many(text, kind, runs, sql, database, schema)
                cur = self.con.execute(text, runs[0] or None)
                if cur.description is None or kind not in QUERIES:
                    return Result("ddl")
                entries, encoders = row_type(cur.description, sql, database, schema)
                cells = [[None if v is None else enc(v) for v, enc in zip(row, encoders)] for row in cur.fetchall()]
            except duckdb.Error as exc:
                raise sql_error(exc) from None
            result = Result("rows", entries, cells)
            if key is not None:
                self.cache[key] = result
                while len(self.cache) > self.CACHE_SIZE:
                    self.cache.popitem(last=False)
            return result

    def _dml_or_many(self, text, kind, runs, sql, database, schema) -> Result:
        """DML, or a statement run once per array element, in one transaction."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            count, description, rows = 0, None, []
            for params in runs:
                cur = self.con.execute(text, params or None)
                if kind in DML:
                    count += sum(int(r[0]) for r in cur.fetchall())
                elif cur.description is not None and kind in QUERIES:
                    description = cur.description
                    rows += cur.fetchall()
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        if kind in DML:
            return Result(DML[kind], count=count)
        if description is None:
            return Result("ddl")
        entries, encoders = row_type(description, sql, database, schema)
        return Result("rows", entries, [[None if v is None else enc(v) for v, enc in zip(r, encoders)] for r in rows])
