//! The emulator's clock: the system clock, or a manual one tests move by hand.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where the emulator reads "now" (JWT ages, token-update windows, rate windows, 410 timestamps,
/// receive times). Cloning a manual clock shares it: moving one moves every clone.
#[derive(Debug, Clone, Default)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// Milliseconds since the UNIX epoch, set by hand ([`Clock::set_ms`], [`Clock::advance`]).
    Manual(Arc<AtomicU64>),
}

impl Clock {
    /// A manual clock starting at `start_ms` (milliseconds since the UNIX epoch).
    pub fn manual(start_ms: u64) -> Clock {
        Clock::Manual(Arc::new(AtomicU64::new(start_ms)))
    }

    /// Now, in milliseconds since the UNIX epoch.
    pub fn now_ms(&self) -> u64 {
        match self {
            Clock::System => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
                .unwrap_or(0),
            Clock::Manual(ms) => ms.load(Ordering::SeqCst),
        }
    }

    /// Now, in whole seconds since the UNIX epoch.
    pub fn now_secs(&self) -> u64 {
        self.now_ms() / 1000
    }

    /// Sets a manual clock; returns `false` (and does nothing) for the system clock.
    pub fn set_ms(&self, now_ms: u64) -> bool {
        match self {
            Clock::System => false,
            Clock::Manual(ms) => {
                ms.store(now_ms, Ordering::SeqCst);
                true
            }
        }
    }

    /// Moves a manual clock forward; returns `false` (and does nothing) for the system clock.
    pub fn advance(&self, by: Duration) -> bool {
        match self {
            Clock::System => false,
            Clock::Manual(ms) => {
                let by = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
                ms.fetch_add(by, Ordering::SeqCst);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_is_shared_by_clones() {
        let clock = Clock::manual(1_000);
        let other = clock.clone();
        assert!(other.advance(Duration::from_secs(2)));
        assert_eq!(clock.now_ms(), 3_000);
        assert_eq!(clock.now_secs(), 3);
        assert!(clock.set_ms(10));
        assert_eq!(other.now_ms(), 10);
    }

    #[test]
    fn system_clock_cannot_be_moved() {
        let clock = Clock::System;
        assert!(!clock.advance(Duration::from_secs(1)));
        assert!(!clock.set_ms(0));
        assert!(clock.now_secs() > 1_700_000_000);
    }
}
