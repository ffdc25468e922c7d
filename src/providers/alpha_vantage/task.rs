//! Alpha Vantage tasks: the supported functions, their parameters and the
//! validation done before any call (so a typo never costs a request from a
//! 25-a-day quota).

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer};

use crate::dates::strict_date;
use crate::error::AppError;

/// A supported Alpha Vantage `function`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Function {
    TimeSeriesIntraday,
    TimeSeriesDaily,
    TimeSeriesDailyAdjusted,
    TimeSeriesWeekly,
    TimeSeriesWeeklyAdjusted,
    TimeSeriesMonthly,
    TimeSeriesMonthlyAdjusted,
    GlobalQuote,
    FxIntraday,
    FxDaily,
    FxWeekly,
    FxMonthly,
    CurrencyExchangeRate,
    DigitalCurrencyDaily,
    DigitalCurrencyWeekly,
    DigitalCurrencyMonthly,
    CryptoIntraday,
}

/// A task parameter besides `function`, `start` and `end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum QueryParam {
    Symbol,
    Interval,
    Outputsize,
    FromSymbol,
    ToSymbol,
    FromCurrency,
    ToCurrency,
    Market,
    Adjusted,
    ExtendedHours,
    Month,
    Entitlement,
}

impl QueryParam {
    /// The query-string (and task) name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            QueryParam::Symbol => "symbol",
            QueryParam::Interval => "interval",
            QueryParam::Outputsize => "outputsize",
            QueryParam::FromSymbol => "from_symbol",
            QueryParam::ToSymbol => "to_symbol",
            QueryParam::FromCurrency => "from_currency",
            QueryParam::ToCurrency => "to_currency",
            QueryParam::Market => "market",
            QueryParam::Adjusted => "adjusted",
            QueryParam::ExtendedHours => "extended_hours",
            QueryParam::Month => "month",
            QueryParam::Entitlement => "entitlement",
        }
    }

    const ALL: [QueryParam; 12] = [
        QueryParam::Symbol,
        QueryParam::Interval,
        QueryParam::Outputsize,
        QueryParam::FromSymbol,
        QueryParam::ToSymbol,
        QueryParam::FromCurrency,
        QueryParam::ToCurrency,
        QueryParam::Market,
        QueryParam::Adjusted,
        QueryParam::ExtendedHours,
        QueryParam::Month,
        QueryParam::Entitlement,
    ];
}

use QueryParam as P;

impl Function {
    /// Every supported function.
    pub(crate) const ALL: [Function; 17] = [
        Function::TimeSeriesIntraday,
        Function::TimeSeriesDaily,
        Function::TimeSeriesDailyAdjusted,
        Function::TimeSeriesWeekly,
        Function::TimeSeriesWeeklyAdjusted,
        Function::TimeSeriesMonthly,
        Function::TimeSeriesMonthlyAdjusted,
        Function::GlobalQuote,
        Function::FxIntraday,
        Function::FxDaily,
        Function::FxWeekly,
        Function::FxMonthly,
        Function::CurrencyExchangeRate,
        Function::DigitalCurrencyDaily,
        Function::DigitalCurrencyWeekly,
        Function::DigitalCurrencyMonthly,
        Function::CryptoIntraday,
    ];

