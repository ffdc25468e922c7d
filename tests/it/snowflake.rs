//! The Snowflake SQL API client's paths, through the real handler and the
//! real reqwest client against a wiremock Snowflake: throttling with
//! `Retry-After`, resubmission with the same `requestId` and `retry=true`,
//! 202 polling, cancel at the deadline, and a 401 that refreshes the secret.

use std::sync::atomic::Ordering;

use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex, query_param};
use wiremock::{Mock, Request, ResponseTemplate};

use super::common;
use super::hardening::{Answer, PAT, World, customers, invoke, sf_result};
use secret_fetch::ErrorKind;

const HANDLE: &str = "01b9f2c4-0305-7d21-0000-51a10003e2ba";

fn done() -> Value {
    sf_result(
        json!([{"name": "ID", "type": "fixed", "scale": 0}]),
        json!([["1"], ["2"]]),
        json!([{"rowCount": 2}]),
    )
}

fn running() -> Value {
    json!({"code": "333334", "message": "Asynchronous execution in progress.",
           "statementHandle": HANDLE, "statementStatusUrl": format!("/api/v2/statements/{HANDLE}")})
}

async fn submissions(w: &World) -> Vec<Request> {
    w.sf.received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == "POST" && r.url.path() == "/api/v2/statements")
        .collect()
}

fn query(r: &Request, name: &str) -> Option<String> {
    r.url
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

async fn world() -> World {
    let w = World::new().await;
    w.secrets.set("sf", Answer::Text(PAT.into()));
    w
}

#[tokio::test]
async fn throttling_honours_retry_after_and_resubmits_idempotently() {
    for status in [429, 503] {
        let w = world().await;
        Mock::given(method("POST"))
            .and(path("/api/v2/statements"))
            .respond_with(
                ResponseTemplate::new(status)
                    .insert_header("retry-after", "1")
                    .set_body_json(json!({"code": "390505", "message": "Too many requests."})),
            )
            .up_to_n_times(1)
            .mount(&w.sf)
            .await;
        Mock::given(method("POST"))
            .and(path("/api/v2/statements"))
            .respond_with(ResponseTemplate::new(200).set_body_json(done()))
            .mount(&w.sf)
            .await;
        let started = std::time::Instant::now();
        let body = invoke(&w.app(&[]), customers()).await.unwrap();
        assert_eq!(body["row_count"], 2);
        assert!(
            started.elapsed() >= std::time::Duration::from_millis(950),
            "waited for Retry-After"
        );
        let posts = submissions(&w).await;
        assert_eq!(posts.len(), 2, "{status}");
        assert_eq!(query(&posts[0], "retry"), None);
        assert_eq!(query(&posts[1], "retry").as_deref(), Some("true"));
        assert_eq!(
            query(&posts[0], "requestId"),
            query(&posts[1], "requestId"),
            "the same requestId, so Snowflake never runs it twice"
        );
    }
}

#[tokio::test]
async fn a_lost_answer_is_resubmitted_with_the_same_request_id() {
    let w = world().await;
    Mock::given(method("POST"))
        .and(path("/api/v2/statements"))
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>bad gateway</html>"))
        .up_to_n_times(1)
        .mount(&w.sf)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/statements"))
        .and(query_param("retry", "true"))
        .respond_with(ResponseTemplate::new(200).set_body_json(done()))
        .mount(&w.sf)
        .await;
    let body = invoke(&w.app(&[]), customers()).await.unwrap();
    assert_eq!(body["rows"][1]["ID"], 2);
    let posts = submissions(&w).await;
    assert_eq!(posts.len(), 2);
    assert_eq!(query(&posts[0], "requestId"), query(&posts[1], "requestId"));
}

#[tokio::test]
async fn a_running_statement_is_polled_until_done() {
    let w = world().await;
    Mock::given(method("POST"))
        .and(path("/api/v2/statements"))
        .respond_with(ResponseTemplate::new(202).set_body_json(running()))
        .mount(&w.sf)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/api/v2/statements/{HANDLE}")))
        .respond_with(ResponseTemplate::new(202).set_body_json(running()))
        .up_to_n_times(2)
        .mount(&w.sf)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/api/v2/statements/{HANDLE}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(done()))
        .mount(&w.sf)
        .await;
    let body = invoke(&w.app(&[]), customers()).await.unwrap();
    assert_eq!(body["row_count"], 2);
    assert_eq!(w.sf_gets().await, 3, "two 202s, then the result");
    assert_eq!(submissions(&w).await.len(), 1, "submitted once");
}

#[tokio::test]
async fn a_statement_still_running_at_the_deadline_is_cancelled() {
    let w = world().await;
    Mock::given(method("POST"))
        .and(path("/api/v2/statements"))
        .respond_with(ResponseTemplate::new(202).set_body_json(running()))
        .mount(&w.sf)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/api/v2/statements/{HANDLE}")))
        .respond_with(ResponseTemplate::new(202).set_body_json(running()))
        .mount(&w.sf)
        .await;
    Mock::given(method("POST"))
        .and(path_regex("^/api/v2/statements/.+/cancel$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"code": "000604"})))
        .expect(1)
        .mount(&w.sf)
        .await;
    let app = w.app(&[]);
    let ctx = common::context("req-cancel", 4);
    let started = std::time::Instant::now();
    let err = app
        .handle_payload(&customers().to_string(), &ctx)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DeadlineExceeded);
    assert!(err.message().contains("cancelled"), "{}", err.message());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "answered before the deadline"
    );
}

#[tokio::test]
async fn a_rejected_credential_refreshes_the_secret_and_retries_once() {
    let w = world().await;
    Mock::given(method("POST"))
        .and(path("/api/v2/statements"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"code": "390303", "message": "Invalid OAuth access token. [1f2e]"}),
        ))
        .up_to_n_times(1)
        .mount(&w.sf)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/statements"))
        .respond_with(ResponseTemplate::new(200).set_body_json(done()))
        .mount(&w.sf)
        .await;
    let before = w.secrets.calls.load(Ordering::SeqCst);
    let body = invoke(&w.app(&[]), customers()).await.unwrap();
    assert_eq!(body["row_count"], 2);
    assert_eq!(
        w.secrets.calls.load(Ordering::SeqCst) - before,
        2,
        "read, then refreshed once"
    );
    let posts = submissions(&w).await;
    assert_eq!(posts.len(), 2);
    for post in &posts {
        assert_eq!(
            post.headers
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_owned()),
            Some(format!("Bearer {PAT}"))
        );
        assert_eq!(
            post.headers
                .get("x-snowflake-authorization-token-type")
                .map(|v| v.to_str().unwrap().to_owned())
                .as_deref(),
            Some("PROGRAMMATIC_ACCESS_TOKEN")
        );
    }
    // A credential rejected twice is upstream_auth_failed, not retried again.
    let w = world().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"code": "390144"})))
        .mount(&w.sf)
        .await;
    let err = invoke(&w.app(&[]), customers()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UpstreamAuthFailed);
    assert_eq!(submissions(&w).await.len(), 2);
}
