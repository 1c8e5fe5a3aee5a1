//! Push attempts, receipts, the event log and push-record rows on PostgreSQL.

use deadpool_postgres::GenericClient;
use pushtrace_model::{Receipt, Timestamp};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{PgStore, constraint, get};
use crate::error::QueryContext;
use crate::push_records::{ExportRow, ImportRow};
use crate::records::{attrs_from_json, attrs_to_json, columns, from_i64, micros, time, to_i64};
use crate::{Attempt, AttemptAnswer, Event, NewEvent, PushPurpose, ReceiptInsert, StoreError};

impl PgStore {
    pub(crate) async fn insert_attempt(&self, attempt: &Attempt) -> Result<(), StoreError> {
        let client = self.client("insert_attempt").await?;
        insert_attempt(&client, attempt, "insert_attempt").await
    }

    pub(crate) async fn record_answer(
        &self,
        push_id: &str,
        a: &AttemptAnswer,
    ) -> Result<(), StoreError> {
        const OP: &str = "record_answer";
        let client = self.client(OP).await?;
        let stmt = client
            .prepare_cached(
                "UPDATE attempts SET responded_at = $2, apns_status = $3, apns_reason = $4,
                   apns_id = $5, apns_unique_id = $6, apns_timestamp = $7, error = $8
                 WHERE push_id = $1",
            )
            .await
            .op(OP)?;
        let changed = client
            .execute(
                &stmt,
                &[
                    &push_id,
                    &micros(a.responded_at),
                    &a.apns_status.map(i32::from),
                    &a.apns_reason,
                    &a.apns_id,
                    &a.apns_unique_id,
                    &a.apns_timestamp.map(micros),
                    &a.error,
                ],
            )
            .await
            .op(OP)?;
        found(changed, OP, push_id)
    }

    pub(crate) async fn attempt(&self, push_id: &str) -> Result<Option<Attempt>, StoreError> {
        const OP: &str = "attempt";
        let client = self.client(OP).await?;
        let sql = format!(
            "SELECT {} FROM attempts a WHERE a.push_id = $1",
            columns::ATTEMPT
        );
        let stmt = client.prepare_cached(&sql).await.op(OP)?;
        let row = client.query_opt(&stmt, &[&push_id]).await.op(OP)?;
        row.as_ref().map(|row| attempt_row(row, OP)).transpose()
    }

    pub(crate) async fn attempts_for_call(
        &self,
        call_id: &str,
    ) -> Result<Vec<Attempt>, StoreError> {
        const OP: &str = "attempts_for_call";
        let client = self.client(OP).await?;
        let sql = format!(
            "SELECT {} FROM attempts a WHERE a.call_id = $1 ORDER BY a.queued_at, a.push_id",
            columns::ATTEMPT
        );
        let stmt = client.prepare_cached(&sql).await.op(OP)?;
        let rows = client.query(&stmt, &[&call_id]).await.op(OP)?;
        rows.iter().map(|row| attempt_row(row, OP)).collect()
    }

    pub(crate) async fn record_receipt(
        &self,
        receipt: &Receipt,
    ) -> Result<ReceiptInsert, StoreError> {
        let client = self.client("record_receipt").await?;
        if insert_receipt(&client, receipt, "record_receipt").await? {
            Ok(ReceiptInsert::Recorded)
        } else {
            Ok(ReceiptInsert::Duplicate)
        }
    }

    pub(crate) async fn receipts_for_call(
        &self,
        call_id: &str,
    ) -> Result<Vec<Receipt>, StoreError> {
        const OP: &str = "receipts_for_call";
        let client = self.client(OP).await?;
        let sql = format!(
            "SELECT {} FROM receipts r WHERE r.call_id = $1 ORDER BY r.received_at, r.push_id",
            columns::RECEIPT
        );
        let stmt = client.prepare_cached(&sql).await.op(OP)?;
        let rows = client.query(&stmt, &[&call_id]).await.op(OP)?;
        let mut receipts = Vec::with_capacity(rows.len());
        for row in &rows {
            receipts.extend(receipt_row(row, 0, OP)?);
        }
        Ok(receipts)
    }

