//! Which trigger called the function, and what it asked for.
//!
//! Checked in this order (see `reference/lambda-platform.md` §1.7):
//! API Gateway REST (payload 1.0), HTTP API / Function URL (payload 2.0),
//! EventBridge and Scheduler envelopes, then a bare task (console, CLI, SDK,
//! a rule or schedule with constant `Input`). A task is recognised by its
//! `provider` field; a document that looks like two of these at once is
//! rejected as ambiguous rather than guessed. Events of integrations this
//! function does not serve (ALB targets, WebSocket routes, Lambda
//! authorizers) are rejected by name, even though they carry REST's or 2.0's
//! fields.

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayV2httpRequest};
use serde_json::Value;

use crate::error::{AppError, ErrorKind, preview};
use crate::response::HttpStyle;

/// The kind of caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TriggerKind {
    /// Console test event, CLI/SDK invoke, or a rule/schedule with constant Input.
    Direct,
    /// An EventBridge rule delivering the event envelope.
    EventBridge,
    /// EventBridge Scheduler's default envelope (no Input).
    Scheduler,
    /// API Gateway REST API, Lambda proxy (payload 1.0).
    ApiGatewayRest,
    /// API Gateway HTTP API (payload 2.0).
    ApiGatewayHttp,
    /// Lambda Function URL.
    FunctionUrl,
    /// Not recognised.
    Unknown,
}

impl TriggerKind {
    /// Name used in logs and metrics.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TriggerKind::Direct => "direct",
            TriggerKind::EventBridge => "eventbridge",
            TriggerKind::Scheduler => "scheduler",
            TriggerKind::ApiGatewayRest => "apigw_rest",
            TriggerKind::ApiGatewayHttp => "apigw_http",
            TriggerKind::FunctionUrl => "function_url",
            TriggerKind::Unknown => "unknown",
        }
    }

    /// Whether the caller is an HTTP client (and gets a proxy response).
    pub(crate) fn is_http(self) -> bool {
        matches!(
            self,
            TriggerKind::ApiGatewayRest | TriggerKind::ApiGatewayHttp | TriggerKind::FunctionUrl
        )
    }
}

/// An HTTP request, reduced to what routing needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HttpRequest {
    /// Upper-case method.
    pub(crate) method: String,
    /// Path as received (may carry a stage or base-path prefix).
    pub(crate) path: String,
    /// Query parameters (first value of each).
    pub(crate) query: Vec<(String, String)>,
    /// Body text as sent (still base64 when `base64` is set).
    pub(crate) body: Option<String>,
    /// Whether `body` is base64.
    pub(crate) base64: bool,
}

/// What an invocation asks for.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Invocation {
    /// A task document from a direct or scheduled call.
    Task {
        /// Who called.
        trigger: TriggerKind,
        /// The task document (not yet validated).
        task: Value,
        /// An EventBridge envelope's `time` (the occurrence of a rule's
        /// schedule, the same on every retry of it), when valid RFC 3339.
        occurred: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// An HTTP request to route.
    Http {
        /// Who called.
        trigger: TriggerKind,
        /// Response shape.
        style: HttpStyle,
        /// The request.
        request: HttpRequest,
    },
}

/// Events larger than this are refused before parsing (Lambda's own limit
/// for synchronous invocations is 6 MB).
pub(crate) const MAX_EVENT_BYTES: usize = 7 * 1024 * 1024;

/// Parse the raw event with explicit limits: at most [`MAX_EVENT_BYTES`],
/// nesting below 128 levels, numbers that fit a double, valid Unicode.
/// Anything else is `unrecognized_event` with the parser's reason.
pub(crate) fn parse_event(raw: &str) -> Result<Value, AppError> {
    if raw.len() > MAX_EVENT_BYTES {
        return Err(unrecognized(format!(
            "the event is {} bytes, over the {MAX_EVENT_BYTES} byte limit",
            raw.len()
        )));
    }
    serde_json::from_str(raw).map_err(|e| {
        unrecognized(format!(
            "the event is not JSON this function accepts ({e}); nesting is limited to 127 levels, numbers to the range of a double, and strings to valid Unicode"
        ))
    })
}

fn unrecognized(message: impl Into<String>) -> AppError {
    AppError::new(ErrorKind::UnrecognizedEvent, message)
}

