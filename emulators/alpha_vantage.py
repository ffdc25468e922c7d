#!/usr/bin/env python3
"""Local stand-in for the Alpha Vantage market-data API (GET /query).

Reproduces the real service's JSON shapes as recorded in the alpha-vantage
fact sheet (reference/alpha-vantage.md, sections 1, 2 and 4): numbered meta and
field keys ("1. open", "01. symbol", "1. From_Currency Code"), the per-function
meta numbering, numbers as strings with each endpoint's decimal places (the
CRYPTO_INTRADAY volume is a JSON integer), newest-first keys, 4-space pretty
JSON, and HTTP 200 for every application-level error. Data is synthetic but
deterministic: a pure function of (function, symbol or pair, interval, month,
extended_hours, --today); compact output is always a prefix of full output.

Functions: TIME_SERIES_INTRADAY, TIME_SERIES_DAILY(_ADJUSTED),
TIME_SERIES_WEEKLY(_ADJUSTED), TIME_SERIES_MONTHLY(_ADJUSTED), GLOBAL_QUOTE,
SYMBOL_SEARCH, FX_INTRADAY, FX_DAILY, FX_WEEKLY, FX_MONTHLY,
CURRENCY_EXCHANGE_RATE, DIGITAL_CURRENCY_DAILY/WEEKLY/MONTHLY, CRYPTO_INTRADAY.
Trading days are Monday to Friday (no exchange holidays); crypto trades daily.

Magic values of `symbol`, `from_symbol` or `from_currency` (case-insensitive):
  UNKNOWN  "Invalid API call" Error Message      EMPTY   {} ({"Global Quote": {}})
  LIMIT    25/day Information echoing the apikey  MINUTE  old 5/minute "Note"
  BURST    1/second Information on the first request per apikey, data afterwards
  SLOW     data after a 5 s delay                 HTML    HTTP 503 Heroku error page
  DEMO     the demo-key Information message

Hostile modes (symbol, case-insensitive) for the fault-matrix tests
(tests/e2e/test_hostile_av.py). Each is deterministic; <KEY> is the apikey the
request carried:
  UTF8CUT     data whose GLOBAL_QUOTE "07. latest trading day" and the newest daily
              bar's "1. open" are "ABCDEFGHIé12345678" (multibyte at bytes 9..11)
  ECHOKEYOBJ  {"Note": 5, "<KEY>": 1}
  ECHOSERIES  a daily series named "Time Series (<KEY>)" (whatever the function)
  ECHOLOWER / ECHOUPPER / ECHOPCT
              the daily-limit Information message with <KEY> lower-cased,
              upper-cased or percent-encoded byte by byte (%53%45...)
  ECHOESC     the same message as raw JSON bytes with every character of <KEY>
              written as a backslash-u escape (backslash u0053 ...), HTTP 200
  ECHOESC500  the same raw body (upper-case hex escapes) with HTTP 500
  ECHOHTML    HTTP 500 HTML error page with <KEY> split by HTML tags
              ("SENT<b></b>INEL-av-<span>key...")
  BIG5        HTTP 200, a valid TIME_SERIES_DAILY-shaped JSON body of 5.25 MiB
              (just under the 5.33 MiB body cap of a 256 MB function)
  BIG11       HTTP 200, a valid TIME_SERIES_DAILY-shaped JSON body of 11 MiB
              (with Content-Length)
  BIG60       the same at 60 MiB, streamed without Content-Length (Connection: close)
  REDIRECT-<port>
              HTTP 302, Location http://127.0.0.1:<port>/query?<the same query,
              apikey included>

Premium keys (--premium-keys) unlock TIME_SERIES_DAILY_ADJUSTED, FX_INTRADAY,
CRYPTO_INTRADAY, `entitlement=` and TIME_SERIES_DAILY with outputsize=full.

Test-only control endpoints: GET /__stats and POST /__reset (emulators/base.py),
POST /__keys {"keys": [...], "premium_keys": [...]} (a field that is present
replaces that set).

CLI:  python -m emulators.alpha_vantage --host 127.0.0.1 --port 0
          [--keys k1,k2] [--premium-keys k3] [--today 2026-01-15]
Import: server, state = serve(host, port, keys, premium_keys, today)
API keys are never printed or logged.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import random
import re
import sys
import time
from functools import lru_cache
from itertools import islice
from typing import NamedTuple
from urllib.parse import parse_qs, urlsplit

from . import base

# --- Messages (verbatim from the fact sheet) -----------------------------------

MSG_APIKEY = ("the parameter apikey is invalid or missing. Please claim your free API key on "
              "(https://www.alphavantage.co/support/#api-key). It should take less than 20 seconds.")
MSG_NO_FUNCTION = "This API function ({}) does not exist."
MSG_INVALID = ("Invalid API call. Please retry or visit the documentation "
               "(https://www.alphavantage.co/documentation/) for {}.")
MSG_LIMIT = ("We have detected your API key as {} and our standard API rate limit is 25 requests per day. "
             "Please subscribe to any of the premium plans at https://www.alphavantage.co/premium/ "
             "to instantly remove all daily rate limits.")
MSG_BURST = ("Thank you for using Alpha Vantage! Please consider spreading out your free API requests more "
             "sparingly (1 request per second). You may subscribe to any of the premium plans at "
             "https://www.alphavantage.co/premium/ to lift the free key rate limit (25 requests per day), "
             "raise the per-second burst limit, and instantly unlock all premium endpoints")
MSG_MINUTE = ("Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute and "
              "500 calls per day. Please visit https://www.alphavantage.co/premium/ if you would like to "
              "target a higher API call frequency.")
MSG_DEMO = ("The **demo** API key is for demo purposes only. Please claim your free API key at "
            "(https://www.alphavantage.co/support/#api-key) to explore our full API offerings. "
            "It takes fewer than 20 seconds.")
MSG_PREMIUM = ("Thank you for using Alpha Vantage! This is a premium endpoint. You may subscribe to any of "
               "the premium plans at https://www.alphavantage.co/premium/ to instantly unlock all premium endpoints")
MSG_FULL_PREMIUM = ("Thank you for using Alpha Vantage! The outputsize=full parameter value is a premium feature "
                    "for the TIME_SERIES_DAILY endpoint. You may subscribe to any of the premium plans at "
                    "https://www.alphavantage.co/premium/ to instantly unlock all premium features")
HTML_503 = """<!DOCTYPE html>
<html>
  <head><meta charset="utf-8"><title>Application Error</title></head>
  <body><iframe src="//www.herokucdn.com/error-pages/application-error.html"></iframe></body>
