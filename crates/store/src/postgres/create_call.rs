//! `create_call` on PostgreSQL: the call, its attempts and its jobs in ONE statement.
//!
//! This is the gateway's hot path (one per call request), so it costs one round trip instead
//! of one per row plus BEGIN/COMMIT: data-modifying CTEs insert the call (`ON CONFLICT DO
//! NOTHING` on the client call id), then the attempts and jobs from arrays (`UNNEST`) only if
//! the call row was inserted. A single statement is atomic, and the foreign key from jobs to
//! the call is checked at its end, when the call row exists. A concurrent duplicate waits for
//! the first statement's commit, inserts nothing, and reads the winner's call.
//!
//! With an owner, the jobs already due at the call's creation (its first pushes) are inserted
//! claimed by it (`claims = 1`, leased), so the creating instance sends at once without a
//! claim's round trip, and no other instance can take them before its lease lapses.

use std::time::Duration;

use deadpool_postgres::Client;
use tokio_postgres::types::ToSql;

use super::calls::select_call;
use super::{PgStore, constraint, get};
use crate::error::QueryContext;
use crate::records::{attrs_to_json, lease_end, micros, time, to_i64};
use crate::{Attempt, Call, CallState, CreatedCall, NewCall, NewJob, PushPurpose, StoreError};

const OP: &str = "create_call";

const SQL: &str = "
WITH c AS (
    INSERT INTO calls (call_id, app, client_call_id, caller, callee, created_at, deadline,
                       attrs, state, state_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'ringing', $6)
    ON CONFLICT (app, client_call_id) DO NOTHING
    RETURNING call_id
), a AS (
    INSERT INTO attempts (push_id, call_id, app, token, topic, push_type, priority, expiration,
                          collapse_id, attempt, queued_at, sent_at, responded_at, apns_status,
                          apns_reason, apns_id, apns_unique_id, apns_timestamp, error, attrs,
                          purpose)
    SELECT * FROM UNNEST($9::TEXT[], $10::TEXT[], $11::TEXT[], $12::TEXT[], $13::TEXT[],
                         $14::TEXT[], $15::INTEGER[], $16::BIGINT[], $17::TEXT[],
                         $18::INTEGER[], $19::BIGINT[], $20::BIGINT[], $21::BIGINT[],
                         $22::INTEGER[], $23::TEXT[], $24::TEXT[], $25::TEXT[], $26::BIGINT[],
                         $27::TEXT[], $28::TEXT[], $35::TEXT[])
    WHERE EXISTS (SELECT 1 FROM c)
), j AS (
    INSERT INTO jobs (call_id, kind, push_id, due_at, owner, lease_until, claims)
    SELECT u.call_id, u.kind, u.push_id, u.due_at,
           CASE WHEN $33::TEXT IS NOT NULL AND u.due_at <= $6 THEN $33::TEXT END,
           CASE WHEN $33::TEXT IS NOT NULL AND u.due_at <= $6 THEN $34::BIGINT END,
           CASE WHEN $33::TEXT IS NOT NULL AND u.due_at <= $6 THEN 1 ELSE 0 END
    FROM UNNEST($29::TEXT[], $30::TEXT[], $31::TEXT[], $32::BIGINT[])
        WITH ORDINALITY AS u(call_id, kind, push_id, due_at, n)
    WHERE EXISTS (SELECT 1 FROM c)
    ORDER BY n
    RETURNING id
)
SELECT (SELECT count(*) FROM c), (SELECT array_agg(id ORDER BY id) FROM j)";

/// The attempts as one array per column.
#[derive(Default)]
struct AttemptColumns {
    push_id: Vec<String>,
    call_id: Vec<Option<String>>,
    app: Vec<String>,
    token: Vec<String>,
    topic: Vec<String>,
    push_type: Vec<String>,
    priority: Vec<i32>,
    expiration: Vec<i64>,
    collapse_id: Vec<Option<String>>,
    attempt: Vec<i32>,
    queued_at: Vec<i64>,
    sent_at: Vec<Option<i64>>,
    responded_at: Vec<Option<i64>>,
    apns_status: Vec<Option<i32>>,
    apns_reason: Vec<Option<String>>,
    apns_id: Vec<Option<String>>,
    apns_unique_id: Vec<Option<String>>,
    apns_timestamp: Vec<Option<i64>>,
    error: Vec<Option<String>>,
    attrs: Vec<String>,
    purpose: Vec<Option<&'static str>>,
}