/// Classify `event`. `default_task` serves schedules that carry no task.
pub(crate) fn classify(event: Value, default_task: Option<&Value>) -> Result<Invocation, AppError> {
    let Value::Object(obj) = &event else {
        return Err(unrecognized(format!(
            "the event must be a JSON object (a task or a trigger's envelope), not {}",
            type_name(&event)
        )));
    };
    // A field set to null counts as absent (local tools fill unused fields
    // of one payload format with nulls).
    let present = |map: &serde_json::Map<String, Value>, key: &str| {
        map.get(key).is_some_and(|v| !v.is_null())
    };
    let context = obj.get("requestContext").and_then(Value::as_object);
    // Events of API Gateway's and ELB's other integrations carry REST's or
    // 2.0's fields too, but are not requests to answer with a proxy
    // response: an ALB target request (`requestContext.elb`), a WebSocket
    // route (`requestContext.connectionId` / `eventType`), and a Lambda
    // authorizer's question (`type` TOKEN or REQUEST with `methodArn` or
    // `routeArn`; cargo-lambda's 2.0 requests carry these as nulls).
    let is_websocket =
        context.is_some_and(|c| present(c, "connectionId") || present(c, "eventType"));
    let is_authorizer = matches!(
        obj.get("type").and_then(Value::as_str),
        Some("TOKEN" | "REQUEST")
    ) && (present(obj, "methodArn") || present(obj, "routeArn"));
    let foreign = if context.is_some_and(|c| present(c, "elb")) {
        Some("Application Load Balancer events are not supported")
    } else if is_authorizer {
        Some(
            "API Gateway Lambda authorizer events are not supported: this function answers requests, it does not authorize them",
        )
    } else if is_websocket {
        Some("API Gateway WebSocket events are not supported")
    } else {
        None
    };
    // An event that declares payload version 2.0 and carries
    // `requestContext.http` is an HTTP API / Function URL request, whatever
    // else it carries; REST's shape (or version 1.0) is REST.
    let is_v2 = foreign.is_none()
        && obj.get("version").and_then(Value::as_str) == Some("2.0")
        && context
            .and_then(|c| c.get("http"))
            .and_then(|h| h.get("method"))
            .is_some_and(|m| !m.is_null());
    let is_rest = foreign.is_none() && !is_v2 && present(obj, "httpMethod") && context.is_some();
    let is_envelope = present(obj, "source") && present(obj, "detail-type");
    let is_task = present(obj, "provider");
    let shapes: Vec<&str> = [
        (is_rest, "an API Gateway REST request"),
        (is_v2, "an HTTP API / Function URL request"),
        (is_envelope, "an EventBridge event"),
        (is_task, "a task (it has 'provider')"),
    ]
    .iter()
    .filter(|(yes, _)| *yes)
    .map(|(_, name)| *name)
    .collect();
    if shapes.len() > 1 {
        return Err(unrecognized(format!(
            "ambiguous event: it looks like {}; send a task without trigger fields, or a trigger's own envelope",
            shapes.join(" and ")
        )));
    }
    if let Some(why) = foreign {
        return Err(unrecognized(why));
    }
    if is_rest {
        let req: ApiGatewayProxyRequest = serde_json::from_value(event).map_err(|e| {
            unrecognized(format!(
                "malformed API Gateway REST event: {}",
                preview(&e.to_string())
            ))
        })?;
        let query = query_pairs(&req.query_string_parameters);
        return Ok(Invocation::Http {
            trigger: TriggerKind::ApiGatewayRest,
            style: HttpStyle::Rest,
            request: HttpRequest {
                method: req.http_method.as_str().to_ascii_uppercase(),
                path: req.path.unwrap_or_default(),
                query,
                body: req.body,
                base64: req.is_base64_encoded,
            },
        });
    }
    if is_v2 {
        let req: ApiGatewayV2httpRequest = serde_json::from_value(event).map_err(|e| {
            unrecognized(format!(
                "malformed HTTP API event: {}",
                preview(&e.to_string())
            ))
        })?;
        let is_url = req
            .request_context
            .domain_name
            .as_deref()
            .is_some_and(|d| d.contains(".lambda-url."));
        let stage = req.request_context.stage.as_deref().unwrap_or("$default");
        let raw_path = req
            .raw_path
            .or(req.request_context.http.path.clone())
            .unwrap_or_default();
        // HTTP APIs prefix named stages to rawPath.
        let path = match raw_path.strip_prefix(&format!("/{stage}")) {
            Some(rest) if stage != "$default" && (rest.is_empty() || rest.starts_with('/')) => {
                rest.to_owned()
            }
            _ => raw_path,
        };
        let query = query_pairs(&req.query_string_parameters);
        return Ok(Invocation::Http {
            trigger: if is_url {
                TriggerKind::FunctionUrl
            } else {
                TriggerKind::ApiGatewayHttp
            },
            style: HttpStyle::V2,
            request: HttpRequest {
                method: req
                    .request_context
                    .http
                    .method
                    .as_str()
                    .to_ascii_uppercase(),
                path,
                query,
                body: req.body,
                base64: req.is_base64_encoded,
            },
        });
    }
    if is_envelope {
        let source = obj
            .get("source")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let trigger = if source == "aws.scheduler" {
            TriggerKind::Scheduler
        } else {
            TriggerKind::EventBridge
        };
        let detail = match obj.get("detail") {
            Some(Value::String(text)) if !text.trim().is_empty() => {
                serde_json::from_str::<Value>(text).map_err(|_| {
                    AppError::bad_request("the event's 'detail' is a string but not JSON")
                })?
            }
            Some(Value::String(_)) | None | Some(Value::Null) => Value::Object(Default::default()),
            Some(other) => other.clone(),
        };
        let empty = detail.as_object().is_some_and(|d| d.is_empty());
        let task = match (empty, default_task) {
            (false, _) => detail,
            (true, Some(task)) => task.clone(),
            (true, None) => {
                return Err(AppError::bad_request(format!(
                    "the {source} event carries no task in 'detail' and DEFAULT_TASK is not set; \
                     give the rule or schedule a task as Input, or set DEFAULT_TASK"
                )));
            }
        };
        let occurred = obj
            .get("time")
            .and_then(Value::as_str)
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&chrono::Utc));
        return Ok(Invocation::Task {
            trigger,
            task,
            occurred,
        });
    }
    if is_task {
        return Ok(Invocation::Task {
            trigger: TriggerKind::Direct,
            task: event,
            occurred: None,
        });
    }
    Err(unrecognized(
        "the event is neither a task (no 'provider' field) nor an API Gateway, Function URL or EventBridge event",
    ))
}

