//! `pushtrace serve`'s log as a pipeline reads it: with `[log] format = "json"` every stderr
//! line is one JSON object, and a failed push, a call's outcome and the stop each have their
//! line with the fields docs/gateway.md ("Operations") lists. The real `pushtrace serve` and
//! `pushtrace emulator` run in their own processes; the emulator refuses the first push with a
//! 503 and a token it does not know with 400 BadDeviceToken.

mod gateway_lab;
mod support;

use std::time::Duration;

use gateway_lab::{Backend, Device, Lab, LabSpec, token};
use serde_json::Value;

#[test]
fn json_log_has_a_line_per_failed_push_call_outcome_and_the_stop() {
    let phone = Device::voip(1, "online");
    let mut spec = LabSpec::new(Backend::Sqlite);
    spec.devices = vec![phone.clone()];
    spec.emulator_extra =
        "[[faults]]\nfault = { kind = \"status\", reason = \"ServiceUnavailable\" }\n\
                           probability = 1.0\ntimes = 1\n"
            .into();
    let mut lab = Lab::start(spec);
    // The same gateway (config, store) started again with JSON logs.
    let mut config = std::fs::read_to_string(&lab.gateway_config).unwrap();
    config.push_str("\n[log]\nformat = \"json\"\nlevel = \"info\"\n");
    std::fs::write(&lab.gateway_config, config).unwrap();
    lab.restart_gateway_after_kill9();

    // Alice's first push gets the 503 and is retried; the retry rings.
    lab.register("alice", &phone.token, "voip");
    let alice = call_id(&lab.call("log-call-1", "alice"));
    lab.wait_for(&alice, Duration::from_secs(10), |t| {
        t["call"]["state"] == "delivered"
    });
    // Dave's token is not one the emulator knows: refused for good, the token invalidated,
    // and with nothing left to ring the call fails.
    let unknown = token(9, 1);
    lab.register("dave", &unknown, "voip");
    let dave = call_id(&lab.call("log-call-2", "dave"));
    lab.wait_for(&dave, Duration::from_secs(10), |t| {
        t["call"]["state"] == "failed"
    });
    let (status, body) = lab.api("POST", &format!("/v1/calls/{alice}/cancel"), None);
    assert_eq!(status, 200, "{body}");

    // SIGTERM, then the whole of stderr.
    let pid = lab.gateway.child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let stopped = lab.gateway.child.wait().unwrap();
    let stderr = std::fs::read_to_string(&lab.gateway.stderr).unwrap();
    assert!(stopped.success(), "{stderr}");

    let lines: Vec<Value> = stderr
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line:?}\n{stderr}"))
        })
        .collect();
    for line in &lines {
        for field in ["timestamp", "level", "target", "message"] {
            assert!(line[field].is_string(), "{field} in {line}");
        }
    }
    let find = |what: &str, matches: &dyn Fn(&Value) -> bool| -> Value {
        lines
            .iter()
            .find(|l| matches(l))
            .cloned()
            .unwrap_or_else(|| panic!("no line for {what} in:\n{stderr}"))
    };
    let failed = |l: &Value| l["message"] == "push failed";

    let refused_503 = find("the 503", &|l| failed(l) && l["status"] == 503);
    assert_eq!(refused_503["level"], "WARN");
    assert_eq!(refused_503["app"], "acme");
    assert_eq!(refused_503["call_id"], alice.as_str());
    assert_eq!(refused_503["reason"], "ServiceUnavailable");
    assert_eq!(refused_503["attempt"], 1);
    assert_eq!(refused_503["push_type"], "voip");
    assert_eq!(refused_503["will_retry"], true);
    assert_eq!(refused_503["then"], "retry");
    assert!(refused_503["retry_at"].is_string(), "{refused_503}");
    assert!(refused_503["push_id"].is_string(), "{refused_503}");
    assert!(refused_503["apns_id"].is_string(), "{refused_503}");

    let refused_400 = find("the BadDeviceToken", &|l| failed(l) && l["status"] == 400);
    assert_eq!(refused_400["call_id"], dave.as_str());
    assert_eq!(refused_400["reason"], "BadDeviceToken");
    assert_eq!(refused_400["will_retry"], false);
    assert_eq!(refused_400["then"], "token_invalidated");
    assert!(refused_400["action"].is_string(), "{refused_400}");

    for (call, outcome) in [
        (&alice, "delivered"),
        (&dave, "failed"),
        (&alice, "cancelled"),
    ] {
        let line = find(outcome, &|l| {
            l["call_id"] == call.as_str() && l["outcome"] == outcome
        });
        assert_eq!(line["level"], "INFO", "{line}");
        assert_eq!(line["app"], "acme", "{line}");
    }
    let stopping = find("the stop", &|l| {
        l["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("stopping"))
    });
    assert_eq!(stopping["signal"], "SIGTERM");
    let last = lines.last().unwrap();
    assert_eq!(last["message"], "stopped", "{stderr}");
}

fn call_id(created: &Value) -> String {
    created["call"]["call_id"].as_str().unwrap().to_owned()
}
