//! Property tests of the Alpha Vantage provider, bounded in time: the date
//! filter keeps exactly the rows whose date lies in the window, and only an
//! exact `YYYY-MM-DD` is a date.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::normalize::normalize;
use super::task::AlphaVantageTask;
use crate::properties::config;

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn the_date_filter_keeps_exactly_the_rows_in_the_window(
        days in prop::collection::btree_set(0i64..4000, 0..60),
        a in 0i64..4000,
        b in 0i64..4000,
        open_start in any::<bool>(),
        open_end in any::<bool>(),
    ) {
        let base = chrono::NaiveDate::from_ymd_opt(2010, 1, 1).unwrap();
        let day = |n: i64| base + chrono::Duration::days(n);
        let (lo, hi) = (a.min(b), a.max(b));
        let series: Map<String, Value> = days
            .iter()
            .map(|&n| (day(n).format("%Y-%m-%d").to_string(), json!({"4. close": n.to_string()})))
            .collect();
        let mut task = json!({"function": "TIME_SERIES_DAILY", "symbol": "IBM"});
        if !open_start {
            task["start"] = json!(day(lo).format("%Y-%m-%d").to_string());
        }
        if !open_end {
            task["end"] = json!(day(hi).format("%Y-%m-%d").to_string());
        }
        let task: AlphaVantageTask = serde_json::from_value(task).unwrap();
        task.validate().unwrap();
        let body = json!({"Meta Data": {}, "Time Series (Daily)": series});
        let result = normalize(&task, body.as_object().unwrap().clone()).unwrap();
        let kept: Vec<i64> = result.rows.iter().map(|r| r["close"].as_i64().unwrap()).collect();
        let expected: Vec<i64> = days
            .iter()
            .copied()
            .filter(|&n| (open_start || n >= lo) && (open_end || n <= hi))
            .collect();
        prop_assert_eq!(kept, expected);
    }


    #[test]
    fn a_date_that_is_not_exactly_yyyy_mm_dd_is_refused(text in "[ +\\-]?[0-9]{1,5}-[0-9]{1,2}-[0-9]{1,2}[ ]?") {
        let task: AlphaVantageTask = serde_json::from_value(
            json!({"function": "TIME_SERIES_DAILY", "symbol": "IBM", "start": text.clone()}),
        ).unwrap();
        let canonical = text.len() == 10
            && chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d").is_ok()
            && text.bytes().enumerate().all(|(i, c)| if i == 4 || i == 7 { c == b'-' } else { c.is_ascii_digit() });
        match task.validate() {
            Ok(()) => prop_assert!(canonical, "{text:?} accepted"),
            Err(e) => {
                prop_assert!(!canonical, "{text:?} refused");
                prop_assert!(e.message().contains("'start'"));
            }
        }
    }

}
