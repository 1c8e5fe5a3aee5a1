//! Ids the gateway makes: call ids, push ids and webhook event ids, all UUIDs v7 (RFC 9562 §5.7:
//! the creation time in milliseconds, then 74 random bits).
//!
//! A push id doubles as the push's `apns-id`, so the id in our store, in APNs's answer and in
//! Apple's delivery tools is one and the same string (docs/reference/apns.md §1.2: the provider
//! may set `apns-id`, any canonical UUID). The random bits let several instances make ids without
//! coordinating; the time prefix makes the ids of one moment neighbours in the store's indexes.
//! With v4 ids every new call and push landed on a random leaf page of the primary-key indexes,
//! so each commit and each WAL checkpoint wrote a page per row instead of the few pages at the
//! indexes' right edges (on SQLite and PostgreSQL alike).

use pushtrace_apns::ApnsId;
use ring::rand::{SecureRandom, SystemRandom};

/// A new UUID v7 for now, lowercase with hyphens.
pub fn new_uuid() -> String {
    uuid_v7(crate::clock::millis(crate::clock::now()))
}

/// A UUID v7 whose time field is `unix_millis` (clamped to the field's 48 bits).
fn uuid_v7(unix_millis: i64) -> String {
    let mut bytes = [0u8; 16];
    if SystemRandom::new().fill(&mut bytes[6..]).is_err() {
        // The system RNG failing is not recoverable.
        panic!("the system random number generator failed");
    }
    let millis = u64::try_from(unix_millis).unwrap_or(0).min((1 << 48) - 1);
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    bytes[6] = (bytes[6] & 0x0f) | 0x70;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    ApnsId::from_bytes(bytes).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_uuid_v7_that_apns_accepts() {
        let id = new_uuid();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "7");
        assert!(
            matches!(&id[19..20], "8" | "9" | "a" | "b"),
            "variant bits 10: {id}"
        );
        assert!(ApnsId::parse(&id).is_ok());
        assert_ne!(id, new_uuid());
    }

    #[test]
    fn the_time_comes_first_so_later_ids_sort_after_earlier_ones() {
        // RFC 9562 appendix A.6's example time, 2022-02-22 19:22:22 UTC.
        let id = uuid_v7(0x017F_22E2_79B0);
        assert!(id.starts_with("017f22e2-79b0-7"), "{id}");
        let earlier = uuid_v7(1_764_900_000_000);
        let later = uuid_v7(1_764_900_000_001);
        assert!(earlier < later, "{earlier} !< {later}");
        // Out-of-range times clamp instead of wrapping.
        assert!(uuid_v7(-5).starts_with("00000000-0000-7"));
        assert!(uuid_v7(i64::MAX).starts_with("ffffffff-ffff-7"));
    }
}
