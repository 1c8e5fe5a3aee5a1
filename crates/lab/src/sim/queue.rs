//! The event queue: a binary heap ordered by time, then by insertion (ties keep their order,
//! so a run is reproducible).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::event::Event;

struct Entry {
    at: i64,
    seq: u64,
    event: Event,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Entry) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    // Reversed: `BinaryHeap` is a max-heap and the earliest event must come out first.
    fn cmp(&self, other: &Entry) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// Pending events of one device.
#[derive(Default)]
pub struct Queue {
    heap: BinaryHeap<Entry>,
    seq: u64,
}

impl Queue {
    pub fn push(&mut self, at: i64, event: Event) {
        self.seq += 1;
        self.heap.push(Entry {
            at,
            seq: self.seq,
            event,
        });
    }

    /// The next event at or before `end`.
    pub fn pop_until(&mut self, end: i64) -> Option<(i64, Event)> {
        if self.heap.peek()?.at >= end {
            return None;
        }
        self.heap.pop().map(|e| (e.at, e.event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_and_ties_in_insertion_order() {
        let mut q = Queue::default();
        q.push(5, Event::Call);
        q.push(1, Event::CellularCall);
        q.push(5, Event::NextCall);
        assert!(matches!(q.pop_until(10), Some((1, Event::CellularCall))));
        assert!(matches!(q.pop_until(10), Some((5, Event::Call))));
        assert!(q.pop_until(5).is_none());
        assert!(matches!(q.pop_until(10), Some((5, Event::NextCall))));
    }
}
