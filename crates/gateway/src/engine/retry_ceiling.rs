//! The per-app ceiling on retries per second: each retry is given a send time of its own on a
//! calendar of evenly spaced slots, the first free one at or after the time its back-off asks for.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use pushtrace_model::Timestamp;

/// Hands out send times for one app's retries, at most `per_sec` in any one second.
///
/// Time is cut into slots of `1 s / per_sec` (rounded up to the microsecond). A retry takes the
/// first free slot that starts at or after the time its back-off asks for and is due at that
/// slot's start, so two retries are at least one slot apart and no second holds more than
/// `per_sec` of them. A retry is delayed only while the slots ahead of it are taken: a long
/// back-off reserved earlier leaves the slots before it to shorter ones, and a retry whose first
/// free slot lies past its window gets none (the caller gives it up instead of holding a slot).
///
/// The calendar is this instance's own: instances sharing a store each space the retries they
/// schedule, so N instances may together send N × `per_sec`. A slot is taken when the retry is
/// scheduled; one that is not sent after all (the call was answered) is simply left unused.
#[derive(Debug)]
pub(crate) struct RetryCeiling {
    /// Microseconds per slot; slot `k` starts at `k × slot_us` after the epoch.
    slot_us: i64,
    /// The taken slots as runs: first slot → one past the last. Runs never touch (adjacent
    /// runs are merged), so the end of a run is always free.
    taken: Mutex<BTreeMap<i64, i64>>,
}

impl RetryCeiling {
    /// A calendar of `per_sec` slots a second (at least one).
    pub(crate) fn new(per_sec: u32) -> RetryCeiling {
        // Rounded up: `per_sec` slots never fit in less than a second.
        let per_sec = i64::from(per_sec.max(1));
        RetryCeiling {
            slot_us: (1_000_000 + per_sec - 1) / per_sec,
            taken: Mutex::new(BTreeMap::new()),
        }
    }

    /// Takes the first free slot starting at or after `earliest` and before `end`, and answers
    /// its start; when there is none, takes nothing and says why. Slots that ended before `now`
    /// are forgotten.
    pub(crate) fn reserve(
        &self,
        now: Timestamp,
        earliest: Timestamp,
        end: Timestamp,
    ) -> Result<Timestamp, NoTurn> {
        let mut taken = self.taken.lock().unwrap_or_else(PoisonError::into_inner);
        let now_slot = now.utc_micros().div_euclid(self.slot_us);
        while let Some(run) = taken.first_entry() {
            if *run.get() > now_slot {
                break;
            }
            run.remove();
        }
        // The first slot starting at or after `earliest` (ceiling division).
        let first = -(-earliest.utc_micros()).div_euclid(self.slot_us);
        if first.saturating_mul(self.slot_us) >= end.utc_micros() {
            return Err(NoTurn::PastEnd);
        }
        let slot = match taken.range(..=first).next_back() {
            Some((_, &run_end)) if run_end > first => run_end,
            _ => first,
        };
        let at = slot.saturating_mul(self.slot_us);
        if at >= end.utc_micros() {
            return Err(NoTurn::Full);
        }
        let run_start = match taken.range(..slot).next_back() {
            Some((&start, &run_end)) if run_end == slot => start,
            _ => slot,
        };
        let run_end = taken.remove(&(slot + 1)).unwrap_or(slot + 1);
        taken.insert(run_start, run_end);
        Ok(Timestamp::from_utc_micros(at))
    }
}

/// Why [`RetryCeiling::reserve`] gave no slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoTurn {
    /// The first slot at or after the time asked for starts at or after the end: the window,
    /// not the ceiling, leaves no room.
    PastEnd,
    /// Every slot from the time asked for until the end is taken: the ceiling is the limit.
    Full,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(ms: i64) -> Timestamp {
        Timestamp::from_utc_micros(ms * 1000)
    }

    fn reserve(ceiling: &RetryCeiling, earliest: i64, end: i64) -> Result<i64, NoTurn> {
        ceiling
            .reserve(ms(0), ms(earliest), ms(end))
            .map(|t| t.utc_micros() / 1000)
    }

    #[test]
    fn retries_asking_for_the_same_time_are_spaced_one_slot_apart() {
        let ceiling = RetryCeiling::new(10);
        let due: Vec<Result<i64, NoTurn>> =
            (0..4).map(|_| reserve(&ceiling, 150, 10_000)).collect();
        assert_eq!(due, [Ok(200), Ok(300), Ok(400), Ok(500)]);
    }

    #[test]
    fn a_later_reservation_leaves_the_earlier_slots_free() {
        let ceiling = RetryCeiling::new(10);
        assert_eq!(reserve(&ceiling, 5_000, 10_000), Ok(5_000));
        assert_eq!(reserve(&ceiling, 200, 10_000), Ok(200));
        assert_eq!(reserve(&ceiling, 4_900, 10_000), Ok(4_900));
        // 4.9 s and 5 s are taken and form one run: the next is after both.
        assert_eq!(reserve(&ceiling, 4_900, 10_000), Ok(5_100));
        assert_eq!(reserve(&ceiling, 5_000, 10_000), Ok(5_200));
        assert_eq!(reserve(&ceiling, 200, 10_000), Ok(300));
    }

    #[test]
    fn no_slot_before_the_end_takes_nothing_and_says_why() {
        let ceiling = RetryCeiling::new(2);
        assert_eq!(reserve(&ceiling, 0, 1_000), Ok(0));
        assert_eq!(reserve(&ceiling, 0, 1_000), Ok(500));
        assert_eq!(reserve(&ceiling, 0, 1_000), Err(NoTurn::Full));
        // The refused one took nothing: a longer window gets the very next slot.
        assert_eq!(reserve(&ceiling, 0, 2_000), Ok(1_000));
        // Rounded up to the next slot, 1.9 s is at the end itself: the window is the limit.
        assert_eq!(reserve(&ceiling, 1_900, 2_000), Err(NoTurn::PastEnd));
        assert_eq!(reserve(&ceiling, 1_100, 2_000), Ok(1_500));
    }

    #[test]
    fn no_second_holds_more_than_the_ceiling() {
        let ceiling = RetryCeiling::new(7);
        let mut due: Vec<i64> = (0..200)
            .filter_map(|i| reserve(&ceiling, (i * 37) % 3_000, 60_000).ok())
            .collect();
        assert_eq!(due.len(), 200);
        due.sort_unstable();
        for pair in due.windows(8) {
            assert!(pair[7] - pair[0] >= 1_000, "{pair:?}");
        }
    }

    #[test]
    fn slots_in_the_past_are_forgotten() {
        let ceiling = RetryCeiling::new(1000);
        for _ in 0..100 {
            ceiling.reserve(ms(0), ms(0), ms(1_000)).unwrap();
        }
        ceiling.reserve(ms(5_000), ms(5_000), ms(6_000)).unwrap();
        assert_eq!(ceiling.taken.lock().unwrap().len(), 1);
    }
}