    pub(crate) async fn device_receipt(
        &self,
        call_id: &str,
        token: &str,
    ) -> Result<Option<Receipt>, StoreError> {
        const OP: &str = "device_receipt";
        let client = self.client(OP).await?;
        let sql = format!(
            "SELECT {} FROM receipts r JOIN attempts a ON a.push_id = r.push_id \
             WHERE a.call_id = $1 AND a.token = $2 ORDER BY r.received_at, r.push_id LIMIT 1",
            columns::RECEIPT
        );
        let stmt = client.prepare_cached(&sql).await.op(OP)?;
        let row = client.query_opt(&stmt, &[&call_id, &token]).await.op(OP)?;
        match row {
            Some(row) => receipt_row(&row, 0, OP),
            None => Ok(None),
        }
    }

    pub(crate) async fn append_event(&self, event: &NewEvent) -> Result<i64, StoreError> {
        const OP: &str = "append_event";
        let client = self.client(OP).await?;
        let stmt = client
            .prepare_cached(
                "INSERT INTO events (at, call_id, push_id, kind, detail)
                 VALUES ($1, $2, $3, $4, $5) RETURNING seq",
            )
            .await
            .op(OP)?;
        let row = client
            .query_one(
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
        get(&row, 0, OP)
    }

    pub(crate) async fn events_for_call(&self, call_id: &str) -> Result<Vec<Event>, StoreError> {
        const OP: &str = "events_for_call";
        let client = self.client(OP).await?;
        let sql = format!(
            "SELECT {} FROM events WHERE call_id = $1 ORDER BY seq",
            columns::EVENT
        );
        let stmt = client.prepare_cached(&sql).await.op(OP)?;
        let rows = client.query(&stmt, &[&call_id]).await.op(OP)?;
        rows.iter().map(|row| event_row(row, OP)).collect()
    }

    pub(crate) async fn token_history(
        &self,
        app: &str,
        token: &str,
        limit: usize,
    ) -> Result<Vec<(Attempt, Option<Receipt>)>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_receipts(
            "a.app = $1 AND a.token = $2 ORDER BY a.queued_at DESC, a.push_id DESC LIMIT $3",
            &[&app, &token, &limit],
            "token_history",
        )
        .await
    }

    /// Attempts queued in [from, to) with their receipts, for the rollups.
    pub(crate) async fn attempts_between(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<(Attempt, Option<Receipt>)>, StoreError> {
        self.with_receipts(
            "a.queued_at >= $1 AND a.queued_at < $2",
            &[&from, &to],
            "rollup_day",
        )
        .await
    }

    async fn with_receipts(
        &self,
        filter: &str,
        params: &[&(dyn ToSql + Sync)],
        op: &'static str,
    ) -> Result<Vec<(Attempt, Option<Receipt>)>, StoreError> {
        let client = self.client(op).await?;
        let sql = format!(
            "SELECT {}, {} FROM attempts a LEFT JOIN receipts r ON r.push_id = a.push_id \
             WHERE {filter}",
            columns::ATTEMPT,
            columns::RECEIPT
        );
        let stmt = client.prepare_cached(&sql).await.op(op)?;
        let rows = client.query(&stmt, params).await.op(op)?;
        rows.iter()
            .map(|row| {
                Ok((
                    attempt_row(row, op)?,
                    receipt_row(row, columns::ATTEMPT_COUNT, op)?,
                ))
            })
            .collect()
    }

    pub(crate) async fn export_rows(
        &self,
        app: Option<&str>,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<Vec<ExportRow>, StoreError> {
        const OP: &str = "export_push_records";
        let client = self.client(OP).await?;
        let sql = format!(
            "SELECT {} FROM attempts a
             LEFT JOIN calls c ON c.call_id = a.call_id
             LEFT JOIN receipts r ON r.push_id = a.push_id
             WHERE ($1::TEXT IS NULL OR a.app = $1) AND ($2::BIGINT IS NULL OR a.queued_at >= $2)
               AND ($3::BIGINT IS NULL OR a.queued_at < $3)
               AND (a.purpose IS NULL OR a.purpose <> 'end')
             ORDER BY a.queued_at, a.push_id",
            columns::EXPORT
        );
        let stmt = client.prepare_cached(&sql).await.op(OP)?;
        let rows = client
            .query(&stmt, &[&app, &from.map(micros), &to.map(micros)])
            .await
            .op(OP)?;
        rows.iter().map(|row| export_row(row, OP)).collect()
    }

    pub(crate) async fn import_rows(
        &self,
        rows: Vec<ImportRow>,
    ) -> Result<(usize, usize), StoreError> {
        const OP: &str = "import_push_records";
        let mut client = self.client(OP).await?;
        let tx = client.transaction().await.op(OP)?;
        let stmt = tx
            .prepare_cached(
                "INSERT INTO attempts (push_id, call_id, app, token, topic, push_type,
                   priority, expiration, attempt, queued_at, sent_at, responded_at,
                   apns_status, apns_reason, apns_id, apns_unique_id, apns_timestamp,
                   attrs, deadline)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $18, $9, $10, $11, $12, $13,
                         $14, $15, $16, $17)
                 ON CONFLICT (push_id) DO NOTHING",
            )
            .await
            .op(OP)?;
        let (mut inserted, mut skipped) = (0, 0);
        for row in &rows {
            let expiration = row
                .expiration
                .map(|e| to_i64("expiration", e))
                .transpose()?;
            let added = tx
                .execute(
                    &stmt,
                    &[
                        &row.push_id,
                        &row.call_id,
                        &row.app,
                        &row.token,
                        &row.topic,
                        &row.push_type,
                        &row.priority.map(i32::from),
                        &expiration,
                        &micros(row.sent_at),
                        &row.responded_at.map(micros),
                        &row.apns_status.map(i32::from),
                        &row.apns_reason,
                        &row.apns_id,
                        &row.apns_unique_id,
                        &row.apns_timestamp.map(micros),
                        &attrs_to_json(&row.attrs),
                        &row.deadline.map(micros),
                        &micros(row.queued_at),
                    ],
                )
                .await
                .op(OP)?;
            if added == 0 {
                skipped += 1;
                continue;
            }
            inserted += 1;
            if let Some(receipt) = &row.receipt {
                insert_receipt(&tx, receipt, OP).await?;
            }
        }
        tx.commit().await.op(OP)?;
        Ok((inserted, skipped))
    }
}

