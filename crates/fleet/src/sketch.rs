//! Mergeable latency sketch with a stated relative error.
