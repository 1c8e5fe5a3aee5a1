//! Registering and unregistering a user's device tokens.

use std::collections::BTreeMap;

use pushtrace_apns::DeviceToken;
use pushtrace_model::Receipt;
use pushtrace_store::{Attempt, Token, TokenRegistration};

use super::{Engine, EngineError};
use crate::clock;

/// Which token it is: PushKit's VoIP token (rings) or the app's remote-notification token
/// (the missed-call alert). iOS gives an app the two separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    /// From `PKPushRegistry`: topic `<bundle>.voip`.
    Voip,
    /// From `registerForRemoteNotifications`: topic `<bundle>`.
    Alert,
}

/// `PUT /v1/apps/{app}/tokens/{token}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// The user the device belongs to (the callee the backend names).
    pub user: String,
    /// Which token (default `voip`).
    #[serde(default = "voip")]
    pub kind: TokenKind,
    /// `production` or `sandbox` (default: the app's).
    #[serde(default)]
    pub environment: Option<String>,
    /// Free attributes for cohorts: os_version, model, carrier, app_version, region…
    #[serde(default)]
    pub attrs: BTreeMap<String, String>,
}

fn voip() -> TokenKind {
    TokenKind::Voip
}

const MAX_ATTRS: usize = 32;
const MAX_TEXT: usize = 256;

impl Engine {
    /// Registers (or registers again) a token; `true` when it was not known before.
    pub async fn register_token(
        &self,
        app: &str,
        token: &str,
        request: TokenRequest,
    ) -> Result<(Token, bool), EngineError> {
        let runtime = self.app(app)?;
        let token = DeviceToken::parse(token)
            .map_err(|e| EngineError::Invalid {
                field: "token",
                message: format!("{e}; send the token as the hex string of its bytes"),
            })?
            .to_string();
        check_text("user", &request.user)?;
        check_attrs(&request.attrs)?;
        // The app sends to one APNs environment; a token from the other one would only ever
        // answer BadDeviceToken (a development build registered against a production app).
        let app_environment = runtime.config.environment.as_str();
        let environment = match request.environment.as_deref() {
            None => app_environment.to_owned(),
            Some(e) if e == app_environment => e.to_owned(),
            Some(e @ ("production" | "sandbox")) => {
                return Err(EngineError::Invalid {
                    field: "environment",
                    message: format!(
                        "app {app:?} sends to {app_environment}; a {e} token (a build signed for the other environment) cannot be reached through it"
                    ),
                });
            }
            Some(other) => {
                return Err(EngineError::Invalid {
                    field: "environment",
                    message: format!("{other:?} is not \"production\" or \"sandbox\""),
                });
            }
        };
        let topic = match request.kind {
            TokenKind::Voip => runtime.config.voip_topic(),
            TokenKind::Alert => runtime.config.bundle_id.clone(),
        };
        let known = self.0.store.token(app, &token).await?.is_some();
        let registered = self
            .0
            .store
            .register_token(&TokenRegistration {
                app: app.to_owned(),
                user: request.user,
                token,
                environment,
                topic,
                registered_at: clock::now(),
                attrs: request.attrs,
            })
            .await?;
        Ok((registered, !known))
    }

    /// Unregisters a token (the app logged out or uninstalled).
    pub async fn unregister_token(&self, app: &str, token: &str) -> Result<(), EngineError> {
        self.app(app)?;
        let token = stored_form(token);
        if self
            .0
            .store
            .unregister_token(app, &token, clock::now())
            .await?
        {
            Ok(())
        } else {
            Err(EngineError::UnknownToken {
                app: app.to_owned(),
                token,
            })
        }
    }

    /// A token's push history, newest first, with the token itself.
    pub async fn token_history(
        &self,
        app: &str,
        token: &str,
        limit: usize,
    ) -> Result<(Token, Vec<(Attempt, Option<Receipt>)>), EngineError> {
        self.app(app)?;
        let token = stored_form(token);
        let Some(found) = self.0.store.token(app, &token).await? else {
            return Err(EngineError::UnknownToken {
                app: app.to_owned(),
                token,
            });
        };
        let history = self.0.store.token_history(app, &token, limit).await?;
        Ok((found, history))
    }
}

/// A token as the store keeps it (lowercase hex); text that is no token is looked up as given,
/// so the answer is a plain "no such token".
fn stored_form(token: &str) -> String {
    DeviceToken::parse(token).map_or_else(|_| token.to_owned(), |t| t.to_string())
}

/// At most [`MAX_ATTRS`] attributes, keys printable text, values at most [`MAX_TEXT`] bytes.
pub(crate) fn check_attrs(attrs: &BTreeMap<String, String>) -> Result<(), EngineError> {
    if attrs.len() > MAX_ATTRS {
        return Err(EngineError::Invalid {
            field: "attrs",
            message: format!("at most {MAX_ATTRS} attributes"),
        });
    }
    for (key, value) in attrs {
        check_text("attrs", key)?;
        if value.len() > MAX_TEXT {
            return Err(EngineError::Invalid {
                field: "attrs",
                message: format!("the value of {key:?} is longer than {MAX_TEXT} bytes"),
            });
        }
    }
    Ok(())
}

/// A non-empty, bounded, printable identifier.
pub(crate) fn check_text(field: &'static str, value: &str) -> Result<(), EngineError> {
    if value.trim().is_empty() || value.len() > MAX_TEXT || value.chars().any(char::is_control) {
        return Err(EngineError::Invalid {
            field,
            message: format!(
                "must be 1 to {MAX_TEXT} bytes of printable text (got {} bytes)",
                value.len()
            ),
        });
    }
    Ok(())
}
