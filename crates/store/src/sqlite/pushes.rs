//! Push attempts, receipts, the event log and push-record rows on SQLite.

use pushtrace_model::{Receipt, Timestamp};
use rusqlite::{Connection, Row, params};

use super::{SqliteStore, constraint, write_tx};
use crate::error::QueryContext;
use crate::push_records::{ExportRow, ImportRow};
use crate::records::{attrs_from_json, attrs_to_json, columns, from_i64, micros, time, to_i64};
use crate::{Attempt, AttemptAnswer, Event, NewEvent, PushPurpose, ReceiptInsert, StoreError};

impl SqliteStore {
    pub(crate) async fn insert_attempt(&self, attempt: &Attempt) -> Result<(), StoreError> {
        let attempt = attempt.clone();
        self.run(move |conn| insert_attempt(conn, &attempt, "insert_attempt"))
            .await
    }

    pub(crate) async fn mark_sent(
        &self,
        push_id: &str,
        sent_at: Timestamp,
    ) -> Result<(), StoreError> {
        let push_id = push_id.to_string();
        self.run(move |conn| {
            let changed = conn
                .prepare_cached("UPDATE attempts SET sent_at = ?2 WHERE push_id = ?1")
                .and_then(|mut s| s.execute(params![push_id, micros(sent_at)]))
                .op("mark_sent")?;
            found(changed, "mark_sent", &push_id)
        })
        .await
    }

    pub(crate) async fn record_answer(
        &self,
        push_id: &str,
        answer: &AttemptAnswer,
    ) -> Result<(), StoreError> {
        let (push_id, a) = (push_id.to_string(), answer.clone());
        self.run(move |conn| write_answer(conn, &push_id, &a, "record_answer"))
            .await
    }

    pub(crate) async fn finish_push(
        &self,
        push_id: &str,
        answer: &AttemptAnswer,
        job_id: i64,
        owner: &str,
    ) -> Result<bool, StoreError> {
        let (push_id, a, owner) = (push_id.to_string(), answer.clone(), owner.to_string());
        self.run(move |conn| {
            const OP: &str = "finish_push";
            let tx = write_tx(conn, OP)?;
            write_answer(&tx, &push_id, &a, OP)?;
            let deleted = tx
                .prepare_cached("DELETE FROM jobs WHERE id = ?1 AND owner = ?2")
                .and_then(|mut s| s.execute(params![job_id, owner]))
                .op(OP)?;
            tx.commit().op(OP)?;
            Ok(deleted > 0)
        })
        .await
    }

    pub(crate) async fn attempt(&self, push_id: &str) -> Result<Option<Attempt>, StoreError> {
        let push_id = push_id.to_string();
        self.run(move |conn| {
            let sql = format!(
                "SELECT {} FROM attempts a WHERE a.push_id = ?1",
                columns::ATTEMPT
            );
            let mut stmt = conn.prepare_cached(&sql).op("attempt")?;
            let mut rows = stmt.query(params![push_id]).op("attempt")?;
            match rows.next().op("attempt")? {
                Some(row) => attempt_row(row, "attempt").map(Some),
                None => Ok(None),
            }
        })
        .await
    }

    pub(crate) async fn attempts_for_call(
        &self,
        call_id: &str,
    ) -> Result<Vec<Attempt>, StoreError> {
        let call_id = call_id.to_string();
        self.run(move |conn| {
            let sql = format!(
                "SELECT {} FROM attempts a WHERE a.call_id = ?1 ORDER BY a.queued_at, a.push_id",
                columns::ATTEMPT
            );
            let mut stmt = conn.prepare_cached(&sql).op("attempts_for_call")?;
            let mut rows = stmt.query(params![call_id]).op("attempts_for_call")?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().op("attempts_for_call")? {
                out.push(attempt_row(row, "attempts_for_call")?);
            }
            Ok(out)
        })
        .await
    }

