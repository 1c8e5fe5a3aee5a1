//! Stored rollups on PostgreSQL (computed in `crate::rollup`).

use tokio_postgres::Row;

use super::{PgStore, get};
use crate::error::QueryContext;
use crate::records::{columns, from_i64, to_i64};
use crate::{Rollup, StoreError};

impl PgStore {
    /// Replaces the day's rows with `rollups` in one transaction.
    pub(crate) async fn replace_rollups(
        &self,
        day: &str,
        rollups: &[Rollup],
    ) -> Result<(), StoreError> {
        const OP: &str = "rollup_day";
        let mut client = self.client(OP).await?;
        let tx = client.transaction().await.op(OP)?;
        tx.execute("DELETE FROM rollups WHERE day = $1", &[&day])
            .await
            .op(OP)?;
        let sql = format!(
            "INSERT INTO rollups ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            columns::ROLLUP
        );
        let stmt = tx.prepare_cached(&sql).await.op(OP)?;
        for r in rollups {
            let n = |column, value| to_i64(column, value);
            tx.execute(
                &stmt,
                &[
                    &r.day,
                    &r.app,
                    &r.cohort_key,
                    &r.cohort_value,
                    &n("pushes", r.pushes)?,
                    &n("accepted", r.accepted)?,
                    &n("rejected", r.rejected)?,
                    &n("failed", r.failed)?,
                    &n("received", r.received)?,
                    &n("received_late", r.received_late)?,
                    &n("latency_ms_sum", r.latency_ms_sum)?,
                ],
            )
            .await
            .op(OP)?;
        }
        tx.commit().await.op(OP)
    }

    pub(crate) async fn rollups(
        &self,
        app: Option<&str>,
        from_day: &str,
        to_day: &str,
    ) -> Result<Vec<Rollup>, StoreError> {
        const OP: &str = "rollups";
        let client = self.client(OP).await?;
        let sql = format!(
            "SELECT {} FROM rollups
             WHERE day >= $1 AND day <= $2 AND ($3::TEXT IS NULL OR app = $3)
             ORDER BY day, app, cohort_key, cohort_value",
            columns::ROLLUP
        );
        let stmt = client.prepare_cached(&sql).await.op(OP)?;
        let rows = client
            .query(&stmt, &[&from_day, &to_day, &app])
            .await
            .op(OP)?;
        rows.iter().map(|row| rollup_row(row, OP)).collect()
    }
}

fn rollup_row(row: &Row, op: &'static str) -> Result<Rollup, StoreError> {
    let n = |i: usize, column: &str| from_i64::<u64>(column, get::<i64>(row, i, op)?);
    Ok(Rollup {
        day: get(row, 0, op)?,
        app: get(row, 1, op)?,
        cohort_key: get(row, 2, op)?,
        cohort_value: get(row, 3, op)?,
        pushes: n(4, "pushes")?,
        accepted: n(5, "accepted")?,
        rejected: n(6, "rejected")?,
        failed: n(7, "failed")?,
        received: n(8, "received")?,
        received_late: n(9, "received_late")?,
        latency_ms_sum: n(10, "latency_ms_sum")?,
    })
}
