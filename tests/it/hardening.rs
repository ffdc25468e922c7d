//! Hostile inputs and upstreams, in process: the real handler, the real
//! reqwest client against wiremock stand-ins for Alpha Vantage and the
//! Snowflake SQL API, and an in-memory secret source whose answers (and
//! faults) each test scripts. Every test here failed on the code before the
//! hardening issue (see the README's threat model).

use super::common;

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use secret_fetch::secrets::VersionKey;
use secret_fetch::secrets::{SecretDocument, SecretSource};
use secret_fetch::{App, AppError, Config, ErrorKind, http_client};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "SENTINEL-av-key-7f3a9c1e5b";
pub(crate) const PAT: &str = "SENTINEL-snowflake-pat-5c9e2a";
const DAILY: &str = include_str!("../fixtures/alpha_vantage/time_series_daily.json");

/// What the in-memory Secrets Manager answers for a secret.
#[derive(Clone)]
pub(crate) enum Answer {
    Text(String),
    Fail(ErrorKind, bool),
    Panic,
}

#[derive(Default)]
pub(crate) struct Secrets {
    answers: Mutex<HashMap<String, Answer>>,
    pub(crate) calls: AtomicUsize,
}

impl Secrets {
    pub(crate) fn set(&self, id: &str, answer: Answer) {
        self.answers.lock().unwrap().insert(id.into(), answer);
    }
}

impl SecretSource for &'static Secrets {
    async fn fetch(&self, key: &VersionKey) -> Result<SecretDocument, AppError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let answer = self.answers.lock().unwrap().get(&key.secret_id).cloned();
        match answer {
            Some(Answer::Text(t)) => Ok(SecretDocument::text(t)),
            Some(Answer::Fail(kind, transient)) => {
                let e = AppError::new(
                    kind,
                    format!(
                        "secret '{}': User: arn:aws:sts::123456789012:assumed-role/fn-role/x is not authorized",
                        key.secret_id
                    ),
                );
                Err(if transient { e.transient() } else { e })
            }
            Some(Answer::Panic) => panic!("the source panicked while holding {KEY}"),
            None => Err(AppError::new(ErrorKind::SecretNotFound, "no such secret")),
        }
    }
}

pub(crate) struct World {
    pub(crate) secrets: &'static Secrets,
    pub(crate) av: MockServer,
    pub(crate) sf: MockServer,
}

impl World {
    pub(crate) async fn new() -> World {
        World {
            secrets: Box::leak(Box::default()),
            av: MockServer::start().await,
            sf: MockServer::start().await,
        }
    }

    pub(crate) fn app(&self, extra: &[(&str, &str)]) -> App<&'static Secrets> {
        let statements = concat!(env!("CARGO_MANIFEST_DIR"), "/statements.toml");
        let mut env: HashMap<String, String> = [
            ("ALPHA_VANTAGE_SECRET", "av".to_owned()),
            ("ALPHA_VANTAGE_BASE_URL", format!("{}/query", self.av.uri())),
            ("SNOWFLAKE_SECRET", "sf".to_owned()),
            ("SNOWFLAKE_BASE_URL", self.sf.uri()),
            ("SNOWFLAKE_ACCOUNT", "acme".to_owned()),
            ("SNOWFLAKE_STATEMENTS_FILE", statements.to_owned()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let config = Config::from_lookup(|k| env.get(k).cloned()).unwrap();
        App::new(config, self.secrets, http_client().unwrap()).unwrap()
    }

    async fn av_requests(&self) -> usize {
        self.av.received_requests().await.unwrap_or_default().len()
    }

    async fn sf_requests(&self) -> usize {
        self.sf.received_requests().await.unwrap_or_default().len()
    }

    /// GET requests the Snowflake stand-in received (status polls and
    /// partitions).
    pub(crate) async fn sf_gets(&self) -> usize {
        self.sf
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.method.as_str() == "GET")
            .count()
    }
}

