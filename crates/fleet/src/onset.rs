//! When a failure rate changed: change points in a daily (failures, attempts) series.
