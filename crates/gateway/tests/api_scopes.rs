//! The backend API's tokens and lists over the real HTTP server (`docs/api.md`,
//! "Authentication" and "Listing"): an app's token opens its own app's routes and calls and
//! gets a 403 on another's; the admin token opens all; tokens rotate without a restart (the
//! files are read again when they change and on SIGHUP, and a bad file keeps the tokens in
//! use); an app's calls and a user's tokens come a page at a time with no row repeated or
//! skipped, and bad parameters are 400s that name the parameter.
//!
//! The lists run on both stores; the tokens' tests on SQLite (what they check is in front of
//! the store). PostgreSQL: a fresh schema per test (`support` says where, and how to start it).

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine as _;
use pushtrace_gateway::api::ApiKeys;
use pushtrace_gateway::receipt_token::ReceiptKey;
use pushtrace_gateway::{GatewayConfig, GatewayHandle, start_with};
use serde_json::{Value, json};
use support::{Backend, KEY_ID, TEAM_ID};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ADMIN: &str = "scopes-admin-token-0123456789";
const ACME: &str = "scopes-acme-token-0123456789";
const BETA: &str = "scopes-beta-token-0123456789";

macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let gateway = super::Gateway::start(super::Backend::Sqlite).await;
                    super::$name(&gateway).await;
                    gateway.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let gateway = super::Gateway::start(super::Backend::Postgres).await;
                    super::$name(&gateway).await;
                    gateway.finish().await;
                }
            )*
        }
    };
}

