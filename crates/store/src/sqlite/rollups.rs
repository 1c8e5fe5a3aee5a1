//! Stored rollups on SQLite (computed in `crate::rollup`).

use rusqlite::params;

use super::{SqliteStore, write_tx};
use crate::error::QueryContext;
use crate::records::{columns, from_i64, to_i64};
use crate::{Rollup, StoreError};

impl SqliteStore {
    /// Replaces the day's rows with `rollups` in one transaction.
    pub(crate) async fn replace_rollups(
        &self,
        day: &str,
        rollups: &[Rollup],
    ) -> Result<(), StoreError> {
        let (day, rollups) = (day.to_string(), rollups.to_vec());
        self.run(move |conn| {
            const OP: &str = "rollup_day";
            let tx = write_tx(conn, OP)?;
            tx.prepare_cached("DELETE FROM rollups WHERE day = ?1")
                .and_then(|mut s| s.execute(params![day]))
                .op(OP)?;
            let sql = format!(
                "INSERT INTO rollups ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                columns::ROLLUP
            );
            for r in &rollups {
                let n = |column, value| to_i64(column, value);
                let counts = [
                    n("pushes", r.pushes)?,
                    n("accepted", r.accepted)?,
                    n("rejected", r.rejected)?,
                    n("failed", r.failed)?,
                    n("received", r.received)?,
                    n("received_late", r.received_late)?,
                    n("latency_ms_sum", r.latency_ms_sum)?,
                ];
                tx.prepare_cached(&sql)
                    .and_then(|mut s| {
                        s.execute(params![
                            r.day,
                            r.app,
                            r.cohort_key,
                            r.cohort_value,
                            counts[0],
                            counts[1],
                            counts[2],
                            counts[3],
                            counts[4],
                            counts[5],
                            counts[6]
                        ])
                    })
                    .op(OP)?;
            }
            tx.commit().op(OP)
        })
        .await
    }

    pub(crate) async fn rollups(
        &self,
        app: Option<&str>,
        from_day: &str,
        to_day: &str,
    ) -> Result<Vec<Rollup>, StoreError> {
        let (app, from, to) = (
            app.map(str::to_string),
            from_day.to_string(),
            to_day.to_string(),
        );
        self.run(move |conn| {
            const OP: &str = "rollups";
            let sql = format!(
                "SELECT {} FROM rollups WHERE day >= ?1 AND day <= ?2 AND (?3 IS NULL OR app = ?3)
                 ORDER BY day, app, cohort_key, cohort_value",
                columns::ROLLUP
            );
            let mut stmt = conn.prepare_cached(&sql).op(OP)?;
            let mut rows = stmt.query(params![from, to, app]).op(OP)?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().op(OP)? {
                let n = |i: usize, column: &str| -> Result<u64, StoreError> {
                    from_i64(column, row.get::<_, i64>(i).op(OP)?)
                };
                out.push(Rollup {
                    day: row.get(0).op(OP)?,
                    app: row.get(1).op(OP)?,
                    cohort_key: row.get(2).op(OP)?,
                    cohort_value: row.get(3).op(OP)?,
                    pushes: n(4, "pushes")?,
                    accepted: n(5, "accepted")?,
                    rejected: n(6, "rejected")?,
                    failed: n(7, "failed")?,
                    received: n(8, "received")?,
                    received_late: n(9, "received_late")?,
                    latency_ms_sum: n(10, "latency_ms_sum")?,
                });
            }
            Ok(out)
        })
        .await
    }
}
