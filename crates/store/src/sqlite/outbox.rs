//! The webhook outbox on SQLite: events written with the state change they report, claimed
//! with a lease, their attempts recorded.

use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{Connection, Row, params};

use super::{SqliteStore, constraint, write_tx};
use crate::error::QueryContext;
use crate::outbox::{ATTEMPT_COLUMNS, COLUMNS, GAUGES, StoreGauges, next_state};
use crate::records::{columns, from_i64, lease_end, micros, time};
use crate::{
    Call, CallEffects, CallState, NewWebhook, StoreError, Transitioned, Webhook, WebhookAttempt,
    WebhookNext, WebhookQuery, WebhookState,
};
use pushtrace_model::Timestamp;

impl SqliteStore {
    pub(crate) async fn transition_call_with(
        &self,
        call_id: &str,
        from: &[CallState],
        to: CallState,
        at: Timestamp,
        effects: &CallEffects,
    ) -> Result<Option<Transitioned>, StoreError> {
        if from.is_empty() {
            return Ok(None);
        }
        let call_id = call_id.to_string();
        let from: Vec<&'static str> = from.iter().map(|s| s.as_str()).collect();
        let effects = effects.clone();
        self.run(move |conn| {
            const OP: &str = "transition_call_with";
            let tx = write_tx(conn, OP)?;
            let slots: Vec<String> = (0..from.len()).map(|i| format!("?{}", i + 4)).collect();
            let sql = format!(
                "UPDATE calls SET state = ?2, state_at = ?3
                 WHERE call_id = ?1 AND state IN ({}) RETURNING {}",
                slots.join(", "),
                columns::CALL
            );
            let mut args = vec![
                Value::Text(call_id),
                Value::Text(to.as_str().to_string()),
                Value::Integer(micros(at)),
            ];
            args.extend(from.iter().map(|state| Value::Text(state.to_string())));
            let call = {
                let mut stmt = tx.prepare_cached(&sql).op(OP)?;
                let mut rows = stmt.query(rusqlite::params_from_iter(args)).op(OP)?;
                match rows.next().op(OP)? {
                    Some(row) => super::calls::call_row(row, OP)?,
                    // Nothing moved: nothing of the effects is written.
                    None => return Ok(None),
                }
            };
            for event in &effects.events {
                tx.prepare_cached(
                    "INSERT INTO events (at, call_id, push_id, kind, detail)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        micros(event.at),
                        event.call_id,
                        event.push_id,
                        event.kind,
                        event.detail.to_string()
                    ])
                })
                .op(OP)?;
            }
            for attempt in &effects.attempts {
                super::pushes::insert_attempt(&tx, attempt, OP)?;
            }
            let mut job_ids = Vec::with_capacity(effects.jobs.len());
            for job in &effects.jobs {
                job_ids.push(super::jobs::insert_job(&tx, job, OP)?);
            }
            if let Some(webhook) = &effects.webhook {
                insert_webhook(&tx, webhook, Some(&call), OP)?;
            }
            tx.commit().op(OP)?;
            Ok(Some(Transitioned { call, job_ids }))
        })
        .await
    }

    pub(crate) async fn invalidate_token_with(
        &self,
        app: &str,
        token: &str,
        apns_timestamp: Timestamp,
        reason: &str,
        webhook: Option<&NewWebhook>,
    ) -> Result<bool, StoreError> {
        let (app, token, reason) = (app.to_string(), token.to_string(), reason.to_string());
        let webhook = webhook.cloned();
        self.run(move |conn| {
            const OP: &str = "invalidate_token_with";
            let tx = write_tx(conn, OP)?;
            let changed = tx
                .prepare_cached(
                    "UPDATE tokens SET invalidated_at = ?3, invalidated_reason = ?4
                     WHERE app = ?1 AND token = ?2 AND invalidated_at IS NULL
                       AND registered_at < ?3",
                )
                .and_then(|mut s| s.execute(params![app, token, micros(apns_timestamp), reason]))
                .op(OP)?;
            if changed == 0 {
                return Ok(false);
            }
            if let Some(webhook) = &webhook {
                insert_webhook(&tx, webhook, None, OP)?;
            }
            tx.commit().op(OP)?;
            Ok(true)
        })
        .await
    }

    pub(crate) async fn claim_webhooks(
        &self,
        now: Timestamp,
        owner: &str,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Webhook>, StoreError> {
        let owner = owner.to_string();
        self.run(move |conn| {
            const OP: &str = "claim_webhooks";
            let tx = write_tx(conn, OP)?;
            let sql = format!(
                "UPDATE webhook_outbox SET owner = ?1, lease_until = ?2
                 WHERE seq IN (
                     SELECT seq FROM webhook_outbox
                     WHERE state = 'pending' AND due_at <= ?3
                       AND (lease_until IS NULL OR lease_until <= ?3)
                     ORDER BY due_at, seq LIMIT ?4)
                 RETURNING {COLUMNS}"
            );
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let mut claimed = Vec::new();
            {
                let mut stmt = tx.prepare_cached(&sql).op(OP)?;
                let mut rows = stmt
                    .query(params![owner, lease_end(now, lease), micros(now), limit])
                    .op(OP)?;
                while let Some(row) = rows.next().op(OP)? {
                    claimed.push(webhook_row(row, OP)?);
                }
            }
            tx.commit().op(OP)?;
            claimed.sort_by_key(|w| (w.due_at, w.seq));
            Ok(claimed)
        })
        .await
    }

    pub(crate) async fn finish_webhook_attempt(
        &self,
        event_id: &str,
        owner: &str,
        attempt: &WebhookAttempt,
        next: WebhookNext,
    ) -> Result<bool, StoreError> {
        let (event_id, owner, attempt) = (event_id.to_string(), owner.to_string(), attempt.clone());
        self.run(move |conn| {
            const OP: &str = "finish_webhook_attempt";
            let tx = write_tx(conn, OP)?;
            let (state, due_at) = next_state(next, attempt.at);
            let changed = tx
                .prepare_cached(
                    "UPDATE webhook_outbox
                     SET state = ?3, due_at = ?4, attempts = ?5, owner = NULL, lease_until = NULL,
                         last_status = ?6, last_error = ?7, updated_at = ?8
                     WHERE event_id = ?1 AND owner = ?2 AND state = 'pending'",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        event_id,
                        owner,
                        state.as_str(),
                        micros(due_at),
                        attempt.attempt,
                        attempt.status,
                        attempt.error,
                        micros(attempt.at)
                    ])
                })
                .op(OP)?;
            if changed == 0 {
                // Another instance took it over (our lease lapsed): its attempt counts.
                return Ok(false);
            }
            tx.prepare_cached(&format!(
                "INSERT INTO webhook_attempts (event_id, {ATTEMPT_COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
            ))
            .and_then(|mut s| {
                s.execute(params![
                    event_id,
                    attempt.attempt,
                    micros(attempt.at),
                    i64::try_from(attempt.duration_ms).unwrap_or(i64::MAX),
                    attempt.status,
                    attempt.error
                ])
            })
            .map_err(|e| constraint(e, OP, "webhook attempt (recorded twice)"))?;
            tx.commit().op(OP)?;
            Ok(true)
        })
        .await
    }

    pub(crate) async fn webhooks(
        &self,
        query: &WebhookQuery,
    ) -> Result<Vec<(Webhook, Vec<WebhookAttempt>)>, StoreError> {
        let query = query.clone();
        self.run(move |conn| {
            const OP: &str = "webhooks";
            let sql = format!(
                "SELECT {COLUMNS} FROM webhook_outbox
                 WHERE app = ?1 AND (?2 IS NULL OR state = ?2) AND (?3 IS NULL OR call_id = ?3)
                   AND (?4 IS NULL OR seq < ?4)
                 ORDER BY seq DESC LIMIT ?5"
            );
            let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
            let mut found = Vec::new();
            {
                let mut stmt = conn.prepare_cached(&sql).op(OP)?;
                let mut rows = stmt
                    .query(params![
                        query.app,
                        query.state.map(WebhookState::as_str),
                        query.call_id,
                        query.before_seq,
                        limit
                    ])
                    .op(OP)?;
                while let Some(row) = rows.next().op(OP)? {
                    found.push(webhook_row(row, OP)?);
                }
            }
            let mut out = Vec::with_capacity(found.len());
            for webhook in found {
                let attempts = attempts_of(conn, &webhook.event_id, OP)?;
                out.push((webhook, attempts));
            }
            Ok(out)
        })
        .await
    }

    pub(crate) async fn gauges(&self, now: Timestamp) -> Result<StoreGauges, StoreError> {
        self.run(move |conn| {
            const OP: &str = "gauges";
            let counts: (i64, i64, i64) = conn
                .prepare_cached(GAUGES)
                .and_then(|mut s| {
                    s.query_row(params![micros(now)], |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                    })
                })
                .op(OP)?;
            Ok(StoreGauges {
                live_calls: from_i64("live calls", counts.0)?,
                due_jobs: from_i64("due jobs", counts.1)?,
                webhook_backlog: from_i64("webhook backlog", counts.2)?,
            })
        })
        .await
    }
}