    pub(crate) async fn record_receipt(
        &self,
        receipt: &Receipt,
    ) -> Result<ReceiptInsert, StoreError> {
        let receipt = receipt.clone();
        self.run(move |conn| {
            if insert_receipt(conn, &receipt, "record_receipt")? {
                Ok(ReceiptInsert::Recorded)
            } else {
                Ok(ReceiptInsert::Duplicate)
            }
        })
        .await
    }

    pub(crate) async fn receipts_for_call(
        &self,
        call_id: &str,
    ) -> Result<Vec<Receipt>, StoreError> {
        let call_id = call_id.to_string();
        self.run(move |conn| {
            let sql = format!(
                "SELECT {} FROM receipts r WHERE r.call_id = ?1 ORDER BY r.received_at, r.push_id",
                columns::RECEIPT
            );
            let mut stmt = conn.prepare_cached(&sql).op("receipts_for_call")?;
            let mut rows = stmt.query(params![call_id]).op("receipts_for_call")?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().op("receipts_for_call")? {
                out.extend(receipt_row(row, 0, "receipts_for_call")?);
            }
            Ok(out)
        })
        .await
    }

    pub(crate) async fn device_receipt(
        &self,
        call_id: &str,
        token: &str,
    ) -> Result<Option<Receipt>, StoreError> {
        let (call_id, token) = (call_id.to_string(), token.to_string());
        self.run(move |conn| {
            const OP: &str = "device_receipt";
            let sql = format!(
                "SELECT {} FROM receipts r JOIN attempts a ON a.push_id = r.push_id \
                 WHERE a.call_id = ?1 AND a.token = ?2 ORDER BY r.received_at, r.push_id LIMIT 1",
                columns::RECEIPT
            );
            let mut stmt = conn.prepare_cached(&sql).op(OP)?;
            let mut rows = stmt.query(params![call_id, token]).op(OP)?;
            match rows.next().op(OP)? {
                Some(row) => receipt_row(row, 0, OP),
                None => Ok(None),
            }
        })
        .await
    }

    pub(crate) async fn append_event(&self, event: &NewEvent) -> Result<i64, StoreError> {
        let event = event.clone();
        self.run(move |conn| {
            conn.prepare_cached(
                "INSERT INTO events (at, call_id, push_id, kind, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5) RETURNING seq",
            )
            .and_then(|mut s| {
                s.query_row(
                    params![
                        micros(event.at),
                        event.call_id,
                        event.push_id,
                        event.kind,
                        event.detail.to_string()
                    ],
                    |row| row.get(0),
                )
            })
            .op("append_event")
        })
        .await
    }

    pub(crate) async fn events_for_call(&self, call_id: &str) -> Result<Vec<Event>, StoreError> {
        let call_id = call_id.to_string();
        self.run(move |conn| {
            const OP: &str = "events_for_call";
            let sql = format!(
                "SELECT {} FROM events WHERE call_id = ?1 ORDER BY seq",
                columns::EVENT
            );
            let mut stmt = conn.prepare_cached(&sql).op(OP)?;
            let mut rows = stmt.query(params![call_id]).op(OP)?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().op(OP)? {
                out.push(event_row(row, OP)?);
            }
            Ok(out)
        })
        .await
    }