</html>
"""

MAGIC = {"UNKNOWN", "EMPTY", "LIMIT", "BURST", "MINUTE", "SLOW", "HTML", "DEMO"}
HOSTILE = {"UTF8CUT", "ECHOKEYOBJ", "ECHOSERIES", "ECHOLOWER", "ECHOUPPER", "ECHOPCT", "ECHOESC", "ECHOESC500",
           "ECHOHTML", "BIG5", "BIG11", "BIG60"}
UTF8_CUT = "ABCDEFGHI\u00e912345678"   # 19 bytes; the 2-byte "é" sits at bytes 9..11
PREMIUM_FUNCTIONS = {"TIME_SERIES_DAILY_ADJUSTED", "FX_INTRADAY", "CRYPTO_INTRADAY"}
INTERVALS = {"1min": 1, "5min": 5, "15min": 15, "30min": 30, "60min": 60}
HISTORY_START = dt.date(2006, 1, 2)   # equities and FX: "20+ years"
CRYPTO_START = dt.date(2018, 1, 1)
CRYPTO_DAILY_ROWS = 1000              # digital-currency daily: ~1000 points
FX_INTRADAY_FULL_ROWS = 1000
ONE_DAY = dt.timedelta(days=1)

USD_VALUE = {"USD": 1.0, "EUR": 1.17, "GBP": 1.34, "JPY": 0.0064, "CHF": 1.25, "CAD": 0.72, "AUD": 0.66,
             "NZD": 0.58, "CNY": 0.14, "SEK": 0.108, "NOK": 0.099, "INR": 0.0112,
             "BTC": 95000.0, "ETH": 3300.0, "SOL": 140.0, "LTC": 85.0, "DOGE": 0.14, "XRP": 2.1}
NAMES = {"USD": "United States Dollar", "EUR": "Euro", "GBP": "British Pound Sterling", "JPY": "Japanese Yen",
         "CHF": "Swiss Franc", "CAD": "Canadian Dollar", "AUD": "Australian Dollar", "NZD": "New Zealand Dollar",
         "CNY": "Chinese Yuan", "SEK": "Swedish Krona", "NOK": "Norwegian Krone", "INR": "Indian Rupee",
         "BTC": "Bitcoin", "ETH": "Ethereum", "SOL": "Solana", "LTC": "Litecoin", "DOGE": "Dogecoin", "XRP": "XRP"}


class InvalidCall(Exception):
    """A missing or malformed parameter: answered with the "Invalid API call" message."""


class Bar(NamedTuple):
    key: str
    open: float
    high: float
    low: float
    close: float
    volume: float
    dividend: float = 0.0
    factor: float = 1.0   # adjusted close = close * factor


# --- Deterministic generator -------------------------------------------------------

def _digest(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "big")


def unit(*parts: object) -> float:
    """A deterministic number in [0, 1) for the given parts."""
    return _digest(*parts) / 2**64


def usd_value(code: str, crypto: bool = False) -> float:
    if code in USD_VALUE:
        return USD_VALUE[code]
    return (30000 + 70000 * unit("crypto", code)) if crypto else (0.05 + 1.95 * unit("fiat", code))


def profile(kind: str, code: str) -> tuple[float, float, float]:
    """(base price, daily step, typical daily volume) for an equity, FX pair or crypto pair."""
    if kind == "equity":
        return 50 + 450 * unit("base", code), 0.02, 10 ** (5.5 + 1.5 * unit("volume", code))
    frm, to = code.split("/")
    if kind == "fx":
        return usd_value(frm) / usd_value(to), 0.005, 0.0
    return usd_value(frm, crypto=True) / usd_value(to), 0.03, 200 + 5000 * unit("volume", code)


def walk(rng: random.Random, base: float, step: float):
    """Endless OHLC bars, newest first: a random walk (backwards in time) pulled towards `base`."""
    close = base * (1 + rng.uniform(-0.05, 0.05))
    while True:
        open_ = close * (1 + rng.uniform(-step, step))
        high = max(open_, close) * (1 + rng.random() * step / 2)
        low = min(open_, close) * (1 - rng.random() * step / 2)
        yield open_, high, low, close, 0.4 + 1.2 * rng.random()
        close = open_ * math.exp(-0.01 * math.log(open_ / base) + rng.uniform(-step / 4, step / 4))


def calendar(start: dt.date, end: dt.date, weekends: bool = False) -> list[dt.date]:
    """Trading days from end back to start (inclusive), newest first."""
    days, day = [], end
    while day >= start:
        if weekends or day.weekday() < 5:
            days.append(day)
        day -= ONE_DAY
    return days


def is_ex_dividend(day: dt.date) -> bool:
    """Quarterly ex-dividend dates: the second Thursday of Feb, May, Aug, Nov."""
    return day.month % 3 == 2 and day.weekday() == 3 and 8 <= day.day <= 14


@lru_cache(maxsize=128)
def daily_bars(kind: str, code: str, today: dt.date) -> tuple[Bar, ...]:
    """The whole daily history of one instrument, newest first."""
    crypto = kind == "crypto"
    base, step, volume = profile(kind, code)
    days = calendar(CRYPTO_START if crypto else HISTORY_START, today, weekends=crypto)
    rng = random.Random(_digest("daily", kind, code, today))
    pays = kind == "equity" and unit("dividend", code) < 0.6
    bars, factor = [], 1.0
    for day, (o, h, l, c, v) in zip(days, walk(rng, base, step)):
        dividend = round(base * 0.004, 2) if pays and is_ex_dividend(day) else 0.0
        vol = round(v * volume, 8) if crypto else float(int(v * volume))
        bars.append(Bar(day.isoformat(), o, h, l, c, vol, dividend, factor))
        if dividend:
            factor *= 1 - dividend / c
    return tuple(bars)


def aggregate(bars: tuple[Bar, ...], period: str) -> list[Bar]:
    """Weekly/monthly bars keyed by the period's last day present (the newest one is partial)."""
    groups: dict[tuple, list[Bar]] = {}
    for bar in bars:
        day = dt.date.fromisoformat(bar.key)
        groups.setdefault(day.isocalendar()[:2] if period == "week" else (day.year, day.month), []).append(bar)
    return [Bar(g[0].key, g[-1].open, max(b.high for b in g), min(b.low for b in g), g[0].close,
                sum(b.volume for b in g), sum(b.dividend for b in g), g[0].factor) for g in groups.values()]


