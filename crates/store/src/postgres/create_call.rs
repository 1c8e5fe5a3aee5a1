//! `create_call` on PostgreSQL: the calls created within the same moment, their attempts and
//! their jobs in ONE statement and one commit.
//!
//! This is the gateway's hot path (one per call request). A statement per call cost a round
//! trip, a parse-bind-execute, a snapshot and a commit (a WAL flush) per call, on a server that
//! shares the machine's cores with the gateway. So the requests queue (`write_batch`): one task
//! writes whatever queued while the previous statement ran, and each request is answered only
//! once the statement holding its call is committed, as before. Alone, a call goes out at once.
//!
//! The statement: data-modifying CTEs insert the calls (`ON CONFLICT DO NOTHING` on the client
//! call id), then the attempts and jobs from arrays (`UNNEST`) of the calls that were inserted.
//! A statement is atomic, and the foreign key from jobs to calls is checked at its end, when
//! the call rows exist. A duplicate, in the same batch or a concurrent one (another instance's
//! too), inserts nothing and reads the winner's call after the commit. The rows go in sorted by
//! (app, client call id), so two batches take the unique index's locks in the same order and
//! never deadlock. A batch that fails (a push id already stored, say) is written again call by
//! call, so only the faulty request hears of the error.
//!
//! With an owner, the jobs already due at the call's creation (its first pushes) are inserted
//! claimed by it (`claims = 1`, leased), so the creating instance sends at once without a
//! claim's round trip, and no other instance can take them before its lease lapses.

use std::collections::HashSet;
use std::time::Duration;

use deadpool_postgres::{Client, Pool};
use tokio_postgres::types::ToSql;

use super::calls::select_call;
use super::write_batch::{Batcher, Results};
use super::{PgStore, constraint, get};
use crate::error::QueryContext;
use crate::records::{attrs_to_json, lease_end, micros, time, to_i64};
use crate::{Attempt, Call, CallState, CreatedCall, NewCall, NewJob, PushPurpose, StoreError};

const OP: &str = "create_call";

const SQL: &str = "
WITH c AS (
    INSERT INTO calls (call_id, app, client_call_id, caller, callee, created_at, deadline,
                       attrs, state, state_at)
    SELECT v.call_id, v.app, v.client_call_id, v.caller, v.callee, v.created_at, v.deadline,
           v.attrs, 'ringing', v.created_at
    FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::BIGINT[],
                $7::BIGINT[], $8::TEXT[])
        AS v(call_id, app, client_call_id, caller, callee, created_at, deadline, attrs)
    ON CONFLICT (app, client_call_id) DO NOTHING
    RETURNING call_id
), a AS (
    INSERT INTO attempts (push_id, call_id, app, token, topic, push_type, priority, expiration,
                          collapse_id, attempt, queued_at, sent_at, responded_at, apns_status,
                          apns_reason, apns_id, apns_unique_id, apns_timestamp, error, attrs,
                          purpose)
    SELECT u.push_id, u.call_id, u.app, u.token, u.topic, u.push_type, u.priority,
           u.expiration, u.collapse_id, u.attempt, u.queued_at, u.sent_at, u.responded_at,
           u.apns_status, u.apns_reason, u.apns_id, u.apns_unique_id, u.apns_timestamp,
           u.error, u.attrs, u.purpose
    FROM UNNEST($9::TEXT[], $10::TEXT[], $11::TEXT[], $12::TEXT[], $13::TEXT[], $14::TEXT[],
                $15::INTEGER[], $16::BIGINT[], $17::TEXT[], $18::INTEGER[], $19::BIGINT[],
                $20::BIGINT[], $21::BIGINT[], $22::INTEGER[], $23::TEXT[], $24::TEXT[],
                $25::TEXT[], $26::BIGINT[], $27::TEXT[], $28::TEXT[], $29::TEXT[], $30::TEXT[])
        AS u(push_id, call_id, app, token, topic, push_type, priority, expiration, collapse_id,
             attempt, queued_at, sent_at, responded_at, apns_status, apns_reason, apns_id,
             apns_unique_id, apns_timestamp, error, attrs, purpose, of_call)
    WHERE u.of_call IN (SELECT call_id FROM c)
), j AS (
    INSERT INTO jobs (call_id, kind, push_id, due_at, owner, lease_until, claims)
    SELECT u.call_id, u.kind, u.push_id, u.due_at, u.owner, u.lease_until, u.claims
    FROM UNNEST($31::TEXT[], $32::TEXT[], $33::TEXT[], $34::TEXT[], $35::BIGINT[], $36::TEXT[],
                $37::BIGINT[], $38::INTEGER[])
        WITH ORDINALITY AS u(of_call, call_id, kind, push_id, due_at, owner, lease_until,
                             claims, n)
    WHERE u.of_call IN (SELECT call_id FROM c)
    ORDER BY n
    RETURNING id
)
SELECT ARRAY(SELECT call_id FROM c), ARRAY(SELECT id FROM j ORDER BY id)";