    pub(crate) async fn token_history(
        &self,
        app: &str,
        token: &str,
        limit: usize,
    ) -> Result<Vec<(Attempt, Option<Receipt>)>, StoreError> {
        let (app, token) = (app.to_string(), token.to_string());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |conn| {
            let filter = "a.app = ?1 AND a.token = ?2 ORDER BY a.queued_at DESC, a.push_id DESC \
                          LIMIT ?3";
            with_receipts(conn, filter, params![app, token, limit], "token_history")
        })
        .await
    }

    /// Attempts queued in [from, to) with their receipts, for the rollups.
    pub(crate) async fn attempts_between(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<(Attempt, Option<Receipt>)>, StoreError> {
        self.run(move |conn| {
            let filter = "a.queued_at >= ?1 AND a.queued_at < ?2";
            with_receipts(conn, filter, params![from, to], "rollup_day")
        })
        .await
    }

    pub(crate) async fn export_rows(
        &self,
        app: Option<&str>,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<Vec<ExportRow>, StoreError> {
        let app = app.map(str::to_string);
        self.run(move |conn| {
            const OP: &str = "export_push_records";
            let sql = format!(
                "SELECT {} FROM attempts a
                 LEFT JOIN calls c ON c.call_id = a.call_id
                 LEFT JOIN receipts r ON r.push_id = a.push_id
                 WHERE (?1 IS NULL OR a.app = ?1) AND (?2 IS NULL OR a.queued_at >= ?2)
                   AND (?3 IS NULL OR a.queued_at < ?3)
                   AND (a.purpose IS NULL OR a.purpose <> 'end')
                 ORDER BY a.queued_at, a.push_id",
                columns::EXPORT
            );
            let mut stmt = conn.prepare_cached(&sql).op(OP)?;
            let mut rows = stmt
                .query(params![app, from.map(micros), to.map(micros)])
                .op(OP)?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().op(OP)? {
                out.push(export_row(row)?);
            }
            Ok(out)
        })
        .await
    }

    pub(crate) async fn import_rows(
        &self,
        rows: Vec<ImportRow>,
    ) -> Result<(usize, usize), StoreError> {
        self.run(move |conn| {
            const OP: &str = "import_push_records";
            let tx = write_tx(conn, OP)?;
            let (mut inserted, mut skipped) = (0, 0);
            for row in &rows {
                let expiration = row
                    .expiration
                    .map(|e| to_i64("expiration", e))
                    .transpose()?;
                let added = tx
                    .prepare_cached(
                        "INSERT INTO attempts (push_id, call_id, app, token, topic, push_type,
                           priority, expiration, attempt, queued_at, sent_at, responded_at,
                           apns_status, apns_reason, apns_id, apns_unique_id, apns_timestamp,
                           attrs, deadline)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1, ?18, ?9, ?10, ?11, ?12, ?13,
                                 ?14, ?15, ?16, ?17)
                         ON CONFLICT (push_id) DO NOTHING",
                    )
                    .and_then(|mut s| {
                        s.execute(params![
                            row.push_id,
                            row.call_id,
                            row.app,
                            row.token,
                            row.topic,
                            row.push_type,
                            row.priority,
                            expiration,
                            micros(row.sent_at),
                            row.responded_at.map(micros),
                            row.apns_status,
                            row.apns_reason,
                            row.apns_id,
                            row.apns_unique_id,
                            row.apns_timestamp.map(micros),
                            attrs_to_json(&row.attrs),
                            row.deadline.map(micros),
                            micros(row.queued_at)
                        ])
                    });
                if added.op(OP)? == 0 {
                    skipped += 1;
                    continue;
                }
                inserted += 1;
                if let Some(receipt) = &row.receipt {
                    insert_receipt(&tx, receipt, OP)?;
                }
            }
            tx.commit().op(OP)?;
            Ok((inserted, skipped))
        })
        .await
    }
}

