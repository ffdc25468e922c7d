//! Property tests of the shared code (the providers keep theirs in their
//! folders), bounded in time (a fixed number of cases each, no persistence
//! files): for any input, the code paths that read events, tasks and secret
//! references never panic and answer with a value or a kind from the table,
//! and the redactor lets no encoded echo of a secret through.

use proptest::prelude::*;
use serde_json::{Map, Value};

use crate::error::ErrorKind;
use crate::providers::Task;
use crate::redact::Redactor;
use crate::secrets::SecretRef;
use crate::trigger::{classify, parse_event};

pub(crate) fn config(cases: u32) -> ProptestConfig {
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

}

proptest! {
    #![proptest_config(config(256))]

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