pub(super) async fn insert_attempt<C: GenericClient>(
    client: &C,
    a: &Attempt,
    op: &'static str,
) -> Result<(), StoreError> {
    let expiration = to_i64("expiration", a.expiration)?;
    let attempt = i32::try_from(a.attempt)
        .map_err(|_| StoreError::invalid("attempt", format!("{} is beyond 2^31 - 1", a.attempt)))?;
    let stmt = client
        .prepare_cached(
            "INSERT INTO attempts (push_id, call_id, app, token, topic, push_type, priority,
               expiration, collapse_id, attempt, queued_at, sent_at, responded_at, apns_status,
               apns_reason, apns_id, apns_unique_id, apns_timestamp, error, attrs, purpose)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                     $18, $19, $20, $21)",
        )
        .await
        .op(op)?;
    client
        .execute(
            &stmt,
            &[
                &a.push_id,
                &a.call_id,
                &a.app,
                &a.token,
                &a.topic,
                &a.push_type.as_str(),
                &i32::from(a.priority),
                &expiration,
                &a.collapse_id,
                &attempt,
                &micros(a.queued_at),
                &a.sent_at.map(micros),
                &a.responded_at.map(micros),
                &a.apns_status.map(i32::from),
                &a.apns_reason,
                &a.apns_id,
                &a.apns_unique_id,
                &a.apns_timestamp.map(micros),
                &a.error,
                &attrs_to_json(&a.attrs),
                &a.purpose.map(PushPurpose::as_str),
            ],
        )
        .await
        .map_err(|e| {
            constraint(
                e,
                op,
                &format!("attempt {:?} (push_id already stored)", a.push_id),
            )
        })?;
    Ok(())
}

/// Inserts the receipt unless one exists for its push; whether it did.
async fn insert_receipt<C: GenericClient>(
    client: &C,
    r: &Receipt,
    op: &'static str,
) -> Result<bool, StoreError> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO receipts (push_id, call_id, received_at, device_received_at,
               reported_at, must_report, app_state, network, late)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (push_id) DO NOTHING",
        )
        .await
        .op(op)?;
    let added = client
        .execute(
            &stmt,
            &[
                &r.push_id,
                &r.call_id,
                &micros(r.received_at),
                &r.device_received_at.map(micros),
                &r.reported_at.map(micros),
                &r.must_report,
                &r.app_state,
                &r.network,
                &r.late,
            ],
        )
        .await
        .map_err(|e| {
            constraint(
                e,
                op,
                &format!("receipt for push {:?} (no such push attempt)", r.push_id),
            )
        })?;
    Ok(added > 0)
}

fn found(changed: u64, op: &'static str, push_id: &str) -> Result<(), StoreError> {
    if changed == 0 {
        return Err(StoreError::invalid(
            "push_id",
            format!("{op}: no push attempt {push_id:?} is stored (insert the attempt first)"),
        ));
    }
    Ok(())
}

