//! The handler end to end in-process: the real SDK client against moto, the
//! real reqwest client against a wiremock Alpha Vantage.

use super::common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use secret_fetch::secrets::SecretsManagerSource;
use secret_fetch::{App, AppError, Config, ErrorKind, http_client};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const DAILY: &str = include_str!("../fixtures/alpha_vantage/time_series_daily.json");
const INVALID_KEY: &str = r#"{"Error Message": "the parameter apikey is invalid or missing. Please claim your free API key on (https://www.alphavantage.co/support/#api-key). It should take less than 20 seconds."}"#;

struct World {
    _moto: common::Moto,
    sm: aws_sdk_secretsmanager::Client,
    av: MockServer,
}

impl World {
    async fn new(secret: &str) -> World {
        let moto = common::Moto::start();
        let sm = moto.client();
        sm.create_secret()
            .name("av")
            .secret_string(secret)
            .send()
            .await
            .unwrap();
        World {
            _moto: moto,
            sm,
            av: MockServer::start().await,
        }
    }

    fn app(&self, extra: &[(&str, &str)]) -> App<SecretsManagerSource> {
        let mut env: HashMap<String, String> = HashMap::from([
            ("ALPHA_VANTAGE_SECRET".into(), "av".into()),
            (
                "ALPHA_VANTAGE_BASE_URL".into(),
                format!("{}/query", self.av.uri()),
            ),
        ]);
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let config = Config::from_lookup(|k| env.get(k).cloned()).unwrap();
        App::new(
            config,
            SecretsManagerSource::new(self.sm.clone()),
            http_client().unwrap(),
        )
        .unwrap()
    }

    /// Answer requests with key `key` with the daily fixture after `delay`.
    async fn answer_slowly(&self, key: &str, delay: Duration) {
        Mock::given(query_param("apikey", key))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_string(DAILY)
                    .set_delay(delay),
            )
            .mount(&self.av)
            .await;
    }

    async fn rotate(&self, value: &str) {
        self.sm
            .put_secret_value()
            .secret_id("av")
            .secret_string(value)
            .send()
            .await
            .unwrap();
    }
}

async fn invoke(
    app: &App<SecretsManagerSource>,
    event: Value,
    secs: u64,
) -> Result<Value, AppError> {
    let ctx = common::context("req-1", secs);
    app.handle_payload(&event.to_string(), &ctx)
        .await
        .map(|reply| serde_json::from_str(&reply.to_json()).unwrap())
}

fn daily_task() -> Value {
    json!({"provider": "alpha_vantage", "function": "TIME_SERIES_DAILY", "symbol": "ibm", "start": "2026-01-14"})
}

