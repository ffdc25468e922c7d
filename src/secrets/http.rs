//! The AWS SDK's HTTP client, on the function's one reqwest client.
//!
//! With its default HTTPS client the SDK would bring a second HTTP stack and
//! load the system trust store a second time at every cold start. Instead its
//! requests go through the same `reqwest::Client` (one TLS configuration, one
//! trust store, one connection pool) as the data providers'. The SDK keeps
//! its own retry, attempt and operation timeouts; transport failures are
//! reported to it as timeout or I/O errors so that its retry classifier
//! treats them as transient.

use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, SharedHttpClient, SharedHttpConnector, http_client_fn,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

/// An SDK HTTP client sending through `http`.
pub fn sdk_http_client(http: reqwest::Client) -> SharedHttpClient {
    let connector = SharedHttpConnector::new(ReqwestConnector { http });
    http_client_fn(move |_settings, _components| connector.clone())
}

#[derive(Clone, Debug)]
struct ReqwestConnector {
    http: reqwest::Client,
}

fn transport(e: reqwest::Error) -> ConnectorError {
    // Never the URL: it is not secret here, but the error type is shared.
    let e = e.without_url();
    if e.is_timeout() {
        ConnectorError::timeout(e.into())
    } else if e.is_connect() || e.is_request() || e.is_body() {
        ConnectorError::io(e.into())
    } else {
        ConnectorError::other(e.into(), None)
    }
}

impl HttpConnector for ReqwestConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let http = self.http.clone();
        HttpConnectorFuture::new(async move {
            let method = reqwest::Method::from_bytes(request.method().as_bytes())
                .map_err(|e| ConnectorError::user(e.into()))?;
            let mut builder = http.request(method, request.uri());
            for (name, value) in request.headers() {
                builder = builder.header(name, value);
            }
            // Secrets Manager requests are small JSON documents, in memory.
            let body = request.body().bytes().map(<[u8]>::to_vec).ok_or_else(|| {
                ConnectorError::user("a streaming request body is not supported".into())
            })?;
            let response = builder.body(body).send().await.map_err(transport)?;
            let status = StatusCode::try_from(response.status().as_u16())
                .map_err(|e| ConnectorError::other(e.into(), None))?;
            let headers = response.headers().clone();
            let bytes = response.bytes().await.map_err(transport)?;
            let mut out = HttpResponse::new(status, SdkBody::from(bytes));
            for (name, value) in &headers {
                if let Ok(value) = value.to_str() {
                    out.headers_mut()
                        .append(name.as_str().to_owned(), value.to_owned());
                }
            }
            Ok(out)
        })
    }
}
