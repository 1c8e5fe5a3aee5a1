//! Sending one push (a `Send` job): build it, put it on the wire, record APNs's answer, and
//! decide what follows — nothing, a retry inside the window, or the token's invalidation.

use pushtrace_apns::client::{Outcome, SendResult};
use pushtrace_apns::{Expiration, Notification, Priority, Reason, Retry};
use pushtrace_model::Timestamp;
use pushtrace_store::{
    Attempt, AttemptAnswer, Call, CallState, Job, JobKind, NewEvent, NewJob, PushPurpose, PushType,
};
use serde_json::json;

use super::end_of_call::{end_payload, purpose_of};
use super::push_log::{self, FollowUp};
use super::retry_ceiling::NoTurn;
use super::{ALERT_RETRY_WINDOW, Engine, EngineError, MAX_CLAIMS, RECEIPT_GRACE};
use crate::metrics::PushLabels;
use crate::payload::{VoipPayload, missed_call_alert};
use crate::{clock, ids};

/// What an answer leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Next {
    /// Nothing more for this push.
    Done,
    /// Send again (a new push id) after this wait, if the window allows.
    Retry,
    /// The token is no longer usable: gone since this time (410), or not a token for this
    /// topic and environment at all (APNs's reason says which).
    Invalidate(Timestamp),
}

/// Apple's rules (docs/reference/apns.md §7): 429 and 5xx back off; no answer is retried unless the client
/// was shut down; every 4xx is final (a request or configuration fault will not heal by
/// resending); 410 invalidates the token (from APNs's timestamp), and so do `BadDeviceToken`
/// and `DeviceTokenNotForTopic` (from now): sending to them again only spends the
/// connection's error budget.
pub(crate) fn classify(outcome: &Outcome, now: Timestamp) -> Next {
    match outcome {
        Outcome::Accepted { .. } => Next::Done,
        Outcome::Rejected {
            status,
            reason,
            timestamp_ms,
            ..
        } => {
            if matches!(
                reason,
                Reason::BadDeviceToken | Reason::DeviceTokenNotForTopic
            ) {
                return Next::Invalidate(now);
            }
            if *status == 410 || *reason == Reason::Unregistered {
                return Next::Invalidate(timestamp_ms.map_or(now, clock::from_millis));
            }
            match reason.retry().unwrap_or_else(|| Retry::for_status(*status)) {
                Retry::Backoff => Next::Retry,
                Retry::Never | Retry::AfterFix => Next::Done,
            }
        }
        Outcome::Failed { retryable, .. } => {
            if *retryable {
                Next::Retry
            } else {
                Next::Done
            }
        }
    }
}