fn insert_webhook(
    conn: &Connection,
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
    conn.prepare_cached(
        "INSERT INTO webhook_outbox (event_id, app, kind, call_id, created_at, body, due_at,
                                     updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?5, ?5)",
    )
    .and_then(|mut s| {
        s.execute(params![
            webhook.event_id,
            webhook.app,
            webhook.kind,
            call_id,
            micros(webhook.at),
            body
        ])
    })
    .map_err(|e| constraint(e, op, "webhook event (event_id already used)"))?;
    Ok(())
}

fn attempts_of(
    conn: &Connection,
    event_id: &str,
    op: &'static str,
) -> Result<Vec<WebhookAttempt>, StoreError> {
    let sql = format!(
        "SELECT {ATTEMPT_COLUMNS} FROM webhook_attempts WHERE event_id = ?1 ORDER BY attempt"
    );
    let mut stmt = conn.prepare_cached(&sql).op(op)?;
    let mut rows = stmt.query(params![event_id]).op(op)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().op(op)? {
        out.push(WebhookAttempt {
            attempt: from_i64("webhook attempt", row.get(0).op(op)?)?,
            at: time(row.get(1).op(op)?),
            duration_ms: from_i64("webhook duration_ms", row.get(2).op(op)?)?,
            status: row
                .get::<_, Option<i64>>(3)
                .op(op)?
                .map(|s| from_i64("webhook status", s))
                .transpose()?,
            error: row.get(4).op(op)?,
        });
    }
    Ok(out)
}

fn webhook_row(row: &Row<'_>, op: &'static str) -> Result<Webhook, StoreError> {
    let state: String = row.get(7).op(op)?;
    Ok(Webhook {
        seq: row.get(0).op(op)?,
        event_id: row.get(1).op(op)?,
        app: row.get(2).op(op)?,
        kind: row.get(3).op(op)?,
        call_id: row.get(4).op(op)?,
        created_at: time(row.get(5).op(op)?),
        body: row.get(6).op(op)?,
        state: state.parse()?,
        attempts: from_i64("webhook attempts", row.get(8).op(op)?)?,
        due_at: time(row.get(9).op(op)?),
        last_status: row
            .get::<_, Option<i64>>(10)
            .op(op)?
            .map(|s| from_i64("webhook status", s))
            .transpose()?,
        last_error: row.get(11).op(op)?,
        updated_at: time(row.get(12).op(op)?),
    })
}