pub(super) fn insert_attempt(
    conn: &Connection,
    a: &Attempt,
    op: &'static str,
) -> Result<(), StoreError> {
    let expiration = to_i64("expiration", a.expiration)?;
    conn.prepare_cached(
        "INSERT INTO attempts (push_id, call_id, app, token, topic, push_type, priority,
           expiration, collapse_id, attempt, queued_at, sent_at, responded_at, apns_status,
           apns_reason, apns_id, apns_unique_id, apns_timestamp, error, attrs, purpose)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                 ?18, ?19, ?20, ?21)",
    )
    .and_then(|mut s| {
        s.execute(params![
            a.push_id,
            a.call_id,
            a.app,
            a.token,
            a.topic,
            a.push_type.as_str(),
            a.priority,
            expiration,
            a.collapse_id,
            a.attempt,
            micros(a.queued_at),
            a.sent_at.map(micros),
            a.responded_at.map(micros),
            a.apns_status,
            a.apns_reason,
            a.apns_id,
            a.apns_unique_id,
            a.apns_timestamp.map(micros),
            a.error,
            attrs_to_json(&a.attrs),
            a.purpose.map(PushPurpose::as_str)
        ])
    })
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
fn insert_receipt(conn: &Connection, r: &Receipt, op: &'static str) -> Result<bool, StoreError> {
    let added = conn
        .prepare_cached(
            "INSERT INTO receipts (push_id, call_id, received_at, device_received_at,
               reported_at, must_report, app_state, network, late)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (push_id) DO NOTHING",
        )
        .and_then(|mut s| {
            s.execute(params![
                r.push_id,
                r.call_id,
                micros(r.received_at),
                r.device_received_at.map(micros),
                r.reported_at.map(micros),
                r.must_report,
                r.app_state,
                r.network,
                r.late
            ])
        })
        .map_err(|e| {
            constraint(
                e,
                op,
                &format!("receipt for push {:?} (no such push attempt)", r.push_id),
            )
        })?;
    Ok(added > 0)
}

fn found(changed: usize, op: &'static str, push_id: &str) -> Result<(), StoreError> {
    if changed == 0 {
        return Err(StoreError::invalid(
            "push_id",
            format!("{op}: no push attempt {push_id:?} is stored (insert the attempt first)"),
        ));
    }
    Ok(())
}

fn with_receipts<P: rusqlite::Params>(
    conn: &Connection,
    filter: &str,
    params: P,
    op: &'static str,
) -> Result<Vec<(Attempt, Option<Receipt>)>, StoreError> {
    let sql = format!(
        "SELECT {}, {} FROM attempts a LEFT JOIN receipts r ON r.push_id = a.push_id WHERE {filter}",
        columns::ATTEMPT,
        columns::RECEIPT
    );
    let mut stmt = conn.prepare_cached(&sql).op(op)?;
    let mut rows = stmt.query(params).op(op)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().op(op)? {
        out.push((
            attempt_row(row, op)?,
            receipt_row(row, columns::ATTEMPT_COUNT, op)?,
        ));
    }
    Ok(out)
}

fn attempt_row(row: &Row<'_>, op: &'static str) -> Result<Attempt, StoreError> {
    let attrs: String = row.get(19).op(op)?;
    // NULL token/topic/push_type/priority/expiration: an imported push that did not say.
    Ok(Attempt {
        push_id: row.get(0).op(op)?,
        call_id: row.get(1).op(op)?,
        app: row.get(2).op(op)?,
        token: row.get::<_, Option<String>>(3).op(op)?.unwrap_or_default(),
        topic: row.get::<_, Option<String>>(4).op(op)?.unwrap_or_default(),
        push_type: row
            .get::<_, Option<String>>(5)
            .op(op)?
            .unwrap_or_default()
            .into(),
        priority: row.get::<_, Option<u8>>(6).op(op)?.unwrap_or_default(),
        expiration: from_i64(
            "expiration",
            row.get::<_, Option<i64>>(7).op(op)?.unwrap_or(0),
        )?,
        collapse_id: row.get(8).op(op)?,
        attempt: row.get(9).op(op)?,
        queued_at: time(row.get(10).op(op)?),
        sent_at: row.get::<_, Option<i64>>(11).op(op)?.map(time),
        responded_at: row.get::<_, Option<i64>>(12).op(op)?.map(time),
        apns_status: row.get(13).op(op)?,
        apns_reason: row.get(14).op(op)?,
        apns_id: row.get(15).op(op)?,
        apns_unique_id: row.get(16).op(op)?,
        apns_timestamp: row.get::<_, Option<i64>>(17).op(op)?.map(time),
        error: row.get(18).op(op)?,
        attrs: attrs_from_json(&attrs)?,
        purpose: row
            .get::<_, Option<String>>(20)
            .op(op)?
            .map(|p| p.parse())
            .transpose()?,
    })
}