impl Engine {
    /// Claims a job by id and runs it on its own task.
    pub(crate) fn run_claimed(&self, job_id: i64) {
        let engine = self.clone();
        tokio::spawn(async move {
            let claimed = engine
                .0
                .store
                .claim_job(job_id, clock::now(), &engine.0.instance, engine.0.lease)
                .await;
            match claimed {
                Ok(Some(job)) => engine.run_job(job).await,
                // Another instance has it (or it is done): nothing to do.
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(job_id, error = %e, "job failed; retried when its lease lapses")
                }
            }
        });
    }

    /// Sends, on its own task, a push this instance has just created with its send job already
    /// claimed (`create_call_claiming`): the push and call are used as written, not read back.
    pub(crate) fn run_created_send(&self, job: Job, attempt: Attempt, call: Call) {
        let engine = self.clone();
        tokio::spawn(async move {
            if let Err(e) = engine.send_loaded(&job, attempt, call).await {
                tracing::warn!(
                    job_id = job.id,
                    call_id = %job.call_id,
                    error = %e,
                    "job failed; retried when its lease lapses"
                );
            }
        });
    }

    /// [`Engine::run_claimed`] at `due`: a retry goes out on time rather than at the worker's
    /// next poll, which still takes it if this instance stops first.
    pub(crate) fn run_claimed_at(&self, job_id: i64, due: Timestamp) {
        let engine = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(clock::elapsed(clock::now(), due)).await;
            engine.run_claimed(job_id);
        });
    }

    /// Runs a claimed job; failures are logged and the job left to be claimed again when
    /// its lease lapses.
    pub(crate) async fn run_job(&self, job: Job) {
        if job.claims > MAX_CLAIMS {
            // Failed every time it was claimed (the log says why): stop retrying it forever.
            let result = self.abandon(&job).await;
            if let Err(e) = result {
                tracing::error!(job_id = job.id, error = %e, "abandoning the job failed");
            }
            return;
        }
        let result = match &job.kind {
            JobKind::Send { push_id } => self.send_job(&job, push_id).await,
            JobKind::Deadline => self.deadline_job(&job).await,
        };
        if let Err(e) = result {
            tracing::warn!(
                job_id = job.id,
                call_id = %job.call_id,
                error = %e,
                "job failed; retried when its lease lapses"
            );
        }
    }

    async fn abandon(&self, job: &Job) -> Result<(), EngineError> {
        let store = &self.0.store;
        store
            .append_event(&NewEvent {
                at: clock::now(),
                call_id: Some(job.call_id.clone()),
                push_id: match &job.kind {
                    JobKind::Send { push_id } => Some(push_id.clone()),
                    JobKind::Deadline => None,
                },
                kind: "job.abandoned".into(),
                detail: json!({ "claims": job.claims }),
            })
            .await?;
        store.complete_job(job.id, &self.0.instance).await?;
        Ok(())
    }

    async fn send_job(&self, job: &Job, push_id: &str) -> Result<(), EngineError> {
        let store = &self.0.store;
        let (Some(attempt), Some(call)) = (
            store.attempt(push_id).await?,
            store.call(&job.call_id).await?,
        ) else {
            // A job whose push or call is gone has nothing to do.
            store.complete_job(job.id, &self.0.instance).await?;
            return Ok(());
        };
        if attempt.responded_at.is_some() {
            // Answered before a crash cut the job short: do not send twice.
            store.complete_job(job.id, &self.0.instance).await?;
            return Ok(());
        }
        self.send_loaded(job, attempt, call).await
    }

    async fn send_loaded(
        &self,
        job: &Job,
        attempt: Attempt,
        call: Call,
    ) -> Result<(), EngineError> {
        let store = &self.0.store;
        let purpose = purpose_of(&attempt);
        let is_ring = purpose == PushPurpose::Ring;
        if is_ring && !matches!(call.state, CallState::Ringing | CallState::Delivered) {
            let why = format!("not sent: the call was already {}", call.state);
            self.skip(job, &attempt, why, call.state.as_str()).await?;
            return Ok(());
        }
        let runtime = self.app(&attempt.app)?;
        let (window_end, end) = send_window(&attempt, &call);
        // The missed-call alert is worth its retries after the deadline; a ring or an end of
        // call is not.
        let too_late = |at: Timestamp| purpose != PushPurpose::MissedCall && at >= window_end;
        let slot = if too_late(clock::now()) {
            None
        } else {
            Some(runtime.slots.acquire().await)
        };

        let sent_at = clock::now();
        if too_late(sent_at) {
            // Reclaimed after a crash, or a retry whose turn came too late: a ring now would be
            // a ghost call. Checked again against the time recorded as the push's `sent_at`.
            drop(slot);
            let why = format!("not sent: {} had passed", end.described());
            self.skip(job, &attempt, why, end.skipped_label()).await?;
            if is_ring && end == WindowEnd::Expiration {
                // Before the deadline, which would end the call: maybe nothing else can ring.
                self.fail_if_nothing_can_ring(&call).await?;
            }
            return Ok(());
        }
        let notification = match self.notification(&attempt, &call, sent_at) {
            Ok(n) => n,
            Err(message) => {
                // Our own bug or a bad token in the store: record it, never loop on it.
                tracing::error!(
                    app = %attempt.app,
                    call_id = attempt.call_id.as_deref(),
                    push_id = %attempt.push_id,
                    attempt = attempt.attempt,
                    error = %message,
                    "push not sent: it cannot be built"
                );
                self.finish(job, &attempt, sent_at, None, Some(message))
                    .await?;
                return Ok(());
            }
        };
        if let Some(held) = self.resend_held_back(&attempt, &call).await? {
            drop(slot);
            self.skip(job, &attempt, held.why(), held.label()).await?;
            return Ok(());
        }
        store.mark_sent(&attempt.push_id, sent_at).await?;
        let result = runtime.client.send(&notification).await;
        let responded_at = clock::now();
        // The answer and the end of the job in one write: a retry or an invalidation that
        // follows is queued after it, as when they were two (a crash between them loses the
        // follow-up, never sends the push twice: a reclaimed job finds the answer).
        self.finish(job, &attempt, responded_at, Some(&result), None)
            .await?;
        self.observe(&attempt, sent_at, responded_at, &result);

        let follow_up = match classify(&result.outcome, responded_at) {
            Next::Done => FollowUp::Final,
            Next::Invalidate(at) => {
                let reason = result
                    .outcome
                    .reason()
                    .map_or("Unregistered", Reason::as_str);
                let invalidated = self.invalidate_token_notify(&attempt, at, reason).await?;
                if invalidated {
                    self.0.metrics.invalidated_tokens.inc();
                }
                self.event(
                    &attempt,
                    responded_at,
                    if invalidated {
                        "token.invalidated"
                    } else {
                        "token.kept"
                    },
                    json!({ "reason": reason, "since": at, "token": attempt.token }),
                )
                .await?;
                FollowUp::TokenInvalidated(invalidated)
            }
            Next::Retry => match self.schedule_retry(&attempt, &call, responded_at).await? {
                Ok(due) => FollowUp::Retry(due),
                Err(why) => FollowUp::GaveUp(why),
            },
        };
        push_log::failed_push(&attempt, &result.outcome, follow_up);
        if is_ring && !matches!(result.outcome, Outcome::Accepted { .. }) {
            self.fail_if_nothing_can_ring(&call).await?;
        }
        Ok(())
    }

    /// Why a VoIP re-send must not go out, read from the store right before it would: the
    /// device's receipt, or the end of the call, may have come in while the job waited (a
    /// retry's back-off, a slot, a dead instance's lease). A re-send is a retry, or a push that
    /// went on the wire without a recorded answer (its instance died, or its lease lapsed while
    /// APNs was slow): the phone may well have it. A first attempt never sent needs no read: no
    /// push of the call has gone to its token.
    async fn resend_held_back(
        &self,
        attempt: &Attempt,
        call: &Call,
    ) -> Result<Option<HeldBack>, EngineError> {
        let first_send = attempt.attempt == 1 && attempt.sent_at.is_none();
        if purpose_of(attempt) != PushPurpose::Ring || first_send {
            return Ok(None);
        }
        let store = &self.0.store;
        if store
            .device_receipt(&call.call_id, &attempt.token)
            .await?
            .is_some()
        {
            return Ok(Some(HeldBack::Received));
        }
        Ok(match store.call(&call.call_id).await? {
            Some(now) if !matches!(now.state, CallState::Ringing | CallState::Delivered) => {
                Some(HeldBack::CallEnded(now.state))
            }
            _ => None,
        })
    }

    fn notification(
        &self,
        attempt: &Attempt,
        call: &Call,
        sent_at: Timestamp,
    ) -> Result<Notification, String> {
        let runtime = self.app(&attempt.app).map_err(|e| e.to_string())?;
        let (push_type, payload) = match &attempt.push_type {
            _ if purpose_of(attempt) == PushPurpose::End => end_payload(attempt, call)?,
            PushType::Voip => {
                let receipt_token = self.0.receipt_key.issue(
                    &attempt.push_id,
                    &call.call_id,
                    clock::millis(clock::after(call.deadline, RECEIPT_GRACE)),
                );
                let payload = VoipPayload {
                    push_id: &attempt.push_id,
                    call_id: &call.call_id,
                    caller: &call.caller,
                    sent_at_ms: clock::millis(sent_at),
                    deadline_ms: clock::millis(call.deadline),
                    receipt_token: &receipt_token,
                };
                (pushtrace_apns::PushType::Voip, payload.to_bytes())
            }
            PushType::Alert => {
                let missed = &runtime.config.missed_call;
                let payload = missed_call_alert(
                    &missed.title,
                    &missed.body,
                    &call.caller,
                    &call.call_id,
                    &attempt.push_id,
                );
                (pushtrace_apns::PushType::Alert, payload)
            }
            // The gateway queues only the two above, and background pushes to end a call;
            // anything else came from outside it.
            other @ (PushType::Background | PushType::Other(_)) => {
                return Err(format!(
                    "push type {:?} is not one the gateway sends (voip, alert; background only to end a call)",
                    other.as_str()
                ));
            }
        };
        let expiration = match attempt.expiration {
            0 => Expiration::Immediately,
            at => Expiration::At(at),
        };
        let mut builder = Notification::builder(push_type)
            .device_token(attempt.token.clone())
            .topic(attempt.topic.clone())
            .priority(Priority::from_value(attempt.priority).ok_or_else(|| {
                format!(
                    "priority {} is not one APNs takes (10, 5 or 1)",
                    attempt.priority
                )
            })?)
            .expiration(expiration)
            .apns_id(attempt.push_id.clone())
            .payload(payload);
        if let Some(collapse) = &attempt.collapse_id {
            builder = builder.collapse_id(collapse.clone());
        }
        let now_secs = u64::try_from(sent_at.utc_micros() / 1_000_000).unwrap_or(0);
        builder.build(now_secs).map_err(|e| e.to_string())
    }

    /// Records the push's answer (or why it was not sent) and completes its job, in one write.
    async fn finish(
        &self,
        job: &Job,
        attempt: &Attempt,
        responded_at: Timestamp,
        result: Option<&SendResult>,
        error: Option<String>,
    ) -> Result<(), EngineError> {
        let mut answer = AttemptAnswer {
            responded_at,
            apns_status: None,
            apns_reason: None,
            apns_id: None,
            apns_unique_id: None,
            apns_timestamp: None,
            error,
        };
        match result.map(|r| &r.outcome) {
            Some(Outcome::Accepted {
                apns_id,
                apns_unique_id,
            }) => {
                answer.apns_status = Some(200);
                answer.apns_id = Some(apns_id.to_string());
                answer.apns_unique_id = apns_unique_id.map(|id| id.to_string());
            }
            Some(Outcome::Rejected {
                apns_id,
                status,
                reason,
                timestamp_ms,
            }) => {
                answer.apns_status = Some(*status);
                answer.apns_reason = Some(reason.as_str().to_owned());
                answer.apns_id = apns_id.map(|id| id.to_string());
                answer.apns_timestamp = timestamp_ms.map(clock::from_millis);
            }
            Some(Outcome::Failed { error, .. }) => answer.error = Some(error.to_string()),
            None => {}
        }
        self.0
            .store
            .finish_push(&attempt.push_id, &answer, job.id, &self.0.instance)
            .await?;
        Ok(())
    }

    fn observe(&self, attempt: &Attempt, sent_at: Timestamp, at: Timestamp, result: &SendResult) {
        let metrics = &self.0.metrics;
        let (outcome, reason) = match &result.outcome {
            Outcome::Accepted { .. } => ("accepted", String::new()),
            Outcome::Rejected { reason, .. } => ("rejected", reason.as_str().to_owned()),
            Outcome::Failed { error, .. } => ("failed", failure_kind(error).to_owned()),
        };
        metrics
            .pushes
            .get_or_create(&PushLabels {
                app: attempt.app.clone(),
                push_type: attempt.push_type.to_string(),
                purpose: purpose_of(attempt).as_str(),
                outcome,
                reason,
            })
            .inc();
        metrics.stage("queue", clock::elapsed(attempt.queued_at, sent_at));
        metrics.stage("apns", clock::elapsed(sent_at, at));
        if attempt.attempt == 1 && purpose_of(attempt) == PushPurpose::Ring {
            metrics.stage("create_to_answer", clock::elapsed(attempt.queued_at, at));
        }
    }

    /// Schedules the next attempt for the same device, due after its back-off or at the app's
    /// next free retry turn, whichever is later, if that is still inside the push's window
    /// ([`send_window`]) and under `max_attempts`; else writes why it gave up. When it is due,
    /// or why not.
    async fn schedule_retry(
        &self,
        attempt: &Attempt,
        call: &Call,
        now: Timestamp,
    ) -> Result<Result<Timestamp, &'static str>, EngineError> {
        let runtime = self.app(&attempt.app)?;
        let policy = runtime.config.retry;
        let next = attempt.attempt + 1;
        let wanted = clock::after(now, policy.backoff(next));
        let (window_end, end) = send_window(attempt, call);
        let due = if next > policy.max_attempts {
            Err("max_attempts")
        } else {
            let turn = runtime.retry_ceiling.reserve(now, wanted, window_end);
            turn.map_err(|no_turn| match no_turn {
                NoTurn::PastEnd => end.as_str(),
                NoTurn::Full => "max_retries_per_sec",
            })
        };
        let due = match due {
            Ok(due) => due,
            Err(why) => {
                self.event(
                    attempt,
                    now,
                    "push.gave_up",
                    json!({ "why": why, "attempts": attempt.attempt }),
                )
                .await?;
                return Ok(Err(why));
            }
        };
        let retry = Attempt {
            push_id: ids::new_uuid(),
            attempt: next,
            queued_at: due,
            sent_at: None,
            responded_at: None,
            apns_status: None,
            apns_reason: None,
            apns_id: None,
            apns_unique_id: None,
            apns_timestamp: None,
            error: None,
            ..attempt.clone()
        };
        let store = &self.0.store;
        store.insert_attempt(&retry).await?;
        let job_id = store
            .add_job(&NewJob {
                call_id: call.call_id.clone(),
                kind: JobKind::Send {
                    push_id: retry.push_id.clone(),
                },
                due_at: due,
            })
            .await?;
        self.0.metrics.retries.inc();
        self.event(
            attempt,
            now,
            "push.retry_scheduled",
            json!({ "retry_push_id": retry.push_id, "attempt": next, "due_at": due }),
        )
        .await?;
        self.run_claimed_at(job_id, due);
        Ok(Ok(due))
    }

    /// A VoIP push whose call ended, whose window passed or whose device has the call before
    /// it went out.
    async fn skip(
        &self,
        job: &Job,
        attempt: &Attempt,
        why: String,
        label: &str,
    ) -> Result<(), EngineError> {
        let now = clock::now();
        self.finish(job, attempt, now, None, Some(why)).await?;
        self.0
            .metrics
            .pushes
            .get_or_create(&PushLabels {
                app: attempt.app.clone(),
                push_type: attempt.push_type.to_string(),
                purpose: purpose_of(attempt).as_str(),
                outcome: "skipped",
                reason: label.to_owned(),
            })
            .inc();
        Ok(())
    }

    pub(crate) async fn event(
        &self,
        attempt: &Attempt,
        at: Timestamp,
        kind: &str,
        detail: serde_json::Value,
    ) -> Result<(), EngineError> {
        self.0
            .store
            .append_event(&NewEvent {
                at,
                call_id: attempt.call_id.clone(),
                push_id: Some(attempt.push_id.clone()),
                kind: kind.to_owned(),
                detail,
            })
            .await?;
        Ok(())
    }
}

