//! Property tests (unit tests of the crate), bounded in time (a fixed number of cases each, no
//! persistence files): for any input, the code paths that read events,
//! tasks, secret references, dates, Snowflake cells and cursors never panic,
//! and answer with a value or a kind from the table. The date filter keeps
//! exactly the rows whose date lies in the window, and the redactor lets no
//! encoded echo of a secret through.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use crate::error::ErrorKind;
use crate::providers::Task;
use crate::providers::alpha_vantage::AlphaVantageTask;
use crate::providers::alpha_vantage::normalize::normalize;
use crate::providers::snowflake::cursor;
use crate::providers::snowflake::decode::{RowType, decode_cell, decode_row, unique_names};
use crate::redact::Redactor;
use crate::secrets::SecretRef;
use crate::trigger::{classify, parse_event};

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Any JSON value, biased towards the field names triggers and tasks use.
fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("provider".to_owned()),
        Just("httpMethod".to_owned()),
        Just("requestContext".to_owned()),
        Just("version".to_owned()),
        Just("http".to_owned()),
        Just("method".to_owned()),
        Just("source".to_owned()),
        Just("detail-type".to_owned()),
        Just("detail".to_owned()),
        Just("elb".to_owned()),
        Just("body".to_owned()),
        Just("function".to_owned()),
        Just("symbol".to_owned()),
        Just("query".to_owned()),
        Just("params".to_owned()),
        "[a-z_]{1,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop_oneof![
            Just("2.0".to_owned()),
            Just("alpha_vantage".to_owned()),
            Just("snowflake".to_owned()),
            Just("aws.scheduler".to_owned()),
            Just("GET".to_owned()),
            ".{0,12}",
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn any_event_classifies_or_is_a_typed_error(event in json_value()) {
        let text = event.to_string();
        let parsed = parse_event(&text).unwrap();
        if let Err(e) = classify(parsed, None) {
            prop_assert!(ErrorKind::ALL.contains(&e.kind()));
            prop_assert!(e.kind().http_status() >= 400);
        }
    }

    #[test]
    fn any_text_parses_or_is_unrecognized(text in ".{0,64}") {
        if let Err(e) = parse_event(&text) {
            prop_assert_eq!(e.kind(), ErrorKind::UnrecognizedEvent);
        }
    }

    #[test]
    fn any_task_parses_and_validates_or_is_a_bad_request(task in json_value()) {
        match Task::parse(task) {
            Ok(Task::AlphaVantage(t)) => {
                if let Err(e) = t.validate() {
                    prop_assert_eq!(e.kind(), ErrorKind::BadRequest);
                }
            }
            Ok(_) => {}
            Err(e) => prop_assert_eq!(e.kind(), ErrorKind::BadRequest),
        }
    }

    #[test]
    fn any_secret_reference_parses_or_is_a_configuration_error(text in "(arn:)?[a-zA-Z0-9:/_ \\-]{0,40}") {
        match SecretRef::parse(&text) {
            Ok(r) => prop_assert_eq!(SecretRef::parse(&r.to_string()).unwrap(), r),
            Err(e) => prop_assert_eq!(e.kind(), ErrorKind::ConfigurationError),
        }
    }

    #[test]
    fn any_cursor_is_refused_without_a_panic(token in "[A-Za-z0-9_.\\-]{0,120}") {
        let err = cursor::open(&token, &[7u8; 32], "q", None).unwrap_err();
        prop_assert_eq!(err.kind(), ErrorKind::BadRequest);
    }

    #[test]
    fn any_cell_of_any_type_decodes(
        kind in prop_oneof![
            Just("fixed"), Just("decfloat"), Just("real"), Just("text"), Just("boolean"),
            Just("date"), Just("time"), Just("timestamp_ntz"), Just("timestamp_ltz"),
            Just("timestamp_tz"), Just("binary"), Just("variant"), Just("object"), Just("array"),
            Just("geography"), Just("vector"), Just("nonsense"),
        ],
        scale in -20i64..40,
        cell in prop_oneof![
            "-?[0-9]{1,40}(\\.[0-9]{0,20})?( -?[0-9]{1,12})?",
            "-?[0-9]{1,3}(\\.[0-9]{1,5})?[eE][+-]?[0-9]{1,4}",
            ".{0,24}",
        ],
    ) {
        let column = RowType { name: "C".into(), kind: kind.into(), scale: Some(scale), nullable: None };
        let _ = decode_cell(&column, &cell);
    }

    #[test]
    fn rows_are_whole_or_refused(names in prop::collection::vec("[A-C]", 0..5), cells in 0usize..6) {
        let row_type: Vec<RowType> = names
            .iter()
            .map(|n| RowType { name: n.clone(), kind: "text".into(), scale: None, nullable: None })
            .collect();
        let unique = unique_names(&row_type);
        let distinct: std::collections::HashSet<&String> = unique.iter().collect();
        prop_assert_eq!(distinct.len(), unique.len(), "names are unique");
        let data: Vec<Value> = (0..cells).map(|i| json!(i.to_string())).collect();
        match decode_row(&row_type, &unique, data) {
            Ok(row) => {
                prop_assert_eq!(cells, row_type.len());
                prop_assert_eq!(row.len(), row_type.len(), "no value lost");
            }
            Err(e) => {
                prop_assert_ne!(cells, row_type.len());
                prop_assert_eq!(e.kind(), ErrorKind::UpstreamFailed);
            }
        }
    }
}

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

    #[test]
    fn no_encoded_echo_of_a_secret_survives_the_redactor(
        secret in "[A-Za-z0-9_\\-]{12,32}",
        before in "[ -~]{0,30}",
        after in "[ -~]{0,30}",
        form in 0usize..6,
    ) {
        let echo = match form {
            0 => secret.clone(),
            1 => secret.to_ascii_lowercase(),
            2 => secret.bytes().map(|b| format!("%{b:02x}")).collect(),
            3 => secret.chars().map(|c| format!("\\u{:04X}", c as u32)).collect(),
            4 => secret.chars().map(|c| format!("{c}<i></i>")).collect(),
            _ => secret.chars().map(|c| format!("&#{};", c as u32)).collect(),
        };
        let redactor = Redactor::new();
        redactor.add(&secret);
        let cleaned = redactor.clean(&format!("{before}{echo}{after}"));
        let canon = |s: &str| -> String {
            s.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect()
        };
        prop_assert!(!canon(&cleaned).contains(&canon(&secret)), "{cleaned}");
    }
}