pub(crate) async fn invoke_raw(
    app: &App<&'static Secrets>,
    event: &str,
) -> Result<Value, AppError> {
    let ctx = common::context("req-h", 10);
    app.handle_payload(event, &ctx)
        .await
        .map(|reply| serde_json::from_str(&reply.to_json()).unwrap())
}

pub(crate) async fn invoke(app: &App<&'static Secrets>, event: Value) -> Result<Value, AppError> {
    invoke_raw(app, &event.to_string()).await
}

pub(crate) fn http_get(path: &str, query: Value) -> Value {
    json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "queryStringParameters": query, "headers": {},
        "requestContext": {"stage": "$default", "requestId": "r", "domainName": "x.execute-api.us-east-1.amazonaws.com",
            "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "1.2.3.4", "userAgent": "t"}},
        "isBase64Encoded": false
    })
}

fn quote() -> Value {
    json!({"provider": "alpha_vantage", "function": "GLOBAL_QUOTE", "symbol": "IBM"})
}

pub(crate) fn kind(result: Result<Value, AppError>) -> ErrorKind {
    result.expect_err("expected an error").kind()
}

/// Every canonical form a secret may be echoed in.
fn echoes(secret: &str) -> Vec<String> {
    let escaped: String = secret
        .chars()
        .map(|c| format!("\\u{:04x}", c as u32))
        .collect();
    let percent: String = secret.bytes().map(|b| format!("%{b:02X}")).collect();
    vec![
        secret.to_owned(),
        secret.to_ascii_lowercase(),
        secret.to_ascii_uppercase(),
        percent,
        escaped,
        format!("{}<b></b>{}", &secret[..9], &secret[9..]),
    ]
}

fn assert_no_secret(text: &str, secret: &str) {
    let canon = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    assert!(
        !canon(text).contains(&canon(secret)),
        "secret leaked in: {text}"
    );
}

// --- 1. a secret is sent only once it is positively the credential -------------------

#[tokio::test]
async fn a_json_looking_secret_that_does_not_parse_is_never_sent() {
    let w = World::new().await;
    for text in [
        r#"{"apikey": "K123456", "db_password": "P-hunter2",}"#,
        "K123456 with spaces",
        "K123456\nsecond-line",
        r#"{"apikey": {"nested": "K123456"}}"#,
        r#"["K123456"]"#,
    ] {
        w.secrets.set("av", Answer::Text(text.into()));
        let err = invoke(&w.app(&[]), quote()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::SecretMalformed, "{text}");
        assert!(err.message().contains("'av'"), "names the reference");
        assert!(!err.message().contains("hunter2"));
    }
    assert_eq!(w.av_requests().await, 0, "nothing reached Alpha Vantage");
}

#[tokio::test]
async fn a_token_a_header_cannot_carry_is_refused_at_once() {
    let w = World::new().await;
    let task =
        json!({"provider": "snowflake", "query": "customers_by_city", "params": {"city": "Oslo"}});
    for token in ["abc\r\nX-Evil: 1", "has space", "non-ascii-é-token"] {
        w.secrets
            .set("sf", Answer::Text(json!({"token": token}).to_string()));
        let before = w.secrets.calls.load(Ordering::SeqCst);
        let err = invoke(&w.app(&[]), task.clone()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::SecretMalformed, "{token:?}");
        assert_eq!(
            w.secrets.calls.load(Ordering::SeqCst) - before,
            1,
            "read once, not refreshed"
        );
    }
    assert_eq!(w.sf_requests().await, 0, "nothing reached Snowflake");
}

// --- 2. no panic reachable; the net makes the kinds table -----------------------------

#[tokio::test]
async fn a_panic_becomes_internal_and_a_500_proxy_response() {
    let w = World::new().await;
    w.secrets.set("av", Answer::Panic);
    let app = w.app(&[]);
    let err = invoke(&app, quote()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Internal);
    assert!(!err.message().contains(KEY));
    let response = invoke(
        &app,
        http_get("/v1/alpha-vantage/GLOBAL_QUOTE", json!({"symbol": "IBM"})),
    )
    .await
    .unwrap();
    assert_eq!(response["statusCode"], 500);
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["error"]["kind"], "internal");
    assert_eq!(body["error"]["request_id"], "req-h");
    // The sandbox stays usable.
    w.secrets.set("av", Answer::Text(KEY.into()));
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string(DAILY))
        .mount(&w.av)
        .await;
    assert!(
        invoke(
            &app,
            json!({"provider": "alpha_vantage", "function": "TIME_SERIES_DAILY", "symbol": "IBM"})
        )
        .await
        .is_ok()
    );
}