/// Why a re-send found, right before going out, that it must not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HeldBack {
    /// A push of the call to the same token has its receipt: the phone has the call, and a
    /// second push would ring it again.
    Received,
    /// The call ended while the re-send waited.
    CallEnded(CallState),
}

impl HeldBack {
    /// The push's `error`.
    fn why(self) -> String {
        match self {
            HeldBack::Received => "not sent again: the device's receipt is in".to_owned(),
            HeldBack::CallEnded(state) => format!("not sent: the call was already {state}"),
        }
    }

    /// The `reason` label of the skipped push.
    fn label(self) -> &'static str {
        match self {
            HeldBack::Received => "received",
            HeldBack::CallEnded(state) => state.as_str(),
        }
    }
}

/// What ends the time a push may be sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WindowEnd {
    /// The call's deadline (for the missed-call alert, 10 minutes after it).
    Deadline,
    /// The push's own `apns-expiration`, when that comes first.
    Expiration,
}

impl WindowEnd {
    /// `push.gave_up`'s `why` when a retry would come too late.
    fn as_str(self) -> &'static str {
        match self {
            WindowEnd::Deadline => "deadline",
            WindowEnd::Expiration => "expiration",
        }
    }

    /// The `reason` label of a push skipped for it.
    fn skipped_label(self) -> &'static str {
        match self {
            WindowEnd::Deadline => "past_deadline",
            WindowEnd::Expiration => "past_expiration",
        }
    }

    fn described(self) -> &'static str {
        match self {
            WindowEnd::Deadline => "the call's deadline",
            WindowEnd::Expiration => "the push's apns-expiration",
        }
    }
}

