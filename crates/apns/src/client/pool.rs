//! A pool of connections to one endpoint with one credential: it picks the least busy live
//! connection that the server lets open one more stream, opens connections (cold ones cost the
//! first send its connect time, later ones are reopened in the background), and holds a bounded
//! number of sends in flight — the rest wait for a slot instead of piling up in memory.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;

use super::connection::{ConnectSettings, Connection};
use super::outcome::SendError;
use super::{Endpoint, lock};

/// The first and the longest wait before reconnecting after a failed connect.
const BACKOFF_FIRST: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
struct Slot {
    connection: Option<Arc<Connection>>,
    connecting: bool,
    failures: u32,
    retry_at: Option<Instant>,
    last_error: Option<SendError>,
}

impl Slot {
    fn live(&self) -> Option<&Arc<Connection>> {
        self.connection.as_ref().filter(|c| c.is_usable())
    }
}

#[derive(Debug)]
pub(crate) struct PoolInner {
    pub(crate) endpoint: Endpoint,
    tls: Option<Arc<rustls::ClientConfig>>,
    settings: ConnectSettings,
    slots: Mutex<Vec<Slot>>,
    /// Notified when a stream ends, a connection opens or ends, or a stream limit changes.
    changed: Arc<Notify>,
    in_flight: Semaphore,
    keep_warm: bool,
}

/// What [`Pool::acquire`] hands out: a connection with one stream reserved on it.
pub(crate) struct Lease {
    pub(crate) connection: Arc<Connection>,
    /// Time spent opening (or waiting for) a connection.
    pub(crate) connect: Duration,
    /// Time spent waiting for a stream the server allows.
    pub(crate) waited: Duration,
    pool: Arc<PoolInner>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.connection.release();
        self.pool.changed.notify_waiters();
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Pool(pub(crate) Arc<PoolInner>);

impl Pool {
    pub(crate) fn new(
        endpoint: Endpoint,
        tls: Option<Arc<rustls::ClientConfig>>,
        settings: ConnectSettings,
        connections: usize,
        max_in_flight: usize,
        keep_warm: bool,
    ) -> Pool {
        let slots = (0..connections.max(1)).map(|_| Slot::default()).collect();
        Pool(Arc::new(PoolInner {
            endpoint,
            tls,
            settings,
            slots: Mutex::new(slots),
            changed: Arc::new(Notify::new()),
            in_flight: Semaphore::new(max_in_flight.max(1)),
            keep_warm,
        }))
    }

    /// Waits for an in-flight slot (back-pressure).
    pub(crate) async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, SendError> {
        self.0
            .in_flight
            .acquire()
            .await
            .map_err(|_| SendError::Closed)
    }

    /// Opens every connection now, so the first ring does not pay for TCP and TLS.
    pub(crate) async fn warm_up(&self) -> Result<(), SendError> {
        let count = lock(&self.0.slots).len();
        let mut last = Ok(());
        for index in 0..count {
            if let Err(e) = PoolInner::connect_slot(&self.0, index).await {
                last = Err(e);
            }
        }
        last
    }