#[tokio::test]
async fn multi_byte_text_where_dates_are_sniffed_is_just_text() {
    let w = World::new().await;
    w.secrets.set("av", Answer::Text(KEY.into()));
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"Global Quote": {
            "01. symbol": "IBM", "07. latest trading day": "ABCDEFGHIé12345678", "99. note": "ABCDEFGHIé12345678"}})))
        .mount(&w.av)
        .await;
    let body = invoke(&w.app(&[]), quote()).await.unwrap();
    assert_eq!(body["rows"][0]["latest_trading_day"], "ABCDEFGHIé12345678");
    assert_eq!(body["rows"][0]["note"], "ABCDEFGHIé12345678");
}

// --- 3. never silently wrong rows -----------------------------------------------------

#[tokio::test]
async fn lenient_dates_are_refused_before_any_call() {
    let w = World::new().await;
    w.secrets.set("av", Answer::Text(KEY.into()));
    for (field, value) in [
        ("end", "+2025-12-1"),
        ("start", " 2025-12-1"),
        ("start", "2025-12-1"),
        ("end", "-2025-12-01"),
    ] {
        let task = json!({"provider": "alpha_vantage", "function": "TIME_SERIES_DAILY", "symbol": "IBM", field: value});
        let err = invoke(&w.app(&[]), task).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadRequest);
        assert!(
            err.message().contains(&format!("'{field}'")),
            "{}",
            err.message()
        );
    }
    assert_eq!(w.av_requests().await, 0);
}

pub(crate) fn sf_result(row_type: Value, data: Value, partitions: Value) -> Value {
    json!({
        "resultSetMetaData": {"numRows": 2, "format": "jsonv2", "partitionInfo": partitions, "rowType": row_type},
        "data": data, "code": "090001", "statementHandle": "01b9f2c4-0305-7d21-0000-51a10003e2ba",
        "sqlState": "00000", "message": "Statement executed successfully."
    })
}

pub(crate) async fn snowflake(w: &World, status: u16, body: Value) {
    w.secrets.set("sf", Answer::Text(PAT.into()));
    Mock::given(method("POST"))
        .and(path("/api/v2/statements"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&w.sf)
        .await;
}

pub(crate) fn customers() -> Value {
    json!({"provider": "snowflake", "query": "customers_by_city", "params": {"city": "Oslo"}})
}

#[tokio::test]
async fn duplicate_column_names_keep_every_value() {
    let w = World::new().await;
    let rt = json!([{"name": "ID", "type": "fixed", "scale": 0}, {"name": "NAME", "type": "text"}, {"name": "ID", "type": "fixed", "scale": 0}]);
    snowflake(
        &w,
        200,
        sf_result(
            rt,
            json!([["1", "a", "10"], ["2", "b", "20"]]),
            json!([{"rowCount": 2}]),
        ),
    )
    .await;
    let body = invoke(&w.app(&[]), customers()).await.unwrap();
    let names: Vec<&str> = body["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ID", "NAME", "ID_2"]);
    assert_eq!(body["rows"][1], json!({"ID": 2, "NAME": "b", "ID_2": 20}));
}

