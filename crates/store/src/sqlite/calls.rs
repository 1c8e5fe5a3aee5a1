//! Apps, tokens and calls on SQLite.

use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{Row, params};

use super::{SqliteStore, constraint, write_tx};
use crate::error::QueryContext;
use crate::records::{attrs_from_json, attrs_to_json, columns, lease_end, micros, time};
use crate::{
    App, Attempt, Call, CallState, CreatedCall, NewCall, NewJob, StoreError, Token,
    TokenRegistration,
};
use pushtrace_model::Timestamp;

impl SqliteStore {
    pub(crate) async fn upsert_app(&self, app: &App) -> Result<(), StoreError> {
        let app = app.clone();
        self.run(move |conn| {
            conn.prepare_cached(
                "INSERT INTO apps (name, bundle_id, environment) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE
                 SET bundle_id = excluded.bundle_id, environment = excluded.environment",
            )
            .and_then(|mut s| s.execute(params![app.name, app.bundle_id, app.environment]))
            .op("upsert_app")?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn apps(&self) -> Result<Vec<App>, StoreError> {
        self.run(|conn| {
            const OP: &str = "apps";
            let sql = format!("SELECT {} FROM apps ORDER BY name", columns::APP);
            let mut stmt = conn.prepare_cached(&sql).op(OP)?;
            let mut rows = stmt.query([]).op(OP)?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().op(OP)? {
                out.push(app_row(row, OP)?);
            }
            Ok(out)
        })
        .await
    }

    pub(crate) async fn register_token(
        &self,
        reg: &TokenRegistration,
    ) -> Result<Token, StoreError> {
        let reg = reg.clone();
        self.run(move |conn| {
            let sql = format!(
                "INSERT INTO tokens (app, token, user_id, environment, topic, registered_at, attrs)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (app, token) DO UPDATE SET
                   user_id = excluded.user_id, environment = excluded.environment,
                   topic = excluded.topic, registered_at = excluded.registered_at,
                   attrs = excluded.attrs, invalidated_at = NULL, invalidated_reason = NULL
                 RETURNING {}",
                columns::TOKEN
            );
            let mut stmt = conn.prepare_cached(&sql).op("register_token")?;
            let mut rows = stmt
                .query(params![
                    reg.app,
                    reg.token,
                    reg.user,
                    reg.environment,
                    reg.topic,
                    micros(reg.registered_at),
                    attrs_to_json(&reg.attrs)
                ])
                .op("register_token")?;
            match rows.next().op("register_token")? {
                Some(row) => token_row(row, "register_token"),
                None => Err(StoreError::Query {
                    op: "register_token",
                    message: "sqlite: the upsert returned no row".into(),
                }),
            }
        })
        .await
    }

    pub(crate) async fn unregister_token(
        &self,
        app: &str,
        token: &str,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        let (app, token) = (app.to_string(), token.to_string());
        self.run(move |conn| {
            let changed = conn
                .prepare_cached(
                    "UPDATE tokens SET invalidated_at = ?3, invalidated_reason = 'unregistered'
                     WHERE app = ?1 AND token = ?2 AND invalidated_at IS NULL",
                )
                .and_then(|mut s| s.execute(params![app, token, micros(at)]))
                .op("unregister_token")?;
            Ok(changed > 0)
        })
        .await
    }

    pub(crate) async fn invalidate_token(
        &self,
        app: &str,
        token: &str,
        apns_timestamp: Timestamp,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let (app, token, reason) = (app.to_string(), token.to_string(), reason.to_string());
        self.run(move |conn| {
            let changed = conn
                .prepare_cached(
                    "UPDATE tokens SET invalidated_at = ?3, invalidated_reason = ?4
                     WHERE app = ?1 AND token = ?2 AND invalidated_at IS NULL
                       AND registered_at < ?3",
                )
                .and_then(|mut s| s.execute(params![app, token, micros(apns_timestamp), reason]))
                .op("invalidate_token")?;
            Ok(changed > 0)
        })
        .await
    }

    pub(crate) async fn token(&self, app: &str, token: &str) -> Result<Option<Token>, StoreError> {
        let (app, token) = (app.to_string(), token.to_string());
        self.run(move |conn| {
            let sql = format!(
                "SELECT {} FROM tokens WHERE app = ?1 AND token = ?2",
                columns::TOKEN
            );
            let mut stmt = conn.prepare_cached(&sql).op("token")?;
            let mut rows = stmt.query(params![app, token]).op("token")?;
            match rows.next().op("token")? {
                Some(row) => token_row(row, "token").map(Some),
                None => Ok(None),
            }
        })
        .await
    }

    pub(crate) async fn active_tokens(
        &self,
        app: &str,
        user: &str,
    ) -> Result<Vec<Token>, StoreError> {
        let (app, user) = (app.to_string(), user.to_string());
        self.run(move |conn| {
            let sql = format!(
                "SELECT {} FROM tokens
                 WHERE app = ?1 AND user_id = ?2 AND invalidated_at IS NULL
                 ORDER BY registered_at, token",
                columns::TOKEN
            );
            let mut stmt = conn.prepare_cached(&sql).op("active_tokens")?;
            let mut rows = stmt.query(params![app, user]).op("active_tokens")?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().op("active_tokens")? {
                out.push(token_row(row, "active_tokens")?);
            }
            Ok(out)
        })
        .await
    }

    pub(crate) async fn create_call(
        &self,
        call: &NewCall,
        attempts: &[Attempt],
        jobs: &[NewJob],
        claim: Option<(&str, Duration)>,
    ) -> Result<CreatedCall, StoreError> {
        let (call, attempts, jobs) = (call.clone(), attempts.to_vec(), jobs.to_vec());
        let claim =
            claim.map(|(owner, lease)| (owner.to_owned(), lease_end(call.created_at, lease)));
        self.run(move |conn| {
            const OP: &str = "create_call";
            let tx = write_tx(conn, OP)?;
            if let Some(existing) = select_call(
                &tx,
                "app = ?1 AND client_call_id = ?2",
                params![call.app, call.client_call_id],
                OP,
            )? {
                return Ok(CreatedCall {
                    call: existing,
                    created: false,
                    job_ids: Vec::new(),
                });
            }
            tx.prepare_cached(
                "INSERT INTO calls (call_id, app, client_call_id, caller, callee, created_at,
                                    deadline, attrs, state, state_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'ringing', ?6)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    call.call_id,
                    call.app,
                    call.client_call_id,
                    call.caller,
                    call.callee,
                    micros(call.created_at),
                    micros(call.deadline),
                    attrs_to_json(&call.attrs)
                ])
            })
            .map_err(|e| constraint(e, OP, "call (call_id already used by another call)"))?;
            for attempt in &attempts {
                super::pushes::insert_attempt(&tx, attempt, OP)?;
            }
            let mut job_ids = Vec::with_capacity(jobs.len());
            for job in &jobs {
                // The jobs due by the call's creation are its creator's to run at once.
                let claimed = claim
                    .as_ref()
                    .filter(|_| job.due_at <= call.created_at)
                    .map(|(owner, until)| (owner.as_str(), *until));
                job_ids.push(super::jobs::insert_claimed_job(&tx, job, claimed, OP)?);
            }
            tx.commit().op(OP)?;
            Ok(CreatedCall {
                call: Call {
                    call_id: call.call_id,
                    app: call.app,
                    client_call_id: call.client_call_id,
                    caller: call.caller,
                    callee: call.callee,
                    created_at: time(micros(call.created_at)),
                    deadline: time(micros(call.deadline)),
                    attrs: call.attrs,
                    state: CallState::Ringing,
                    state_at: time(micros(call.created_at)),
                },
                created: true,
                job_ids,
            })
        })
        .await
    }

    pub(crate) async fn call(&self, call_id: &str) -> Result<Option<Call>, StoreError> {
        let call_id = call_id.to_string();
        self.run(move |conn| select_call(conn, "call_id = ?1", params![call_id], "call"))
            .await
    }

    pub(crate) async fn call_by_client_id(
        &self,
        app: &str,
        client_call_id: &str,
    ) -> Result<Option<Call>, StoreError> {
        let (app, client) = (app.to_string(), client_call_id.to_string());
        self.run(move |conn| {
            select_call(
                conn,
                "app = ?1 AND client_call_id = ?2",
                params![app, client],
                "call_by_client_id",
            )
        })
        .await
    }

    pub(crate) async fn transition_call(
        &self,
        call_id: &str,
        from: &[CallState],
        to: CallState,
        at: Timestamp,
    ) -> Result<Option<Call>, StoreError> {
        if from.is_empty() {
            return Ok(None);
        }
        let call_id = call_id.to_string();
        let from: Vec<&'static str> = from.iter().map(|s| s.as_str()).collect();
        self.run(move |conn| {
            // One statement per size of `from` (at most six), each cached.
            let slots: Vec<String> = (0..from.len()).map(|i| format!("?{}", i + 4)).collect();
            let sql = format!(
                "UPDATE calls SET state = ?2, state_at = ?3
                 WHERE call_id = ?1 AND state IN ({}) RETURNING {}",
                slots.join(", "),
                columns::CALL
            );
            let mut stmt = conn.prepare_cached(&sql).op("transition_call")?;
            let mut args = vec![
                Value::Text(call_id),
                Value::Text(to.as_str().to_string()),
                Value::Integer(micros(at)),
            ];
            args.extend(from.iter().map(|state| Value::Text(state.to_string())));
            let mut rows = stmt
                .query(rusqlite::params_from_iter(args))
                .op("transition_call")?;
            match rows.next().op("transition_call")? {
                Some(row) => call_row(row, "transition_call").map(Some),
                None => Ok(None),
            }
        })
        .await
    }
}

