//! A plain HTTP/1.1 client for the emulator's admin API, with a known token.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use pushtrace_emulator::{AdminOptions, AdminToken, EmulatorHandle, TokenSource};
use serde_json::Value;

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

pub fn admin_options() -> AdminOptions {
    AdminOptions {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        token: AdminToken::new(ADMIN_TOKEN, TokenSource::Generated).unwrap(),
    }
}

/// A plain HTTP/1.1 client for the admin API.
pub struct Admin {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
}

impl Admin {
    pub fn new(emulator: &EmulatorHandle) -> Admin {
        Admin {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base: format!("http://{}", emulator.admin_addr().unwrap()),
        }
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: &str,
    ) -> (u16, Value) {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if !body.is_empty() {
            request = request.header("content-type", "application/json");
        }
        let request = request
            .body(Full::new(Bytes::from(body.to_owned())))
            .unwrap();
        let response = self.client.request(request).await.unwrap();
        let status = response.status().as_u16();
        assert_eq!(
            response.headers().get("content-type").unwrap(),
            "application/json",
            "{method} {path}"
        );
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, Some(ADMIN_TOKEN), "").await
    }

    pub async fn send(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        self.call(method, path, Some(ADMIN_TOKEN), &body.to_string())
            .await
    }
}
