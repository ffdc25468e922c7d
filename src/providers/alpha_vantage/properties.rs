//! Property tests of the Alpha Vantage provider, bounded in time: the date
//! filter keeps exactly the rows whose date lies in the window, and only an
//! exact `YYYY-MM-DD` is a date.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::normalize::{normalize, normalize_map};
use super::task::AlphaVantageTask;
use crate::properties::config;

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn the_date_filter_keeps_exactly_the_rows_in_the_window(
        days in prop::collection::btree_set(0i64..4000, 1..60),
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
        let result = normalize(&task, &serde_json::to_vec(&body).unwrap()).unwrap();
        let kept: Vec<i64> = result.rows.to_maps().iter().map(|r| r["close"].as_i64().unwrap()).collect();
        let expected: Vec<i64> = days
            .iter()
            .copied()
            .filter(|&n| (open_start || n >= lo) && (open_end || n <= hi))
            .collect();
        prop_assert_eq!(kept, expected);
    }


    #[test]
    fn the_borrowed_series_path_agrees_with_the_map_path(
        bars in prop::collection::vec(
            (
                "20[0-2][0-9]-0[1-9]-[12][0-9]( 1[0-9]:[0-5]0:00)?",
                prop::collection::vec(
                    (
                        prop_oneof![Just("1. open"), Just("2. high"), Just("5. volume"), Just("6. symbol"), Just("7. x y")],
                        prop_oneof![
                            "-?[0-9]{1,22}(\\.[0-9]{0,6})?%?".prop_map(|s| json!(s)),
                            "[ a-z\\-]{0,6}".prop_map(|s| json!(s)),
                            Just(json!("-")), Just(json!("None")), Just(Value::Null),
                            any::<i64>().prop_map(|n| json!(n)), Just(json!([1, {"a": 2}])),
                        ],
                    ),
                    0..5,
                ),
            ),
            0..25,
        ),
        windowed in any::<bool>(),
    ) {
        let mut text = String::from(r#"{"Meta Data": {"2. Symbol": "IBM"}, "Time Series (Daily)": {"#);
        for (i, (date, fields)) in bars.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            let fields: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{}:{}", json!(k), v))
                .collect();
            text.push_str(&format!("{}:{{{}}}", json!(date), fields.join(",")));
        }
        text.push_str("}}");
        let mut task = json!({"function": "TIME_SERIES_DAILY", "symbol": "IBM"});
        if windowed {
            task["start"] = json!("2010-01-01");
            task["end"] = json!("2025-12-31");
        }
        let task: AlphaVantageTask = serde_json::from_value(task).unwrap();
        let fast = normalize(&task, text.as_bytes());
        let map: Map<String, Value> = serde_json::from_str(&text).unwrap();
        let slow = normalize_map(&task, map);
        match (fast, slow) {
            (Ok(fast), Ok(slow)) => prop_assert_eq!(
                serde_json::to_value(&fast).unwrap(),
                serde_json::to_value(&slow).unwrap()
            ),
            (Err(a), Err(b)) => prop_assert_eq!(a.kind(), b.kind()),
            (a, b) => prop_assert!(false, "borrowed {:?} but map {:?}", a.map(|r| r.row_count), b.map(|r| r.row_count)),
        }
    }

    #[test]
    fn regular_series_take_the_one_pass_reader_and_agree_with_the_map_path(
        fields in prop::sample::subsequence(vec!["1. open", "2. high", "3. low", "4. close", "5. volume", "6. symbol"], 1..6),
        bars in prop::collection::vec(
            (
                "20[0-2][0-9]-0[1-9]-[12][0-9]",
                prop::collection::vec(prop_oneof![
                    "-?[0-9]{1,20}(\\.[0-9]{0,6})?%?".prop_map(|s| json!(s)),
                    "[ a-z\\-]{0,4}".prop_map(|s| json!(s)),
                    Just(json!("None")), Just(Value::Null), any::<i64>().prop_map(|n| json!(n)),
                    Just(json!("\u{e9}t\u{e9} \"q\"")),
                ], 6),
            ),
            1..40,
        ),
        windowed in any::<bool>(),
    ) {
        let mut text = String::from(r#"{"Meta Data": {"1. Information": "x", "2. Symbol": "IBM"}, "Time Series (Daily)": {"#);
        for (i, (date, values)) in bars.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            let cells: Vec<String> = fields
                .iter()
                .zip(values)
                .map(|(k, v)| format!("{}:{}", json!(k), v))
                .collect();
            text.push_str(&format!("{}:{{{}}}", json!(date), cells.join(",")));
        }
        text.push_str("}}");
        let mut task = json!({"function": "TIME_SERIES_DAILY", "symbol": "IBM"});
        if windowed {
            task["start"] = json!("2005-01-01");
            task["end"] = json!("2024-12-31");
        }
        let task: AlphaVantageTask = serde_json::from_value(task).unwrap();
        let fast = super::series::read(&task, &text);
        let map: Map<String, Value> = serde_json::from_str(&text).unwrap();
        let slow = normalize_map(&task, map);
        match (fast, slow) {
            (Ok(Some(fast)), Ok(slow)) => prop_assert_eq!(
                serde_json::to_value(fast).unwrap(),
                serde_json::to_value(&slow).unwrap()
            ),
            // An impossible date in a window: both refuse it.
            (Err(a), Err(b)) => prop_assert_eq!(a.kind(), b.kind()),
            (Ok(None), _) => prop_assert!(false, "a regular series is read in one pass"),
            (a, b) => prop_assert!(false, "one pass {:?}, map {:?}", a.map(|r| r.map(|r| r.row_count)), b.map(|r| r.row_count)),
        }
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