    /// The name Alpha Vantage uses.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Function::TimeSeriesIntraday => "TIME_SERIES_INTRADAY",
            Function::TimeSeriesDaily => "TIME_SERIES_DAILY",
            Function::TimeSeriesDailyAdjusted => "TIME_SERIES_DAILY_ADJUSTED",
            Function::TimeSeriesWeekly => "TIME_SERIES_WEEKLY",
            Function::TimeSeriesWeeklyAdjusted => "TIME_SERIES_WEEKLY_ADJUSTED",
            Function::TimeSeriesMonthly => "TIME_SERIES_MONTHLY",
            Function::TimeSeriesMonthlyAdjusted => "TIME_SERIES_MONTHLY_ADJUSTED",
            Function::GlobalQuote => "GLOBAL_QUOTE",
            Function::FxIntraday => "FX_INTRADAY",
            Function::FxDaily => "FX_DAILY",
            Function::FxWeekly => "FX_WEEKLY",
            Function::FxMonthly => "FX_MONTHLY",
            Function::CurrencyExchangeRate => "CURRENCY_EXCHANGE_RATE",
            Function::DigitalCurrencyDaily => "DIGITAL_CURRENCY_DAILY",
            Function::DigitalCurrencyWeekly => "DIGITAL_CURRENCY_WEEKLY",
            Function::DigitalCurrencyMonthly => "DIGITAL_CURRENCY_MONTHLY",
            Function::CryptoIntraday => "CRYPTO_INTRADAY",
        }
    }

    /// Required and optional parameters; anything else is rejected.
    fn params(self) -> (&'static [QueryParam], &'static [QueryParam]) {
        match self {
            Function::TimeSeriesIntraday => (
                &[P::Symbol, P::Interval],
                &[
                    P::Outputsize,
                    P::Adjusted,
                    P::ExtendedHours,
                    P::Month,
                    P::Entitlement,
                ],
            ),
            Function::TimeSeriesDaily => (&[P::Symbol], &[P::Outputsize]),
            Function::TimeSeriesDailyAdjusted => (&[P::Symbol], &[P::Outputsize, P::Entitlement]),
            Function::TimeSeriesWeekly
            | Function::TimeSeriesWeeklyAdjusted
            | Function::TimeSeriesMonthly
            | Function::TimeSeriesMonthlyAdjusted => (&[P::Symbol], &[]),
            Function::GlobalQuote => (&[P::Symbol], &[P::Entitlement]),
            Function::FxIntraday => (&[P::FromSymbol, P::ToSymbol, P::Interval], &[P::Outputsize]),
            Function::FxDaily => (&[P::FromSymbol, P::ToSymbol], &[P::Outputsize]),
            Function::FxWeekly | Function::FxMonthly => (&[P::FromSymbol, P::ToSymbol], &[]),
            Function::CurrencyExchangeRate => (&[P::FromCurrency, P::ToCurrency], &[]),
            Function::DigitalCurrencyDaily
            | Function::DigitalCurrencyWeekly
            | Function::DigitalCurrencyMonthly => (&[P::Symbol, P::Market], &[]),
            Function::CryptoIntraday => (&[P::Symbol, P::Market, P::Interval], &[P::Outputsize]),
        }
    }

    /// Whether the answer is a time series (so `start`/`end` apply).
    pub(crate) fn is_series(self) -> bool {
        !matches!(self, Function::GlobalQuote | Function::CurrencyExchangeRate)
    }

    /// Whether rows are keyed by timestamp rather than by date.
    pub(crate) fn is_intraday(self) -> bool {
        matches!(
            self,
            Function::TimeSeriesIntraday | Function::FxIntraday | Function::CryptoIntraday
        )
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Function {
    type Err = AppError;
    /// Case-insensitive; `-` may stand for `_` (`time-series-daily`).
    fn from_str(s: &str) -> Result<Self, AppError> {
        let wanted = s.trim().to_ascii_uppercase().replace('-', "_");
        Function::ALL
            .into_iter()
            .find(|f| f.as_str() == wanted)
            .ok_or_else(|| {
                AppError::bad_request(format!(
                    "unsupported Alpha Vantage function '{}'; supported: {}",
                    crate::error::preview(s),
                    Function::ALL.map(Function::as_str).join(", ")
                ))
            })
    }
}

impl<'de> Deserialize<'de> for Function {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|e: AppError| serde::de::Error::custom(e.message()))
    }
}