@lru_cache(maxsize=64)
def intraday_bars(kind: str, code: str, interval: str, today: dt.date, full: bool,
                  month: tuple[dt.date, dt.date] | None, extended: bool) -> tuple[Bar, ...]:
    """Intraday bars labelled by start time, newest first."""
    minutes = INTERVALS[interval]
    first, end = ((240, 1200) if extended else (570, 960)) if kind == "equity" else (0, 1440)
    slots = list(range(first, end, minutes))[::-1]
    crypto = kind == "crypto"
    if month:
        days = calendar(month[0], month[1], weekends=crypto)
    elif full and kind == "equity":
        days = calendar(today - dt.timedelta(days=29), today)     # trailing 30 days
    else:
        days = calendar(today - dt.timedelta(days=120), today, weekends=crypto)
    limit = None if full and kind == "equity" else (FX_INTRADAY_FULL_ROWS if full else 100)
    base, step, volume = profile(kind, code)
    step *= math.sqrt(minutes / (390 if kind == "equity" else 1440))
    rng = random.Random(_digest("intraday", kind, code, interval, today, month, extended))
    bars = []
    times = islice(((d, s) for d in days for s in slots), limit)
    for (day, slot), (o, h, l, c, v) in zip(times, walk(rng, base, step)):
        if kind == "equity":
            vol = int(v * volume * minutes / 390 * (1.0 if 570 <= slot < 960 else 0.005)) + 1
        else:
            vol = int(v * volume * minutes / 1440 * 10)
        bars.append(Bar(f"{day.isoformat()} {slot // 60:02d}:{slot % 60:02d}:00", o, h, l, c, vol))
    return tuple(bars)


# --- Formatting ----------------------------------------------------------------------

def f4(x: float) -> str:
    return f"{x:.4f}"


def shortest(x: float) -> str:
    """The daily-adjusted style: "168.18", "171.305", "223.0"."""
    return repr(round(x, 4))


