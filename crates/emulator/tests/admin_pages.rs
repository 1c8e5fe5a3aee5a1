//! The admin API's lists page by cursor, completely and without repeats while pushes keep
//! arriving over TLS + HTTP/2; the logs are capped by count; bad paging parameters get JSON
//! errors naming the parameter.

mod common;

use std::collections::HashSet;

use common::admin::{Admin, admin_options};
use common::{OTHER_TOKEN, Req, TOKEN, TOPIC, connect, token};
use pushtrace_apns::Environment;
use pushtrace_emulator::{DeviceState, Settings};
use serde_json::Value;

/// An emulator without the per-token rate limit (these tests send many pushes to one token).
async fn start(max_records: Option<usize>) -> pushtrace_emulator::EmulatorHandle {
    common::builder()
        .device(Environment::Sandbox, TOPIC, token(OTHER_TOKEN))
        .settings(Settings {
            per_token_rate: None,
            delivery_log_max_records: max_records,
            ..Settings::default()
        })
        .admin(admin_options())
        .start()
        .await
        .unwrap()
}

/// A push whose body names it, so pages can be checked item by item.
fn push(n: usize) -> Req {
    Req::voip()
        .without("apns-id")
        .body(format!(r#"{{"push_id":"p-{n}"}}"#).into_bytes())
}

/// Every page of `list` from the start, following `next`; the items and the pages' sizes.
async fn all_pages(admin: &Admin, list: &str, key: &str, limit: usize) -> (Vec<Value>, usize) {
    let (mut items, mut pages, mut after) = (Vec::new(), 0, None::<String>);
    loop {
        let sep = if list.contains('?') { '&' } else { '?' };
        let mut path = format!("{list}{sep}limit={limit}");
        if let Some(after) = &after {
            path.push_str(&format!("&after={after}"));
        }
        let (status, page) = admin.get(&path).await;
        assert_eq!(status, 200, "{page}");
        let got = page[key].as_array().unwrap();
        assert!(got.len() <= limit, "{path}: {} items", got.len());
        items.extend(got.iter().cloned());
        pages += 1;
        match page["next"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => {
                assert!(page["next"].is_null(), "{page}");
                return (items, pages);
            }
        }
    }
}

fn push_ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|p| p["payload"]["push_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn pages_are_complete_and_never_repeat_while_pushes_arrive() {
    let emulator = start(None).await;
    let admin = Admin::new(&emulator);
    let client = connect(&emulator, Environment::Sandbox).await;
    const BEFORE: usize = 250;
    const DURING: usize = 250;
    for n in 0..BEFORE {
        assert_eq!(push(n).send(&client).await.unwrap().status, 200);
    }

    // Pushes keep arriving on another task while the lists are paged through.
    let sender = {
        let client = client.clone();
        tokio::spawn(async move {
            for n in BEFORE..BEFORE + DURING {
                assert_eq!(push(n).send(&client).await.unwrap().status, 200);
                tokio::task::yield_now().await;
            }
        })
    };
    let (pushes, pages) = all_pages(&admin, "/v1/pushes", "pushes", 7).await;
    let (records, _) = all_pages(&admin, "/v1/deliveries", "deliveries", 13).await;
    sender.await.unwrap();
    assert!(pages > BEFORE / 7, "{pages} pages");

    // What was paged is a prefix of the log in arrival order, holding at least every push
    // sent before paging began: no repeat, no gap.
    let seen = push_ids(&pushes);
    assert!(seen.len() >= BEFORE, "{} pushes", seen.len());
    let expected: Vec<String> = (0..seen.len()).map(|n| format!("p-{n}")).collect();
    assert_eq!(seen, expected);
    let ids: Vec<&str> = records
        .iter()
        .map(|r| r["apns_id"].as_str().unwrap())
        .collect();
    assert!(ids.len() >= BEFORE);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    let log = emulator.delivery_log();
    let in_order: Vec<String> = log.iter().map(|r| r.apns_id.to_string()).collect();
    assert_eq!(ids, in_order[..ids.len()]);

    // Once quiet, paging again gives all of them; the default page is 100.
    let (all, _) = all_pages(&admin, "/v1/pushes", "pushes", 1000).await;
    assert_eq!(all.len(), BEFORE + DURING);
    let (_, first) = admin.get("/v1/pushes").await;
    assert_eq!(first["pushes"].as_array().unwrap().len(), 100);
    assert_eq!(first["next"], "99");
}

#[tokio::test]
async fn a_pager_behind_a_steady_stream_of_pushes_reads_each_once_and_catches_up() {
    let emulator = start(None).await;
    let admin = Admin::new(&emulator);
    let client = connect(&emulator, Environment::Sandbox).await;
    let mut sent = 0;
    for _ in 0..20 {
        assert_eq!(push(sent).send(&client).await.unwrap().status, 200);
        sent += 1;
    }
    // Three new pushes between every two pages of five: the pager is always behind the log's
    // end, and new pushes land after its cursor.
    let (mut seen, mut after) = (Vec::new(), None::<String>);
    loop {
        let path = match &after {
            Some(after) => format!("/v1/pushes?limit=5&after={after}"),
            None => "/v1/pushes?limit=5".to_owned(),
        };
        let (status, page) = admin.get(&path).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(push_ids(page["pushes"].as_array().unwrap()));
        let Some(next) = page["next"].as_str() else {
            break;
        };
        after = Some(next.to_owned());
        for _ in 0..3 {
            assert_eq!(push(sent).send(&client).await.unwrap().status, 200);
            sent += 1;
        }
    }
    let expected: Vec<String> = (0..sent).map(|n| format!("p-{n}")).collect();
    assert_eq!(seen, expected);
    assert!(sent > 40, "{sent} pushes");
}

#[tokio::test]
async fn devices_page_in_their_order_and_stored_deliveries_filter_across_pages() {
    let emulator = start(None).await;
    let admin = Admin::new(&emulator);
    for n in 0..5u8 {
        let hex = format!("{n:02x}").repeat(32);
        emulator.register_device(pushtrace_emulator::Device::new(
            Environment::Production,
            "com.acme.call.voip",
            token(&hex),
        ));
    }
    let (devices, pages) = all_pages(&admin, "/v1/devices", "devices", 2).await;
    assert_eq!(pages, 4);
    let keys: Vec<(String, String)> = devices
        .iter()
        .map(|d| {
            (
                d["environment"].as_str().unwrap().to_owned(),
                d["token"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let listed: Vec<(String, String)> = emulator
        .devices()
        .iter()
        .map(|d| (d.environment.to_string(), d.token.to_string()))
        .collect();
    assert_eq!(keys, listed);
    assert_eq!(keys.len(), 7);

    // One stored push among many delivered ones is found through the pages.
    let client = connect(&emulator, Environment::Sandbox).await;
    emulator.set_device_state(
        Environment::Sandbox,
        &token(OTHER_TOKEN),
        DeviceState::Offline,
    );
    for n in 0..30 {
        assert_eq!(push(n).send(&client).await.unwrap().status, 200);
    }
    let stored = push(30)
        .path(format!("/3/device/{OTHER_TOKEN}"))
        .without("apns-expiration");
    assert_eq!(stored.send(&client).await.unwrap().status, 200);
    for n in 31..40 {
        assert_eq!(push(n).send(&client).await.unwrap().status, 200);
    }
    let (records, _) = all_pages(&admin, "/v1/deliveries?stored=true", "deliveries", 4).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["token"], OTHER_TOKEN);
}

#[tokio::test]
async fn the_logs_are_capped_by_count_oldest_first_keeping_stored_pushes() {
    let emulator = start(Some(5)).await;
    let admin = Admin::new(&emulator);
    let client = connect(&emulator, Environment::Sandbox).await;
    emulator.set_device_state(
        Environment::Sandbox,
        &token(OTHER_TOKEN),
        DeviceState::Offline,
    );
    let stored = push(0)
        .path(format!("/3/device/{OTHER_TOKEN}"))
        .without("apns-expiration");
    assert_eq!(stored.send(&client).await.unwrap().status, 200);
    for n in 1..=8 {
        assert_eq!(push(n).send(&client).await.unwrap().status, 200);
    }

    let (_, pushes) = admin.get("/v1/pushes").await;
    let kept = push_ids(pushes["pushes"].as_array().unwrap());
    assert_eq!(kept, ["p-4", "p-5", "p-6", "p-7", "p-8"]);
    assert_eq!(pushes["max_records"], 5);
    assert_eq!(pushes["dropped"]["by_count"], 4);
    assert_eq!(pushes["dropped"]["by_age"], 0);

    // The stored push keeps its record; the oldest finished ones went.
    let (_, log) = admin.get("/v1/deliveries").await;
    let tokens: Vec<&str> = log["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["token"].as_str().unwrap())
        .collect();
    assert_eq!(tokens, [OTHER_TOKEN, TOKEN, TOKEN, TOKEN, TOKEN]);
    assert_eq!(log["deliveries"][0]["stored"], true);
    assert_eq!(log["dropped"]["by_count"], 4);
    assert_eq!(log["max_records"], 5);
    assert_eq!(emulator.delivery_log().len(), 5);

    // Counts are not reduced by the cap.
    let (_, counts) = admin.get("/v1/counts").await;
    let received = counts["counts"][0]["count"].as_u64().unwrap();
    assert_eq!(received, 9);
}

#[tokio::test]
async fn bad_paging_parameters_get_json_errors_naming_them() {
    let emulator = start(None).await;
    let admin = Admin::new(&emulator);
    for (path, field, says) in [
        ("/v1/pushes?limit=0", "limit", "from 1 to 1000"),
        ("/v1/pushes?limit=1001", "limit", "from 1 to 1000"),
        ("/v1/pushes?limit=ten", "limit", "whole number"),
        (
            "/v1/pushes?after=yesterday",
            "after",
            "`next` of the previous page",
        ),
        ("/v1/pushes?page=2", "page", "unknown field"),
        ("/v1/deliveries?after=-1", "after", "cursor"),
        ("/v1/deliveries?limit=", "limit", "whole number"),
        (
            "/v1/deliveries?stored=maybe",
            "stored",
            "\"true\" or \"false\"",
        ),
        (
            "/v1/devices?after=sandbox",
            "after",
            "environment/token/topic",
        ),
        (
            "/v1/devices?after=staging/aabb/x.voip",
            "after",
            "device cursor",
        ),
        ("/v1/devices?limit=5000", "limit", "1000"),
    ] {
        let (status, answer) = admin.get(path).await;
        assert_eq!(status, 400, "{path}: {answer}");
        assert_eq!(answer["field"], field, "{path}: {answer}");
        let error = answer["error"].as_str().unwrap();
        assert!(error.contains(says), "{path}: {error}");
    }
    // A cursor past the end is a valid, empty last page.
    let (status, page) = admin.get("/v1/pushes?after=999999").await;
    assert_eq!(status, 200);
    assert_eq!(page["pushes"].as_array().unwrap().len(), 0);
    assert!(page["next"].is_null());
}