/// The instant `attempt` must be sent before, and what sets it: the call's deadline for a ring
/// (a ring after it would be a ghost call), 10 minutes after it for the missed-call alert; or
/// the push's own `apns-expiration` when that comes first (`"<N>s"` counts from the call's
/// creation): a push sent past it would be refused, or never delivered. An end-of-call push's
/// window is its own `apns-expiration` alone. A retry is scheduled only when due before it,
/// and neither a ring nor an end-of-call push is sent at or after it.
fn send_window(attempt: &Attempt, call: &Call) -> (Timestamp, WindowEnd) {
    let expires = clock::from_millis(attempt.expiration.saturating_mul(1000));
    if purpose_of(attempt) == PushPurpose::End {
        // Useful only while the other phones ring, whatever the call's deadline says.
        return (expires, WindowEnd::Expiration);
    }
    let end = if attempt.push_type == PushType::Voip {
        call.deadline
    } else {
        clock::after(call.deadline, ALERT_RETRY_WINDOW)
    };
    if attempt.expiration != 0 && expires < end {
        (expires, WindowEnd::Expiration)
    } else {
        (end, WindowEnd::Deadline)
    }
}

/// A short, bounded label for a transport failure (metrics must not grow a label per message).
fn failure_kind(error: &pushtrace_apns::client::SendError) -> &'static str {
    use pushtrace_apns::client::SendError;
    match error {
        SendError::Connect { .. } => "connect",
        SendError::Timeout(_) => "timeout",
        SendError::ConnectionLost(_) => "connection_lost",
        SendError::NotProcessed(_) => "not_processed",
        SendError::Protocol(_) => "protocol",
        SendError::Closed => "closed",
    }
}