/// One request: a call to create with its attempts and jobs.
pub(super) struct Creation {
    call: NewCall,
    attempts: Vec<Attempt>,
    jobs: Vec<NewJob>,
    /// The owner that takes the jobs due at creation, and for how long.
    claim: Option<(String, Duration)>,
}

/// The queue of creations of one store (its clones share it).
pub(super) type Creations = Batcher<Creation, CreatedCall>;

pub(super) fn creations(pool: &Pool) -> Creations {
    Batcher::new(OP, pool.clone(), write_creations)
}

impl PgStore {
    pub(crate) async fn create_call(
        &self,
        call: &NewCall,
        attempts: &[Attempt],
        jobs: &[NewJob],
        claim: Option<(&str, Duration)>,
    ) -> Result<CreatedCall, StoreError> {
        // Checked here, not in the batch: a value out of range is this request's fault alone.
        for a in attempts {
            check_attempt(a)?;
        }
        self.creates
            .write(Creation {
                call: call.clone(),
                attempts: attempts.to_vec(),
                jobs: jobs.to_vec(),
                claim: claim.map(|(owner, lease)| (owner.to_owned(), lease)),
            })
            .await
    }
}

fn check_attempt(a: &Attempt) -> Result<(), StoreError> {
    to_i64("expiration", a.expiration)?;
    i32::try_from(a.attempt)
        .map_err(|_| StoreError::invalid("attempt", format!("{} is beyond 2^31 - 1", a.attempt)))?;
    Ok(())
}

fn write_creations(pool: Pool, rows: Vec<Creation>) -> Results<CreatedCall> {
    Box::pin(async move {
        let client = pool.get().await.op(OP)?;
        // Written in (app, client call id) order; answered in the callers' (the batcher
        // answers row i with result i). Stable: of two requests with the same client call id,
        // the first to come wins.
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by(|&x, &y| {
            let key = |i: usize| (&rows[i].call.app, &rows[i].call.client_call_id);
            key(x).cmp(&key(y))
        });
        let sorted: Vec<&Creation> = order.iter().map(|&i| &rows[i]).collect();
        let inserted = match insert(&client, &sorted).await {
            Ok(inserted) => inserted,
            Err(e) if rows.len() == 1 => return Ok(vec![Err(e)]),
            Err(_) => {
                // One request's fault (or a lost connection, which each then reports).
                let mut results = Vec::with_capacity(rows.len());
                for row in &rows {
                    results.push(match insert(&client, &[row]).await {
                        Ok(mut inserted) => match inserted.pop() {
                            Some(result) => answer(&client, row, result).await,
                            None => Err(lost()),
                        },
                        Err(e) => Err(e),
                    });
                }
                return Ok(results);
            }
        };
        let mut by_row: Vec<Option<Option<Vec<i64>>>> = vec![None; rows.len()];
        for (&i, result) in order.iter().zip(inserted) {
            by_row[i] = Some(result);
        }
        let mut results = Vec::with_capacity(rows.len());
        for (row, result) in rows.iter().zip(by_row) {
            results.push(match result {
                Some(result) => answer(&client, row, result).await,
                None => Err(lost()),
            });
        }
        Ok(results)
    })
}

