//! [`Store`]: the one handle the gateway holds, whichever backend is behind it.
//!
//! Each method forwards to the backend; the semantics both must honour are written here, and
//! the shared test suite (`tests/suite`) checks them on both.

use std::fmt;
use std::time::Duration;

use pushtrace_model::{PushRecord, Receipt, Timestamp};

use crate::postgres::PgStore;
use crate::sqlite::SqliteStore;
use crate::{
    App, Attempt, AttemptAnswer, Call, CallEffects, CallQuery, CallState, CreatedCall, Event, Job,
    NewCall, NewEvent, NewJob, NewWebhook, Page, ReceiptInsert, Rollup, StoreBuilder, StoreError,
    StoreGauges, Token, TokenQuery, TokenRegistration, Transitioned, Webhook, WebhookAttempt,
    WebhookNext, WebhookQuery,
};

/// Which database a [`Store`] runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgresql",
        })
    }
}

/// The gateway's durable state. Cheap to clone: clones share the connection(s).
#[derive(Clone)]
pub struct Store {
    imp: Imp,
}

#[derive(Clone)]
enum Imp {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

macro_rules! dispatch {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match &$self.imp {
            Imp::Sqlite(store) => store.$method($($arg),*).await,
            Imp::Postgres(store) => store.$method($($arg),*).await,
        }
    };
}

impl Store {
    pub(crate) fn sqlite(store: SqliteStore) -> Store {
        Store {
            imp: Imp::Sqlite(store),
        }
    }

    pub(crate) fn postgres(store: PgStore) -> Store {
        Store {
            imp: Imp::Postgres(store),
        }
    }