def ohlc(b: Bar, fmt) -> dict:
    return {"1. open": fmt(b.open), "2. high": fmt(b.high), "3. low": fmt(b.low), "4. close": fmt(b.close)}


def ohlcv_4dp(b: Bar) -> dict:
    """Equity series and intraday: 4 dp prices, integer-string volume."""
    return {**ohlc(b, f4), "5. volume": str(int(b.volume))}


def ohlc_5dp(b: Bar) -> dict:
    """FX: 5 dp, no volume."""
    return ohlc(b, "{:.5f}".format)


def crypto_8dp(b: Bar) -> dict:
    """DIGITAL_CURRENCY_*: 8 dp prices and volume."""
    return {**ohlc(b, "{:.8f}".format), "5. volume": f"{b.volume:.8f}"}


def crypto_intraday(b: Bar) -> dict:
    """CRYPTO_INTRADAY: 5 dp prices, volume a JSON integer."""
    return {**ohlc_5dp(b), "5. volume": int(b.volume)}


def daily_adjusted(b: Bar) -> dict:
    return {**ohlc(b, shortest), "5. adjusted close": shortest(b.close * b.factor), "6. volume": str(int(b.volume)),
            "7. dividend amount": f4(b.dividend), "8. split coefficient": "1.0"}


def period_adjusted(b: Bar) -> dict:
    return {**ohlc(b, f4), "5. adjusted close": f4(b.close * b.factor), "6. volume": str(int(b.volume)),
            "7. dividend amount": f4(b.dividend)}


# --- Request parameters ------------------------------------------------------------------

def need(p: dict, *names: str) -> list[str]:
    values = [p.get(name, "").strip() for name in names]
    if not all(values):
        raise InvalidCall
    return values


def interval_of(p: dict) -> str:
    (interval,) = need(p, "interval")
    if interval not in INTERVALS:
        raise InvalidCall
    return interval


def is_full(p: dict) -> bool:
    return p.get("outputsize", "").strip().lower() == "full"


def size_label(full: bool) -> str:
    return "Full size" if full else "Compact"


def month_of(p: dict, today: dt.date) -> tuple[dt.date, dt.date] | None:
    text = p.get("month", "").strip()
    if not text:
        return None
    match = re.fullmatch(r"(\d{4})-(\d{2})", text)
    if not match or not 1 <= int(match[2]) <= 12:
        raise InvalidCall
    start = dt.date(int(match[1]), int(match[2]), 1)
    if start < dt.date(2000, 1, 1) or start > today:
        raise InvalidCall
    end = (start + dt.timedelta(days=32)).replace(day=1) - ONE_DAY
    return start, min(end, today)


def series(meta: dict, key: str, bars, fields) -> dict:
    return {"Meta Data": meta, key: {b.key: fields(b) for b in bars}}


# --- Function handlers: (function, params, today) -> body -----------------------------------

EQUITY_SERIES = {  # function: (1. Information, series key, period, adjusted)
    "TIME_SERIES_DAILY": ("Daily Prices (open, high, low, close) and Volumes", "Time Series (Daily)", "day", False),
    "TIME_SERIES_DAILY_ADJUSTED": ("Daily Time Series with Splits and Dividend Events", "Time Series (Daily)",
                                   "day", True),
    "TIME_SERIES_WEEKLY": ("Weekly Prices (open, high, low, close) and Volumes", "Weekly Time Series", "week", False),
    "TIME_SERIES_WEEKLY_ADJUSTED": ("Weekly Adjusted Prices and Volumes", "Weekly Adjusted Time Series", "week", True),
    "TIME_SERIES_MONTHLY": ("Monthly Prices (open, high, low, close) and Volumes", "Monthly Time Series",
                            "month", False),
    "TIME_SERIES_MONTHLY_ADJUSTED": ("Monthly Adjusted Prices and Volumes", "Monthly Adjusted Time Series",
                                     "month", True),
}


def equity_series(fn: str, p: dict, today: dt.date) -> dict:
    (symbol,) = need(p, "symbol")
    info, key, period, adjusted = EQUITY_SERIES[fn]
    bars = daily_bars("equity", symbol.upper(), today)
    meta = {"1. Information": info, "2. Symbol": symbol, "3. Last Refreshed": bars[0].key}
    if period == "day":
        full = is_full(p)
        meta.update({"4. Output Size": size_label(full), "5. Time Zone": "US/Eastern"})
        return series(meta, key, bars if full else bars[:100], daily_adjusted if adjusted else ohlcv_4dp)
    meta["4. Time Zone"] = "US/Eastern"
    return series(meta, key, aggregate(bars, period), period_adjusted if adjusted else ohlcv_4dp)