/// Writes `rows` in one statement: for each, in the same order, its job ids if its call was
/// inserted, `None` if a call with its client call id was there first.
async fn insert(client: &Client, rows: &[&Creation]) -> Result<Vec<Option<Vec<i64>>>, StoreError> {
    let c = CallColumns::new(rows);
    let a = AttemptColumns::new(rows);
    let j = JobColumns::new(rows);
    let params: [&(dyn ToSql + Sync); 38] = [
        &c.call_id,
        &c.app,
        &c.client_call_id,
        &c.caller,
        &c.callee,
        &c.created_at,
        &c.deadline,
        &c.attrs,
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
        &a.purpose,
        &a.of_call,
        &j.of_call,
        &j.call_id,
        &j.kind,
        &j.push_id,
        &j.due_at,
        &j.owner,
        &j.lease_until,
        &j.claims,
    ];
    let stmt = client.prepare_cached(SQL).await.op(OP)?;
    let written = client.query_one(&stmt, &params).await.map_err(|e| {
        constraint(
            e,
            OP,
            "call (its call_id, or a push_id, is already stored; or a job names another call)",
        )
    })?;
    let mut created: HashSet<String> = get::<Vec<String>>(&written, 0, OP)?.into_iter().collect();
    // Identity values are handed out in insertion order, which follows the rows and, within
    // a row, its jobs as given: the ids in ascending order are the inserted calls' jobs in turn.
    let mut ids = get::<Vec<i64>>(&written, 1, OP)?.into_iter();
    let mut inserted = Vec::with_capacity(rows.len());
    for row in rows {
        // Taken out of the set: a second request with the same call id and client call id
        // found the first's call, it inserted nothing.
        if created.remove(&row.call.call_id) {
            inserted.push(Some(ids.by_ref().take(row.jobs.len()).collect()));
        } else {
            inserted.push(None);
        }
    }
    Ok(inserted)
}

/// The caller's answer: its new call, or the call that won its client call id.
async fn answer(
    client: &Client,
    row: &Creation,
    inserted: Option<Vec<i64>>,
) -> Result<CreatedCall, StoreError> {
    let Some(job_ids) = inserted else {
        return existing(client, &row.call).await;
    };
    let call = &row.call;
    Ok(CreatedCall {
        call: Call {
            call_id: call.call_id.clone(),
            app: call.app.clone(),
            client_call_id: call.client_call_id.clone(),
            caller: call.caller.clone(),
            callee: call.callee.clone(),
            // As stored (to the microsecond), as a read would give them.
            created_at: time(micros(call.created_at)),
            deadline: time(micros(call.deadline)),
            attrs: call.attrs.clone(),
            state: CallState::Ringing,
            state_at: time(micros(call.created_at)),
        },
        created: true,
        job_ids,
    })
}