#[tokio::test]
async fn row_type_and_data_that_disagree_are_upstream_failures() {
    for (rt, data, parts) in [
        (
            json!([{"name": "A", "type": "text"}]),
            json!([["x", "y"], ["z", "w"]]),
            json!([{"rowCount": 2}]),
        ),
        (
            json!([{"name": "A", "type": "text"}, {"name": "B", "type": "text"}]),
            json!([["x"], ["z"]]),
            json!([{"rowCount": 2}]),
        ),
        (json!([]), json!([["x"], ["z"]]), json!([{"rowCount": 2}])),
        (
            json!([{"name": "A", "type": "text"}]),
            json!([["x"]]),
            json!([{"rowCount": 2}]),
        ),
    ] {
        let w = World::new().await;
        snowflake(&w, 200, sf_result(rt.clone(), data, parts)).await;
        let result = invoke(&w.app(&[]), customers()).await;
        assert_eq!(kind(result), ErrorKind::UpstreamFailed, "{rt}");
    }
}

#[tokio::test]
async fn an_incomplete_result_is_not_presented_as_complete() {
    let w = World::new().await;
    let mut body = sf_result(
        json!([{"name": "A", "type": "text"}]),
        json!([["x"], ["y"]]),
        json!([{"rowCount": 2}]),
    );
    body["code"] = json!("391908");
    snowflake(&w, 200, body).await;
    let err = invoke(&w.app(&[]), customers()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    assert_eq!(err.public_details().unwrap()["snowflake_code"], "391908");
}

#[tokio::test]
async fn out_of_range_dates_pass_through_raw() {
    let w = World::new().await;
    snowflake(
        &w,
        200,
        sf_result(
            json!([{"name": "D", "type": "date"}, {"name": "T", "type": "timestamp_tz", "scale": 0}]),
            json!([["1000000000000000", "1 -2147483648"], ["19782", "1704164645 1440"]]),
            json!([{"rowCount": 2}]),
        ),
    )
    .await;
    let body = invoke(&w.app(&[]), customers()).await.unwrap();
    assert_eq!(body["rows"][0]["D"], "1000000000000000");
    assert_eq!(body["rows"][0]["T"], "1 -2147483648");
    assert_eq!(body["rows"][1]["D"], "2024-02-29");
}

// --- 4. one redactor sees every upstream text -----------------------------------------

#[tokio::test]
async fn alpha_vantage_echoes_of_the_key_never_reach_a_message() {
    for echo in echoes(KEY) {
        for body in [
            json!({"Note": 5, echo.clone(): 1}),
            json!({"Information": format!("We have detected your API key as {echo}; 25 requests per day.")}),
            json!({"Time Series (Daily)": {"2024-01-02": {"1. open": "1"}}, "Weird": {"2024-01-02": 1}, "Meta Data": {}}),
        ] {
            let w = World::new().await;
            w.secrets.set("av", Answer::Text(KEY.into()));
            Mock::given(method("GET"))
                .respond_with(ResponseTemplate::new(200).set_body_json(&body))
                .mount(&w.av)
                .await;
            let direct = invoke(&w.app(&[]), quote()).await;
            if let Err(e) = &direct {
                assert_no_secret(e.message(), KEY);
            }
            let http = invoke(
                &w.app(&[]),
                http_get("/v1/alpha-vantage/GLOBAL_QUOTE", json!({"symbol": "IBM"})),
            )
            .await
            .unwrap();
            assert_no_secret(&http.to_string(), KEY);
        }
    }
    // The series name itself.
    let w = World::new().await;
    w.secrets.set("av", Answer::Text(KEY.into()));
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"Meta Data": {}, format!("Time Series ({KEY})"): {"2024-01-02": {"1. open": "1"}}}),
        ))
        .mount(&w.av)
        .await;
    let result = invoke(&w.app(&[]), quote()).await;
    assert_no_secret(&format!("{result:?}"), KEY);
}

#[tokio::test]
async fn snowflake_error_text_is_redacted_too() {
    for status in [401, 422, 500] {
        for echo in echoes(PAT) {
            let w = World::new().await;
            snowflake(
                &w,
                status,
                json!({"code": "390144", "sqlState": "08001", "message": format!("bad token. Authorization: Bearer {echo}")}),
            )
            .await;
            let err = invoke(&w.app(&[]), customers()).await.unwrap_err();
            assert_no_secret(err.message(), PAT);
            assert_no_secret(&format!("{:?}", err.public_details()), PAT);
        }
    }
}

