#![no_main]
//! Fuzzes what the gateway reads from outside: receipt tokens (any text a device sends), the
//! JSON bodies of its API (calls, tokens, receipts) and its TOML config. None may panic.

use libfuzzer_sys::fuzz_target;
use pushtrace_gateway::GatewayConfig;
use pushtrace_gateway::engine::{CallRequest, ReceiptRequest, TokenRequest};
use pushtrace_gateway::receipt_token::ReceiptKey;

fuzz_target!(|data: &[u8]| {
    let key = ReceiptKey::new(&[7; 32]).unwrap();
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(claims) = key.verify(text, 0) {
            // Only a token this key signed verifies.
            assert_eq!(key.issue(&claims.push_id, &claims.call_id, claims.expires_ms), text);
        }
        let _ = GatewayConfig::from_toml(text, std::path::Path::new("fuzz.toml"))
            .map_err(|e| e.to_string());
    }
    let _ = serde_json::from_slice::<CallRequest>(data);
    let _ = serde_json::from_slice::<TokenRequest>(data);
    let _ = serde_json::from_slice::<ReceiptRequest>(data);
    // A token round trip with arbitrary ids (ids may hold any text but newlines).
    if let Ok(text) = std::str::from_utf8(data) {
        let ids: Vec<&str> = text.splitn(2, '\n').collect();
        if let [push, call] = ids[..] {
            if !call.contains('\n') {
                let token = key.issue(push, call, 5);
                let claims = key.verify(&token, 5).unwrap();
                assert_eq!((claims.push_id.as_str(), claims.call_id.as_str()), (push, call));
            }
        }
    }
});