/// An Alpha Vantage task, as it arrives (provider tag already removed).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlphaVantageTask {
    pub(crate) function: Function,
    #[serde(default)]
    pub(crate) symbol: Option<String>,
    #[serde(default)]
    pub(crate) interval: Option<String>,
    #[serde(default)]
    pub(crate) outputsize: Option<String>,
    #[serde(default)]
    pub(crate) from_symbol: Option<String>,
    #[serde(default)]
    pub(crate) to_symbol: Option<String>,
    #[serde(default)]
    pub(crate) from_currency: Option<String>,
    #[serde(default)]
    pub(crate) to_currency: Option<String>,
    #[serde(default)]
    pub(crate) market: Option<String>,
    #[serde(default)]
    pub(crate) adjusted: Option<bool>,
    #[serde(default)]
    pub(crate) extended_hours: Option<bool>,
    #[serde(default)]
    pub(crate) month: Option<String>,
    #[serde(default)]
    pub(crate) entitlement: Option<String>,
    /// First date to keep (inclusive, `YYYY-MM-DD`).
    #[serde(default)]
    pub(crate) start: Option<String>,
    /// Last date to keep (inclusive, `YYYY-MM-DD`).
    #[serde(default)]
    pub(crate) end: Option<String>,
    /// `false`: fetch from Alpha Vantage even when the function's upstream
    /// cache holds this answer (the fresh answer then replaces it).
    #[serde(default)]
    pub(crate) cache: Option<bool>,
}

const INTERVALS: [&str; 5] = ["1min", "5min", "15min", "30min", "60min"];

impl AlphaVantageTask {
    fn value(&self, p: QueryParam) -> Option<String> {
        let text = |v: &Option<String>| v.clone();
        match p {
            P::Symbol => text(&self.symbol),
            P::Interval => text(&self.interval),
            P::Outputsize => text(&self.outputsize),
            P::FromSymbol => text(&self.from_symbol),
            P::ToSymbol => text(&self.to_symbol),
            P::FromCurrency => text(&self.from_currency),
            P::ToCurrency => text(&self.to_currency),
            P::Market => text(&self.market),
            P::Adjusted => self.adjusted.map(|b| b.to_string()),
            P::ExtendedHours => self.extended_hours.map(|b| b.to_string()),
            P::Month => text(&self.month),
            P::Entitlement => text(&self.entitlement),
        }
    }

    /// Check every parameter; the error names the first problem.
    pub(crate) fn validate(&self) -> Result<(), AppError> {
        let f = self.function;
        let (required, optional) = f.params();
        for p in QueryParam::ALL {
            let given = self.value(p);
            let applies = required.contains(&p) || optional.contains(&p);
            match (&given, applies) {
                (Some(_), false) => {
                    return Err(AppError::bad_request(format!(
                        "parameter '{}' does not apply to {f}",
                        p.name()
                    )));
                }
                (None, _) if required.contains(&p) => {
                    return Err(AppError::bad_request(format!(
                        "{f} needs parameter '{}'",
                        p.name()
                    )));
                }
                (Some(v), true) => check_format(p, v)?,
                _ => {}
            }
        }
        if !f.is_series() && (self.start.is_some() || self.end.is_some()) {
            return Err(AppError::bad_request(format!(
                "'start' and 'end' apply to time series, not to {f}"
            )));
        }
        let (start, end) = self.window()?;
        if let (Some(s), Some(e)) = (start, end)
            && s > e
        {
            return Err(AppError::bad_request(format!(
                "'start' ({s}) is after 'end' ({e})"
            )));
        }
        Ok(())
    }