// --- 5. the kinds table holds for every input -----------------------------------------

#[tokio::test]
async fn events_a_value_cannot_hold_are_unrecognized() {
    let w = World::new().await;
    let app = w.app(&[]);
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let deeper = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    for event in [
        deep.as_str(),
        deeper.as_str(),
        r#"{"provider": 1e400}"#,
        r#"{"provider": "\ud800"}"#,
        "not json",
        "",
    ] {
        let err = invoke_raw(&app, event).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnrecognizedEvent, "{:.40}", event);
    }
}

// --- 6. memory bounded by the function's size -----------------------------------------

#[tokio::test]
async fn an_oversized_alpha_vantage_body_is_refused_once() {
    let w = World::new().await;
    w.secrets.set("av", Answer::Text(KEY.into()));
    let big = format!(
        "{{\"Meta Data\": {{}}, \"Time Series (Daily)\": {{\"2024-01-01\": {{\"1. open\": \"{}\"}}}}}}",
        "9".repeat(9 * 1024 * 1024)
    );
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string(big))
        .mount(&w.av)
        .await;
    let task =
        json!({"provider": "alpha_vantage", "function": "TIME_SERIES_DAILY", "symbol": "IBM"});
    assert_eq!(kind(invoke(&w.app(&[]), task).await), ErrorKind::TooLarge);
    assert_eq!(w.av_requests().await, 1);
}

#[tokio::test]
async fn a_gzip_bomb_partition_is_refused_and_requested_once() {
    let w = World::new().await;
    let rt = json!([{"name": "A", "type": "text"}]);
    snowflake(
        &w,
        200,
        sf_result(
            rt,
            json!([["x"]]),
            json!([{"rowCount": 1}, {"rowCount": 1}]),
        ),
    )
    .await;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let spaces = vec![b' '; 1024 * 1024];
    for _ in 0..64 {
        enc.write_all(&spaces).unwrap();
    }
    let bomb = enc.finish().unwrap();
    Mock::given(method("GET"))
        .and(path_regex("^/api/v2/statements/.+"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(bomb, "application/json"))
        .mount(&w.sf)
        .await;
    assert_eq!(
        kind(invoke(&w.app(&[]), customers()).await),
        ErrorKind::TooLarge
    );
    assert_eq!(w.sf_gets().await, 1, "an oversized body is not retried");
}

// --- 7. what an HTTP caller can learn and do ------------------------------------------

#[tokio::test]
async fn http_callers_learn_no_aws_resource() {
    let w = World::new().await;
    for (kind, transient) in [
        (ErrorKind::SecretAccessDenied, false),
        (ErrorKind::SecretNotFound, false),
        (ErrorKind::SecretUnavailable, true),
    ] {
        w.secrets.set("av", Answer::Fail(kind, transient));
        let response = invoke(
            &w.app(&[]),
            http_get("/v1/alpha-vantage/GLOBAL_QUOTE", json!({"symbol": "IBM"})),
        )
        .await
        .unwrap();
        let body = response["body"].as_str().unwrap();
        assert!(
            !body.contains("arn:") && !body.contains("123456789012") && !body.contains("fn-role")
        );
        assert!(!body.contains("'av'"), "no secret name");
        let body: Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["error"]["kind"], kind.as_str());
        assert_eq!(body["error"]["request_id"], "req-h");
        // A direct caller (an IAM principal) still gets the whole message.
        let direct = invoke(&w.app(&[]), quote()).await.unwrap_err();
        assert!(direct.message().contains("'av'"));
    }
}

#[tokio::test]
async fn statements_that_change_data_are_not_for_http_callers() {
    let w = World::new().await;
    snowflake(
        &w,
        200,
        sf_result(
            json!([{"name": "number of rows inserted", "type": "fixed", "scale": 0}]),
            json!([["1"]]),
            json!([{"rowCount": 1}]),
        ),
    )
    .await;
    let response = invoke(
        &w.app(&[]),
        http_get("/v1/snowflake/add_customers", json!({})),
    )
    .await
    .unwrap();
    assert_eq!(response["statusCode"], 403);
    assert_eq!(w.sf_requests().await, 0);
    let direct = json!({"provider": "snowflake", "query": "add_customers", "params": {"names": ["Ada"], "cities": ["Oslo"]}});
    assert!(invoke(&w.app(&[]), direct).await.is_ok());
}