impl AttemptColumns {
    fn new(attempts: &[Attempt]) -> Result<AttemptColumns, StoreError> {
        let mut c = AttemptColumns::default();
        for a in attempts {
            c.push_id.push(a.push_id.clone());
            c.call_id.push(a.call_id.clone());
            c.app.push(a.app.clone());
            c.token.push(a.token.clone());
            c.topic.push(a.topic.clone());
            c.push_type.push(a.push_type.to_string());
            c.priority.push(i32::from(a.priority));
            c.expiration.push(to_i64("expiration", a.expiration)?);
            c.collapse_id.push(a.collapse_id.clone());
            c.attempt.push(i32::try_from(a.attempt).map_err(|_| {
                StoreError::invalid("attempt", format!("{} is beyond 2^31 - 1", a.attempt))
            })?);
            c.queued_at.push(micros(a.queued_at));
            c.sent_at.push(a.sent_at.map(micros));
            c.responded_at.push(a.responded_at.map(micros));
            c.apns_status.push(a.apns_status.map(i32::from));
            c.apns_reason.push(a.apns_reason.clone());
            c.apns_id.push(a.apns_id.clone());
            c.apns_unique_id.push(a.apns_unique_id.clone());
            c.apns_timestamp.push(a.apns_timestamp.map(micros));
            c.error.push(a.error.clone());
            c.attrs.push(attrs_to_json(&a.attrs));
            c.purpose.push(a.purpose.map(PushPurpose::as_str));
        }
        Ok(c)
    }
}

impl PgStore {
    pub(crate) async fn create_call(
        &self,
        call: &NewCall,
        attempts: &[Attempt],
        jobs: &[NewJob],
        claim: Option<(&str, Duration)>,
    ) -> Result<CreatedCall, StoreError> {
        let a = AttemptColumns::new(attempts)?;
        let job_call: Vec<&str> = jobs.iter().map(|j| j.call_id.as_str()).collect();
        let job_kind: Vec<&str> = jobs.iter().map(|j| j.kind.parts().0).collect();
        let job_push: Vec<Option<&str>> = jobs.iter().map(|j| j.kind.parts().1).collect();
        let job_due: Vec<i64> = jobs.iter().map(|j| micros(j.due_at)).collect();
        let (created_at, deadline) = (micros(call.created_at), micros(call.deadline));
        let call_attrs = attrs_to_json(&call.attrs);
        let owner = claim.map(|(owner, _)| owner);
        let lease_until = claim.map(|(_, lease)| lease_end(call.created_at, lease));
        let params: [&(dyn ToSql + Sync); 35] = [
            &call.call_id,
            &call.app,
            &call.client_call_id,
            &call.caller,
            &call.callee,
            &created_at,
            &deadline,
            &call_attrs,
            &a.push_id,
            &a.call_id,
            &a.app,
            &a.token,
            &a.topic,
            &a.push_type,
            &a.priority,
            &a.expiration,
            &a.collapse_id,
            &a.attempt,
            &a.queued_at,
            &a.sent_at,
            &a.responded_at,
            &a.apns_status,
            &a.apns_reason,
            &a.apns_id,
            &a.apns_unique_id,
            &a.apns_timestamp,
            &a.error,
            &a.attrs,
            &job_call,
            &job_kind,
            &job_push,
            &job_due,
            &owner,
            &lease_until,
            &a.purpose,
        ];
        let client = self.client(OP).await?;
        let stmt = client.prepare_cached(SQL).await.op(OP)?;
        let row = client.query_one(&stmt, &params).await.map_err(|e| {
            constraint(
                e,
                OP,
                "call (its call_id, or a push_id, is already stored; or a job names another call)",
            )
        })?;
        let created: i64 = get(&row, 0, OP)?;
        if created == 0 {
            return existing(&client, call).await;
        }
        // Identity values are handed out in insertion order, which follows `n`.
        let job_ids: Vec<i64> = get::<Option<Vec<i64>>>(&row, 1, OP)?.unwrap_or_default();
        Ok(CreatedCall {
            call: Call {
                call_id: call.call_id.clone(),
                app: call.app.clone(),
                client_call_id: call.client_call_id.clone(),
                caller: call.caller.clone(),
                callee: call.callee.clone(),
                created_at: time(created_at),
                deadline: time(deadline),
                attrs: call.attrs.clone(),
                state: CallState::Ringing,
                state_at: time(created_at),
            },
            created: true,
            job_ids,
        })
    }
}

/// The call that won the client call id. Read on the same connection: asking the pool for
/// another while holding this one could deadlock once every connection holds a duplicate.
async fn existing(client: &Client, call: &NewCall) -> Result<CreatedCall, StoreError> {
    let found = select_call(
        client,
        "app = $1 AND client_call_id = $2",
        &[&call.app, &call.client_call_id],
        OP,
    )
    .await?;
    match found {
        Some(existing) => Ok(CreatedCall {
            call: existing,
            created: false,
            job_ids: Vec::new(),
        }),
        None => Err(StoreError::Query {
            op: OP,
            message: "postgresql: the client call id conflicted but no call holds it (deleted \
                      meanwhile?) — retry the request"
                .into(),
        }),
    }
}