    /// Query parameters for the request, `function` first, without the key.
    pub(crate) fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = vec![("function", self.function.as_str().to_owned())];
        for p in QueryParam::ALL {
            if let Some(v) = self.value(p) {
                let v = match p {
                    P::Symbol
                    | P::FromSymbol
                    | P::ToSymbol
                    | P::FromCurrency
                    | P::ToCurrency
                    | P::Market => v.to_ascii_uppercase(),
                    _ => v,
                };
                q.push((p.name(), v));
            }
        }
        q.push(("datatype", "json".to_owned()));
        q
    }

    /// The upstream cache's key for this task: the request's query without
    /// the key — so without `start` and `end`, which filter the answer
    /// afterwards, and without `cache`. Values are the validated, upper-cased
    /// ones [`AlphaVantageTask::query`] sends, so `ibm` and `IBM` share an
    /// entry. Call after [`AlphaVantageTask::validate`]: validated values
    /// hold no `&` or `=`, so the key is unambiguous.
    pub(crate) fn cache_key(&self) -> String {
        let mut key = String::new();
        for (name, value) in self.query() {
            if !key.is_empty() {
                key.push('&');
            }
            key.push_str(name);
            key.push('=');
            key.push_str(&value);
        }
        key
    }

    /// Whether the task lets the upstream cache answer it.
    pub(crate) fn allows_cache(&self) -> bool {
        self.cache != Some(false)
    }

    /// What the task is about, for messages: `IBM`, `EUR/USD`, `BTC/EUR`.
    pub(crate) fn subject(&self) -> String {
        let pair = |a: &Option<String>, b: &Option<String>| {
            format!(
                "{}/{}",
                a.as_deref().unwrap_or("?").to_ascii_uppercase(),
                b.as_deref().unwrap_or("?").to_ascii_uppercase()
            )
        };
        match (&self.symbol, &self.market) {
            (Some(s), Some(_)) => pair(&Some(s.clone()), &self.market),
            (Some(s), None) => s.to_ascii_uppercase(),
            _ if self.from_symbol.is_some() => pair(&self.from_symbol, &self.to_symbol),
            _ => pair(&self.from_currency, &self.to_currency),
        }
    }

    /// The inclusive date window (dates that do not parse, which
    /// [`AlphaVantageTask::validate`] rejects first, are a `bad_request`).
    pub(crate) fn window(&self) -> Result<(Option<NaiveDate>, Option<NaiveDate>), AppError> {
        let start = self
            .start
            .as_deref()
            .map(|s| parse_date("start", s))
            .transpose()?;
        let end = self
            .end
            .as_deref()
            .map(|s| parse_date("end", s))
            .transpose()?;
        Ok((start, end))
    }
}

fn check_format(p: QueryParam, v: &str) -> Result<(), AppError> {
    let bad = |what: &str| {
        Err(AppError::bad_request(format!(
            "parameter '{}' {what}, not '{}'",
            p.name(),
            crate::error::preview(v)
        )))
    };
    match p {
        P::Symbol => {
            let ok = (1..=32).contains(&v.len())
                && v.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '^')
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-_^=".contains(c));
            if !ok {
                return bad(
                    "must be a ticker such as IBM, TSCO.LON or BRK-B (letters, digits, . - _ ^ =)",
                );
            }
        }
        P::FromSymbol | P::ToSymbol | P::FromCurrency | P::ToCurrency | P::Market => {
            if !((2..=10).contains(&v.len()) && v.chars().all(|c| c.is_ascii_alphanumeric())) {
                return bad("must be a currency code such as USD, EUR or BTC");
            }
        }
        P::Interval => {
            if !INTERVALS.contains(&v) {
                return bad("must be one of 1min, 5min, 15min, 30min, 60min");
            }
        }
        P::Outputsize => {
            if v != "compact" && v != "full" {
                return bad("must be 'compact' or 'full'");
            }
        }
        P::Entitlement => {
            if v != "realtime" && v != "delayed" {
                return bad("must be 'realtime' or 'delayed'");
            }
        }
        P::Month => {
            let shaped = v.len() == 7
                && v.bytes().enumerate().all(|(i, b)| {
                    if i == 4 {
                        b == b'-'
                    } else {
                        b.is_ascii_digit()
                    }
                });
            let parsed = shaped.then(|| strict_date(&format!("{v}-01"))).flatten();
            if parsed.is_none_or(|d| d < NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default()) {
                return bad("must be a month YYYY-MM from 2000-01 on");
            }
        }
        P::Adjusted | P::ExtendedHours => {}
    }
    Ok(())
}