#[tokio::test]
async fn cursors_hold_their_parameters_and_expire_with_their_result() {
    let w = World::new().await;
    let rt = json!([{"name": "A", "type": "text"}]);
    snowflake(
        &w,
        200,
        sf_result(rt.clone(), json!([["x"], ["y"]]), json!([{"rowCount": 2}])),
    )
    .await;
    let app = w.app(&[]);
    let mut task = customers();
    task["max_rows"] = json!(1);
    let first = invoke(&app, task.clone()).await.unwrap();
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    // Other parameters: refused before any call.
    let mut other = task.clone();
    other["params"] = json!({"city": "Paris"});
    other["cursor"] = json!(cursor);
    assert_eq!(kind(invoke(&app, other).await), ErrorKind::BadRequest);
    // The result is gone at Snowflake.
    Mock::given(method("GET"))
        .and(path_regex("^/api/v2/statements/.+"))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({
            "code": "000709", "sqlState": "02000", "message": "Statement 01b9 not found"})))
        .mount(&w.sf)
        .await;
    let mut same = task.clone();
    same["cursor"] = json!(cursor);
    let err = invoke(&app, same).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CursorExpired);
    assert_eq!(err.kind().http_status(), 400);
}

#[tokio::test]
async fn no_redirect_to_another_origin_is_followed() {
    let w = World::new().await;
    let elsewhere = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string(DAILY))
        .mount(&elsewhere)
        .await;
    w.secrets.set("av", Answer::Text(KEY.into()));
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", format!("{}/query", elsewhere.uri())),
        )
        .mount(&w.av)
        .await;
    assert_eq!(
        kind(invoke(&w.app(&[]), quote()).await),
        ErrorKind::UpstreamFailed
    );
    snowflake(&w, 200, json!({})).await;
    w.sf.reset().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("location", format!("{}/api/v2/statements", elsewhere.uri())),
        )
        .mount(&w.sf)
        .await;
    assert_eq!(
        kind(invoke(&w.app(&[]), customers()).await),
        ErrorKind::UpstreamFailed
    );
    assert_eq!(
        elsewhere.received_requests().await.unwrap().len(),
        0,
        "the other origin saw neither the key nor the SQL"
    );
}

// --- 8. a blip at Secrets Manager does not fail a warm function -----------------------

#[tokio::test]
async fn a_transient_refresh_failure_serves_the_cached_secret() {
    let w = World::new().await;
    w.secrets.set("av", Answer::Text(KEY.into()));
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string(DAILY))
        .mount(&w.av)
        .await;
    // Every invocation must read the secret: no upstream cache.
    let app = w.app(&[
        ("SECRET_CACHE_TTL_SECS", "1"),
        ("UPSTREAM_CACHE_TTL_SECS", "0"),
    ]);
    let task =
        json!({"provider": "alpha_vantage", "function": "TIME_SERIES_DAILY", "symbol": "IBM"});
    invoke(&app, task.clone()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for kind in [ErrorKind::SecretThrottled, ErrorKind::SecretUnavailable] {
        w.secrets.set("av", Answer::Fail(kind, true));
        assert!(invoke(&app, task.clone()).await.is_ok(), "{kind:?}");
    }
    // Never after a permanent failure.
    w.secrets
        .set("av", Answer::Fail(ErrorKind::SecretAccessDenied, false));
    let err = invoke(&app, task.clone()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SecretAccessDenied);
    w.secrets
        .set("av", Answer::Fail(ErrorKind::SecretThrottled, true));
    assert_eq!(
        kind(invoke(&app, task).await),
        ErrorKind::SecretThrottled,
        "the entry is gone after access was denied"
    );
}
