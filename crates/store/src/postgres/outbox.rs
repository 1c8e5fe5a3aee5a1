//! The webhook outbox on PostgreSQL: events written with the state change they report,
//! claimed with `FOR UPDATE SKIP LOCKED` and a lease (several instances share it, as they share
//! the jobs), their attempts recorded.

use std::time::Duration;

use deadpool_postgres::GenericClient;
use pushtrace_model::Timestamp;
use tokio_postgres::Row;

use super::{PgStore, constraint, get};
use crate::error::QueryContext;
use crate::outbox::{ATTEMPT_COLUMNS, COLUMNS, GAUGES_PG, StoreGauges, next_state};
use crate::records::{columns, from_i64, lease_end, micros, time};
use crate::{
    Call, CallEffects, CallState, NewWebhook, StoreError, Transitioned, Webhook, WebhookAttempt,
    WebhookNext, WebhookQuery, WebhookState,
};

impl PgStore {
    pub(crate) async fn transition_call_with(
        &self,
        call_id: &str,
        from: &[CallState],
        to: CallState,
        at: Timestamp,
        effects: &CallEffects,
    ) -> Result<Option<Transitioned>, StoreError> {
        const OP: &str = "transition_call_with";
        let mut client = self.client(OP).await?;
        let tx = client.transaction().await.op(OP)?;
        let sql = format!(
            "UPDATE calls SET state = $2, state_at = $3
             WHERE call_id = $1 AND state = ANY($4) RETURNING {}",
            columns::CALL
        );
        let stmt = tx.prepare_cached(&sql).await.op(OP)?;
        let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
        let Some(row) = tx
            .query_opt(&stmt, &[&call_id, &to.as_str(), &micros(at), &from])
            .await
            .op(OP)?
        else {
            // Nothing moved: nothing of the effects is written (the transaction rolls back).
            return Ok(None);
        };
        let call = super::calls::call_row(&row, OP)?;
        if !effects.events.is_empty() {
            let stmt = tx
                .prepare_cached(
                    "INSERT INTO events (at, call_id, push_id, kind, detail)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .await
                .op(OP)?;
            for event in &effects.events {
                tx.execute(
                    &stmt,
                    &[
                        &micros(event.at),
                        &event.call_id,
                        &event.push_id,
                        &event.kind,
                        &event.detail,
                    ],
                )
                .await
                .op(OP)?;
            }
        }
        for attempt in &effects.attempts {
            super::pushes::insert_attempt(&tx, attempt, OP).await?;
        }
        let mut job_ids = Vec::with_capacity(effects.jobs.len());
        for job in &effects.jobs {
            job_ids.push(super::jobs::insert_job(&tx, job, OP).await?);
        }
        if let Some(webhook) = &effects.webhook {
            insert_webhook(&tx, webhook, Some(&call), OP).await?;
        }
        tx.commit().await.op(OP)?;
        Ok(Some(Transitioned { call, job_ids }))
    }

    pub(crate) async fn invalidate_token_with(
        &self,
        app: &str,
        token: &str,
        apns_timestamp: Timestamp,
        reason: &str,
        webhook: Option<&NewWebhook>,
    ) -> Result<bool, StoreError> {
        const OP: &str = "invalidate_token_with";
        let mut client = self.client(OP).await?;
        let tx = client.transaction().await.op(OP)?;
        let stmt = tx
            .prepare_cached(
                "UPDATE tokens SET invalidated_at = $3, invalidated_reason = $4
                 WHERE app = $1 AND token = $2 AND invalidated_at IS NULL
                   AND registered_at < $3",
            )
            .await
            .op(OP)?;
        let changed = tx
            .execute(&stmt, &[&app, &token, &micros(apns_timestamp), &reason])
            .await
            .op(OP)?;
        if changed == 0 {
            return Ok(false);
        }
        if let Some(webhook) = webhook {
            insert_webhook(&tx, webhook, None, OP).await?;
        }
        tx.commit().await.op(OP)?;
        Ok(true)
    }

    pub(crate) async fn claim_webhooks(
        &self,
        now: Timestamp,
        owner: &str,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Webhook>, StoreError> {
        const OP: &str = "claim_webhooks";
        let client = self.client(OP).await?;
        let prefixed: Vec<String> = COLUMNS
            .split(", ")
            .map(|c| format!("webhook_outbox.{}", c.trim()))
            .collect();
        // SKIP LOCKED: rows another instance is claiming right now are passed over; a row it
        // already claimed fails the lease test when re-checked after its commit.
        let sql = format!(
            "WITH due AS (
                 SELECT seq FROM webhook_outbox
                 WHERE state = 'pending' AND due_at <= $3
                   AND (lease_until IS NULL OR lease_until <= $3)
                 ORDER BY due_at, seq LIMIT $4
                 FOR UPDATE SKIP LOCKED)
             UPDATE webhook_outbox SET owner = $1, lease_until = $2
             FROM due WHERE webhook_outbox.seq = due.seq
             RETURNING {}",
            prefixed.join(", ")
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
        let mut claimed = rows
            .iter()
            .map(|row| webhook_row(row, OP))
            .collect::<Result<Vec<_>, _>>()?;
        claimed.sort_by_key(|w| (w.due_at, w.seq));
        Ok(claimed)
    }

    pub(crate) async fn finish_webhook_attempt(
        &self,
        event_id: &str,
        owner: &str,
        attempt: &WebhookAttempt,
        next: WebhookNext,
    ) -> Result<bool, StoreError> {
        const OP: &str = "finish_webhook_attempt";
        let mut client = self.client(OP).await?;
        let tx = client.transaction().await.op(OP)?;
        let (state, due_at) = next_state(next, attempt.at);
        let number = i32::try_from(attempt.attempt).unwrap_or(i32::MAX);
        let status = attempt.status.map(i32::from);
        let stmt = tx
            .prepare_cached(
                "UPDATE webhook_outbox
                 SET state = $3, due_at = $4, attempts = $5, owner = NULL, lease_until = NULL,
                     last_status = $6, last_error = $7, updated_at = $8
                 WHERE event_id = $1 AND owner = $2 AND state = 'pending'",
            )
            .await
            .op(OP)?;
        let changed = tx
            .execute(
                &stmt,
                &[
                    &event_id,
                    &owner,
                    &state.as_str(),
                    &micros(due_at),
                    &number,
                    &status,
                    &attempt.error,
                    &micros(attempt.at),
                ],
            )
            .await
            .op(OP)?;
        if changed == 0 {
            // Another instance took it over (our lease lapsed): its attempt counts.
            return Ok(false);
        }
        let stmt = tx
            .prepare_cached(&format!(
                "INSERT INTO webhook_attempts (event_id, {ATTEMPT_COLUMNS})
                 VALUES ($1, $2, $3, $4, $5, $6)"
            ))
            .await
            .op(OP)?;
        let duration = i64::try_from(attempt.duration_ms).unwrap_or(i64::MAX);
        tx.execute(
            &stmt,
            &[
                &event_id,
                &number,
                &micros(attempt.at),
                &duration,
                &status,
                &attempt.error,
            ],
        )
        .await
        .map_err(|e| constraint(e, OP, "webhook attempt (recorded twice)"))?;
        tx.commit().await.op(OP)?;
        Ok(true)
    }

    pub(crate) async fn webhooks(
        &self,
        query: &WebhookQuery,
    ) -> Result<Vec<(Webhook, Vec<WebhookAttempt>)>, StoreError> {
        const OP: &str = "webhooks";
        let client = self.client(OP).await?;
        let sql = format!(
            "SELECT {COLUMNS} FROM webhook_outbox
             WHERE app = $1 AND ($2::TEXT IS NULL OR state = $2)
               AND ($3::TEXT IS NULL OR call_id = $3) AND ($4::BIGINT IS NULL OR seq < $4)
             ORDER BY seq DESC LIMIT $5"
        );
        let stmt = client.prepare_cached(&sql).await.op(OP)?;
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let state = query.state.map(WebhookState::as_str);
        let rows = client
            .query(
                &stmt,
                &[
                    &query.app,
                    &state,
                    &query.call_id,
                    &query.before_seq,
                    &limit,
                ],
            )
            .await
            .op(OP)?;
        let found = rows
            .iter()
            .map(|row| webhook_row(row, OP))
            .collect::<Result<Vec<_>, _>>()?;
        let ids: Vec<&str> = found.iter().map(|w| w.event_id.as_str()).collect();
        let stmt = client
            .prepare_cached(&format!(
                "SELECT event_id, {ATTEMPT_COLUMNS} FROM webhook_attempts
                 WHERE event_id = ANY($1) ORDER BY event_id, attempt"
            ))
            .await
            .op(OP)?;
        let attempt_rows = client.query(&stmt, &[&ids]).await.op(OP)?;
        let mut out: Vec<(Webhook, Vec<WebhookAttempt>)> =
            found.into_iter().map(|w| (w, Vec::new())).collect();
        for row in &attempt_rows {
            let event_id: &str = get(row, 0, OP)?;
            let attempt = WebhookAttempt {
                attempt: from_i64("webhook attempt", i64::from(get::<i32>(row, 1, OP)?))?,
                at: time(get(row, 2, OP)?),
                duration_ms: from_i64("webhook duration_ms", get(row, 3, OP)?)?,
                status: status(get(row, 4, OP)?)?,
                error: get(row, 5, OP)?,
            };
            if let Some((_, attempts)) = out.iter_mut().find(|(w, _)| w.event_id == event_id) {
                attempts.push(attempt);
            }
        }
        Ok(out)
    }

    pub(crate) async fn gauges(&self, now: Timestamp) -> Result<StoreGauges, StoreError> {
        const OP: &str = "gauges";
        let client = self.client(OP).await?;
        let stmt = client.prepare_cached(GAUGES_PG).await.op(OP)?;
        let row = client.query_one(&stmt, &[&micros(now)]).await.op(OP)?;
        Ok(StoreGauges {
            live_calls: from_i64("live calls", get::<i64>(&row, 0, OP)?)?,
            due_jobs: from_i64("due jobs", get::<i64>(&row, 1, OP)?)?,
            webhook_backlog: from_i64("webhook backlog", get::<i64>(&row, 2, OP)?)?,
        })
    }
}

async fn insert_webhook<C: GenericClient>(
    client: &C,
    webhook: &NewWebhook,
    call: Option<&Call>,
    op: &'static str,
) -> Result<(), StoreError> {
    let body = webhook.body(call)?;
    let call_id = call.map(|c| c.call_id.clone()).or_else(|| {
        webhook
            .data
            .get("call_id")
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    });
    let stmt = client
        .prepare_cached(
            "INSERT INTO webhook_outbox (event_id, app, kind, call_id, created_at, body, due_at,
                                         updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $5, $5)",
        )
        .await
        .op(op)?;
    client
        .execute(
            &stmt,
            &[
                &webhook.event_id,
                &webhook.app,
                &webhook.kind,
                &call_id,
                &micros(webhook.at),
                &body,
            ],
        )
        .await
        .map_err(|e| constraint(e, op, "webhook event (event_id already used)"))?;
    Ok(())
}

fn status(value: Option<i32>) -> Result<Option<u16>, StoreError> {
    value
        .map(|s| from_i64("webhook status", i64::from(s)))
        .transpose()
}

fn webhook_row(row: &Row, op: &'static str) -> Result<Webhook, StoreError> {
    Ok(Webhook {
        seq: get(row, 0, op)?,
        event_id: get(row, 1, op)?,
        app: get(row, 2, op)?,
        kind: get(row, 3, op)?,
        call_id: get(row, 4, op)?,
        created_at: time(get(row, 5, op)?),
        body: get(row, 6, op)?,
        state: get::<&str>(row, 7, op)?.parse()?,
        attempts: from_i64("webhook attempts", i64::from(get::<i32>(row, 8, op)?))?,
        due_at: time(get(row, 9, op)?),
        last_status: status(get(row, 10, op)?)?,
        last_error: get(row, 11, op)?,
        updated_at: time(get(row, 12, op)?),
    })
}
