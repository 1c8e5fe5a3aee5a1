//! The gateway's HTTP API as the live driver uses it: a backend registering tokens and ringing
//! users, and the phones' app posting receipts (docs/api.md).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// A request the gateway refused or did not answer.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("{method} {url}: {message}")]
    Transport {
        method: &'static str,
        url: String,
        message: String,
    },
    #[error("{method} {url}: HTTP {status}: {body}")]
    Status {
        method: &'static str,
        url: String,
        status: u16,
        body: String,
    },
}

/// A keep-alive HTTP/1.1 client for one gateway and one of its apps.
#[derive(Clone)]
pub struct GatewayClient {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    api_token: String,
    app: String,
}

impl GatewayClient {
    /// `base`: `http://127.0.0.1:8080`; `app`: the `[[apps]]` name the calls go through.
    pub fn new(base: &str, api_token: &str, app: &str) -> GatewayClient {
        GatewayClient {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base: base.trim_end_matches('/').to_string(),
            api_token: api_token.to_string(),
            app: app.to_string(),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// `PUT /v1/apps/{app}/tokens/{token}`: `user`'s VoIP token with cohort attributes.
    pub async fn register_token(
        &self,
        token: &str,
        user: &str,
        attrs: &Value,
    ) -> Result<Value, GatewayError> {
        let path = format!("/v1/apps/{}/tokens/{token}", self.app);
        let body = serde_json::json!({ "user": user, "kind": "voip", "attrs": attrs });
        self.send(Method::PUT, &path, Some(body), true).await
    }

    /// `POST /v1/apps/{app}/calls`: ring `callee` for `window_secs`; answers the CallCreated.
    pub async fn create_call(
        &self,
        client_call_id: &str,
        caller: &str,
        callee: &str,
        window_secs: u64,
    ) -> Result<Value, GatewayError> {
        let path = format!("/v1/apps/{}/calls", self.app);
        let body = serde_json::json!({
            "call_id": client_call_id,
            "caller": caller,
            "callee": callee,
            "window_secs": window_secs,
        });
        self.send(Method::POST, &path, Some(body), true).await
    }

    /// `GET /v1/calls/{call_id}`: the call's timeline.
    pub async fn call_timeline(&self, call_id: &str) -> Result<Value, GatewayError> {
        self.send(Method::GET, &format!("/v1/calls/{call_id}"), None, true)
            .await
    }

    /// `POST /v1/receipts`, as the phone's app posts it (no bearer token).
    pub async fn post_receipt(&self, receipt: Value) -> Result<Value, GatewayError> {
        self.send(Method::POST, "/v1/receipts", Some(receipt), false)
            .await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        bearer: bool,
    ) -> Result<Value, GatewayError> {
        let url = format!("{}{path}", self.base);
        let name = match method {
            Method::GET => "GET",
            Method::PUT => "PUT",
            _ => "POST",
        };
        let transport = |message: String| GatewayError::Transport {
            method: name,
            url: url.clone(),
            message,
        };
        let mut request = Request::builder().method(method).uri(&url);
        if bearer {
            request = request.header("authorization", format!("Bearer {}", self.api_token));
        }
        let bytes = match body {
            Some(body) => {
                request = request.header("content-type", "application/json");
                Bytes::from(body.to_string())
            }
            None => Bytes::new(),
        };
        let request = request
            .body(Full::new(bytes))
            .map_err(|e| transport(e.to_string()))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| transport(e.to_string()))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| transport(e.to_string()))?
            .to_bytes();
        if !status.is_success() {
            return Err(GatewayError::Status {
                method: name,
                url,
                status: status.as_u16(),
                body: String::from_utf8_lossy(&body).into_owned(),
            });
        }
        if body.is_empty() || status == StatusCode::NO_CONTENT {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&body).map_err(|e| transport(format!("answer is not JSON: {e}")))
    }
}
