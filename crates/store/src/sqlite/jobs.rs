//! Due work and its leases on SQLite.
//!
//! One process normally owns a SQLite file, but the claims still run in `BEGIN IMMEDIATE`
//! transactions so that a second process on the same file (another instance by mistake, an
//! operator's tool) waits for the write lock instead of claiming from a stale snapshot.

use std::time::Duration;

use pushtrace_model::Timestamp;
use rusqlite::{Connection, Row, params};

use super::{SqliteStore, constraint, write_tx};
use crate::error::QueryContext;
use crate::records::{columns, lease_end, micros, time};
use crate::{Job, JobKind, NewJob, StoreError};

impl SqliteStore {
    pub(crate) async fn add_job(&self, job: &NewJob) -> Result<i64, StoreError> {
        let job = job.clone();
        self.run(move |conn| insert_job(conn, &job, "add_job"))
            .await
    }

    pub(crate) async fn claim_due(
        &self,
        now: Timestamp,
        owner: &str,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Job>, StoreError> {
        let owner = owner.to_string();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |conn| {
            const OP: &str = "claim_due";
            let tx = write_tx(conn, OP)?;
            let sql = format!(
                "UPDATE jobs SET owner = ?1, lease_until = ?2, claims = claims + 1
                 WHERE id IN (SELECT id FROM jobs
                              WHERE due_at <= ?3 AND (lease_until IS NULL OR lease_until <= ?3)
                              ORDER BY due_at, id LIMIT ?4)
                 RETURNING {}",
                columns::JOB
            );
            let mut jobs = {
                let mut stmt = tx.prepare_cached(&sql).op(OP)?;
                let mut rows = stmt
                    .query(params![owner, lease_end(now, lease), micros(now), limit])
                    .op(OP)?;
                let mut jobs = Vec::new();
                while let Some(row) = rows.next().op(OP)? {
                    jobs.push(job_row(row, OP)?);
                }
                jobs
            };
            tx.commit().op(OP)?;
            // RETURNING gives no order; callers run the earliest first.
            jobs.sort_by_key(|job| (job.due_at, job.id));
            Ok(jobs)
        })
        .await
    }

    pub(crate) async fn claim_job(
        &self,
        id: i64,
        now: Timestamp,
        owner: &str,
        lease: Duration,
    ) -> Result<Option<Job>, StoreError> {
        let owner = owner.to_string();
        self.run(move |conn| {
            const OP: &str = "claim_job";
            let sql = format!(
                "UPDATE jobs SET owner = ?2, lease_until = ?3, claims = claims + 1
                 WHERE id = ?1 AND (lease_until IS NULL OR lease_until <= ?4)
                 RETURNING {}",
                columns::JOB
            );
            let mut stmt = conn.prepare_cached(&sql).op(OP)?;
            let mut rows = stmt
                .query(params![id, owner, lease_end(now, lease), micros(now)])
                .op(OP)?;
            match rows.next().op(OP)? {
                Some(row) => job_row(row, OP).map(Some),
                None => Ok(None),
            }
        })
        .await
    }

    pub(crate) async fn complete_job(&self, id: i64, owner: &str) -> Result<bool, StoreError> {
        let owner = owner.to_string();
        self.run(move |conn| {
            let deleted = conn
                .prepare_cached("DELETE FROM jobs WHERE id = ?1 AND owner = ?2")
                .and_then(|mut s| s.execute(params![id, owner]))
                .op("complete_job")?;
            Ok(deleted > 0)
        })
        .await
    }

    pub(crate) async fn reschedule_job(
        &self,
        id: i64,
        owner: &str,
        due_at: Timestamp,
    ) -> Result<bool, StoreError> {
        let owner = owner.to_string();
        self.run(move |conn| {
            let changed = conn
                .prepare_cached(
                    "UPDATE jobs SET due_at = ?3, owner = NULL, lease_until = NULL
                     WHERE id = ?1 AND owner = ?2",
                )
                .and_then(|mut s| s.execute(params![id, owner, micros(due_at)]))
                .op("reschedule_job")?;
            Ok(changed > 0)
        })
        .await
    }

    pub(crate) async fn next_due_at(&self) -> Result<Option<Timestamp>, StoreError> {
        self.run(|conn| {
            conn.prepare_cached("SELECT MIN(MAX(due_at, COALESCE(lease_until, due_at))) FROM jobs")
                .and_then(|mut s| s.query_row([], |row| row.get::<_, Option<i64>>(0)))
                .op("next_due_at")
                .map(|at| at.map(time))
        })
        .await
    }

    pub(crate) async fn pending_jobs(&self) -> Result<u64, StoreError> {
        self.run(|conn| {
            let count: i64 = conn
                .prepare_cached("SELECT COUNT(*) FROM jobs")
                .and_then(|mut s| s.query_row([], |row| row.get(0)))
                .op("pending_jobs")?;
            Ok(count.unsigned_abs())
        })
        .await
    }
}

pub(super) fn insert_job(
    conn: &Connection,
    job: &NewJob,
    op: &'static str,
) -> Result<i64, StoreError> {
    insert_claimed_job(conn, job, None, op)
}

/// Inserts a job, free or (with `claimed`: its owner and lease end) already claimed once.
pub(super) fn insert_claimed_job(
    conn: &Connection,
    job: &NewJob,
    claimed: Option<(&str, i64)>,
    op: &'static str,
) -> Result<i64, StoreError> {
    let (kind, push_id) = job.kind.parts();
    let (owner, lease_until) = claimed.unzip();
    let claims = i64::from(claimed.is_some());
    conn.prepare_cached(
        "INSERT INTO jobs (call_id, kind, push_id, due_at, owner, lease_until, claims)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
    )
    .and_then(|mut s| {
        s.query_row(
            params![
                job.call_id,
                kind,
                push_id,
                micros(job.due_at),
                owner,
                lease_until,
                claims
            ],
            |row| row.get(0),
        )
    })
    .map_err(|e| {
        constraint(
            e,
            op,
            &format!("job for call {:?} (no such call)", job.call_id),
        )
    })
}

fn job_row(row: &Row<'_>, op: &'static str) -> Result<Job, StoreError> {
    let kind: String = row.get(2).op(op)?;
    Ok(Job {
        id: row.get(0).op(op)?,
        call_id: row.get(1).op(op)?,
        kind: JobKind::from_parts(&kind, row.get(3).op(op)?)?,
        due_at: time(row.get(4).op(op)?),
        claims: row.get(5).op(op)?,
    })
}