def equity_intraday(fn: str, p: dict, today: dt.date) -> dict:
    (symbol,), interval = need(p, "symbol"), interval_of(p)
    month, full = month_of(p, today), is_full(p)
    extended = p.get("extended_hours", "true").strip().lower() != "false"
    bars = intraday_bars("equity", symbol.upper(), interval, today, full, month, extended)
    meta = {"1. Information": f"Intraday ({interval}) open, high, low, close prices and volume",
            "2. Symbol": symbol, "3. Last Refreshed": bars[0].key if bars else f"{today} 19:55:00",
            "4. Interval": interval, "5. Output Size": size_label(full), "6. Time Zone": "US/Eastern"}
    return series(meta, f"Time Series ({interval})", bars, ohlcv_4dp)


def global_quote(fn: str, p: dict, today: dt.date) -> dict:
    (symbol,) = need(p, "symbol")
    bar, prev = daily_bars("equity", symbol.upper(), today)[:2]
    close, prev_close = round(bar.close, 4), round(prev.close, 4)
    change = round(close - prev_close, 4) or 0.0   # never "-0.0000"
    quote = {"01. symbol": symbol, "02. open": f4(bar.open), "03. high": f4(bar.high), "04. low": f4(bar.low),
             "05. price": f4(close), "06. volume": str(int(bar.volume)), "07. latest trading day": bar.key,
             "08. previous close": f4(prev_close), "09. change": f4(change),
             "10. change percent": f"{change / prev_close * 100:.4f}%"}
    delayed = p.get("entitlement", "").strip().lower() == "delayed"
    return {"Global Quote - DATA DELAYED" if delayed else "Global Quote": quote}


def symbol_search(fn: str, p: dict, today: dt.date) -> dict:
    (keywords,) = need(p, "keywords")
    word, summer = keywords.upper().replace(" ", ""), 4 <= today.month <= 10
    return {"bestMatches": [
        {"1. symbol": word, "2. name": f"{keywords.title()} Inc", "3. type": "Equity",
         "4. region": "United States", "5. marketOpen": "09:30", "6. marketClose": "16:00",
         "7. timezone": "UTC-04" if summer else "UTC-05", "8. currency": "USD", "9. matchScore": "1.0000"},
        {"1. symbol": f"{word}.LON", "2. name": f"{keywords.title()} PLC", "3. type": "Equity",
         "4. region": "United Kingdom", "5. marketOpen": "08:00", "6. marketClose": "16:30",
         "7. timezone": "UTC+01" if summer else "UTC+00", "8. currency": "GBX", "9. matchScore": "0.7273"}]}


def fx_series(fn: str, p: dict, today: dt.date) -> dict:
    frm, to = need(p, "from_symbol", "to_symbol")
    pair = f"{frm.upper()}/{to.upper()}"
    meta = {"2. From Symbol": frm, "3. To Symbol": to}
    if fn == "FX_INTRADAY":
        interval, full = interval_of(p), is_full(p)
        bars = intraday_bars("fx", pair, interval, today, full, None, True)
        meta = {"1. Information": f"FX Intraday ({interval}) Time Series", **meta, "4. Last Refreshed": bars[0].key,
                "5. Interval": interval, "6. Output Size": size_label(full), "7. Time Zone": "UTC"}
        return series(meta, f"Time Series FX ({interval})", bars, ohlc_5dp)
    bars = daily_bars("fx", pair, today)
    if fn == "FX_DAILY":
        full = is_full(p)
        meta = {"1. Information": "Forex Daily Prices (open, high, low, close)", **meta,
                "4. Output Size": size_label(full), "5. Last Refreshed": bars[0].key, "6. Time Zone": "UTC"}
        return series(meta, "Time Series FX (Daily)", bars if full else bars[:100], ohlc_5dp)
    name = "Weekly" if fn == "FX_WEEKLY" else "Monthly"
    meta = {"1. Information": f"Forex {name} Prices (open, high, low, close)", **meta,
            "4. Last Refreshed": bars[0].key, "5. Time Zone": "UTC"}
    period = "week" if name == "Weekly" else "month"
    return series(meta, f"Time Series FX ({name})", aggregate(bars, period), ohlc_5dp)


def exchange_rate(fn: str, p: dict, today: dt.date) -> dict:
    frm, to = (code.upper() for code in need(p, "from_currency", "to_currency"))
    rng = random.Random(_digest("rate", frm, to, today))
    rate = usd_value(frm) / usd_value(to) * (1 + rng.uniform(-0.01, 0.01))
    spread = rate * (0.0002 if frm in NAMES and usd_value(frm) > 50 else 0.00003)
    seconds = rng.randrange(86400)
    return {"Realtime Currency Exchange Rate": {
        "1. From_Currency Code": frm, "2. From_Currency Name": NAMES.get(frm, frm),
        "3. To_Currency Code": to, "4. To_Currency Name": NAMES.get(to, to),
        "5. Exchange Rate": f"{rate:.8f}",
        "6. Last Refreshed": f"{today} {seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}",
        "7. Time Zone": "UTC", "8. Bid Price": f"{rate - spread:.8f}", "9. Ask Price": f"{rate + spread:.8f}"}}


