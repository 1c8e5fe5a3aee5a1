//! APNs's side of one device, as the emulator implements it: one stored push per device and
//! topic (a newer one replaces it), `apns-expiration: 0` never stored, storage capped at 30
//! days; a power-restricted device receives only waking (priority 10) pushes.

/// The emulator's longest storage.
pub const MAX_STORAGE_MICROS: i64 = 30 * 86_400 * 1_000_000;

/// How APNs sees the device when a push comes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    Online,
    PowerRestricted,
    Offline,
    /// The device is gone but APNs's side of its connection has not timed out: APNs writes the
    /// push, the device never acknowledges it, and the attempt goes on over the device's next
    /// connection: delivered when it reconnects, whatever its expiration (Apple: one attempt
    /// may include retries over the device's interfaces and connections; the founding
    /// incident's `apns-expiration: 0` push; docs/lab.md).
    Unnoticed,
    /// A middlebox dropped the connection's server side and the device still believes it is
    /// connected: APNs writes to a dead connection as in [`Reach::Unnoticed`], with the same
    /// result once the device's keep-alive finds the connection dead and it reconnects.
    Severed,
}

impl Reach {
    pub fn reaches(self, waking: bool) -> bool {
        match self {
            Reach::Online => true,
            Reach::PowerRestricted => waking,
            Reach::Offline | Reach::Unnoticed | Reach::Severed => false,
        }
    }
}

/// A push APNs holds for the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stored {
    /// Index into the device's pushes.
    pub push: usize,
    pub waking: bool,
    /// `None`: held whatever its expiration (written to a connection APNs still believed up).
    pub expires_at: Option<i64>,
}

/// When a push sent at `now` with `expiration` (epoch seconds, 0 = none) stops being stored.
pub fn expires_at(now: i64, expiration: u64) -> Option<i64> {
    if expiration == 0 {
        return None;
    }
    let at = i64::try_from(expiration).unwrap_or(i64::MAX / 1_000_000) * 1_000_000;
    Some(at.min(now + MAX_STORAGE_MICROS))
}
