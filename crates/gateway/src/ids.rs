//! Ids the gateway makes: call ids and push ids, both random UUIDs (v4).
//!
//! A push id doubles as the push's `apns-id`, so the id in our store, in APNs's answer and in
//! Apple's delivery tools is one and the same string (docs/reference/apns.md §1.2: the provider
//! may set `apns-id`). Random rather than sequential so several instances never collide without
//! coordinating.

use pushtrace_apns::ApnsId;
use ring::rand::{SecureRandom, SystemRandom};

/// A new random UUID v4, lowercase with hyphens.
pub fn new_uuid() -> String {
    let mut bytes = [0u8; 16];
    if SystemRandom::new().fill(&mut bytes).is_err() {
        // The system RNG failing is not recoverable.
        panic!("the system random number generator failed");
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    ApnsId::from_bytes(bytes).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_uuid_v4_that_apns_accepts() {
        let id = new_uuid();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(ApnsId::parse(&id).is_ok());
        assert_ne!(id, new_uuid());
    }
}