fn parse_date(name: &str, v: &str) -> Result<NaiveDate, AppError> {
    strict_date(v).ok_or_else(|| {
        AppError::bad_request(format!(
            "'{name}' must be a date YYYY-MM-DD, not '{}'",
            crate::error::preview(v)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn task(v: serde_json::Value) -> Result<AlphaVantageTask, String> {
        serde_json::from_value::<AlphaVantageTask>(v).map_err(|e| e.to_string())
    }

    fn invalid(v: serde_json::Value) -> String {
        task(v)
            .unwrap()
            .validate()
            .unwrap_err()
            .message()
            .to_owned()
    }

    #[test]
    fn function_names_parse_leniently() {
        assert_eq!(
            "time-series-daily".parse::<Function>().unwrap(),
            Function::TimeSeriesDaily
        );
        assert_eq!(
            "Global_Quote".parse::<Function>().unwrap(),
            Function::GlobalQuote
        );
        let err = "TIME_SERIES_HOURLY".parse::<Function>().unwrap_err();
        assert!(
            err.message().contains("TIME_SERIES_DAILY"),
            "lists the supported ones"
        );
        for f in Function::ALL {
            assert_eq!(f.as_str().parse::<Function>().unwrap(), f);
        }
    }

    #[test]
    fn valid_tasks_for_every_family() {
        for v in [
            json!({"function": "TIME_SERIES_DAILY", "symbol": "IBM", "outputsize": "compact", "start": "2024-01-01", "end": "2024-06-30"}),
            json!({"function": "TIME_SERIES_INTRADAY", "symbol": "IBM", "interval": "5min", "adjusted": false, "extended_hours": true, "month": "2024-01"}),
            json!({"function": "TIME_SERIES_WEEKLY_ADJUSTED", "symbol": "TSCO.LON"}),
            json!({"function": "GLOBAL_QUOTE", "symbol": "600104.SHH"}),
            json!({"function": "FX_DAILY", "from_symbol": "EUR", "to_symbol": "USD"}),
            json!({"function": "FX_INTRADAY", "from_symbol": "EUR", "to_symbol": "USD", "interval": "60min"}),
            json!({"function": "CURRENCY_EXCHANGE_RATE", "from_currency": "BTC", "to_currency": "EUR"}),
            json!({"function": "DIGITAL_CURRENCY_WEEKLY", "symbol": "BTC", "market": "EUR"}),
            json!({"function": "CRYPTO_INTRADAY", "symbol": "ETH", "market": "USD", "interval": "1min"}),
        ] {
            let t = task(v.clone()).unwrap();
            t.validate()
                .unwrap_or_else(|e| panic!("{v}: {}", e.message()));
        }
    }

    #[test]
    fn rejects_with_a_message_naming_the_problem() {
        assert!(invalid(json!({"function": "TIME_SERIES_DAILY"})).contains("'symbol'"));
        assert!(
            invalid(json!({"function": "TIME_SERIES_INTRADAY", "symbol": "IBM"}))
                .contains("'interval'")
        );
        assert!(
            invalid(json!({"function": "TIME_SERIES_DAILY", "symbol": "IBM", "interval": "5min"}))
                .contains("does not apply")
        );
        assert!(
            invalid(
                json!({"function": "TIME_SERIES_INTRADAY", "symbol": "IBM", "interval": "2min"})
            )
            .contains("1min")
        );
        assert!(
            invalid(json!({"function": "TIME_SERIES_DAILY", "symbol": "IBM; DROP"}))
                .contains("ticker")
        );
        assert!(
            invalid(
                json!({"function": "TIME_SERIES_DAILY", "symbol": "IBM", "start": "2024-02-30"})
            )
            .contains("'start'")
        );
        assert!(invalid(json!({"function": "TIME_SERIES_DAILY", "symbol": "IBM", "start": "2024-03-01", "end": "2024-02-01"})).contains("after"));
        for (field, bad) in [
            ("end", "+2025-12-1"),
            ("start", " 2025-12-1"),
            ("start", "2025-12-1"),
            ("end", "-2025-12-01"),
            ("end", "2025-12-01 "),
            ("start", "２０２５-12-01"),
            ("start", "2025/12/01"),
        ] {
            let msg =
                invalid(json!({"function": "TIME_SERIES_DAILY", "symbol": "IBM", field: bad}));
            assert!(msg.contains(&format!("'{field}'")), "{bad:?}: {msg}");
        }
        assert!(
            invalid(json!({"function": "GLOBAL_QUOTE", "symbol": "IBM", "start": "2024-03-01"}))
                .contains("time series")
        );
        assert!(
            invalid(json!({"function": "FX_DAILY", "from_symbol": "EURO$", "to_symbol": "USD"}))
                .contains("currency")
        );
        assert!(
            invalid(
                json!({"function": "TIME_SERIES_DAILY", "symbol": "IBM", "outputsize": "huge"})
            )
            .contains("compact")
        );
        assert!(invalid(json!({"function": "TIME_SERIES_INTRADAY", "symbol": "IBM", "interval": "5min", "month": "1999-12"})).contains("month"));
    }

    #[test]
    fn unknown_fields_and_types_are_rejected_by_serde() {
        assert!(
            task(json!({"function": "TIME_SERIES_DAILY", "symbol": "IBM", "apikey": "x"}))
                .unwrap_err()
                .contains("apikey")
        );
        assert!(task(json!({"function": "TIME_SERIES_DAILY", "symbol": 5})).is_err());
        assert!(
            task(json!({"symbol": "IBM"}))
                .unwrap_err()
                .contains("function")
        );
    }

    #[test]
    fn query_is_ordered_and_upper_cased() {
        let t = task(json!({"function": "time_series_intraday", "symbol": "ibm", "interval": "5min", "extended_hours": false})).unwrap();
        assert_eq!(
            t.query(),
            vec![
                ("function", "TIME_SERIES_INTRADAY".to_owned()),
                ("symbol", "IBM".to_owned()),
                ("interval", "5min".to_owned()),
                ("extended_hours", "false".to_owned()),
                ("datatype", "json".to_owned()),
            ]
        );
        assert_eq!(t.subject(), "IBM");
        let fx = task(json!({"function": "FX_WEEKLY", "from_symbol": "eur", "to_symbol": "usd"}))
            .unwrap();
        assert_eq!(fx.subject(), "EUR/USD");
    }

    #[test]
    fn cache_key_is_the_query_without_window_or_cache_flag() {
        let key = |v| task(v).unwrap().cache_key();
        let base = key(json!({"function": "TIME_SERIES_DAILY", "symbol": "IBM"}));
        assert_eq!(base, "function=TIME_SERIES_DAILY&symbol=IBM&datatype=json");
        for same in [
            json!({"function": "time_series_daily", "symbol": "ibm"}),
            json!({"function": "TIME_SERIES_DAILY", "symbol": "IBM", "start": "2024-01-01"}),
            json!({"function": "TIME_SERIES_DAILY", "symbol": "IBM", "end": "2024-06-30", "cache": false}),
            json!({"function": "TIME_SERIES_DAILY", "symbol": "IBM", "cache": true}),
        ] {
            assert_eq!(key(same.clone()), base, "{same}");
        }
        for different in [
            json!({"function": "TIME_SERIES_DAILY", "symbol": "MSFT"}),
            json!({"function": "TIME_SERIES_DAILY", "symbol": "IBM", "outputsize": "full"}),
            json!({"function": "TIME_SERIES_WEEKLY", "symbol": "IBM"}),
        ] {
            assert_ne!(key(different.clone()), base, "{different}");
        }
        let intraday = key(json!({"function": "TIME_SERIES_INTRADAY", "symbol": "IBM", "interval": "5min", "extended_hours": false}));
        assert_ne!(
            intraday,
            key(json!({"function": "TIME_SERIES_INTRADAY", "symbol": "IBM", "interval": "5min", "extended_hours": true}))
        );
        assert!(!intraday.contains("apikey"));
    }

    #[test]
    fn cache_flag_parses_and_defaults_to_allowed() {
        let t = task(json!({"function": "GLOBAL_QUOTE", "symbol": "IBM"})).unwrap();
        assert!(t.allows_cache());
        let t = task(json!({"function": "GLOBAL_QUOTE", "symbol": "IBM", "cache": false})).unwrap();
        assert!(!t.allows_cache());
        t.validate().unwrap();
        assert!(task(json!({"function": "GLOBAL_QUOTE", "symbol": "IBM", "cache": "no"})).is_err());
    }
}
