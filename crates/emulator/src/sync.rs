//! The one locking rule every module shares: a poisoned mutex is still used.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, taking the data even when a task panicked while holding it: the emulator's
/// states are whole between statements, and one request's panic must not turn every later
/// request into a panic too.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
