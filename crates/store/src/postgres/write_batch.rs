//! Group commit on PostgreSQL for the writes every call makes: its creation (the call, its
//! pushes and jobs), "on the wire" right before each send, and APNs's answer together with the
//! end of its job right after it.
//!
//! Under load hundreds of each are due at once. One statement each costs a round trip, a
//! parse-bind-execute and a commit (a WAL flush) per row, on a server that shares the machine's
//! cores with the gateway. Here callers queue their rows; one task writes whatever queued up
//! while the previous statement ran as ONE multi-row statement (`INSERT … SELECT FROM UNNEST`,
//! `UPDATE … FROM UNNEST(…)`), and answers each caller once that statement is committed, so a
//! caller that goes on to send, or answers its client, has its rows on disk as before. Alone, a
//! write goes out at once; under load the batches grow with the load instead of the queue of
//! round trips.
//!
//! The task is started by the caller that finds none running and stops when the queue is empty,
//! so no task outlives the work or is tied to the runtime the store was opened on.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use deadpool_postgres::Pool;
use tokio::sync::oneshot;

use crate::StoreError;

/// Rows written in one statement at most (a bound on its parameters and on how long the rows
/// queued behind it wait).
const MAX_BATCH: usize = 512;

/// One caller's answer.
type Reply<R> = oneshot::Sender<Result<R, StoreError>>;

/// What writing a batch gives: one result per row, in the rows' order, or one error for all
/// of them.
pub(super) type Results<R> =
    Pin<Box<dyn Future<Output = Result<Vec<Result<R, StoreError>>, StoreError>> + Send>>;

/// Writes a batch.
pub(super) type WriteFn<T, R> = fn(Pool, Vec<T>) -> Results<R>;

/// A queue of rows of one kind and the task that writes them.
pub(super) struct Batcher<T, R> {
    op: &'static str,
    pool: Pool,
    write: WriteFn<T, R>,
    state: Arc<Mutex<State<T, R>>>,
}

impl<T, R> Clone for Batcher<T, R> {
    fn clone(&self) -> Self {
        Batcher {
            op: self.op,
            pool: self.pool.clone(),
            write: self.write,
            state: Arc::clone(&self.state),
        }
    }
}

struct State<T, R> {
    queue: Vec<(T, Reply<R>)>,
    /// A task is writing (it takes the queue again before it stops).
    running: bool,
}

impl<T: Send + 'static, R: Send + 'static> Batcher<T, R> {
    pub(super) fn new(op: &'static str, pool: Pool, write: WriteFn<T, R>) -> Batcher<T, R> {
        Batcher {
            op,
            pool,
            write,
            state: Arc::new(Mutex::new(State {
                queue: Vec::new(),
                running: false,
            })),
        }
    }

    /// Queues `row` and waits until the statement holding it is committed.
    pub(super) async fn write(&self, row: T) -> Result<R, StoreError> {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.queue.push((row, reply));
            !std::mem::replace(&mut state.running, true)
        };
        if start {
            // A task of its own: a caller dropped mid-write (its request gone) must not stop
            // the write the others in its batch wait for.
            tokio::spawn(self.clone().drain());
        }
        answer.await.unwrap_or_else(|_| {
            Err(StoreError::Query {
                op: self.op,
                message: "postgresql: the batched write did not complete (the runtime running \
                          it stopped) — retry"
                    .into(),
            })
        })
    }

    fn failed(&self, count: usize, message: String) -> Vec<Result<R, StoreError>> {
        (0..count)
            .map(|_| {
                Err(StoreError::Query {
                    op: self.op,
                    message: message.clone(),
                })
            })
            .collect()
    }

    async fn drain(self) {
        // Dropped with the task (the runtime shutting down) before the queue is empty: the
        // callers still queued get an error rather than waiting for ever, and the next caller
        // starts a new task.
        let mut guard = Cancelled {
            state: &self.state,
            armed: true,
        };
        loop {
            let batch: Vec<(T, Reply<R>)> = {
                let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                if state.queue.is_empty() {
                    state.running = false;
                    guard.armed = false;
                    return;
                }
                let take = state.queue.len().min(MAX_BATCH);
                state.queue.drain(..take).collect()
            };
            let (rows, replies): (Vec<T>, Vec<Reply<R>>) = batch.into_iter().unzip();
            let count = rows.len();
            let results = match (self.write)(self.pool.clone(), rows).await {
                Ok(results) if results.len() == count => results,
                // Every caller hears of it (and logs it with its job).
                Ok(results) => self.failed(
                    count,
                    format!(
                        "postgresql: the batched write answered {} rows of {count}",
                        results.len()
                    ),
                ),
                Err(StoreError::Query { message, .. }) => self.failed(count, message),
                Err(other) => self.failed(count, other.to_string()),
            };
            for (reply, result) in replies.into_iter().zip(results) {
                // The caller may have gone (its request dropped): nothing to tell it.
                let _ = reply.send(result);
            }
        }
    }
}

/// Empties the queue if the draining task is dropped before it finished.
struct Cancelled<'a, T, R> {
    state: &'a Mutex<State<T, R>>,
    armed: bool,
}

impl<T, R> Drop for Cancelled<'_, T, R> {
    fn drop(&mut self) {
        if self.armed {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.queue.clear();
            state.running = false;
        }
    }
}
