//! Store and forward (docs/reference/apns.md §4.1, §6 items 9–11): device states, one stored push
//! per topic per device, expiration, the schedule, and the delivery log. Pure state driven by
//! explicit times: [`Store::advance`] processes everything due up to a time in time order, so a
//! manual clock makes it deterministic.
//!
//! Retention (docs/reference/apns.md §4.3, §6 item 11: the Console keeps 7 days of delivery logs):
//! a record whose latest event is older than the retention is dropped when the store is next
//! brought up to date, and so is an accepted push received before then. A record whose push is
//! still stored or waiting for its attempt is kept whatever its age, since it has events to come.
//! Records are keyed by an ever-growing number, so dropping one never renumbers the others. To keep
//! a request from scanning the whole log, the store keeps a lower bound of the latest-event times
//! (every logged time lowers it; a scan raises it) and scans only when that bound has aged out by a
//! sixteenth of the retention (at least a second): records may outlive the retention by that much,
//! and a busy emulator scans its log once per such period, not on every request. [`Store::counts`]
//! is not reduced by retention: it counts every event since start.
//!
//! Count cap: the logs hold at most `max_records` pushes each, so memory stays bounded however
//! fast pushes arrive within the retention. Past it, the oldest finished record (and the oldest
//! accepted push) goes first, on the push that crossed the cap; records of pushes still stored
//! or waiting are kept, as for retention, so the delivery log may exceed the cap by their
//! number. What either rule dropped is counted in [`LogDrops`].
//!
//! An accepted push and its record share their number, which is the admin API's page cursor:
//! numbers only grow, so a page "after n" neither repeats nor skips what arrives meanwhile.

use std::collections::{BTreeMap, HashMap, VecDeque};

use pushtrace_apns::{DeviceToken, Environment, Priority};

use crate::AcceptedPush;
use crate::delivery::{
    Category, Delivery, DeliveryEvent, DeliveryRecord, DeviceState, MAX_STORAGE_MS, ScheduleEntry,
};
use crate::devices::Lookup;

type DeviceKey = (Environment, DeviceToken);
type SlotKey = (Environment, DeviceToken, String);

/// What the store asks about a token's registration at a time.
pub(crate) type Registration<'a> = &'a dyn Fn(Environment, &DeviceToken, &str, u64) -> Lookup;

#[derive(Debug)]
struct Stored {
    record: usize,
    push: AcceptedPush,
    expires_at_ms: u64,
}

/// An `apns-expiration: 0` push waiting for its one (delayed) attempt.
#[derive(Debug)]
struct Pending {
    record: usize,
    push: AcceptedPush,
    due_ms: u64,
}

/// What is due next; at one instant, in this order (then by record, oldest first).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Due {
    Unregistered(SlotKey),
    Expired(SlotKey),
    Attempt(usize),
    Schedule,
}