#[cfg(test)]
mod tests {
    use pushtrace_apns::ApnsId;
    use pushtrace_apns::client::SendError;

    use super::*;

    fn rejected(status: u16, reason: Reason, timestamp_ms: Option<u64>) -> Outcome {
        Outcome::Rejected {
            apns_id: None,
            status,
            reason,
            timestamp_ms,
        }
    }

    #[test]
    fn apples_rules_decide_what_follows_an_answer() {
        let now = Timestamp::from_utc_micros(5_000_000);
        let accepted = Outcome::Accepted {
            apns_id: ApnsId::from_bytes([1; 16]),
            apns_unique_id: None,
        };
        assert_eq!(classify(&accepted, now), Next::Done);
        assert_eq!(
            classify(&rejected(410, Reason::Unregistered, Some(1_000)), now),
            Next::Invalidate(Timestamp::from_utc_micros(1_000_000))
        );
        assert_eq!(
            classify(&rejected(410, Reason::Unregistered, None), now),
            Next::Invalidate(now)
        );
        assert_eq!(
            classify(&rejected(503, Reason::ServiceUnavailable, None), now),
            Next::Retry
        );
        assert_eq!(
            classify(&rejected(429, Reason::TooManyRequests, None), now),
            Next::Retry
        );
        for gone in [Reason::BadDeviceToken, Reason::DeviceTokenNotForTopic] {
            assert_eq!(
                classify(&rejected(400, gone.clone(), None), now),
                Next::Invalidate(now),
                "{gone:?}"
            );
        }
        for never in [
            Reason::PayloadTooLarge,
            Reason::BadTopic,
            Reason::BadExpirationDate,
        ] {
            let status = never.status().unwrap_or(400);
            assert_eq!(
                classify(&rejected(status, never.clone(), None), now),
                Next::Done,
                "{never:?}"
            );
        }
        let timeout = Outcome::Failed {
            error: SendError::Timeout(std::time::Duration::from_secs(1)),
            retryable: true,
        };
        assert_eq!(classify(&timeout, now), Next::Retry);
        let closed = Outcome::Failed {
            error: SendError::Closed,
            retryable: false,
        };
        assert_eq!(classify(&closed, now), Next::Done);
    }
}