#[tokio::test]
async fn direct_task_sends_the_right_query_and_normalises() {
    let w = World::new(r#"{"apikey": "K1"}"#).await;
    Mock::given(method("GET"))
        .and(path("/query"))
        .and(query_param("function", "TIME_SERIES_DAILY"))
        .and(query_param("symbol", "IBM"))
        .and(query_param("apikey", "K1"))
        .and(query_param("datatype", "json"))
        .respond_with(ResponseTemplate::new(200).set_body_string(DAILY))
        .expect(1)
        .mount(&w.av)
        .await;
    let body = invoke(&w.app(&[]), daily_task(), 10).await.unwrap();
    assert_eq!(body["row_count"], 2);
    assert_eq!(
        body["rows"],
        json!([
            {"date": "2026-01-14", "open": 291.0, "high": 296.4, "low": 290.51, "close": 295.09, "volume": 3987112},
            {"date": "2026-01-15", "open": 295.1, "high": 299.875, "low": 294.02, "close": 298.64, "volume": 4120334}
        ])
    );
    assert_eq!(body["columns"][0], json!({"name": "date", "type": "date"}));
    assert_eq!(body["meta"]["symbol"], "IBM");
}

#[tokio::test]
async fn rotated_key_is_refreshed_once_and_retried() {
    let w = World::new(r#"{"apikey": "K-old"}"#).await;
    // Every invocation must reach Alpha Vantage: no upstream cache.
    let app = w.app(&[("UPSTREAM_CACHE_TTL_SECS", "0")]);
    Mock::given(query_param("apikey", "K-old"))
        .respond_with(ResponseTemplate::new(200).set_body_string(DAILY))
        .up_to_n_times(1)
        .expect(1)
        .mount(&w.av)
        .await;
    invoke(&app, daily_task(), 10).await.unwrap();
    w.av.reset().await;
    w.rotate(r#"{"apikey": "K-new"}"#).await;
    Mock::given(query_param("apikey", "K-old"))
        .respond_with(ResponseTemplate::new(200).set_body_string(INVALID_KEY))
        .expect(1)
        .mount(&w.av)
        .await;
    Mock::given(query_param("apikey", "K-new"))
        .respond_with(ResponseTemplate::new(200).set_body_string(DAILY))
        .expect(2)
        .mount(&w.av)
        .await;
    invoke(&app, daily_task(), 10).await.unwrap();
    // The refreshed key is cached: the next call goes straight to K-new.
    invoke(&app, daily_task(), 10).await.unwrap();
}

#[tokio::test]
async fn an_unchanged_rejected_key_fails_without_a_second_call() {
    let w = World::new("K-bad").await;
    Mock::given(query_param("apikey", "K-bad"))
        .respond_with(ResponseTemplate::new(200).set_body_string(INVALID_KEY))
        .expect(1)
        .mount(&w.av)
        .await;
    let err = invoke(&w.app(&[]), daily_task(), 10).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UpstreamAuthFailed);
    assert!(!err.message().contains("K-bad"));
}

#[tokio::test]
async fn rest_request_gets_a_proxy_response() {
    let w = World::new("K1").await;
    Mock::given(query_param("function", "TIME_SERIES_DAILY"))
        .respond_with(ResponseTemplate::new(200).set_body_string(DAILY))
        .mount(&w.av)
        .await;
    let event = json!({
        "resource": "/v1/alpha-vantage/{function}", "path": "/v1/alpha-vantage/time_series_daily", "httpMethod": "GET",
        "headers": {}, "multiValueHeaders": {}, "queryStringParameters": {"symbol": "IBM"},
        "multiValueQueryStringParameters": {"symbol": ["IBM"]}, "pathParameters": null, "stageVariables": null,
        "requestContext": {"httpMethod": "GET", "path": "/prod/v1/alpha-vantage/time_series_daily", "stage": "prod",
                           "requestId": "r", "resourcePath": "/v1/alpha-vantage/{function}", "identity": {}},
        "body": null, "isBase64Encoded": false
    });
    let response = invoke(&w.app(&[]), event, 10).await.unwrap();
    assert_eq!(response["statusCode"], 200);
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["row_count"], 3);
}

#[tokio::test]
async fn burst_limit_waits_and_retries_once() {
    let w = World::new("K1").await;
    Mock::given(query_param("apikey", "K1"))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            r#"{"Information": "Please consider spreading out your free API requests more sparingly (1 request per second)."}"#,
        ))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&w.av)
        .await;
    Mock::given(query_param("apikey", "K1"))
        .respond_with(ResponseTemplate::new(200).set_body_string(DAILY))
        .expect(1)
        .with_priority(2)
        .mount(&w.av)
        .await;
    let started = Instant::now();
    invoke(&w.app(&[]), daily_task(), 10).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[tokio::test]
async fn slow_upstream_hits_the_deadline_not_the_timeout() {
    let w = World::new("K1").await;
    w.answer_slowly("K1", Duration::from_secs(5)).await;
    let started = Instant::now();
    let err = invoke(&w.app(&[("DEADLINE_MARGIN_MS", "200")]), daily_task(), 2)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DeadlineExceeded, "{}", err.message());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn configured_request_timeout_is_an_upstream_failure() {
    let w = World::new("K1").await;
    w.answer_slowly("K1", Duration::from_secs(5)).await;
    let err = invoke(
        &w.app(&[("ALPHA_VANTAGE_TIMEOUT_MS", "300")]),
        daily_task(),
        20,
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UpstreamFailed);
    assert!(err.message().contains("300 ms"), "{}", err.message());
}

#[tokio::test]
async fn connection_failures_never_show_the_url() {
    let w = World::new("SENTINEL-conn").await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = w.app(&[(
        "ALPHA_VANTAGE_BASE_URL",
        &format!("http://127.0.0.1:{closed}/query"),
    )]);
    let err = invoke(&app, daily_task(), 10).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UpstreamFailed);
    assert!(
        !err.message().contains("SENTINEL") && !err.message().contains("apikey"),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn non_json_and_http_errors_are_upstream_failures_with_a_redacted_preview() {
    let w = World::new("SENTINEL-html").await;
    Mock::given(query_param("apikey", "SENTINEL-html"))
        .respond_with(
            ResponseTemplate::new(503)
                .set_body_string("<html>Application Error for apikey=SENTINEL-html</html>"),
        )
        .mount(&w.av)
        .await;
    let err = invoke(&w.app(&[]), daily_task(), 10).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UpstreamFailed);
    assert!(
        err.message().contains("503") && err.message().contains("Application Error"),
        "{}",
        err.message()
    );
    assert!(!err.message().contains("SENTINEL"), "{}", err.message());
}