fn lost() -> StoreError {
    StoreError::Query {
        op: OP,
        message: "postgresql: the batched create answered nothing for a call — retry".into(),
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

/// The calls as one array per column.
#[derive(Default)]
struct CallColumns<'r> {
    call_id: Vec<&'r str>,
    app: Vec<&'r str>,
    client_call_id: Vec<&'r str>,
    caller: Vec<&'r str>,
    callee: Vec<&'r str>,
    created_at: Vec<i64>,
    deadline: Vec<i64>,
    attrs: Vec<String>,
}

impl<'r> CallColumns<'r> {
    fn new(rows: &[&'r Creation]) -> CallColumns<'r> {
        let mut c = CallColumns::default();
        for row in rows {
            let call = &row.call;
            c.call_id.push(&call.call_id);
            c.app.push(&call.app);
            c.client_call_id.push(&call.client_call_id);
            c.caller.push(&call.caller);
            c.callee.push(&call.callee);
            c.created_at.push(micros(call.created_at));
            c.deadline.push(micros(call.deadline));
            c.attrs.push(attrs_to_json(&call.attrs));
        }
        c
    }
}

/// The attempts as one array per column, with the call of the request each belongs to.
#[derive(Default)]
struct AttemptColumns<'r> {
    push_id: Vec<&'r str>,
    call_id: Vec<Option<&'r str>>,
    app: Vec<&'r str>,
    token: Vec<&'r str>,
    topic: Vec<&'r str>,
    push_type: Vec<String>,
    priority: Vec<i32>,
    expiration: Vec<i64>,
    collapse_id: Vec<Option<&'r str>>,
    attempt: Vec<i32>,
    queued_at: Vec<i64>,
    sent_at: Vec<Option<i64>>,
    responded_at: Vec<Option<i64>>,
    apns_status: Vec<Option<i32>>,
    apns_reason: Vec<Option<&'r str>>,
    apns_id: Vec<Option<&'r str>>,
    apns_unique_id: Vec<Option<&'r str>>,
    apns_timestamp: Vec<Option<i64>>,
    error: Vec<Option<&'r str>>,
    attrs: Vec<String>,
    purpose: Vec<Option<&'static str>>,
    of_call: Vec<&'r str>,
}

impl<'r> AttemptColumns<'r> {
    /// Values out of range were refused by `check_attempt` before the request queued.
    fn new(rows: &[&'r Creation]) -> AttemptColumns<'r> {
        let mut c = AttemptColumns::default();
        for row in rows {
            for a in &row.attempts {
                c.push_id.push(&a.push_id);
                c.call_id.push(a.call_id.as_deref());
                c.app.push(&a.app);
                c.token.push(&a.token);
                c.topic.push(&a.topic);
                c.push_type.push(a.push_type.to_string());
                c.priority.push(i32::from(a.priority));
                c.expiration
                    .push(to_i64("expiration", a.expiration).unwrap_or(i64::MAX));
                c.collapse_id.push(a.collapse_id.as_deref());
                c.attempt.push(i32::try_from(a.attempt).unwrap_or(i32::MAX));
                c.queued_at.push(micros(a.queued_at));
                c.sent_at.push(a.sent_at.map(micros));
                c.responded_at.push(a.responded_at.map(micros));
                c.apns_status.push(a.apns_status.map(i32::from));
                c.apns_reason.push(a.apns_reason.as_deref());
                c.apns_id.push(a.apns_id.as_deref());
                c.apns_unique_id.push(a.apns_unique_id.as_deref());
                c.apns_timestamp.push(a.apns_timestamp.map(micros));
                c.error.push(a.error.as_deref());
                c.attrs.push(attrs_to_json(&a.attrs));
                c.purpose.push(a.purpose.map(PushPurpose::as_str));
                c.of_call.push(&row.call.call_id);
            }
        }
        c
    }
}

/// The jobs as one array per column, claimed (owner, lease, one claim) when due at creation
/// and the request names an owner.
#[derive(Default)]
struct JobColumns<'r> {
    of_call: Vec<&'r str>,
    call_id: Vec<&'r str>,
    kind: Vec<&'static str>,
    push_id: Vec<Option<&'r str>>,
    due_at: Vec<i64>,
    owner: Vec<Option<&'r str>>,
    lease_until: Vec<Option<i64>>,
    claims: Vec<i32>,
}

impl<'r> JobColumns<'r> {
    fn new(rows: &[&'r Creation]) -> JobColumns<'r> {
        let mut c = JobColumns::default();
        for row in rows {
            let created_at = row.call.created_at;
            for job in &row.jobs {
                let (kind, push_id) = job.kind.parts();
                let due_now = micros(job.due_at) <= micros(created_at);
                let claim = row.claim.as_ref().filter(|_| due_now);
                c.of_call.push(&row.call.call_id);
                c.call_id.push(&job.call_id);
                c.kind.push(kind);
                c.push_id.push(push_id);
                c.due_at.push(micros(job.due_at));
                c.owner.push(claim.map(|(owner, _)| owner.as_str()));
                c.lease_until
                    .push(claim.map(|(_, lease)| lease_end(created_at, *lease)));
                c.claims.push(i32::from(claim.is_some()));
            }
        }
        c
    }
}