def crypto_meta(info: str, symbol: str, market: str) -> dict:
    return {"1. Information": info, "2. Digital Currency Code": symbol,
            "3. Digital Currency Name": NAMES.get(symbol.upper(), symbol), "4. Market Code": market,
            "5. Market Name": NAMES.get(market.upper(), market)}


def digital_currency(fn: str, p: dict, today: dt.date) -> dict:
    symbol, market = need(p, "symbol", "market")
    name = {"DIGITAL_CURRENCY_DAILY": "Daily", "DIGITAL_CURRENCY_WEEKLY": "Weekly"}.get(fn, "Monthly")
    bars = daily_bars("crypto", f"{symbol.upper()}/{market.upper()}", today)
    meta = {**crypto_meta(f"{name} Prices and Volumes for Digital Currency", symbol, market),
            "6. Last Refreshed": f"{bars[0].key} 00:00:00", "7. Time Zone": "UTC"}
    rows = bars[:CRYPTO_DAILY_ROWS] if name == "Daily" else aggregate(bars, "week" if name == "Weekly" else "month")
    return series(meta, f"Time Series (Digital Currency {name})", rows, crypto_8dp)


def crypto_intraday_series(fn: str, p: dict, today: dt.date) -> dict:
    (symbol, market), interval, full = need(p, "symbol", "market"), interval_of(p), is_full(p)
    bars = intraday_bars("crypto", f"{symbol.upper()}/{market.upper()}", interval, today, full, None, True)
    meta = {**crypto_meta(f"Crypto Intraday ({interval}) Time Series", symbol, market),
            "6. Last Refreshed": bars[0].key, "7. Interval": interval, "8. Output Size": size_label(full),
            "9. Time Zone": "UTC"}
    return series(meta, f"Time Series Crypto ({interval})", bars, crypto_intraday)


FUNCTIONS = {
    **dict.fromkeys(EQUITY_SERIES, equity_series),
    "TIME_SERIES_INTRADAY": equity_intraday,
    "GLOBAL_QUOTE": global_quote,
    "SYMBOL_SEARCH": symbol_search,
    **dict.fromkeys(("FX_INTRADAY", "FX_DAILY", "FX_WEEKLY", "FX_MONTHLY"), fx_series),
    "CURRENCY_EXCHANGE_RATE": exchange_rate,
    **dict.fromkeys(("DIGITAL_CURRENCY_DAILY", "DIGITAL_CURRENCY_WEEKLY", "DIGITAL_CURRENCY_MONTHLY"),
                    digital_currency),
    "CRYPTO_INTRADAY": crypto_intraday_series,
}


# --- Hostile modes ------------------------------------------------------------------------

class Raw(NamedTuple):
    """A reply written byte for byte: `stream` sends no Content-Length and closes the connection."""
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple = ()
    stream: bool = False


def split_by_tags(text: str) -> str:
    """`text` with HTML tags inside it: stripping the tags gives `text` back."""
    cuts = [4, 12, 16, 20]
    tags = ["<b></b>", "<span>", "</span>", "<!-- -->"]
    out, last = [], 0
    for cut, tag in zip(cuts, tags):
        if cut >= len(text):
            break
        out += [text[last:cut], tag]
        last = cut
    out.append(text[last:])
    return "".join(out)


def u_escaped(text: str, upper: bool = False) -> str:
    """Every character as a JSON backslash-u escape (BMP only, which API keys are)."""
    fmt = "\\u{:04X}" if upper else "\\u{:04x}"
    return "".join(fmt.format(ord(c)) for c in text)


@lru_cache(maxsize=2)
def big_series_body(min_bytes: int, today: dt.date) -> bytes:
    """A valid TIME_SERIES_DAILY body (compact JSON, unique dates going back day by day) of at least `min_bytes`."""
    head = ('{"Meta Data": {"1. Information": "Daily Prices (open, high, low, close) and Volumes", '
            '"2. Symbol": "BIG", "3. Last Refreshed": "%s", "4. Output Size": "Full size", '
            '"5. Time Zone": "US/Eastern"}, "Time Series (Daily)": {' % today.isoformat()).encode()
    bar = ('"%s": {"1. open": "123.4500", "2. high": "124.5600", "3. low": "122.3400", '
           '"4. close": "123.9900", "5. volume": "12345678"}')
    per_row = len(bar % "2026-01-15") + 2
    rows = (min_bytes - len(head)) // per_row + 2
    first = today.toordinal()
    parts = [bar % dt.date.fromordinal(first - i).isoformat() for i in range(rows)]
    return head + ", ".join(parts).encode() + b"}}"