fn small<T: TryFrom<i64>>(column: &str, value: Option<i32>) -> Result<Option<T>, StoreError> {
    value.map(|v| from_i64(column, i64::from(v))).transpose()
}

fn attempt_row(row: &Row, op: &'static str) -> Result<Attempt, StoreError> {
    // NULL token/topic/push_type/priority/expiration: an imported push that did not say.
    Ok(Attempt {
        push_id: get(row, 0, op)?,
        call_id: get(row, 1, op)?,
        app: get(row, 2, op)?,
        token: get::<Option<String>>(row, 3, op)?.unwrap_or_default(),
        topic: get::<Option<String>>(row, 4, op)?.unwrap_or_default(),
        push_type: get::<Option<String>>(row, 5, op)?
            .unwrap_or_default()
            .into(),
        priority: small("priority", get(row, 6, op)?)?.unwrap_or_default(),
        expiration: from_i64("expiration", get::<Option<i64>>(row, 7, op)?.unwrap_or(0))?,
        collapse_id: get(row, 8, op)?,
        attempt: from_i64("attempt", i64::from(get::<i32>(row, 9, op)?))?,
        queued_at: time(get(row, 10, op)?),
        sent_at: get::<Option<i64>>(row, 11, op)?.map(time),
        responded_at: get::<Option<i64>>(row, 12, op)?.map(time),
        apns_status: small("apns_status", get(row, 13, op)?)?,
        apns_reason: get(row, 14, op)?,
        apns_id: get(row, 15, op)?,
        apns_unique_id: get(row, 16, op)?,
        apns_timestamp: get::<Option<i64>>(row, 17, op)?.map(time),
        error: get(row, 18, op)?,
        attrs: attrs_from_json(get(row, 19, op)?)?,
        purpose: get::<Option<String>>(row, 20, op)?
            .map(|p| p.parse())
            .transpose()?,
    })
}

/// The receipt whose columns start at `at`, or None when they are NULL (no receipt joined).
fn receipt_row(row: &Row, at: usize, op: &'static str) -> Result<Option<Receipt>, StoreError> {
    let Some(push_id) = get::<Option<String>>(row, at, op)? else {
        return Ok(None);
    };
    Ok(Some(Receipt {
        push_id,
        call_id: get(row, at + 1, op)?,
        received_at: time(get(row, at + 2, op)?),
        device_received_at: get::<Option<i64>>(row, at + 3, op)?.map(time),
        reported_at: get::<Option<i64>>(row, at + 4, op)?.map(time),
        must_report: get(row, at + 5, op)?,
        app_state: get(row, at + 6, op)?,
        network: get(row, at + 7, op)?,
        late: get(row, at + 8, op)?,
    }))
}

fn event_row(row: &Row, op: &'static str) -> Result<Event, StoreError> {
    Ok(Event {
        seq: get(row, 0, op)?,
        at: time(get(row, 1, op)?),
        call_id: get(row, 2, op)?,
        push_id: get(row, 3, op)?,
        kind: get(row, 4, op)?,
        detail: get(row, 5, op)?,
    })
}

fn export_row(row: &Row, op: &'static str) -> Result<ExportRow, StoreError> {
    let t = |i: usize| -> Result<Option<Timestamp>, StoreError> {
        Ok(get::<Option<i64>>(row, i, op)?.map(time))
    };
    Ok(ExportRow {
        push_id: get(row, 0, op)?,
        call_id: get(row, 1, op)?,
        token: get(row, 2, op)?,
        topic: get(row, 3, op)?,
        push_type: get(row, 4, op)?,
        priority: small("priority", get(row, 5, op)?)?,
        expiration: get::<Option<i64>>(row, 6, op)?
            .map(|e| from_i64("expiration", e))
            .transpose()?,
        queued_at: time(get(row, 7, op)?),
        sent_at: t(8)?,
        responded_at: t(9)?,
        apns_status: small("apns_status", get(row, 10, op)?)?,
        apns_reason: get(row, 11, op)?,
        apns_id: get(row, 12, op)?,
        apns_unique_id: get(row, 13, op)?,
        apns_timestamp: t(14)?,
        attrs: attrs_from_json(get(row, 15, op)?)?,
        deadline: t(16)?,
        receipt_received_at: t(17)?,
        device_received_at: t(18)?,
        reported_at: t(19)?,
        must_report: get(row, 20, op)?,
    })
}
