//! Apps, tokens and calls on PostgreSQL.

use pushtrace_model::Timestamp;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{PgStore, get};
use crate::error::QueryContext;
use crate::records::{attrs_from_json, attrs_to_json, columns, micros, time};
use crate::{App, Call, CallState, StoreError, Token, TokenRegistration};

impl PgStore {
    pub(crate) async fn upsert_app(&self, app: &App) -> Result<(), StoreError> {
        const OP: &str = "upsert_app";
        let client = self.client(OP).await?;
        let stmt = client
            .prepare_cached(
                "INSERT INTO apps (name, bundle_id, environment) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO UPDATE
                 SET bundle_id = excluded.bundle_id, environment = excluded.environment",
            )
            .await
            .op(OP)?;
        client
            .execute(&stmt, &[&app.name, &app.bundle_id, &app.environment])
            .await
            .op(OP)?;
        Ok(())
    }

    pub(crate) async fn apps(&self) -> Result<Vec<App>, StoreError> {
        const OP: &str = "apps";
        let client = self.client(OP).await?;
        let stmt = client
            .prepare_cached(&format!("SELECT {} FROM apps ORDER BY name", columns::APP))
            .await
            .op(OP)?;
        let rows = client.query(&stmt, &[]).await.op(OP)?;
        rows.iter().map(|row| app_row(row, OP)).collect()
    }

    pub(crate) async fn register_token(
        &self,
        reg: &TokenRegistration,
    ) -> Result<Token, StoreError> {
        const OP: &str = "register_token";
        let client = self.client(OP).await?;
        let sql = format!(
            "INSERT INTO tokens (app, token, user_id, environment, topic, registered_at, attrs)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (app, token) DO UPDATE SET
               user_id = excluded.user_id, environment = excluded.environment,
               topic = excluded.topic, registered_at = excluded.registered_at,
               attrs = excluded.attrs, invalidated_at = NULL, invalidated_reason = NULL
             RETURNING {}",
            columns::TOKEN
        );
        let stmt = client.prepare_cached(&sql).await.op(OP)?;
        let row = client
            .query_one(
                &stmt,
                &[
                    &reg.app,
                    &reg.token,
                    &reg.user,
                    &reg.environment,
                    &reg.topic,
                    &micros(reg.registered_at),
                    &attrs_to_json(&reg.attrs),
                ],
            )
            .await
            .op(OP)?;
        token_row(&row, OP)
    }

    pub(crate) async fn unregister_token(
        &self,
        app: &str,
        token: &str,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        const OP: &str = "unregister_token";
        let client = self.client(OP).await?;
        let stmt = client
            .prepare_cached(
                "UPDATE tokens SET invalidated_at = $3, invalidated_reason = 'unregistered'
                 WHERE app = $1 AND token = $2 AND invalidated_at IS NULL",
            )
            .await
            .op(OP)?;
        let changed = client
            .execute(&stmt, &[&app, &token, &micros(at)])
            .await
            .op(OP)?;
        Ok(changed > 0)
    }

    pub(crate) async fn invalidate_token(
        &self,
        app: &str,
        token: &str,
        apns_timestamp: Timestamp,
        reason: &str,
    ) -> Result<bool, StoreError> {
        const OP: &str = "invalidate_token";
        let client = self.client(OP).await?;
        let stmt = client
            .prepare_cached(
                "UPDATE tokens SET invalidated_at = $3, invalidated_reason = $4
                 WHERE app = $1 AND token = $2 AND invalidated_at IS NULL
                   AND registered_at < $3",
            )
            .await
            .op(OP)?;
        let changed = client
            .execute(&stmt, &[&app, &token, &micros(apns_timestamp), &reason])
            .await
            .op(OP)?;
        Ok(changed > 0)
    }

    pub(crate) async fn token(&self, app: &str, token: &str) -> Result<Option<Token>, StoreError> {
        const OP: &str = "token";
        let client = self.client(OP).await?;
        let sql = format!(
            "SELECT {} FROM tokens WHERE app = $1 AND token = $2",
            columns::TOKEN
        );
        let stmt = client.prepare_cached(&sql).await.op(OP)?;
        let row = client.query_opt(&stmt, &[&app, &token]).await.op(OP)?;
        row.as_ref().map(|row| token_row(row, OP)).transpose()
    }