def hostile(mode: str, function: str, key: str, params: dict, today: dt.date):
    """The answer of a hostile mode: (status, JSON body or HTML text) or a Raw reply."""
    limit = MSG_LIMIT.format
    if mode == "UTF8CUT":
        if function == "GLOBAL_QUOTE":
            status, body = 200, global_quote(function, params, today)
            body["Global Quote"]["07. latest trading day"] = UTF8_CUT
            return status, body
        body = equity_series("TIME_SERIES_DAILY", params, today)
        series_key = next(k for k in body if k != "Meta Data")
        newest = next(iter(body[series_key]))
        body[series_key][newest]["1. open"] = UTF8_CUT
        return 200, body
    if mode == "ECHOKEYOBJ":
        return 200, {"Note": 5, key: 1}
    if mode == "ECHOSERIES":
        bars = daily_bars("equity", "ECHOSERIES", today)[:5]
        meta = {"1. Information": "Daily Prices (open, high, low, close) and Volumes", "2. Symbol": "ECHOSERIES",
                "3. Last Refreshed": bars[0].key, "4. Output Size": "Compact", "5. Time Zone": "US/Eastern"}
        return 200, series(meta, f"Time Series ({key})", bars, ohlcv_4dp)
    if mode == "ECHOLOWER":
        return 200, {"Information": limit(key.lower())}
    if mode == "ECHOUPPER":
        return 200, {"Information": limit(key.upper())}
    if mode == "ECHOPCT":
        return 200, {"Information": limit("".join(f"%{b:02X}" for b in key.encode()))}
    if mode in ("ECHOESC", "ECHOESC500"):
        upper = mode == "ECHOESC500"
        # json.dumps would write the key itself: splice the escapes into the raw text.
        text = json.dumps({"Information": limit("@@KEY@@")}, indent=4).replace("@@KEY@@", u_escaped(key, upper))
        return Raw(500 if upper else 200, text.encode())
    if mode == "ECHOHTML":
        page = ("<!DOCTYPE html>\n<html><head><title>500 Internal Server Error</title></head>\n<body>\n"
                "<h1>Internal Server Error</h1>\n"
                f"<p>The request with API key {split_by_tags(key)} could not be completed.</p>\n"
                "</body></html>\n")
        return Raw(500, page.encode(), "text/html; charset=utf-8")
    if mode == "BIG5":
        return Raw(200, big_series_body(5 * 1024 * 1024 + 256 * 1024, today))
    if mode == "BIG11":
        return Raw(200, big_series_body(11 * 1024 * 1024, today))
    if mode == "BIG60":
        return Raw(200, big_series_body(60 * 1024 * 1024, today), stream=True)
    raise AssertionError(mode)


def redirect_target(params: dict) -> int | None:
    """The port of a REDIRECT-<port> symbol, else None."""
    match = re.fullmatch(r"REDIRECT-(\d{1,5})", params.get("symbol", "").strip().upper())
    return int(match[1]) if match else None


# --- Server state and request handling -----------------------------------------------------

class State(base.State):
    """Accepted keys, request counters and the BURST memory, shared by all handler threads."""

    def __init__(self, keys, premium_keys, today: dt.date):
        super().__init__()
        self.keys, self.premium, self.today = set(keys), set(premium_keys), today
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.requests, self.by_symbol, self.last_query, self.burst_seen = 0, {}, None, set()

    def set_keys(self, keys=None, premium_keys=None) -> None:
        with self.lock:
            if keys is not None:
                self.keys = set(_key_list(keys))
            if premium_keys is not None:
                self.premium = set(_key_list(premium_keys))

    def accepts(self, key: str) -> bool:
        with self.lock:
            accepted = self.keys | self.premium
            return bool(key) and (not accepted or key in accepted)

    def is_premium(self, key: str) -> bool:
        with self.lock:
            return key in self.premium

    def first_burst(self, key: str) -> bool:
        with self.lock:
            first = key not in self.burst_seen
            self.burst_seen.add(key)
            return first

    def record(self, params: dict) -> None:
        symbol = params.get("symbol", "").upper()
        for a, b in (("from_symbol", "to_symbol"), ("from_currency", "to_currency")):
            if params.get(a):
                symbol = f"{params[a].upper()}/{params.get(b, '').upper()}"
        with self.lock:
            self.requests += 1
            if symbol:
                self.by_symbol[symbol] = self.by_symbol.get(symbol, 0) + 1
            self.last_query = {k: ("<redacted>" if k == "apikey" else v) for k, v in params.items()}

    def stats(self) -> dict:
        with self.lock:
            return {"requests": self.requests, "by_symbol": dict(self.by_symbol), "last_query": self.last_query}