    /// A connection with a stream reserved, waiting at most `deadline`.
    pub(crate) async fn acquire(&self, deadline: Instant) -> Result<Lease, SendError> {
        let started = Instant::now();
        let mut connect = Duration::ZERO;
        loop {
            let notified = self.0.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();

            let to_open = {
                let mut slots = lock(&self.0.slots);
                let best = slots
                    .iter()
                    .filter_map(Slot::live)
                    .filter(|c| {
                        c.in_flight.load(std::sync::atomic::Ordering::SeqCst) < c.max_streams()
                    })
                    .min_by_key(|c| c.in_flight.load(std::sync::atomic::Ordering::SeqCst))
                    .cloned();
                if let Some(connection) = best
                    && connection.try_reserve()
                {
                    let waited = started.elapsed().saturating_sub(connect);
                    return Ok(Lease {
                        connection,
                        connect,
                        waited,
                        pool: Arc::clone(&self.0),
                    });
                }
                let now = Instant::now();
                let openable = slots.iter().position(|s| {
                    s.live().is_none() && !s.connecting && s.retry_at.is_none_or(|at| at <= now)
                });
                if let Some(index) = openable {
                    slots[index].connecting = true;
                    Some(index)
                } else {
                    // Nothing live, nothing opening, every slot backing off: fail now rather
                    // than wait for a server that just refused us.
                    let hopeless = slots.iter().all(|s| s.live().is_none() && !s.connecting);
                    if hopeless {
                        let error = slots.iter().find_map(|s| s.last_error.clone());
                        return Err(error.unwrap_or(SendError::Closed));
                    }
                    None
                }
            };
            if let Some(index) = to_open {
                let opening = Instant::now();
                let opened = PoolInner::finish_connect(&self.0, index).await;
                connect += opening.elapsed();
                opened?;
                continue;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(SendError::Timeout(
                    deadline.saturating_duration_since(started),
                ));
            }
        }
    }
}

impl PoolInner {
    /// Opens the connection of a slot (marking it connecting first).
    async fn connect_slot(this: &Arc<PoolInner>, index: usize) -> Result<(), SendError> {
        {
            let mut slots = lock(&this.slots);
            let slot = &mut slots[index];
            if slot.live().is_some() || slot.connecting {
                return Ok(());
            }
            slot.connecting = true;
        }
        PoolInner::finish_connect(this, index).await
    }

    /// Opens the connection of a slot already marked connecting, and records the result.
    async fn finish_connect(this: &Arc<PoolInner>, index: usize) -> Result<(), SendError> {
        let opened = Connection::open(
            &this.endpoint,
            this.tls.as_ref(),
            &this.settings,
            Arc::clone(&this.changed),
            PoolInner::on_end(this, index),
        )
        .await;
        let result = {
            let mut slots = lock(&this.slots);
            let slot = &mut slots[index];
            slot.connecting = false;
            match opened {
                Ok(connection) => {
                    slot.connection = Some(connection);
                    slot.failures = 0;
                    slot.retry_at = None;
                    slot.last_error = None;
                    Ok(())
                }
                Err(error) => {
                    slot.failures = slot.failures.saturating_add(1);
                    let backoff = BACKOFF_FIRST
                        .saturating_mul(1 << slot.failures.min(16))
                        .min(BACKOFF_MAX);
                    slot.retry_at = Some(Instant::now() + backoff);
                    slot.last_error = Some(error.clone());
                    Err(error)
                }
            }
        };
        this.changed.notify_waiters();
        result
    }

    /// What a connection's driver calls when it ends: with keep-warm, reopen its slot in the
    /// background (with backoff) so the next ring finds a warm connection.
    fn on_end(this: &Arc<PoolInner>, index: usize) -> Box<dyn FnOnce() + Send> {
        let weak: Weak<PoolInner> = Arc::downgrade(this);
        let keep_warm = this.keep_warm;
        Box::new(move || {
            if keep_warm {
                tokio::spawn(PoolInner::reconnect(weak, index));
            }
        })
    }

    async fn reconnect(weak: Weak<PoolInner>, index: usize) {
        loop {
            let Some(pool) = weak.upgrade() else { return };
            let changed = Arc::clone(&pool.changed);
            let notified = changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let (live, connecting, retry_at) = {
                let slots = lock(&pool.slots);
                let slot = &slots[index];
                (slot.live().is_some(), slot.connecting, slot.retry_at)
            };
            if live {
                return;
            }
            if connecting {
                drop(pool);
                notified.await;
                continue;
            }
            if let Some(at) = retry_at.filter(|at| *at > Instant::now()) {
                drop(pool);
                tokio::time::sleep_until(at).await;
                continue;
            }
            let _ = PoolInner::connect_slot(&pool, index).await;
        }
    }
}