/// The call matching `filter` (a WHERE clause over `calls`), if any.
pub(super) fn select_call<P: rusqlite::Params>(
    conn: &rusqlite::Connection,
    filter: &str,
    params: P,
    op: &'static str,
) -> Result<Option<Call>, StoreError> {
    let sql = format!("SELECT {} FROM calls WHERE {filter}", columns::CALL);
    let mut stmt = conn.prepare_cached(&sql).op(op)?;
    let mut rows = stmt.query(params).op(op)?;
    match rows.next().op(op)? {
        Some(row) => call_row(row, op).map(Some),
        None => Ok(None),
    }
}

fn app_row(row: &Row<'_>, op: &'static str) -> Result<App, StoreError> {
    Ok(App {
        name: row.get(0).op(op)?,
        bundle_id: row.get(1).op(op)?,
        environment: row.get(2).op(op)?,
    })
}

pub(super) fn token_row(row: &Row<'_>, op: &'static str) -> Result<Token, StoreError> {
    let attrs: String = row.get(6).op(op)?;
    Ok(Token {
        app: row.get(0).op(op)?,
        token: row.get(1).op(op)?,
        user: row.get(2).op(op)?,
        environment: row.get(3).op(op)?,
        topic: row.get(4).op(op)?,
        registered_at: time(row.get(5).op(op)?),
        attrs: attrs_from_json(&attrs)?,
        invalidated_at: row.get::<_, Option<i64>>(7).op(op)?.map(time),
        invalidated_reason: row.get(8).op(op)?,
    })
}

pub(super) fn call_row(row: &Row<'_>, op: &'static str) -> Result<Call, StoreError> {
    let attrs: String = row.get(7).op(op)?;
    let state: String = row.get(8).op(op)?;
    Ok(Call {
        call_id: row.get(0).op(op)?,
        app: row.get(1).op(op)?,
        client_call_id: row.get(2).op(op)?,
        caller: row.get(3).op(op)?,
        callee: row.get(4).op(op)?,
        created_at: time(row.get(5).op(op)?),
        deadline: time(row.get(6).op(op)?),
        attrs: attrs_from_json(&attrs)?,
        state: state.parse()?,
        state_at: time(row.get(9).op(op)?),
    })
}