/// First value of each query parameter.
fn query_pairs(map: &aws_lambda_events::query_map::QueryMap) -> Vec<(String, String)> {
    map.iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const EVENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/events");

    fn event(name: &str) -> Value {
        let text = std::fs::read_to_string(format!("{EVENTS}/{name}")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn trigger_of(inv: &Invocation) -> TriggerKind {
        match inv {
            Invocation::Task { trigger, .. } | Invocation::Http { trigger, .. } => *trigger,
        }
    }

    #[test]
    fn every_sample_event_classifies() {
        let mut seen = 0;
        for entry in std::fs::read_dir(EVENTS).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if !name.ends_with(".json") || name.starts_with("invalid-") {
                continue;
            }
            let expected = if name.contains("console")
                || name.contains("rule-input")
                || name.contains("scheduler-input")
            {
                TriggerKind::Direct
            } else if name.contains("eventbridge") {
                TriggerKind::EventBridge
            } else if name.contains("scheduler") {
                TriggerKind::Scheduler
            } else if name.contains("rest") {
                TriggerKind::ApiGatewayRest
            } else if name.contains("http-api") {
                TriggerKind::ApiGatewayHttp
            } else if name.contains("function-url") {
                TriggerKind::FunctionUrl
            } else {
                panic!("no expectation for {name}")
            };
            let default =
                json!({"provider": "alpha_vantage", "function": "GLOBAL_QUOTE", "symbol": "IBM"});
            let inv = classify(event(&name), Some(&default))
                .unwrap_or_else(|e| panic!("{name}: {}", e.message()));
            assert_eq!(trigger_of(&inv), expected, "{name}");
            seen += 1;
        }
        assert!(seen >= 8, "only {seen} sample events");
    }

    #[test]
    fn eventbridge_detail_as_object_or_string() {
        let task =
            json!({"provider": "alpha_vantage", "function": "GLOBAL_QUOTE", "symbol": "IBM"});
        for detail in [task.clone(), Value::String(task.to_string())] {
            let ev = json!({"version": "0", "id": "x", "detail-type": "Scheduled Event", "source": "aws.events", "time": "2024-03-22T18:59:43Z", "detail": detail});
            assert_eq!(
                classify(ev, None).unwrap(),
                Invocation::Task {
                    trigger: TriggerKind::EventBridge,
                    task: task.clone(),
                    occurred: chrono::DateTime::parse_from_rfc3339("2024-03-22T18:59:43Z")
                        .ok()
                        .map(|t| t.with_timezone(&chrono::Utc)),
                }
            );
        }
    }

    #[test]
    fn scheduler_without_input_needs_default_task() {
        let ev = json!({"version": "0", "id": "x", "detail-type": "Scheduled Event", "source": "aws.scheduler", "detail": "{}"});
        let err = classify(ev.clone(), None).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadRequest);
        assert!(err.message().contains("DEFAULT_TASK"));
        let default = json!({"provider": "alpha_vantage"});
        assert_eq!(
            classify(ev, Some(&default)).unwrap(),
            Invocation::Task {
                trigger: TriggerKind::Scheduler,
                task: default,
                occurred: None,
            }
        );
    }

    #[test]
    fn ambiguous_and_unknown_events_are_typed_errors() {
        for ev in [
            json!({"provider": "alpha_vantage", "httpMethod": "GET", "requestContext": {}}),
            json!({"provider": "alpha_vantage", "source": "aws.events", "detail-type": "x"}),
            json!({"hello": "world"}),
            json!([1, 2]),
            json!("GLOBAL_QUOTE"),
            json!({"httpMethod": "GET", "requestContext": {"elb": {}}}),
        ] {
            let err = classify(ev.clone(), None).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::UnrecognizedEvent, "{ev}");
        }
    }

    #[test]
    fn a_payload_that_declares_version_2_is_http_api_whatever_else_it_carries() {
        // As cargo-lambda's Function URL front sends it: a 2.0 request that
        // also has `httpMethod` and nulls for REST-only fields.
        let ev = json!({"version": "2.0", "routeKey": "$default", "rawPath": "/v1/alpha-vantage/GLOBAL_QUOTE",
            "rawQueryString": "symbol=IBM", "queryStringParameters": {"symbol": "IBM"}, "headers": {"host": "127.0.0.1:9000"},
            "httpMethod": "GET", "resource": null, "methodArn": null, "type": null, "source": null, "provider": null,
            "requestContext": {"accountId": "123456789012", "apiId": "_", "domainName": "127.0.0.1", "stage": "$default",
                "requestId": "r", "elb": null,
                "http": {"method": "GET", "path": "/v1/alpha-vantage/GLOBAL_QUOTE", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "curl"}},
            "isBase64Encoded": false, "body": null});
        match classify(ev, None).unwrap() {
            Invocation::Http {
                request, trigger, ..
            } => {
                assert_eq!(trigger, TriggerKind::ApiGatewayHttp);
                assert_eq!(request.method, "GET");
                assert_eq!(request.path, "/v1/alpha-vantage/GLOBAL_QUOTE");
                assert_eq!(request.query, vec![("symbol".to_owned(), "IBM".to_owned())]);
            }
            other => panic!("{other:?}"),
        }
        // Really two things at once is still refused.
        let both = json!({"version": "2.0", "provider": "alpha_vantage",
            "requestContext": {"http": {"method": "GET", "path": "/"}}, "rawPath": "/"});
        assert_eq!(
            classify(both, None).unwrap_err().kind(),
            ErrorKind::UnrecognizedEvent
        );
        // Version 1.0 with REST's shape is REST.
        let rest = json!({"version": "1.0", "httpMethod": "GET", "path": "/v1/fetch", "resource": "/{proxy+}",
            "requestContext": {"stage": "prod", "requestId": "r", "httpMethod": "GET"}, "isBase64Encoded": false});
        assert!(matches!(
            classify(rest, None).unwrap(),
            Invocation::Http {
                trigger: TriggerKind::ApiGatewayRest,
                ..
            }
        ));
    }

    #[test]
    fn http_api_named_stage_is_stripped() {
        let ev = json!({"version": "2.0", "routeKey": "POST /v1/fetch", "rawPath": "/prod/v1/fetch", "rawQueryString": "",
            "headers": {}, "requestContext": {"stage": "prod", "requestId": "r", "domainName": "abc.execute-api.us-east-1.amazonaws.com",
            "http": {"method": "POST", "path": "/prod/v1/fetch", "protocol": "HTTP/1.1", "sourceIp": "1.2.3.4", "userAgent": "curl"}, "timeEpoch": 0},
            "isBase64Encoded": false});
        match classify(ev, None).unwrap() {
            Invocation::Http {
                request, trigger, ..
            } => {
                assert_eq!(request.path, "/v1/fetch");
                assert_eq!(trigger, TriggerKind::ApiGatewayHttp);
            }
            other => panic!("{other:?}"),
        }
    }

    /// What a fixture must classify as.
    enum Want {
        /// A task document from this trigger.
        Task(TriggerKind),
        /// An HTTP request: trigger, method, path.
        Http(TriggerKind, &'static str, &'static str),
        /// `unrecognized_event`, with a message containing this.
        Rejected(&'static str),
    }

    macro_rules! fixture {
        ($path:literal, $want:expr) => {
            (
                $path,
                include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/tests/fixtures/events/",
                    $path
                )),
                $want,
            )
        };
    }

    /// Events as the tools produce them: cargo-lambda's Function URL front
    /// (captured from `cargo lambda watch`) and its test fixture, `sam local
    /// generate-event`, and the aws_lambda_events crate's fixtures (which are
    /// also `cargo lambda invoke --data-example`'s payloads). See
    /// tests/fixtures/events/README.md.
    fn fixtures() -> Vec<(&'static str, &'static str, Want)> {
        use TriggerKind::*;
        use Want::*;
        const AV: &str = "/v1/alpha-vantage/GLOBAL_QUOTE";
        const NOT_SERVED: &str = "neither a task";
        const AUTHORIZER: &str = "authorizer events are not supported";
        const WEBSOCKET: &str = "WebSocket events are not supported";
        const ALB: &str = "Application Load Balancer";
        vec![
            // cargo-lambda: a 2.0 request with `httpMethod` (GET even for a
            // POST), and nulls for REST's and authorizers' fields.
            fixture!(
                "cargo-lambda/function-url-get.json",
                Http(ApiGatewayHttp, "GET", AV)
            ),
            fixture!(
                "cargo-lambda/function-url-post-json.json",
                Http(ApiGatewayHttp, "POST", "/v1/fetch")
            ),
            fixture!(
                "cargo-lambda/function-url-post-binary.json",
                Http(ApiGatewayHttp, "POST", "/v1/fetch")
            ),
            fixture!(
                "cargo-lambda/example-apigw-request.json",
                Http(ApiGatewayRest, "POST", "/hello/world")
            ),
            // sam local generate-event
            fixture!(
                "sam/apigateway-aws-proxy-get.json",
                Http(ApiGatewayRest, "GET", AV)
            ),
            fixture!(
                "sam/apigateway-aws-proxy-post.json",
                Http(ApiGatewayRest, "POST", "/v1/fetch")
            ),
            fixture!(
                "sam/apigateway-aws-proxy-default.json",
                Http(ApiGatewayRest, "POST", "/path/to/resource")
            ),
            fixture!(
                "sam/apigateway-http-api-proxy-post.json",
                Http(ApiGatewayHttp, "POST", "/v1/fetch")
            ),
            fixture!(
                "sam/apigateway-http-api-proxy-stage.json",
                Http(ApiGatewayHttp, "GET", AV)
            ),
            fixture!(
                "sam/apigateway-http-api-proxy-default.json",
                Http(ApiGatewayHttp, "POST", "/path/to/resource")
            ),
            fixture!("sam/apigateway-authorizer.json", Rejected(AUTHORIZER)),
            fixture!(
                "sam/apigateway-request-authorizer.json",
                Rejected(AUTHORIZER)
            ),
            fixture!("sam/cloudwatch-scheduled-event.json", Task(EventBridge)),
            fixture!("sam/alb-request.json", Rejected(ALB)),
            fixture!("sam/sqs-receive-message.json", Rejected(NOT_SERVED)),
            // aws_lambda_events
            fixture!(
                "aws_lambda_events/example-apigw-request.json",
                Http(ApiGatewayRest, "POST", "/hello/world")
            ),
            fixture!(
                "aws_lambda_events/example-apigw-console-request.json",
                Http(ApiGatewayRest, "POST", "/path/to/resource")
            ),
            fixture!(
                "aws_lambda_events/example-apigw-console-test-request.json",
                Http(ApiGatewayRest, "POST", "/myPath")
            ),
            fixture!(
                "aws_lambda_events/example-apigw-request-catch-all.json",
                Http(ApiGatewayRest, "POST", "/hello/world")
            ),
            fixture!(
                "aws_lambda_events/example-apigw-request-multi-value-parameters.json",
                Http(ApiGatewayRest, "POST", "/hello/world")
            ),
            fixture!(
                "aws_lambda_events/example-apigw-restapi-openapi-request.json",
                Http(ApiGatewayRest, "POST", "/hello/world")
            ),
            fixture!(
                "aws_lambda_events/example-apigw-sam-rest-request.json",
                Http(ApiGatewayRest, "GET", "/test")
            ),
            fixture!(
                "aws_lambda_events/example-apigw-sam-http-request.json",
                Http(ApiGatewayHttp, "GET", "/dump")
            ),
            fixture!(
                "aws_lambda_events/example-apigw-v2-request-iam.json",
                Http(ApiGatewayHttp, "GET", "/my/path")
            ),
            fixture!(
                "aws_lambda_events/example-apigw-v2-request-jwt-authorizer.json",
                Http(ApiGatewayHttp, "GET", "/my/path")
            ),
            fixture!(
                "aws_lambda_events/example-apigw-v2-request-lambda-authorizer.json",
                Http(ApiGatewayHttp, "GET", "/my/path")
            ),
            fixture!(
                "aws_lambda_events/example-apigw-v2-request-multi-value-parameters.json",
                Http(ApiGatewayHttp, "GET", "/my/path")
            ),
            fixture!(
                "aws_lambda_events/example-apigw-v2-request-no-authorizer.json",
                Http(ApiGatewayHttp, "GET", "/")
            ),
            fixture!(
                "aws_lambda_events/example-apigw-custom-auth-request.json",
                Rejected(AUTHORIZER)
            ),
            fixture!(
                "aws_lambda_events/example-apigw-custom-auth-request-type-request.json",
                Rejected(AUTHORIZER)
            ),
            fixture!(
                "aws_lambda_events/example-apigw-v2-custom-authorizer-v1-request.json",
                Rejected(AUTHORIZER)
            ),
            fixture!(
                "aws_lambda_events/example-apigw-v2-custom-authorizer-v2-request.json",
                Rejected(AUTHORIZER)
            ),
            fixture!(
                "aws_lambda_events/example-apigw-v2-custom-authorizer-v2-request-null-maps.json",
                Rejected(AUTHORIZER)
            ),
            fixture!(
                "aws_lambda_events/example-apigw-v2-custom-authorizer-websocket-request.json",
                Rejected(AUTHORIZER)
            ),
            fixture!(
                "aws_lambda_events/example-apigw-websocket-request.json",
                Rejected(WEBSOCKET)
            ),
            fixture!(
                "aws_lambda_events/example-apigw-websocket-request-without-method.json",
                Rejected(WEBSOCKET)
            ),
            fixture!(
                "aws_lambda_events/example-apigw-websocket-request-disconnect-route.json",
                Rejected(WEBSOCKET)
            ),
            fixture!(
                "aws_lambda_events/example-alb-lambda-target-request-headers-only.json",
                Rejected(ALB)
            ),
            fixture!(
                "aws_lambda_events/example-alb-lambda-target-request-multivalue-headers.json",
                Rejected(ALB)
            ),
            fixture!(
                "aws_lambda_events/example-eventbridge-schedule.json",
                Task(EventBridge)
            ),
            fixture!(
                "aws_lambda_events/example-eventbridge-event-obj.json",
                Task(EventBridge)
            ),
            fixture!(
                "aws_lambda_events/example-vpc-lattice-v2-request.json",
                Rejected(NOT_SERVED)
            ),
            fixture!(
                "aws_lambda_events/example-sqs-event.json",
                Rejected(NOT_SERVED)
            ),
            fixture!(
                "aws_lambda_events/example-sns-event.json",
                Rejected(NOT_SERVED)
            ),
        ]
    }

    #[test]
    fn tool_generated_events_classify_by_what_they_are() {
        let default =
            json!({"provider": "alpha_vantage", "function": "GLOBAL_QUOTE", "symbol": "IBM"});
        for (name, text, want) in fixtures() {
            let event = parse_event(text).unwrap_or_else(|e| panic!("{name}: {}", e.message()));
            let got = classify(event, Some(&default));
            match (want, got) {
                (Want::Task(kind), Ok(Invocation::Task { trigger, .. })) => {
                    assert_eq!(trigger, kind, "{name}")
                }
                (
                    Want::Http(kind, method, path),
                    Ok(Invocation::Http {
                        trigger, request, ..
                    }),
                ) => {
                    assert_eq!(trigger, kind, "{name}");
                    assert_eq!(request.method, method, "{name}");
                    assert_eq!(request.path, path, "{name}");
                }
                (Want::Rejected(words), Err(err)) => {
                    assert_eq!(err.kind(), ErrorKind::UnrecognizedEvent, "{name}");
                    assert!(err.message().contains(words), "{name}: {}", err.message());
                }
                (_, got) => panic!("{name}: classified as {got:?}"),
            }
        }
    }

    #[test]
    fn every_fixture_file_has_an_expectation() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/events");
        let listed: std::collections::BTreeSet<&str> =
            fixtures().iter().map(|(name, _, _)| *name).collect();
        let mut on_disk = std::collections::BTreeSet::new();
        for dir in std::fs::read_dir(root).unwrap() {
            let dir = dir.unwrap();
            if !dir.file_type().unwrap().is_dir() {
                continue;
            }
            for file in std::fs::read_dir(dir.path()).unwrap() {
                let file = file.unwrap().file_name().into_string().unwrap();
                if file.ends_with(".json") {
                    on_disk.insert(format!("{}/{file}", dir.file_name().to_string_lossy()));
                }
            }
        }
        let listed: std::collections::BTreeSet<String> =
            listed.into_iter().map(str::to_owned).collect();
        assert_eq!(on_disk, listed, "fixture files and the table disagree");
        assert!(listed.len() >= 40, "only {} fixtures", listed.len());
    }

    #[test]
    fn cargo_lambda_requests_carry_their_query_and_body() {
        let get = fixtures()
            .into_iter()
            .find(|f| f.0 == "cargo-lambda/function-url-get.json")
            .unwrap();
        let Invocation::Http { request, style, .. } =
            classify(parse_event(get.1).unwrap(), None).unwrap()
        else {
            panic!("not HTTP")
        };
        assert_eq!(style, HttpStyle::V2);
        assert_eq!(request.query, vec![("symbol".to_owned(), "IBM".to_owned())]);
        for (name, base64) in [
            ("cargo-lambda/function-url-post-json.json", false),
            ("cargo-lambda/function-url-post-binary.json", true),
        ] {
            let post = fixtures().into_iter().find(|f| f.0 == name).unwrap();
            let Invocation::Http { request, .. } =
                classify(parse_event(post.1).unwrap(), None).unwrap()
            else {
                panic!("{name}: not HTTP")
            };
            assert_eq!(request.base64, base64, "{name}");
            assert!(request.body.is_some(), "{name}");
        }
    }

    #[test]
    fn foreign_integrations_are_rejected_by_name_whatever_else_they_carry() {
        // A REQUEST authorizer carries REST's whole request; a 2.0 authorizer
        // carries `requestContext.http`; a WebSocket message has
        // `httpMethod`-less REST fields. None is a request to answer.
        for (ev, words) in [
            (
                json!({"type": "REQUEST", "methodArn": "arn:x", "httpMethod": "GET", "path": "/v1/fetch",
                "requestContext": {"httpMethod": "GET", "stage": "prod"}}),
                "authorizer",
            ),
            (
                json!({"version": "2.0", "type": "REQUEST", "routeArn": "arn:x", "rawPath": "/v1/fetch",
                "requestContext": {"http": {"method": "GET", "path": "/v1/fetch"}}}),
                "authorizer",
            ),
            (
                json!({"httpMethod": "POST", "requestContext": {"connectionId": "c", "eventType": "MESSAGE",
                "routeKey": "$default", "stage": "prod"}, "body": "{}"}),
                "WebSocket",
            ),
        ] {
            let err = classify(ev.clone(), None).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::UnrecognizedEvent, "{ev}");
            assert!(err.message().contains(words), "{ev}: {}", err.message());
        }
        // Nulls in those fields (as cargo-lambda sends them) are absent.
        let ev = json!({"version": "2.0", "type": null, "methodArn": null, "routeArn": null, "httpMethod": "GET",
            "rawPath": "/v1/fetch", "requestContext": {"connectionId": null, "eventType": null, "elb": null,
            "http": {"method": "POST", "path": "/v1/fetch"}}});
        assert!(matches!(
            classify(ev, None).unwrap(),
            Invocation::Http {
                trigger: TriggerKind::ApiGatewayHttp,
                ..
            }
        ));
    }
}
