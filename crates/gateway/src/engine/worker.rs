//! The worker loop: claim what is due (retries, deadlines, work an instance left behind) and
//! run each job on its own task.

use std::time::Duration;

use tokio::sync::watch;

use super::Engine;
use crate::clock;

/// Jobs claimed per poll.
const CLAIM_BATCH: usize = 64;

impl Engine {
    /// Polls for due jobs every `interval` until `stop` turns true. A full batch polls again at
    /// once (a backlog after a restart drains at full speed).
    pub async fn run_worker(self, interval: Duration, mut stop: watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            let claimed = self
                .0
                .store
                .claim_due(clock::now(), &self.0.instance, self.0.lease, CLAIM_BATCH)
                .await;
            let full = match claimed {
                Ok(jobs) => {
                    let full = jobs.len() == CLAIM_BATCH;
                    for job in jobs {
                        let engine = self.clone();
                        tokio::spawn(async move { engine.run_job(job).await });
                    }
                    full
                }
                Err(e) => {
                    tracing::error!(error = %e, "looking for due jobs failed; polling again");
                    false
                }
            };
            if full {
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = stop.changed() => return,
            }
        }
    }
}