    pub(crate) async fn active_tokens(
        &self,
        app: &str,
        user: &str,
    ) -> Result<Vec<Token>, StoreError> {
        const OP: &str = "active_tokens";
        let client = self.client(OP).await?;
        let sql = format!(
            "SELECT {} FROM tokens
             WHERE app = $1 AND user_id = $2 AND invalidated_at IS NULL
             ORDER BY registered_at, token",
            columns::TOKEN
        );
        let stmt = client.prepare_cached(&sql).await.op(OP)?;
        let rows = client.query(&stmt, &[&app, &user]).await.op(OP)?;
        rows.iter().map(|row| token_row(row, OP)).collect()
    }

    pub(crate) async fn call(&self, call_id: &str) -> Result<Option<Call>, StoreError> {
        self.select_call("call_id = $1", &[&call_id], "call").await
    }

    pub(crate) async fn call_by_client_id(
        &self,
        app: &str,
        client_call_id: &str,
    ) -> Result<Option<Call>, StoreError> {
        self.select_call(
            "app = $1 AND client_call_id = $2",
            &[&app, &client_call_id],
            "call_by_client_id",
        )
        .await
    }

    async fn select_call(
        &self,
        filter: &str,
        params: &[&(dyn ToSql + Sync)],
        op: &'static str,
    ) -> Result<Option<Call>, StoreError> {
        let client = self.client(op).await?;
        select_call(&client, filter, params, op).await
    }

    pub(crate) async fn transition_call(
        &self,
        call_id: &str,
        from: &[CallState],
        to: CallState,
        at: Timestamp,
    ) -> Result<Option<Call>, StoreError> {
        const OP: &str = "transition_call";
        let client = self.client(OP).await?;
        let sql = format!(
            "UPDATE calls SET state = $2, state_at = $3
             WHERE call_id = $1 AND state = ANY($4) RETURNING {}",
            columns::CALL
        );
        let stmt = client.prepare_cached(&sql).await.op(OP)?;
        let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
        let row = client
            .query_opt(&stmt, &[&call_id, &to.as_str(), &micros(at), &from])
            .await
            .op(OP)?;
        row.as_ref().map(|row| call_row(row, OP)).transpose()
    }
}

pub(super) async fn select_call(
    client: &deadpool_postgres::Client,
    filter: &str,
    params: &[&(dyn ToSql + Sync)],
    op: &'static str,
) -> Result<Option<Call>, StoreError> {
    let sql = format!("SELECT {} FROM calls WHERE {filter}", columns::CALL);
    let stmt = client.prepare_cached(&sql).await.op(op)?;
    let row = client.query_opt(&stmt, params).await.op(op)?;
    row.as_ref().map(|row| call_row(row, op)).transpose()
}

fn app_row(row: &Row, op: &'static str) -> Result<App, StoreError> {
    Ok(App {
        name: get(row, 0, op)?,
        bundle_id: get(row, 1, op)?,
        environment: get(row, 2, op)?,
    })
}

pub(super) fn token_row(row: &Row, op: &'static str) -> Result<Token, StoreError> {
    Ok(Token {
        app: get(row, 0, op)?,
        token: get(row, 1, op)?,
        user: get(row, 2, op)?,
        environment: get(row, 3, op)?,
        topic: get(row, 4, op)?,
        registered_at: time(get(row, 5, op)?),
        attrs: attrs_from_json(get(row, 6, op)?)?,
        invalidated_at: get::<Option<i64>>(row, 7, op)?.map(time),
        invalidated_reason: get(row, 8, op)?,
    })
}

pub(super) fn call_row(row: &Row, op: &'static str) -> Result<Call, StoreError> {
    Ok(Call {
        call_id: get(row, 0, op)?,
        app: get(row, 1, op)?,
        client_call_id: get(row, 2, op)?,
        caller: get(row, 3, op)?,
        callee: get(row, 4, op)?,
        created_at: time(get(row, 5, op)?),
        deadline: time(get(row, 6, op)?),
        attrs: attrs_from_json(get(row, 7, op)?)?,
        state: get::<&str>(row, 8, op)?.parse()?,
        state_at: time(get(row, 9, op)?),
    })
}
