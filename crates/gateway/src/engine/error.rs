//! What can go wrong in the engine, in terms the HTTP API maps to statuses.

use pushtrace_store::{CallState, StoreError};

use crate::receipt_token::ReceiptTokenError;

/// An engine operation that did not happen.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// No app by that name in the config.
    #[error("no app named {0:?} is configured")]
    UnknownApp(String),
    /// No call with that id.
    #[error("no call with id {0:?}")]
    UnknownCall(String),
    /// A receipt's push is not in the store, though its token holds.
    #[error(
        "no push with id {0:?} is stored: the receipt is for a push this gateway's store does not have; do not send it again"
    )]
    UnknownPush(String),
    /// No token with that value for the app.
    #[error("no token {token:?} is registered for app {app:?}")]
    UnknownToken {
        /// The app.
        app: String,
        /// The token.
        token: String,
    },
    /// A request field is wrong.
    #[error("{field}: {message}")]
    Invalid {
        /// The JSON field.
        field: &'static str,
        /// What is wrong and what to send instead.
        message: String,
    },
    /// The call is already in a final state.
    #[error("call {call_id} is already {state}; it cannot become {wanted}")]
    Conflict {
        /// The call.
        call_id: String,
        /// Its state.
        state: CallState,
        /// What was asked.
        wanted: CallState,
    },
    /// A receipt whose token does not hold.
    #[error("{0}")]
    ReceiptRefused(ReceiptTokenError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