/// The receipt whose columns start at `at`, or None when they are NULL (no receipt joined).
fn receipt_row(row: &Row<'_>, at: usize, op: &'static str) -> Result<Option<Receipt>, StoreError> {
    let Some(push_id) = row.get::<_, Option<String>>(at).op(op)? else {
        return Ok(None);
    };
    Ok(Some(Receipt {
        push_id,
        call_id: row.get(at + 1).op(op)?,
        received_at: time(row.get(at + 2).op(op)?),
        device_received_at: row.get::<_, Option<i64>>(at + 3).op(op)?.map(time),
        reported_at: row.get::<_, Option<i64>>(at + 4).op(op)?.map(time),
        must_report: row.get(at + 5).op(op)?,
        app_state: row.get(at + 6).op(op)?,
        network: row.get(at + 7).op(op)?,
        late: row.get(at + 8).op(op)?,
    }))
}

fn event_row(row: &Row<'_>, op: &'static str) -> Result<Event, StoreError> {
    let detail: String = row.get(5).op(op)?;
    Ok(Event {
        seq: row.get(0).op(op)?,
        at: time(row.get(1).op(op)?),
        call_id: row.get(2).op(op)?,
        push_id: row.get(3).op(op)?,
        kind: row.get(4).op(op)?,
        detail: serde_json::from_str(&detail)
            .map_err(|e| StoreError::invalid("stored event detail", format!("{detail:?}: {e}")))?,
    })
}

fn export_row(row: &Row<'_>) -> Result<ExportRow, StoreError> {
    const OP: &str = "export_push_records";
    let t = |i: usize| -> Result<Option<Timestamp>, StoreError> {
        Ok(row.get::<_, Option<i64>>(i).op(OP)?.map(time))
    };
    let attrs: String = row.get(15).op(OP)?;
    Ok(ExportRow {
        push_id: row.get(0).op(OP)?,
        call_id: row.get(1).op(OP)?,
        token: row.get(2).op(OP)?,
        topic: row.get(3).op(OP)?,
        push_type: row.get(4).op(OP)?,
        priority: row.get(5).op(OP)?,
        expiration: row
            .get::<_, Option<i64>>(6)
            .op(OP)?
            .map(|e| from_i64("expiration", e))
            .transpose()?,
        queued_at: time(row.get(7).op(OP)?),
        sent_at: t(8)?,
        responded_at: t(9)?,
        apns_status: row.get(10).op(OP)?,
        apns_reason: row.get(11).op(OP)?,
        apns_id: row.get(12).op(OP)?,
        apns_unique_id: row.get(13).op(OP)?,
        apns_timestamp: t(14)?,
        attrs: attrs_from_json(&attrs)?,
        deadline: t(16)?,
        receipt_received_at: t(17)?,
        device_received_at: t(18)?,
        reported_at: t(19)?,
        must_report: row.get(20).op(OP)?,
    })
}

/// Writes APNs's answer (or why the push was not sent) to its attempt.
fn write_answer(
    conn: &Connection,
    push_id: &str,
    a: &AttemptAnswer,
    op: &'static str,
) -> Result<(), StoreError> {
    let changed = conn
        .prepare_cached(
            "UPDATE attempts SET responded_at = ?2, apns_status = ?3, apns_reason = ?4,
               apns_id = ?5, apns_unique_id = ?6, apns_timestamp = ?7, error = ?8
             WHERE push_id = ?1",
        )
        .and_then(|mut s| {
            s.execute(params![
                push_id,
                micros(a.responded_at),
                a.apns_status,
                a.apns_reason,
                a.apns_id,
                a.apns_unique_id,
                a.apns_timestamp.map(micros),
                a.error
            ])
        })
        .op(op)?;
    found(changed, op, push_id)
}