    /// Opens a store from a URL: `postgres://…` or `postgresql://…` for PostgreSQL;
    /// `sqlite:PATH`, `sqlite::memory:` or a bare file path for SQLite.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        StoreBuilder::from_url(url)?.open().await
    }

    pub fn backend(&self) -> Backend {
        match self.imp {
            Imp::Sqlite(_) => Backend::Sqlite,
            Imp::Postgres(_) => Backend::Postgres,
        }
    }

    /// Adds an app or replaces its bundle id and environment.
    pub async fn upsert_app(&self, app: &App) -> Result<(), StoreError> {
        dispatch!(self.upsert_app(app))
    }

    /// Every app, by name.
    pub async fn apps(&self) -> Result<Vec<App>, StoreError> {
        dispatch!(self.apps())
    }

    /// Upserts the (app, token) row: sets user, environment, topic, registered_at and attrs,
    /// and clears any invalidation (the app registering again is proof the token lives).
    pub async fn register_token(&self, reg: &TokenRegistration) -> Result<Token, StoreError> {
        dispatch!(self.register_token(reg))
    }

    /// The app says the token is gone: invalidated at `at` with reason "unregistered". False
    /// when unknown or already invalid.
    pub async fn unregister_token(
        &self,
        app: &str,
        token: &str,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        dispatch!(self.unregister_token(app, token, at))
    }

    /// 410 rule: invalidate only if the token was not registered again after `apns_timestamp`
    /// (registered_at < apns_timestamp) and is not already invalid. Returns whether it did.
    pub async fn invalidate_token(
        &self,
        app: &str,
        token: &str,
        apns_timestamp: Timestamp,
        reason: &str,
    ) -> Result<bool, StoreError> {
        dispatch!(self.invalidate_token(app, token, apns_timestamp, reason))
    }

    pub async fn token(&self, app: &str, token: &str) -> Result<Option<Token>, StoreError> {
        dispatch!(self.token(app, token))
    }

    /// The user's valid tokens, oldest registration first.
    pub async fn active_tokens(&self, app: &str, user: &str) -> Result<Vec<Token>, StoreError> {
        dispatch!(self.active_tokens(app, user))
    }

    /// In ONE transaction: insert the call, its attempts (queued) and its jobs, unless a call
    /// with the same (app, client_call_id) exists: then insert nothing and return it with
    /// created=false (job_ids empty). Concurrent duplicates, from several instances too,
    /// resolve to one call.
    pub async fn create_call(
        &self,
        call: &NewCall,
        attempts: &[Attempt],
        jobs: &[NewJob],
    ) -> Result<CreatedCall, StoreError> {
        dispatch!(self.create_call(call, attempts, jobs, None))
    }

    /// [`Store::create_call`], with the jobs due by the call's `created_at` (its first pushes)
    /// inserted already claimed by `owner` (claims = 1, leased until `created_at + lease`), as
    /// [`Store::claim_job`] would leave them: the creating instance runs them at once, without a
    /// claim of its own. The other jobs (the deadline) are free as usual.
    pub async fn create_call_claiming(
        &self,
        call: &NewCall,
        attempts: &[Attempt],
        jobs: &[NewJob],
        owner: &str,
        lease: Duration,
    ) -> Result<CreatedCall, StoreError> {
        dispatch!(self.create_call(call, attempts, jobs, Some((owner, lease))))
    }

    pub async fn call(&self, call_id: &str) -> Result<Option<Call>, StoreError> {
        dispatch!(self.call(call_id))
    }

    pub async fn call_by_client_id(
        &self,
        app: &str,
        client_call_id: &str,
    ) -> Result<Option<Call>, StoreError> {
        dispatch!(self.call_by_client_id(app, client_call_id))
    }

    /// Compare-and-set: move to `to` at `at` only if the current state is one of `from`.
    /// Returns the updated call, or None when the state did not match (or no such call).
    pub async fn transition_call(
        &self,
        call_id: &str,
        from: &[CallState],
        to: CallState,
        at: Timestamp,
    ) -> Result<Option<Call>, StoreError> {
        dispatch!(self.transition_call(call_id, from, to, at))
    }

    /// Adds one push attempt (a retry is a new push_id with attempt + 1).
    pub async fn insert_attempt(&self, attempt: &Attempt) -> Result<(), StoreError> {
        dispatch!(self.insert_attempt(attempt))
    }

    /// The push went on the wire at `sent_at`: answers once that is committed. An unknown
    /// push_id is an `Invalid` error. On PostgreSQL concurrent calls are written together in one
    /// statement.
    pub async fn mark_sent(&self, push_id: &str, sent_at: Timestamp) -> Result<(), StoreError> {
        dispatch!(self.mark_sent(push_id, sent_at))
    }

    /// APNs's answer (or the transport failure). An unknown push_id is an `Invalid` error.
    pub async fn record_answer(
        &self,
        push_id: &str,
        answer: &AttemptAnswer,
    ) -> Result<(), StoreError> {
        dispatch!(self.record_answer(push_id, answer))
    }

    /// In one transaction: records the push's answer (as [`Store::record_answer`]) and deletes
    /// the job that sent it if `owner` still holds it (as [`Store::complete_job`]). Returns
    /// whether the job was deleted. An unknown push_id is an `Invalid` error and the job stays.
    /// On PostgreSQL concurrent calls are written together in one statement.
    pub async fn finish_push(
        &self,
        push_id: &str,
        answer: &AttemptAnswer,
        job_id: i64,
        owner: &str,
    ) -> Result<bool, StoreError> {
        dispatch!(self.finish_push(push_id, answer, job_id, owner))
    }

    pub async fn attempt(&self, push_id: &str) -> Result<Option<Attempt>, StoreError> {
        dispatch!(self.attempt(push_id))
    }

    /// The call's attempts by queued_at, then push_id.
    pub async fn attempts_for_call(&self, call_id: &str) -> Result<Vec<Attempt>, StoreError> {
        dispatch!(self.attempts_for_call(call_id))
    }

    /// Stores the first receipt of a push; a second one is `Duplicate` (and not stored). A
    /// receipt for a push_id with no attempt is an `Invalid` error.
    pub async fn record_receipt(&self, receipt: &Receipt) -> Result<ReceiptInsert, StoreError> {
        dispatch!(self.record_receipt(receipt))
    }

    /// The first receipt (by received_at, then push_id) of any push of `call_id` to `token`:
    /// the device has the call, so nothing more may be sent to it for this call. One indexed
    /// read, cheap enough to run right before every re-send.
    pub async fn device_receipt(
        &self,
        call_id: &str,
        token: &str,
    ) -> Result<Option<Receipt>, StoreError> {
        dispatch!(self.device_receipt(call_id, token))
    }

    /// The call's receipts by received_at, then push_id.
    pub async fn receipts_for_call(&self, call_id: &str) -> Result<Vec<Receipt>, StoreError> {
        dispatch!(self.receipts_for_call(call_id))
    }

    /// Appends to the event log; returns the event's seq (increasing).
    pub async fn append_event(&self, event: &NewEvent) -> Result<i64, StoreError> {
        dispatch!(self.append_event(event))
    }

    /// The call's events by seq.
    pub async fn events_for_call(&self, call_id: &str) -> Result<Vec<Event>, StoreError> {
        dispatch!(self.events_for_call(call_id))
    }

    /// A device's push history, newest first: attempts to this token with their receipts.
    pub async fn token_history(
        &self,
        app: &str,
        token: &str,
        limit: usize,
    ) -> Result<Vec<(Attempt, Option<Receipt>)>, StoreError> {
        dispatch!(self.token_history(app, token, limit))
    }

    /// Adds due work; returns its id.
    pub async fn add_job(&self, job: &NewJob) -> Result<i64, StoreError> {
        dispatch!(self.add_job(job))
    }

    /// Claims up to `limit` jobs with due_at <= now whose lease is free or expired: sets
    /// owner, lease_until = now + lease, claims += 1; ordered by due_at. PostgreSQL uses
    /// `FOR UPDATE SKIP LOCKED` so concurrent instances never claim the same job; SQLite a
    /// write transaction (`BEGIN IMMEDIATE`).
    pub async fn claim_due(
        &self,
        now: Timestamp,
        owner: &str,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Job>, StoreError> {
        dispatch!(self.claim_due(now, owner, lease, limit))
    }

    /// Claims one job by id whatever its due_at (the instance that created it runs it at
    /// once), if its lease is free or expired.
    pub async fn claim_job(
        &self,
        id: i64,
        now: Timestamp,
        owner: &str,
        lease: Duration,
    ) -> Result<Option<Job>, StoreError> {
        dispatch!(self.claim_job(id, now, owner, lease))
    }

    /// Deletes the job if `owner` still holds it; false otherwise (someone reclaimed it).
    pub async fn complete_job(&self, id: i64, owner: &str) -> Result<bool, StoreError> {
        dispatch!(self.complete_job(id, owner))
    }

    /// Sets due_at and frees the lease if `owner` still holds the job.
    pub async fn reschedule_job(
        &self,
        id: i64,
        owner: &str,
        due_at: Timestamp,
    ) -> Result<bool, StoreError> {
        dispatch!(self.reschedule_job(id, owner, due_at))
    }

    /// The earliest time a job can be claimed: its due_at, or the end of its lease when a
    /// lease runs past it. (The pinned API said "earliest due_at of any job"; with a job
    /// leased while overdue that would be in the past until the lease ends, and an instance
    /// sleeping until it would spin. For jobs without a lease the two are the same.)
    pub async fn next_due_at(&self) -> Result<Option<Timestamp>, StoreError> {
        dispatch!(self.next_due_at())
    }

    /// How many jobs exist (leased or not).
    pub async fn pending_jobs(&self) -> Result<u64, StoreError> {
        dispatch!(self.pending_jobs())
    }

    /// [`Store::transition_call`] with its side effects in the same transaction: when the call
    /// moves, `effects` (events, attempts, jobs and a webhook event, whose body gets the moved
    /// call as `data.call`) are written with it; when it does not, nothing is. A crash cannot
    /// leave the state changed without what it owes (the missed-call alert, the webhook).
    pub async fn transition_call_with(
        &self,
        call_id: &str,
        from: &[CallState],
        to: CallState,
        at: Timestamp,
        effects: &CallEffects,
    ) -> Result<Option<Transitioned>, StoreError> {
        dispatch!(self.transition_call_with(call_id, from, to, at, effects))
    }

    /// [`Store::invalidate_token`] writing `webhook` to the outbox in the same transaction when
    /// (and only when) it invalidates.
    pub async fn invalidate_token_with(
        &self,
        app: &str,
        token: &str,
        apns_timestamp: Timestamp,
        reason: &str,
        webhook: Option<&NewWebhook>,
    ) -> Result<bool, StoreError> {
        dispatch!(self.invalidate_token_with(app, token, apns_timestamp, reason, webhook))
    }

    /// Claims up to `limit` pending webhook deliveries due at `now` whose lease is free or
    /// expired, for `lease`; ordered by due time. As [`Store::claim_due`]: PostgreSQL uses
    /// `FOR UPDATE SKIP LOCKED`, so instances never claim the same delivery at once.
    pub async fn claim_webhooks(
        &self,
        now: Timestamp,
        owner: &str,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Webhook>, StoreError> {
        dispatch!(self.claim_webhooks(now, owner, lease, limit))
    }

    /// Records an attempt and what follows it (delivered, due again, failed for good) and frees
    /// the lease, if `owner` still holds the delivery; false otherwise (its lease lapsed and
    /// another instance took it over, or it is no longer pending).
    pub async fn finish_webhook_attempt(
        &self,
        event_id: &str,
        owner: &str,
        attempt: &WebhookAttempt,
        next: WebhookNext,
    ) -> Result<bool, StoreError> {
        dispatch!(self.finish_webhook_attempt(event_id, owner, attempt, next))
    }

    /// One page of an app's webhook deliveries, newest first, each with its attempts.
    pub async fn webhooks(
        &self,
        query: &WebhookQuery,
    ) -> Result<Vec<(Webhook, Vec<WebhookAttempt>)>, StoreError> {
        dispatch!(self.webhooks(query))
    }

    /// One page of an app's calls, newest first (`created_at`, then `call_id`, descending),
    /// filtered by state and creation time; the page's `next` is the `after` of the next one.
    pub async fn list_calls(&self, query: &CallQuery) -> Result<Page<Call>, StoreError> {
        dispatch!(self.list_calls(query))
    }

    /// One page of a user's tokens of an app, valid and invalidated (or one of the two), newest
    /// registration first (`registered_at`, then token, descending).
    pub async fn list_tokens(&self, query: &TokenQuery) -> Result<Page<Token>, StoreError> {
        dispatch!(self.list_tokens(query))
    }

    /// Calls in flight, jobs due and the webhook outbox's depth at `now` (for `/metrics`).
    pub async fn gauges(&self, now: Timestamp) -> Result<StoreGauges, StoreError> {
        dispatch!(self.gauges(now))
    }

    /// Recomputes the rollups of one UTC day (YYYY-MM-DD) from attempts (by queued_at) and
    /// their receipts, per app and cohort ("all"/"all" plus every attr key/value of the
    /// attempts), replacing that day's rows; end-of-call pushes are not counted (as in the
    /// export). Returns how many rows it wrote.
    pub async fn rollup_day(&self, day: &str) -> Result<usize, StoreError> {
        let (from, to) = crate::rollup::day_bounds(day)?;
        let rows = dispatch!(self.attempts_between(from, to))?;
        let rollups = crate::rollup::compute(day, &rows);
        dispatch!(self.replace_rollups(day, &rollups))?;
        Ok(rollups.len())
    }

    /// Stored rollups of `app` (or all apps) for the days in [from_day, to_day], by day, app,
    /// cohort key and value.
    pub async fn rollups(
        &self,
        app: Option<&str>,
        from_day: &str,
        to_day: &str,
    ) -> Result<Vec<Rollup>, StoreError> {
        crate::rollup::check_day(from_day)?;
        crate::rollup::check_day(to_day)?;
        dispatch!(self.rollups(app, from_day, to_day))
    }

    /// Attempts (with their receipt) of `app` (or all) queued in [from, to), as push records
    /// (docs/formats.md) ordered by queued_at: device = token, sent_at = queued_at if never
    /// sent, received_at = the receipt's device clock else its server clock, deadline = the call's.
    pub async fn export_push_records(
        &self,
        app: Option<&str>,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<Vec<PushRecord>, StoreError> {
        let rows = dispatch!(self.export_rows(app, from, to))?;
        Ok(rows.into_iter().map(|row| row.into_record()).collect())
    }

    /// Inserts PushRecords as attempts (+ receipts when received_at is set) of `app`, in one
    /// transaction; push_id generated (`import-<n>-<hash>`) when absent; records whose
    /// push_id exists are skipped. Returns (inserted, skipped).
    /// End-of-call pushes are left out: no app posts a receipt for them, so a reader of the
    /// records would take them for rings that never arrived.
    pub async fn import_push_records(
        &self,
        app: &str,
        records: &[PushRecord],
    ) -> Result<(usize, usize), StoreError> {
        let rows: Vec<_> = records
            .iter()
            .enumerate()
            .map(|(index, record)| crate::push_records::ImportRow::new(app, index, record))
            .collect();
        dispatch!(self.import_rows(rows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{JobKind, records::time};

    fn send<F: std::future::Future + Send>(_: F) {}

    /// The gateway shares one `Store` across tasks and awaits it inside axum handlers, which
    /// need `Send` futures: a backend holding a non-`Send` value across an await would break
    /// it at the gateway's compile time, so it is checked here.
    #[test]
    fn store_is_shareable_and_its_futures_are_send() {
        fn shareable<T: Clone + Send + Sync + 'static>() {}
        shareable::<Store>();
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else {
            panic!("a runtime");
        };
        let Ok(store) = runtime.block_on(StoreBuilder::sqlite_memory().open()) else {
            panic!("an in-memory store");
        };
        let (s, at) = (&store, time(0));
        let lease = Duration::from_secs(1);
        let answer = AttemptAnswer {
            responded_at: at,
            apns_status: None,
            apns_reason: None,
            apns_id: None,
            apns_unique_id: None,
            apns_timestamp: None,
            error: None,
        };
        let app = App {
            name: String::new(),
            bundle_id: String::new(),
            environment: String::new(),
        };
        let job = NewJob {
            call_id: String::new(),
            kind: JobKind::Deadline,
            due_at: at,
        };
        send(s.upsert_app(&app));
        send(s.apps());
        send(s.unregister_token("", "", at));
        send(s.invalidate_token("", "", at, ""));
        send(s.token("", ""));
        send(s.active_tokens("", ""));
        send(s.call(""));
        send(s.call_by_client_id("", ""));
        send(s.transition_call("", &[], CallState::Failed, at));
        send(s.mark_sent("", at));
        send(s.finish_push("", &answer, 1, ""));
        send(s.attempt(""));
        send(s.attempts_for_call(""));
        send(s.receipts_for_call(""));
        send(s.device_receipt("", ""));
        send(s.events_for_call(""));
        send(s.token_history("", "", 1));
        send(s.add_job(&job));
        send(s.claim_due(at, "", lease, 1));
        send(s.claim_job(1, at, "", lease));
        send(s.complete_job(1, ""));
        send(s.reschedule_job(1, "", at));
        send(s.next_due_at());
        send(s.pending_jobs());
        send(s.rollup_day(""));
        send(s.rollups(None, "", ""));
        send(s.export_push_records(None, None, None));
        send(s.import_push_records("", &[]));
        send(s.create_call(
            &NewCall {
                call_id: String::new(),
                app: String::new(),
                client_call_id: String::new(),
                caller: String::new(),
                callee: String::new(),
                created_at: at,
                deadline: at,
                attrs: Default::default(),
            },
            &[],
            std::slice::from_ref(&job),
        ));
        send(s.create_call_claiming(
            &NewCall {
                call_id: String::new(),
                app: String::new(),
                client_call_id: String::new(),
                caller: String::new(),
                callee: String::new(),
                created_at: at,
                deadline: at,
                attrs: Default::default(),
            },
            &[],
            std::slice::from_ref(&job),
            "",
            lease,
        ));
    }
}
