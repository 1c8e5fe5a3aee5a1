//! The log line of a push that did not go through: APNs refused it (status and reason), or it
//! got no answer (the transport error), with what the gateway does next. The first thing an
//! on-call engineer greps for, so one line carries everything needed to find the push again
//! (app, call, push id, `apns-id`, attempt) and to judge it (reason, whether it is retried).

use pushtrace_apns::Retry;
use pushtrace_apns::client::Outcome;
use pushtrace_model::Timestamp;
use pushtrace_store::Attempt;

/// What the gateway does after a failed push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FollowUp {
    /// Nothing: the answer is final (a 4xx other than the token's invalidation).
    Final,
    /// A new attempt (new push id) goes out at this time.
    Retry(Timestamp),
    /// A retry would help but is not sent, for this reason (`push.gave_up`'s `why`).
    GaveUp(&'static str),
    /// The token was invalidated (false: kept, registered again since APNs's timestamp).
    TokenInvalidated(bool),
}

impl FollowUp {
    /// The `then` field: what follows, in words a log search matches.
    fn then(self) -> &'static str {
        match self {
            FollowUp::Final => "final",
            FollowUp::Retry(_) => "retry",
            FollowUp::GaveUp(_) => "gave_up",
            FollowUp::TokenInvalidated(true) => "token_invalidated",
            FollowUp::TokenInvalidated(false) => "token_kept",
        }
    }
}

/// Logs `outcome` of `attempt` when it is not an acceptance: at error level when the reason
/// says the sender's set-up must be fixed (a key, a topic, a request the gateway built), since
/// every push of the app will fail alike; at warn level otherwise (a gone token, a throttle, a
/// lost connection).
pub(crate) fn failed_push(attempt: &Attempt, outcome: &Outcome, follow_up: FollowUp) {
    let retry_at = match follow_up {
        FollowUp::Retry(at) => Some(tracing::field::display(at)),
        _ => None,
    };
    let gave_up = match follow_up {
        FollowUp::GaveUp(why) => Some(why),
        _ => None,
    };
    // Ours: the gateway sends each push with its push id as `apns-id`.
    let sent_apns_id = attempt.push_id.as_str();
    macro_rules! line {
        ($level:expr, $($fields:tt)*) => {
            tracing::event!(
                $level,
                app = %attempt.app,
                call_id = attempt.call_id.as_deref(),
                push_id = %attempt.push_id,
                push_type = %attempt.push_type,
                attempt = attempt.attempt,
                $($fields)*
                will_retry = retry_at.is_some(),
                retry_at,
                gave_up,
                then = follow_up.then(),
                "push failed"
            )
        };
    }
    match outcome {
        Outcome::Accepted { .. } => {}
        Outcome::Rejected {
            apns_id,
            status,
            reason,
            ..
        } => {
            let apns_id = apns_id.map(|id| id.to_string());
            let apns_id = apns_id.as_deref().unwrap_or(sent_apns_id);
            let (status, action, reason) = (*status, reason.action(), reason.as_str());
            if outcome_needs_a_fix(outcome) {
                line!(tracing::Level::ERROR, apns_id, status, reason, action,);
            } else {
                line!(tracing::Level::WARN, apns_id, status, reason, action,);
            }
        }
        Outcome::Failed { error, .. } => {
            line!(tracing::Level::WARN, apns_id = sent_apns_id, error = %error,);
        }
    }
}

/// Whether APNs's reason says the sender must change something before any push can pass.
fn outcome_needs_a_fix(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Rejected { reason, .. } if reason.retry() == Some(Retry::AfterFix))
}
