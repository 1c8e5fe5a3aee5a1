//! Due work and its leases on PostgreSQL, shared by several gateway instances.

use std::time::Duration;

use deadpool_postgres::GenericClient;
use pushtrace_model::Timestamp;
use tokio_postgres::Row;

use super::{PgStore, constraint, get};
use crate::error::QueryContext;
use crate::records::{columns, from_i64, lease_end, micros, time};
use crate::{Job, JobKind, NewJob, StoreError};

impl PgStore {
    pub(crate) async fn add_job(&self, job: &NewJob) -> Result<i64, StoreError> {
        let client = self.client("add_job").await?;
        insert_job(&client, job, "add_job").await
    }

    pub(crate) async fn claim_due(
        &self,
        now: Timestamp,
        owner: &str,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Job>, StoreError> {
        const OP: &str = "claim_due";
        let client = self.client(OP).await?;
        // SKIP LOCKED: rows another instance is claiming right now are passed over, not waited
        // for; a row it already claimed fails the lease test when re-checked after its commit.
        let sql = format!(
            "WITH due AS (
                 SELECT id FROM jobs
                 WHERE due_at <= $3 AND (lease_until IS NULL OR lease_until <= $3)
                 ORDER BY due_at, id LIMIT $4
                 FOR UPDATE SKIP LOCKED)
             UPDATE jobs SET owner = $1, lease_until = $2, claims = claims + 1
             FROM due WHERE jobs.id = due.id
             RETURNING {}",
            prefixed_job_columns()
        );
        let stmt = client.prepare_cached(&sql).await.op(OP)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = client
            .query(
                &stmt,
                &[&owner, &lease_end(now, lease), &micros(now), &limit],
            )
            .await
            .op(OP)?;
        let mut jobs = rows
            .iter()
            .map(|row| job_row(row, OP))
            .collect::<Result<Vec<_>, _>>()?;
        // RETURNING gives no order; callers run the earliest first.
        jobs.sort_by_key(|job| (job.due_at, job.id));
        Ok(jobs)
    }

    pub(crate) async fn claim_job(
        &self,
        id: i64,
        now: Timestamp,
        owner: &str,
        lease: Duration,
    ) -> Result<Option<Job>, StoreError> {
        const OP: &str = "claim_job";
        let client = self.client(OP).await?;
        let sql = format!(
            "UPDATE jobs SET owner = $2, lease_until = $3, claims = claims + 1
             WHERE id = $1 AND (lease_until IS NULL OR lease_until <= $4)
             RETURNING {}",
            columns::JOB
        );
        let stmt = client.prepare_cached(&sql).await.op(OP)?;
        let row = client
            .query_opt(&stmt, &[&id, &owner, &lease_end(now, lease), &micros(now)])
            .await
            .op(OP)?;
        row.as_ref().map(|row| job_row(row, OP)).transpose()
    }

    pub(crate) async fn complete_job(&self, id: i64, owner: &str) -> Result<bool, StoreError> {
        const OP: &str = "complete_job";
        let client = self.client(OP).await?;
        let stmt = client
            .prepare_cached("DELETE FROM jobs WHERE id = $1 AND owner = $2")
            .await
            .op(OP)?;
        Ok(client.execute(&stmt, &[&id, &owner]).await.op(OP)? > 0)
    }

    pub(crate) async fn reschedule_job(
        &self,
        id: i64,
        owner: &str,
        due_at: Timestamp,
    ) -> Result<bool, StoreError> {
        const OP: &str = "reschedule_job";
        let client = self.client(OP).await?;
        let stmt = client
            .prepare_cached(
                "UPDATE jobs SET due_at = $3, owner = NULL, lease_until = NULL
                 WHERE id = $1 AND owner = $2",
            )
            .await
            .op(OP)?;
        let changed = client
            .execute(&stmt, &[&id, &owner, &micros(due_at)])
            .await
            .op(OP)?;
        Ok(changed > 0)
    }

    pub(crate) async fn next_due_at(&self) -> Result<Option<Timestamp>, StoreError> {
        const OP: &str = "next_due_at";
        let client = self.client(OP).await?;
        let stmt = client
            .prepare_cached("SELECT MIN(GREATEST(due_at, COALESCE(lease_until, due_at))) FROM jobs")
            .await
            .op(OP)?;
        let row = client.query_one(&stmt, &[]).await.op(OP)?;
        Ok(get::<Option<i64>>(&row, 0, OP)?.map(time))
    }

    pub(crate) async fn pending_jobs(&self) -> Result<u64, StoreError> {
        const OP: &str = "pending_jobs";
        let client = self.client(OP).await?;
        let stmt = client
            .prepare_cached("SELECT COUNT(*) FROM jobs")
            .await
            .op(OP)?;
        let row = client.query_one(&stmt, &[]).await.op(OP)?;
        from_i64("pending job count", get::<i64>(&row, 0, OP)?)
    }
}

pub(super) async fn insert_job<C: GenericClient>(
    client: &C,
    job: &NewJob,
    op: &'static str,
) -> Result<i64, StoreError> {
    let (kind, push_id) = job.kind.parts();
    let stmt = client
        .prepare_cached(
            "INSERT INTO jobs (call_id, kind, push_id, due_at) VALUES ($1, $2, $3, $4) \
             RETURNING id",
        )
        .await
        .op(op)?;
    let row = client
        .query_one(&stmt, &[&job.call_id, &kind, &push_id, &micros(job.due_at)])
        .await
        .map_err(|e| {
            constraint(
                e,
                op,
                &format!("job for call {:?} (no such call)", job.call_id),
            )
        })?;
    get(&row, 0, op)
}

/// The job columns qualified with the table (the claim joins `jobs` with its CTE).
fn prefixed_job_columns() -> String {
    columns::JOB
        .split(", ")
        .map(|c| format!("jobs.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn job_row(row: &Row, op: &'static str) -> Result<Job, StoreError> {
    Ok(Job {
        id: get(row, 0, op)?,
        call_id: get(row, 1, op)?,
        kind: JobKind::from_parts(get(row, 2, op)?, get(row, 3, op)?)?,
        due_at: time(get(row, 4, op)?),
        claims: from_i64("claims", i64::from(get::<i32>(row, 5, op)?))?,
    })
}