def respond(state: State, params: dict) -> tuple[int, object] | Raw:
    """The answer to one /query request: (HTTP status, JSON body or HTML text)."""
    key = params.get("apikey", "")
    if not state.accepts(key):
        return 200, {"Error Message": MSG_APIKEY}
    raw_function = params.get("function", "")
    function = raw_function.strip().upper()
    handler = FUNCTIONS.get(function)
    if handler is None:
        return 200, {"Error Message": MSG_NO_FUNCTION.format(raw_function)}

    magic = next((v for v in (params.get(n, "").strip().upper() for n in ("symbol", "from_symbol", "from_currency"))
                  if v in MAGIC), None)
    if magic == "UNKNOWN":
        return 200, {"Error Message": MSG_INVALID.format(function)}
    if magic == "EMPTY":
        return 200, {"Global Quote": {}} if function == "GLOBAL_QUOTE" else {}
    if magic == "LIMIT":
        return 200, {"Information": MSG_LIMIT.format(key)}
    if magic == "BURST" and state.first_burst(key):
        return 200, {"Information": MSG_BURST}
    if magic == "MINUTE":
        return 200, {"Note": MSG_MINUTE}
    if magic == "HTML":
        return 503, HTML_503
    if magic == "DEMO":
        return 200, {"Information": MSG_DEMO}
    mode = next((v for v in (params.get(n, "").strip().upper() for n in ("symbol", "from_symbol", "from_currency"))
                 if v in HOSTILE), None)
    if mode:
        return hostile(mode, function, key, params, state.today)
    if magic == "SLOW":
        time.sleep(5)

    if not state.is_premium(key):
        if function in PREMIUM_FUNCTIONS or params.get("entitlement", "").strip():
            return 200, {"Information": MSG_PREMIUM}
        if function == "TIME_SERIES_DAILY" and is_full(params):
            return 200, {"Information": MSG_FULL_PREMIUM}
    try:
        return 200, handler(function, params, state.today)
    except InvalidCall:
        return 200, {"Error Message": MSG_INVALID.format(function)}


class Handler(base.Handler):
    server_version = "AlphaVantageEmulator/1.0"
    json_indent = 4   # the real service's pretty JSON
    controls = {("POST", "/__keys"): "set_keys"}

    def reply(self, answer) -> None:
        """Send what `respond` returned: (status, body) or a Raw reply."""
        if isinstance(answer, Raw):
            self.send_raw(answer)
        else:
            self.send(*answer)

    def send_raw(self, reply: Raw) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers:
            self.send_header(name, value)
        if reply.stream:
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        view = memoryview(reply.body)
        try:
            for at in range(0, len(view), 1 << 20):
                self.wfile.write(view[at:at + (1 << 20)])
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True   # the client gave up reading: expected for the big bodies

    def send(self, status: int, body: object) -> None:
        if isinstance(body, str):
            self.send_bytes(status, body.encode(), "text/html; charset=utf-8")
        else:
            self.send_json(status, body)

    def guarded(self, action) -> None:
        try:
            action()
        except Exception as exc:  # never echo request data: it may hold an API key
            print(f"alpha_vantage emulator: internal error ({type(exc).__name__})", file=sys.stderr)
            self.send(500, {"error": "internal emulator error"})

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if self.control(url.path) or self.inject_fault():
            return
        if url.path == "/query":
            params = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
            self.state.record(params)
            port = redirect_target(params)
            if port is not None:
                location = f"http://127.0.0.1:{port}/query?{url.query}"
                self.send_raw(Raw(302, b"", "text/plain", (("Location", location),)))
                return
            self.guarded(lambda: self.reply(respond(self.state, params)))
        else:
            self.send(404, {"error": "not found", "path": url.path})

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        raw = self.read_body()
        if not self.control(path, raw) and not self.inject_fault(raw):
            self.send(404, {"error": "not found", "path": path})

    def set_keys(self, raw: bytes) -> None:
        """POST /__keys {"keys": [...], "premium_keys": [...]}."""
        try:
            body = json.loads(raw or b"{}")
            self.state.set_keys(body.get("keys"), body.get("premium_keys"))
        except (ValueError, AttributeError, TypeError):
            self.send(400, {"error": 'expected {"keys": [...], "premium_keys": [...]}'})
            return
        self.send(200, {"ok": True, "keys": len(self.state.keys), "premium_keys": len(self.state.premium)})


def _key_list(keys) -> list[str]:
    if not keys:
        return []
    if isinstance(keys, str):
        keys = keys.split(",")
    return [str(k).strip() for k in keys if k and str(k).strip()]


def _date(today) -> dt.date:
    if today is None or today == "":
        return dt.date.today()
    return today if isinstance(today, dt.date) else dt.date.fromisoformat(str(today))


def make_server(host: str = "127.0.0.1", port: int = 0, keys=(), premium_keys=(), today=None) -> base.Server:
    return base.Server((host, port), Handler, State(_key_list(keys), _key_list(premium_keys), _date(today)))


def serve(host: str = "127.0.0.1", port: int = 0, keys=(), premium_keys=(), today=None) -> tuple[base.Server, State]:
    """Start the emulator in a daemon thread; returns (server, state). Stop with server.shutdown()."""
    server = make_server(host, port, keys, premium_keys, today).start("alpha-vantage-emulator")
    return server, server.state


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local stand-in for the Alpha Vantage API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--keys", default="", help="comma-separated accepted API keys (empty: any key)")
    parser.add_argument("--premium-keys", default="", help="comma-separated premium API keys")
    parser.add_argument("--today", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD (default: today)")
    args = parser.parse_args(argv)
    server = make_server(args.host, args.port, args.keys, args.premium_keys, args.today)
    base.serve_until_interrupted(server, server.url + "/query")


if __name__ == "__main__":
    main()