on_both_stores!(
    calls_are_listed_a_page_at_a_time,
    a_users_tokens_are_listed_a_page_at_a_time,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apps_token_opens_its_app_only() {
    let gateway = Gateway::start(Backend::Sqlite).await;
    let acme_call = gateway.call(ADMIN, "acme", "scope-a").await;
    let beta_call = gateway.call(ADMIN, "beta", "scope-b").await;

    // Its own app's routes and calls.
    let (status, _) = gateway.get(ACME, "/v1/apps/acme/calls").await;
    assert_eq!(status, 200);
    let (status, body) = gateway.get(ACME, &format!("/v1/calls/{acme_call}")).await;
    assert_eq!(status, 200, "{body}");
    // Not another app's, whatever the route.
    for (method, path, field) in [
        ("GET", "/v1/apps/beta/calls".to_owned(), "app"),
        ("POST", "/v1/apps/beta/calls".to_owned(), "app"),
        ("GET", "/v1/apps/beta/calls/scope-b".to_owned(), "app"),
        ("GET", "/v1/apps/beta/users/alice/tokens".to_owned(), "app"),
        ("GET", "/v1/apps/beta/webhooks/deliveries".to_owned(), "app"),
        ("PUT", format!("/v1/apps/beta/tokens/{}", device(9)), "app"),
        ("GET", format!("/v1/calls/{beta_call}"), "call_id"),
        ("POST", format!("/v1/calls/{beta_call}/cancel"), "call_id"),
        ("POST", format!("/v1/calls/{beta_call}/answered"), "call_id"),
        // An app that does not exist is not this token's either.
        ("GET", "/v1/apps/nope/calls".to_owned(), "app"),
    ] {
        let body = (method != "GET")
            .then(|| json!({"call_id": "x", "caller": "c", "callee": "d", "user": "u"}));
        let (status, error) = gateway.send(ACME, method, &path, body.as_ref()).await;
        assert_eq!(status, 403, "{method} {path}: {error}");
        assert_eq!(error["code"], "forbidden", "{error}");
        assert_eq!(error["field"], field, "{error}");
        let message = error["error"].as_str().unwrap();
        assert!(message.contains("\"acme\""), "{message}");
        assert!(message.contains("admin token"), "{message}");
    }
    // The refusals changed nothing: beta's call still rings, and no call was created.
    let (_, timeline) = gateway.get(BETA, &format!("/v1/calls/{beta_call}")).await;
    assert_ne!(timeline["call"]["state"], "cancelled", "{timeline}");
    let (_, listed) = gateway.get(ADMIN, "/v1/apps/beta/calls").await;
    assert_eq!(listed["calls"].as_array().unwrap().len(), 1, "{listed}");
    // Beta's token the other way round.
    let (status, _) = gateway.get(BETA, &format!("/v1/calls/{acme_call}")).await;
    assert_eq!(status, 403);
    // A call of no app is the route's own 404, for an app's token as for the admin's.
    let (status, error) = gateway.get(ACME, "/v1/calls/no-such-call").await;
    assert_eq!(
        (status, error["code"].as_str()),
        (404, Some("unknown_call"))
    );
    // The admin token opens both apps, and a missing app is its 404.
    for path in ["/v1/apps/acme/calls", "/v1/apps/beta/calls"] {
        assert_eq!(gateway.get(ADMIN, path).await.0, 200, "{path}");
    }
    let (status, error) = gateway.get(ADMIN, "/v1/apps/nope/calls").await;
    assert_eq!((status, error["code"].as_str()), (404, Some("unknown_app")));
    // No token, or one that is none of them.
    let (status, error) = gateway.get("", "/v1/apps/acme/calls").await;
    assert_eq!(
        (status, error["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let (status, _) = gateway
        .get("scopes-acme-token-012345678", "/v1/apps/acme/calls")
        .await;
    assert_eq!(status, 401);
    gateway.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_rotate_without_a_restart() {
    let gateway = Gateway::start(Backend::Sqlite).await;
    let acme_file = gateway.dir.path().join("acme.token");
    const NEXT: &str = "scopes-acme-next-token-0123";

    // The new token beside the old: both open acme, the new one nothing else.
    std::fs::write(
        &acme_file,
        format!("# old, until the backend moves\n{ACME}\n{NEXT}\n"),
    )
    .unwrap();
    gateway.until_status(NEXT, "/v1/apps/acme/calls", 200).await;
    assert_eq!(gateway.get(ACME, "/v1/apps/acme/calls").await.0, 200);
    assert_eq!(gateway.get(NEXT, "/v1/apps/beta/calls").await.0, 403);

    // The old one removed: refused once the file is read again.
    std::fs::write(&acme_file, format!("{NEXT}\n")).unwrap();
    gateway.until_status(ACME, "/v1/apps/acme/calls", 401).await;
    assert_eq!(gateway.get(NEXT, "/v1/apps/acme/calls").await.0, 200);

    // A bad file (a token too short) changes nothing: the tokens in use stay in use.
    std::fs::write(&acme_file, "short\n").unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(gateway.get(NEXT, "/v1/apps/acme/calls").await.0, 200);
    assert_eq!(gateway.get("short", "/v1/apps/acme/calls").await.0, 401);
    // Nor does a file gone missing.
    let beta_file = gateway.dir.path().join("beta.token");
    std::fs::rename(&beta_file, gateway.dir.path().join("beta.moved")).unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(gateway.get(BETA, "/v1/apps/beta/calls").await.0, 200);
    std::fs::rename(gateway.dir.path().join("beta.moved"), &beta_file).unwrap();
    // Fixed: read again (a token only the new file has is how the test knows it was).
    const THIRD: &str = "scopes-acme-third-token-0123";
    std::fs::write(&acme_file, format!("{NEXT}\n{THIRD}\n")).unwrap();
    gateway
        .until_status(THIRD, "/v1/apps/acme/calls", 200)
        .await;
    assert_eq!(gateway.get(BETA, "/v1/apps/beta/calls").await.0, 200);

    // SIGHUP reads the files even when nothing about them looks changed: the admin file
    // rewritten in place with a token of the same length and its old modification time.
    let admin_file = gateway.dir.path().join("admin.token");
    const ADMIN2: &str = "scopes-admin-token-9876543210";
    assert_eq!(ADMIN.len(), ADMIN2.len());
    let modified = std::fs::metadata(&admin_file).unwrap().modified().unwrap();
    std::fs::write(&admin_file, format!("{ADMIN2}\n")).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&admin_file)
        .unwrap()
        .set_modified(modified)
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        gateway.get(ADMIN2, "/v1/apps/beta/calls").await.0,
        401,
        "the file looked unchanged, so only SIGHUP reads it"
    );
    let kill = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    gateway
        .until_status(ADMIN2, "/v1/apps/beta/calls", 200)
        .await;
    assert_eq!(gateway.get(ADMIN, "/v1/apps/beta/calls").await.0, 401);
    gateway.finish().await;
}

async fn calls_are_listed_a_page_at_a_time(gateway: &Gateway) {
    gateway.register("alice", &device(1)).await;
    let mut created = Vec::new();
    for i in 0..12 {
        created.push(gateway.call(ACME, "acme", &format!("list-{i}")).await);
    }
    // Another app's calls are not in acme's list.
    gateway.call(ADMIN, "beta", "list-beta").await;
    for call_id in &created[..4] {
        let (status, body) = gateway
            .send(ACME, "POST", &format!("/v1/calls/{call_id}/cancel"), None)
            .await;
        assert_eq!(status, 200, "{body}");
    }

    let all = gateway
        .pages("/v1/apps/acme/calls?limit=500", "calls")
        .await;
    assert_eq!(all.len(), 1);
    let all: Vec<Value> = all.concat();
    let ids: Vec<&str> = all.iter().map(|c| c["call_id"].as_str().unwrap()).collect();
    assert_eq!(
        ids.iter().copied().collect::<BTreeSet<_>>(),
        created.iter().map(String::as_str).collect::<BTreeSet<_>>()
    );
    // Newest first: created_at never rises down the list.
    let times: Vec<i64> = all.iter().map(|c| micros(&c["created_at"])).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");

    // Pages of 5: the same calls in the same order, none twice; a call created while paging
    // is newer than every page and does not shift the pages after the first.
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => "/v1/apps/acme/calls?limit=5".to_owned(),
            Some(c) => format!("/v1/apps/acme/calls?limit=5&cursor={c}"),
        };
        let (status, page) = gateway.get(ACME, &path).await;
        assert_eq!(status, 200, "{page}");
        if pages.is_empty() {
            gateway.call(ACME, "acme", "list-late").await;
        }
        pages.push(page["calls"].as_array().unwrap().clone());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [5, 5, 2]);
    let paged: Vec<&str> = pages
        .iter()
        .flatten()
        .map(|c| c["call_id"].as_str().unwrap())
        .collect();
    assert_eq!(paged, ids);

    // Filters: the state, and [since, until) on created_at.
    let cancelled = gateway
        .pages("/v1/apps/acme/calls?state=cancelled&limit=3", "calls")
        .await
        .concat();
    let cancelled: BTreeSet<&str> = cancelled
        .iter()
        .map(|c| c["call_id"].as_str().unwrap())
        .collect();
    assert_eq!(cancelled, created[..4].iter().map(String::as_str).collect());
    let since = all[8]["created_at"].as_str().unwrap();
    let until = all[2]["created_at"].as_str().unwrap();
    let window = gateway
        .pages(
            &format!(
                "/v1/apps/acme/calls?since={}&until={}&limit=2",
                encode(since),
                encode(until)
            ),
            "calls",
        )
        .await
        .concat();
    let expected: Vec<&Value> = all
        .iter()
        .filter(|c| {
            let at = micros(&c["created_at"]);
            at >= micros(&all[8]["created_at"]) && at < micros(&all[2]["created_at"])
        })
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(window.iter().collect::<Vec<_>>(), expected);

    // Bad parameters: a 400 naming the parameter, saying what to send.
    for (query, field, says) in [
        ("limit=0", "limit", "1 to 500"),
        ("limit=501", "limit", "1 to 500"),
        ("limit=ten", "limit", "1 to 500"),
        ("state=rung", "state", "ringing"),
        ("since=yesterday", "since", "RFC 3339"),
        ("until=2026-05-20T10:00:00", "until", "RFC 3339"),
        (
            "since=2026-05-20T11:00:00Z&until=2026-05-20T10:00:00Z",
            "until",
            "before since",
        ),
        ("cursor=bm9wZQ", "cursor", "next_cursor"),
    ] {
        let (status, error) = gateway
            .get(ACME, &format!("/v1/apps/acme/calls?{query}"))
            .await;
        assert_eq!(status, 400, "{query}: {error}");
        assert_eq!(error["code"], "invalid_query", "{error}");
        assert_eq!(error["field"], field, "{query}: {error}");
        let message = error["error"].as_str().unwrap();
        assert!(message.contains(says), "{query}: {message}");
    }
    // A cursor made by hand to hold a NUL: refused before the store (PostgreSQL refuses a NUL
    // in text, which would be a 503).
    let nul = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("c:1:a\0b");
    let (status, error) = gateway
        .get(ACME, &format!("/v1/apps/acme/calls?cursor={nul}"))
        .await;
    assert_eq!(
        (status, error["field"].as_str()),
        (400, Some("cursor")),
        "{error}"
    );
    let (status, error) = gateway.get(ACME, "/v1/apps/acme/calls?offset=5").await;
    assert_eq!(
        (status, error["code"].as_str()),
        (400, Some("invalid_query"))
    );
    assert!(
        error["error"].as_str().unwrap().contains("cursor"),
        "{error}"
    );
    // A cursor of the tokens' list is not one of the calls'.
    gateway.register("bob", &device(2)).await;
    gateway.register("bob", &device(3)).await;
    let (_, tokens) = gateway
        .get(ACME, "/v1/apps/acme/users/bob/tokens?limit=1")
        .await;
    let cursor = tokens["next_cursor"].as_str().unwrap();
    let (status, error) = gateway
        .get(ACME, &format!("/v1/apps/acme/calls?cursor={cursor}"))
        .await;
    assert_eq!((status, error["field"].as_str()), (400, Some("cursor")));
}

async fn a_users_tokens_are_listed_a_page_at_a_time(gateway: &Gateway) {
    for i in 1..=5 {
        gateway.register("alice", &device(i)).await;
    }
    gateway.register("bob", &device(6)).await;
    let (status, body) = gateway
        .send(
            ACME,
            "DELETE",
            &format!("/v1/apps/acme/tokens/{}", device(2)),
            None,
        )
        .await;
    assert_eq!(status, 204, "{body}");

    let pages = gateway
        .pages("/v1/apps/acme/users/alice/tokens?limit=2", "tokens")
        .await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
    let tokens: Vec<String> = pages
        .concat()
        .iter()
        .map(|t| t["token"].as_str().unwrap().to_owned())
        .collect();
    // Newest registration first.
    assert_eq!(tokens, (1..=5).rev().map(device).collect::<Vec<_>>());
    let invalidated = gateway
        .pages(
            "/v1/apps/acme/users/alice/tokens?state=invalidated",
            "tokens",
        )
        .await
        .concat();
    assert_eq!(invalidated.len(), 1);
    assert_eq!(invalidated[0]["token"], device(2));
    assert_eq!(invalidated[0]["invalidated_reason"], "unregistered");
    let valid = gateway
        .pages("/v1/apps/acme/users/alice/tokens?state=valid", "tokens")
        .await
        .concat();
    assert_eq!(valid.len(), 4);
    let (status, nobody) = gateway.get(ACME, "/v1/apps/acme/users/nobody/tokens").await;
    assert_eq!(status, 200);
    assert_eq!(nobody, json!({"tokens": [], "next_cursor": null}));
    for (query, field) in [
        ("state=gone", "state"),
        ("limit=-1", "limit"),
        ("cursor=%20", "cursor"),
    ] {
        let (status, error) = gateway
            .get(ACME, &format!("/v1/apps/acme/users/alice/tokens?{query}"))
            .await;
        assert_eq!(
            (status, error["field"].as_str()),
            (400, Some(field)),
            "{query}: {error}"
        );
    }
}

/// A gateway with two apps, `acme` and `beta`, whose APNs endpoint nothing listens on (the
/// pushes fail to connect and are retried inside the call window: the calls keep ringing),
/// an admin token file and one token file per app.
struct Gateway {
    handle: GatewayHandle,
    schema: Option<String>,
    dir: tempfile::TempDir,
}

impl Gateway {
    async fn start(backend: Backend) -> Gateway {
        let dir = tempfile::tempdir().unwrap();
        let (store, schema) = support::open_store(backend, dir.path(), "gw_scopes").await;
        let file = |name: &str, token: &str| -> PathBuf {
            let path = dir.path().join(name);
            std::fs::write(&path, format!("{token}\n")).unwrap();
            path
        };
        file("admin.token", ADMIN);
        file("acme.token", ACME);
        file("beta.token", BETA);
        let app = |name: &str| {
            format!(
                "[[apps]]\nname = \"{name}\"\nbundle_id = \"com.example.{name}\"\n\
                 environment = \"sandbox\"\nkey_file = \"{}\"\nkey_id = \"{KEY_ID}\"\n\
                 team_id = \"{TEAM_ID}\"\nendpoint = \"https://127.0.0.1:9\"\n\
                 api_token_files = [\"{name}.token\"]\n",
                support::key_file().display()
            )
        };
        // Written to a file: its relative paths are read from the file's folder.
        let config_file = dir.path().join("gateway.toml");
        std::fs::write(
            &config_file,
            format!(
                "listen = \"127.0.0.1:0\"\napi_token_file = \"admin.token\"\n\n{}\n{}",
                app("acme"),
                app("beta")
            ),
        )
        .unwrap();
        let config = GatewayConfig::from_file(&config_file).unwrap();
        let keys = ApiKeys::from_config(&config).unwrap();
        let handle = start_with(
            &config,
            store,
            keys,
            ReceiptKey::new(&[9; 32]).unwrap(),
            false,
        )
        .await
        .unwrap();
        Gateway {
            handle,
            schema,
            dir,
        }
    }

    async fn finish(self) {
        self.handle.shutdown().await;
        support::drop_schema(self.schema);
    }

    async fn get(&self, token: &str, path: &str) -> (u16, Value) {
        self.send(token, "GET", path, None).await
    }

    /// Registers `token` for `user` of acme.
    async fn register(&self, user: &str, token: &str) {
        let (status, body) = self
            .send(
                ACME,
                "PUT",
                &format!("/v1/apps/acme/tokens/{token}"),
                Some(&json!({"user": user})),
            )
            .await;
        assert!(status == 201 || status == 200, "{body}");
    }

    /// Creates a call to alice of `app`; its call id.
    async fn call(&self, token: &str, app: &str, client_call_id: &str) -> String {
        let body = json!({"call_id": client_call_id, "caller": "Bob", "callee": "alice"});
        let (status, body) = self
            .send(token, "POST", &format!("/v1/apps/{app}/calls"), Some(&body))
            .await;
        assert_eq!(status, 201, "{body}");
        body["call"]["call_id"].as_str().unwrap().to_owned()
    }

    /// Every page of a list, following next_cursor from `first` (with the admin token).
    async fn pages(&self, first: &str, key: &str) -> Vec<Vec<Value>> {
        let mut pages = Vec::new();
        let mut path = first.to_owned();
        loop {
            let (status, page) = self.get(ADMIN, &path).await;
            assert_eq!(status, 200, "{path}: {page}");
            pages.push(page[key].as_array().unwrap().clone());
            let Some(next) = page["next_cursor"].as_str() else {
                return pages;
            };
            path = format!("{first}&cursor={next}");
            assert!(pages.len() < 100, "paging does not end");
        }
    }

    /// Waits (up to 5 s: the files are checked every second) for `token` on `path` to get
    /// `status`.
    async fn until_status(&self, token: &str, path: &str, status: u16) {
        let start = Instant::now();
        loop {
            let (got, body) = self.get(token, path).await;
            if got == status {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "still {got} after 5 s, not {status}: {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// One HTTP/1.1 request on its own connection, with `token` as the bearer token (none
    /// when empty); the status and JSON body (null when there is none).
    async fn send(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        request(self.handle.addr, token, method, path, body).await
    }
}

async fn request(
    addr: SocketAddr,
    token: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n");
    if !token.is_empty() {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    head.push_str(&format!(
        "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    ));
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("an answer within 10 s")
        .unwrap();
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
    let json = text
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str(body).ok())
        .unwrap_or(Value::Null);
    (status, json)
}

/// A device token (hex, 32 bytes) numbered `n`.
fn device(n: u32) -> String {
    format!("{n:064x}")
}

/// An RFC 3339 time as µs since the epoch.
fn micros(time: &Value) -> i64 {
    pushtrace_model::Timestamp::parse(time.as_str().unwrap())
        .unwrap()
        .utc_micros()
}

/// `+` in an offset is a space in a query string.
fn encode(time: &str) -> String {
    time.replace('+', "%2B")
}
