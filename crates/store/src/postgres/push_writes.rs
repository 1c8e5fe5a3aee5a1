//! The two writes around each push on PostgreSQL, batched ([`super::write_batch`]): "on the
//! wire" before the send, and APNs's answer with the end of the push's job after it.

use std::collections::HashSet;

use deadpool_postgres::Pool;
use pushtrace_model::Timestamp;

use super::PgStore;
use super::write_batch::{Batcher, Results};
use crate::error::QueryContext;
use crate::records::micros;
use crate::{AttemptAnswer, StoreError};

/// A push that goes on the wire.
pub(super) struct Sent {
    push_id: String,
    sent_at: i64,
}

/// A push's answer and the job that sent it.
pub(super) struct Finished {
    push_id: String,
    answer: AttemptAnswer,
    job_id: i64,
    owner: String,
}

/// The batched writes of one store (its clones share them).
#[derive(Clone)]
pub(super) struct PushWrites {
    sent: Batcher<Sent, ()>,
    finished: Batcher<Finished, bool>,
}

impl PushWrites {
    pub(super) fn new(pool: &Pool) -> PushWrites {
        PushWrites {
            sent: Batcher::new("mark_sent", pool.clone(), write_sent),
            finished: Batcher::new("finish_push", pool.clone(), write_finished),
        }
    }
}

impl PgStore {
    pub(crate) async fn mark_sent(
        &self,
        push_id: &str,
        sent_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.writes
            .sent
            .write(Sent {
                push_id: push_id.to_owned(),
                sent_at: micros(sent_at),
            })
            .await
    }

    pub(crate) async fn finish_push(
        &self,
        push_id: &str,
        answer: &AttemptAnswer,
        job_id: i64,
        owner: &str,
    ) -> Result<bool, StoreError> {
        self.writes
            .finished
            .write(Finished {
                push_id: push_id.to_owned(),
                answer: answer.clone(),
                job_id,
                owner: owner.to_owned(),
            })
            .await
    }
}

fn write_sent(pool: Pool, rows: Vec<Sent>) -> Results<()> {
    Box::pin(async move {
        const OP: &str = "mark_sent";
        let client = pool.get().await.op(OP)?;
        let stmt = client
            .prepare_cached(
                "UPDATE attempts SET sent_at = v.sent_at
                 FROM UNNEST($1::TEXT[], $2::BIGINT[]) AS v(push_id, sent_at)
                 WHERE attempts.push_id = v.push_id
                 RETURNING attempts.push_id",
            )
            .await
            .op(OP)?;
        let ids: Vec<&str> = rows.iter().map(|r| r.push_id.as_str()).collect();
        let at: Vec<i64> = rows.iter().map(|r| r.sent_at).collect();
        let updated = client.query(&stmt, &[&ids, &at]).await.op(OP)?;
        let found = updated
            .iter()
            .map(|row| super::get::<String>(row, 0, OP))
            .collect::<Result<HashSet<_>, _>>()?;
        Ok(rows.iter().map(|r| known(&found, OP, &r.push_id)).collect())
    })
}

/// The job is deleted only with its push's answer: a push that is not stored leaves its job
/// (and its caller an error), as the one-row write would.
const FINISH_SQL: &str = "
WITH v AS (
    SELECT * FROM UNNEST($1::TEXT[], $2::BIGINT[], $3::INTEGER[], $4::TEXT[], $5::TEXT[],
                         $6::TEXT[], $7::BIGINT[], $8::TEXT[], $9::BIGINT[], $10::TEXT[])
        AS v(push_id, responded_at, apns_status, apns_reason, apns_id, apns_unique_id,
             apns_timestamp, error, job_id, owner)
), a AS (
    UPDATE attempts SET responded_at = v.responded_at, apns_status = v.apns_status,
           apns_reason = v.apns_reason, apns_id = v.apns_id, apns_unique_id = v.apns_unique_id,
           apns_timestamp = v.apns_timestamp, error = v.error
    FROM v WHERE attempts.push_id = v.push_id
    RETURNING attempts.push_id
), j AS (
    DELETE FROM jobs USING v, a
    WHERE jobs.id = v.job_id AND jobs.owner = v.owner AND a.push_id = v.push_id
    RETURNING jobs.id
)
SELECT (SELECT array_agg(push_id) FROM a), (SELECT array_agg(id) FROM j)";

fn write_finished(pool: Pool, rows: Vec<Finished>) -> Results<bool> {
    Box::pin(async move {
        const OP: &str = "finish_push";
        let client = pool.get().await.op(OP)?;
        let stmt = client.prepare_cached(FINISH_SQL).await.op(OP)?;
        let ids: Vec<&str> = rows.iter().map(|r| r.push_id.as_str()).collect();
        let responded: Vec<i64> = rows.iter().map(|r| micros(r.answer.responded_at)).collect();
        let status: Vec<Option<i32>> = rows
            .iter()
            .map(|r| r.answer.apns_status.map(i32::from))
            .collect();
        let reason: Vec<Option<&str>> = rows
            .iter()
            .map(|r| r.answer.apns_reason.as_deref())
            .collect();
        let apns_id: Vec<Option<&str>> = rows.iter().map(|r| r.answer.apns_id.as_deref()).collect();
        let unique: Vec<Option<&str>> = rows
            .iter()
            .map(|r| r.answer.apns_unique_id.as_deref())
            .collect();
        let stamp: Vec<Option<i64>> = rows
            .iter()
            .map(|r| r.answer.apns_timestamp.map(micros))
            .collect();
        let error: Vec<Option<&str>> = rows.iter().map(|r| r.answer.error.as_deref()).collect();
        let job: Vec<i64> = rows.iter().map(|r| r.job_id).collect();
        let owner: Vec<&str> = rows.iter().map(|r| r.owner.as_str()).collect();
        let row = client
            .query_one(
                &stmt,
                &[
                    &ids, &responded, &status, &reason, &apns_id, &unique, &stamp, &error, &job,
                    &owner,
                ],
            )
            .await
            .op(OP)?;
        let answered: HashSet<String> = super::get::<Option<Vec<String>>>(&row, 0, OP)?
            .unwrap_or_default()
            .into_iter()
            .collect();
        let completed: HashSet<i64> = super::get::<Option<Vec<i64>>>(&row, 1, OP)?
            .unwrap_or_default()
            .into_iter()
            .collect();
        Ok(rows
            .iter()
            .map(|r| known(&answered, OP, &r.push_id).map(|()| completed.contains(&r.job_id)))
            .collect())
    })
}

fn known(found: &HashSet<String>, op: &'static str, push_id: &str) -> Result<(), StoreError> {
    if found.contains(push_id) {
        return Ok(());
    }
    Err(StoreError::invalid(
        "push_id",
        format!("{op}: no push attempt {push_id:?} is stored (insert the attempt first)"),
    ))
}