// --- the upstream cache ------------------------------------------------------------

const THROTTLED: &str = r#"{"Information": "We have detected your API key as K1 and our standard API rate limit is 25 requests per day. Please subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to instantly remove all daily rate limits."}"#;

fn dates(body: &Value) -> Vec<&str> {
    body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["date"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_repeat_and_another_window_are_answered_from_the_cache() {
    let w = World::new(r#"{"apikey": "K1"}"#).await;
    Mock::given(query_param("function", "TIME_SERIES_DAILY"))
        .and(query_param("symbol", "IBM"))
        .respond_with(ResponseTemplate::new(200).set_body_string(DAILY))
        .expect(1)
        .mount(&w.av)
        .await;
    let app = w.app(&[]);
    let whole =
        json!({"provider": "alpha_vantage", "function": "TIME_SERIES_DAILY", "symbol": "IBM"});
    let miss = invoke(&app, whole.clone(), 10).await.unwrap();
    assert_eq!(miss["meta"]["cache"], "miss");
    assert_eq!(dates(&miss), ["2026-01-13", "2026-01-14", "2026-01-15"]);
    let hit = invoke(&app, whole, 10).await.unwrap();
    assert_eq!(hit["meta"]["cache"], "hit");
    assert_eq!(hit["rows"], miss["rows"]);
    // `start` filters after the cache: the same entry, fewer rows.
    let window = invoke(&app, daily_task(), 10).await.unwrap();
    assert_eq!(window["meta"]["cache"], "hit");
    assert_eq!(dates(&window), ["2026-01-14", "2026-01-15"]);
    assert_eq!(window["rows"][0], miss["rows"][1]);
    // The mock's expect(1) is checked when the server drops.
}

#[tokio::test]
async fn cache_false_and_error_answers_reach_the_upstream_every_time() {
    let w = World::new(r#"{"apikey": "K1"}"#).await;
    // Two throttling answers first, then data.
    Mock::given(query_param("symbol", "IBM"))
        .respond_with(ResponseTemplate::new(200).set_body_string(THROTTLED))
        .up_to_n_times(2)
        .expect(2)
        .mount(&w.av)
        .await;
    Mock::given(query_param("symbol", "IBM"))
        .respond_with(ResponseTemplate::new(200).set_body_string(DAILY))
        .expect(2)
        .mount(&w.av)
        .await;
    let app = w.app(&[]);
    for _ in 0..2 {
        let err = invoke(&app, daily_task(), 10).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UpstreamThrottled);
    }
    assert_eq!(
        invoke(&app, daily_task(), 10).await.unwrap()["meta"]["cache"],
        "miss"
    );
    let mut bypass = daily_task();
    bypass["cache"] = json!(false);
    assert_eq!(
        invoke(&app, bypass, 10).await.unwrap()["meta"]["cache"],
        "bypass"
    );
    assert_eq!(
        invoke(&app, daily_task(), 10).await.unwrap()["meta"]["cache"],
        "hit"
    );
}

#[tokio::test]
async fn a_hit_needs_no_secret_but_the_deployment_must_name_one() {
    let w = World::new(r#"{"apikey": "K1"}"#).await;
    Mock::given(query_param("symbol", "IBM"))
        .respond_with(ResponseTemplate::new(200).set_body_string(DAILY))
        .expect(1)
        .mount(&w.av)
        .await;
    // Every call that needs the key reads it (no secret cache).
    let app = w.app(&[("SECRET_CACHE_TTL_SECS", "0")]);
    invoke(&app, daily_task(), 10).await.unwrap();
    // The secret is gone: a hit is still served (it reads no secret)...
    w.sm.delete_secret()
        .secret_id("av")
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    let hit = invoke(&app, daily_task(), 10).await.unwrap();
    assert_eq!(hit["meta"]["cache"], "hit");
    // ...but a miss must read it.
    let mut other = daily_task();
    other["outputsize"] = json!("compact");
    let err = invoke(&app, other, 10).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SecretNotFound, "{}", err.message());
    // A deployment without ALPHA_VANTAGE_SECRET runs no Alpha Vantage task.
    let mut env: HashMap<String, String> = HashMap::from([(
        "ALPHA_VANTAGE_BASE_URL".into(),
        format!("{}/query", w.av.uri()),
    )]);
    env.insert("UPSTREAM_CACHE_TTL_SECS".into(), "60".into());
    let config = Config::from_lookup(|k| env.get(k).cloned()).unwrap();
    let bare = App::new(
        config,
        SecretsManagerSource::new(w.sm.clone()),
        http_client().unwrap(),
    )
    .unwrap();
    let err = invoke(&bare, daily_task(), 10).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConfigurationError);
}