impl Due {
    fn rank(&self) -> u8 {
        match self {
            Due::Unregistered(_) => 0,
            Due::Expired(_) => 1,
            Due::Attempt(_) => 2,
            Due::Schedule => 3,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Store {
    states: HashMap<DeviceKey, DeviceState>,
    slots: HashMap<SlotKey, Stored>,
    pending: Vec<Pending>,
    /// Sorted by time (stable: file order at one instant); `next` is the first not applied.
    schedule: Vec<ScheduleEntry>,
    next: usize,
    /// By record number, which only grows (see the module docs).
    records: BTreeMap<usize, DeliveryRecord>,
    next_record: usize,
    /// Every accepted push with its record's number, in arrival order.
    accepted: VecDeque<(usize, AcceptedPush)>,
    counts: BTreeMap<Category, u64>,
    /// Delay of the one attempt of an `apns-expiration: 0` push.
    immediate_delay_ms: u64,
    /// How long records and accepted pushes are kept after their latest event; `None`: forever.
    retention_ms: Option<u64>,
    /// No finished record's latest event, and no accepted push, is older than this.
    oldest_ms: u64,
    /// At most this many records and accepted pushes (see the module docs); `None`: no cap.
    max_records: Option<usize>,
    dropped: LogDrops,
}

/// What the logs dropped since start, by rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LogDrops {
    /// Delivery records older than the retention.
    pub(crate) records_by_age: u64,
    /// Delivery records past the count cap.
    pub(crate) records_by_count: u64,
    /// Accepted pushes older than the retention.
    pub(crate) pushes_by_age: u64,
    /// Accepted pushes past the count cap.
    pub(crate) pushes_by_count: u64,
}

fn waking(push: &AcceptedPush) -> bool {
    push.priority == Priority::Immediate
}

impl Store {
    pub(crate) fn new(immediate_delay_ms: u64, mut schedule: Vec<ScheduleEntry>) -> Store {
        schedule.sort_by_key(|e| e.at_ms);
        Store {
            immediate_delay_ms,
            schedule,
            ..Store::default()
        }
    }

    pub(crate) fn state(&self, environment: Environment, token: &DeviceToken) -> DeviceState {
        self.states
            .get(&(environment, token.clone()))
            .copied()
            .unwrap_or_default()
    }

    /// Sets how long records are kept after their latest event (`None`: forever).
    pub(crate) fn with_retention(mut self, retention_ms: Option<u64>) -> Store {
        self.retention_ms = retention_ms;
        self
    }

    /// Caps the logs at `max` pushes each (`None`: no cap; see the module docs).
    pub(crate) fn with_max_records(mut self, max: Option<usize>) -> Store {
        self.max_records = max;
        self
    }

    /// The delivery log, in arrival order.
    pub(crate) fn records(&self) -> impl DoubleEndedIterator<Item = &DeliveryRecord> {
        self.records.values()
    }

    /// The delivery log after record `after` (from the start with `None`), with each record's
    /// number, in arrival order.
    pub(crate) fn records_after(
        &self,
        after: Option<usize>,
    ) -> impl Iterator<Item = (usize, &DeliveryRecord)> {
        let from = after.map_or(0, |n| n.saturating_add(1));
        self.records.range(from..).map(|(n, record)| (*n, record))
    }

    /// The accepted pushes, in arrival order.
    pub(crate) fn accepted(&self) -> impl DoubleEndedIterator<Item = &AcceptedPush> {
        self.accepted.iter().map(|(_, push)| push)
    }

    /// The accepted pushes after number `after` (from the start with `None`), with each push's
    /// number, in arrival order.
    pub(crate) fn accepted_after(
        &self,
        after: Option<usize>,
    ) -> impl Iterator<Item = (usize, &AcceptedPush)> {
        let start = after.map_or(0, |n| self.accepted.partition_point(|(m, _)| *m <= n));
        self.accepted.range(start..).map(|(n, push)| (*n, push))
    }

    pub(crate) fn dropped(&self) -> LogDrops {
        self.dropped
    }

    pub(crate) fn counts(&self) -> &BTreeMap<Category, u64> {
        &self.counts
    }

    /// Records of the pushes stored now, in arrival order.
    pub(crate) fn stored(&self) -> Vec<DeliveryRecord> {
        let mut ids: Vec<usize> = self.slots.values().map(|s| s.record).collect();
        ids.sort_unstable();
        ids.into_iter()
            .filter_map(|i| self.records.get(&i).cloned())
            .collect()
    }

    fn log(&mut self, record: usize, at_ms: u64, category: Category) {
        let Some(entry) = self.records.get_mut(&record) else {
            // Only finished records are dropped, and they get no more events.
            return;
        };
        let events = &mut entry.events;
        // Events stay in order even when a due time precedes the latest event.
        let at_ms = events.last().map_or(at_ms, |e| e.at_ms.max(at_ms));
        events.push(DeliveryEvent { at_ms, category });
        self.oldest_ms = self.oldest_ms.min(at_ms);
        *self.counts.entry(category).or_default() += 1;
    }

    fn deliver(
        &mut self,
        record: usize,
        push: AcceptedPush,
        at_ms: u64,
        from_storage: bool,
        out: &mut Vec<Delivery>,
    ) {
        let category = if from_storage {
            Category::DeliveredFromStorage
        } else {
            Category::Delivered
        };
        self.log(record, at_ms, category);
        let delivered_at_ms = self
            .records
            .get(&record)
            .and_then(|r| r.events.last())
            .map_or(at_ms, |e| e.at_ms);
        out.push(Delivery {
            push,
            delivered_at_ms,
            from_storage,
        });
    }

    /// A push that passed every check, at its `received_at_ms` (call [`Store::advance`] up to
    /// that time first).
    pub(crate) fn receive(&mut self, push: AcceptedPush, out: &mut Vec<Delivery>) {
        self.log_push(push, out);
        self.cap_logs();
    }

    fn log_push(&mut self, push: AcceptedPush, out: &mut Vec<Delivery>) {
        let now = push.received_at_ms;
        self.oldest_ms = self.oldest_ms.min(now);
        let record = self.next_record;
        self.next_record += 1;
        self.accepted.push_back((record, push.clone()));
        self.records.insert(
            record,
            DeliveryRecord {
                environment: push.environment,
                apns_id: push.apns_id,
                unique_id: push.unique_id,
                token: push.token.clone(),
                topic: push.topic.clone(),
                events: Vec::new(),
            },
        );
        self.log(record, now, Category::Received);
        let state = self.state(push.environment, &push.token);
        let reached = state.reaches(waking(&push));
        let expires_at_ms = match push.expiration {
            Some(0) => {
                // One attempt, never stored (docs/reference/apns.md §4.1), optionally a little
                // later.
                if self.immediate_delay_ms > 0 {
                    let due_ms = now.saturating_add(self.immediate_delay_ms);
                    self.pending.push(Pending {
                        record,
                        push,
                        due_ms,
                    });
                } else if reached {
                    self.deliver(record, push, now, false, out);
                } else {
                    self.log(record, now, Category::DiscardedExpired);
                }
                return;
            }
            Some(secs) => secs
                .saturating_mul(1000)
                .min(now.saturating_add(MAX_STORAGE_MS)),
            None => now.saturating_add(MAX_STORAGE_MS),
        };
        if reached {
            self.deliver(record, push, now, false, out);
            return;
        }
        if expires_at_ms <= now {
            self.log(record, now, Category::DiscardedExpired);
            return;
        }
        let category = if state == DeviceState::Offline {
            Category::StoredDeviceOffline
        } else {
            Category::StoredPowerConsiderations
        };
        self.log(record, now, category);
        let key = (push.environment, push.token.clone(), push.topic.clone());
        let stored = Stored {
            record,
            push,
            expires_at_ms,
        };
        if let Some(old) = self.slots.insert(key, stored) {
            self.log(old.record, now, Category::DiscardedReplaced);
        }
    }

    /// Sets a device's state at `at_ms` and delivers what it can now receive from storage.
    pub(crate) fn set_state(
        &mut self,
        environment: Environment,
        token: &DeviceToken,
        state: DeviceState,
        at_ms: u64,
        out: &mut Vec<Delivery>,
    ) {
        self.states.insert((environment, token.clone()), state);
        let mut ready: Vec<SlotKey> = self
            .slots
            .iter()
            .filter(|((env, tok, _), s)| {
                *env == environment && tok == token && state.reaches(waking(&s.push))
            })
            .map(|(key, _)| key.clone())
            .collect();
        ready.sort_by_key(|key| self.slots[key].record);
        for key in ready {
            if let Some(stored) = self.slots.remove(&key) {
                self.deliver(stored.record, stored.push, at_ms, true, out);
            }
        }
    }

    /// The earliest event due at or before `now`.
    fn next_due(&self, now: u64, registration: Registration<'_>) -> Option<(u64, Due)> {
        let mut best: Option<(u64, u8, usize, Due)> = None;
        let mut offer = |at: u64, order: usize, due: Due| {
            let rank = due.rank();
            if at <= now
                && best
                    .as_ref()
                    .is_none_or(|b| (at, rank, order) < (b.0, b.1, b.2))
            {
                best = Some((at, rank, order, due));
            }
        };
        for (key, stored) in &self.slots {
            if let Lookup::Unregistered(at) = registration(key.0, &key.1, &key.2, now) {
                offer(at, stored.record, Due::Unregistered(key.clone()));
            }
            offer(
                stored.expires_at_ms,
                stored.record,
                Due::Expired(key.clone()),
            );
        }
        for (index, pending) in self.pending.iter().enumerate() {
            offer(pending.due_ms, pending.record, Due::Attempt(index));
        }
        if let Some(entry) = self.schedule.get(self.next) {
            offer(entry.at_ms, self.next, Due::Schedule);
        }
        best.map(|(at, _, _, due)| (at, due))
    }

    /// Applies, in time order, everything due at or before `now`: scheduled state changes,
    /// expirations, unregistrations of stored tokens and delayed attempts.
    pub(crate) fn advance(
        &mut self,
        now: u64,
        registration: Registration<'_>,
        out: &mut Vec<Delivery>,
    ) {
        while let Some((at, due)) = self.next_due(now, registration) {
            match due {
                Due::Unregistered(key) => {
                    if let Some(stored) = self.slots.remove(&key) {
                        let category = Category::DiscardedTokenUnregisteredFromStorage;
                        self.log(stored.record, at, category);
                    }
                }
                Due::Expired(key) => {
                    if let Some(stored) = self.slots.remove(&key) {
                        self.log(stored.record, at, Category::DiscardedExpired);
                    }
                }
                Due::Attempt(index) => {
                    let Pending { record, push, .. } = self.pending.remove(index);
                    let lookup = registration(push.environment, &push.token, &push.topic, at);
                    if matches!(lookup, Lookup::Unregistered(_)) {
                        self.log(record, at, Category::DiscardedTokenUnregistered);
                    } else if self
                        .state(push.environment, &push.token)
                        .reaches(waking(&push))
                    {
                        self.deliver(record, push, at, false, out);
                    } else {
                        self.log(record, at, Category::DiscardedExpired);
                    }
                }
                Due::Schedule => {
                    let entry = self.schedule[self.next].clone();
                    self.next += 1;
                    self.set_state(entry.environment, &entry.token, entry.state, at, out);
                }
            }
        }
        self.expire_logs(now);
    }

    /// Drops the records and accepted pushes past the retention (see the module docs).
    fn expire_logs(&mut self, now: u64) {
        let Some(retention) = self.retention_ms else {
            return;
        };
        let cutoff = now.saturating_sub(retention);
        // Scan in batches: only once the oldest record is past the cutoff by a sixteenth of the
        // retention (at least a second), so a busy emulator scans its log every so often rather
        // than on every request. Records live at most 1/16 longer than the retention.
        let slack = (retention / 16).max(1000);
        if self.oldest_ms.saturating_add(slack) >= cutoff {
            return;
        }
        let live: std::collections::HashSet<usize> = self
            .slots
            .values()
            .map(|s| s.record)
            .chain(self.pending.iter().map(|p| p.record))
            .collect();
        let mut oldest = u64::MAX;
        let (records, pushes) = (self.records.len(), self.accepted.len());
        self.records.retain(|id, record| {
            if live.contains(id) {
                return true;
            }
            let last = record.events.last().map_or(0, |e| e.at_ms);
            let keep = last >= cutoff;
            if keep {
                oldest = oldest.min(last);
            }
            keep
        });
        self.accepted.retain(|(_, push)| {
            let keep = push.received_at_ms >= cutoff;
            if keep {
                oldest = oldest.min(push.received_at_ms);
            }
            keep
        });
        self.oldest_ms = oldest;
        self.dropped.records_by_age += (records - self.records.len()) as u64;
        self.dropped.pushes_by_age += (pushes - self.accepted.len()) as u64;
    }

    /// Drops the oldest accepted pushes and finished records past the count cap (see the
    /// module docs).
    fn cap_logs(&mut self) {
        let Some(max) = self.max_records else {
            return;
        };
        while self.accepted.len() > max {
            self.accepted.pop_front();
            self.dropped.pushes_by_count += 1;
        }
        let excess = self.records.len().saturating_sub(max);
        if excess == 0 {
            return;
        }
        // A record is finished unless its push is stored (latest event a storage event) or
        // waiting for its delayed attempt (nothing logged after "Received"). Live records are
        // few (one stored push per topic per device), so skipping them costs little.
        let finished: Vec<usize> = self
            .records
            .iter()
            .filter(|(_, record)| {
                !(record.is_stored()
                    || record
                        .last()
                        .is_some_and(|e| e.category == Category::Received))
            })
            .map(|(n, _)| *n)
            .take(excess)
            .collect();
        for n in finished {
            self.records.remove(&n);
            self.dropped.records_by_count += 1;
        }
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
