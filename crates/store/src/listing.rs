//! Pages of an app's calls and of a user's tokens, newest first, for the API's lists.
//!
//! Pages are keyset pages: a page ends at the (time, id) of its last row, and the next page
//! reads the rows strictly before it. Each page is one range of an index (schema 3,
//! `calls_app_created` and `tokens_user`) however deep the client pages, and a row written
//! while a client pages (a new call, newer than every page) neither shifts nor repeats rows
//! the way OFFSET would.

use pushtrace_model::Timestamp;

use crate::records::{columns, micros};
use crate::{Call, CallState, Token};

/// Where a page ends: the sort key of its last row. The next page holds the rows before it in
/// the listing's order (time, then id, both descending).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageKey {
    /// The row's time: a call's `created_at`, a token's `registered_at`.
    pub at: Timestamp,
    /// The row's id, which orders rows of the same time: a call's `call_id`, a token's value.
    pub id: String,
}

/// One page and where the next one starts (None on the last page).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<PageKey>,
}

/// A page of one app's calls, by `created_at` then `call_id`, newest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallQuery {
    pub app: String,
    /// Only calls now in this state.
    pub state: Option<CallState>,
    /// Only calls created at or after this time.
    pub since: Option<Timestamp>,
    /// Only calls created before this time (the range is half-open: `[since, until)`).
    pub until: Option<Timestamp>,
    /// Only calls after this key in the listing's order (the previous page's `next`).
    pub after: Option<PageKey>,
    /// At most this many calls (at least 1).
    pub limit: usize,
}

/// A page of one user's tokens of one app, by `registered_at` then token, newest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenQuery {
    pub app: String,
    pub user: String,
    /// `Some(true)`: only valid tokens; `Some(false)`: only invalidated ones.
    pub valid: Option<bool>,
    /// Only tokens after this key in the listing's order (the previous page's `next`).
    pub after: Option<PageKey>,
    /// At most this many tokens (at least 1).
    pub limit: usize,
}

/// A bound parameter of a listing's statement.
pub(crate) enum Param {
    Text(String),
    Int(i64),
}

/// A listing's statement in one backend's placeholder style, and its parameters in order.
pub(crate) struct Listing {
    pub sql: String,
    pub params: Vec<Param>,
}

/// Builds a listing's statement; `placeholder(n)` writes the n-th (from 1) parameter's
/// placeholder (`?n` on SQLite, `$n` on PostgreSQL). Only the conditions asked for are written,
/// so each combination is its own prepared statement whose plan is the index range.
struct Builder {
    conditions: Vec<String>,
    params: Vec<Param>,
    placeholder: fn(usize) -> String,
}

impl Builder {
    fn new(placeholder: fn(usize) -> String) -> Builder {
        Builder {
            conditions: Vec::new(),
            params: Vec::new(),
            placeholder,
        }
    }

    fn bind(&mut self, param: Param) -> String {
        self.params.push(param);
        (self.placeholder)(self.params.len())
    }

    /// `condition` with each `{}` replaced by the next of `params`' placeholders.
    fn condition(&mut self, condition: &str, params: Vec<Param>) {
        let mut text = String::new();
        let mut parts = condition.split("{}");
        text.push_str(parts.next().unwrap_or(""));
        let mut params = params.into_iter();
        for part in parts {
            if let Some(param) = params.next() {
                let placeholder = self.bind(param);
                text.push_str(&placeholder);
            }
            text.push_str(part);
        }
        self.conditions.push(text);
    }

    fn finish(mut self, select: &str, order: &str, limit: usize) -> Listing {
        // One row more than the page: whether it exists says whether there is a next page.
        let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let limit = self.bind(Param::Int(fetch));
        Listing {
            sql: format!(
                "{select} WHERE {} ORDER BY {order} LIMIT {limit}",
                self.conditions.join(" AND ")
            ),
            params: self.params,
        }
    }
}

impl CallQuery {
    pub(crate) fn listing(&self, placeholder: fn(usize) -> String) -> Listing {
        let mut b = Builder::new(placeholder);
        b.condition("app = {}", vec![Param::Text(self.app.clone())]);
        if let Some(state) = self.state {
            b.condition("state = {}", vec![Param::Text(state.as_str().to_owned())]);
        }
        if let Some(since) = self.since {
            b.condition("created_at >= {}", vec![Param::Int(micros(since))]);
        }
        if let Some(until) = self.until {
            b.condition("created_at < {}", vec![Param::Int(micros(until))]);
        }
        if let Some(after) = &self.after {
            b.condition(
                "(created_at, call_id) < ({}, {})",
                vec![Param::Int(micros(after.at)), Param::Text(after.id.clone())],
            );
        }
        b.finish(
            &format!("SELECT {} FROM calls", columns::CALL),
            "created_at DESC, call_id DESC",
            self.limit,
        )
    }
}

impl TokenQuery {
    pub(crate) fn listing(&self, placeholder: fn(usize) -> String) -> Listing {
        let mut b = Builder::new(placeholder);
        b.condition(
            "app = {} AND user_id = {}",
            vec![
                Param::Text(self.app.clone()),
                Param::Text(self.user.clone()),
            ],
        );
        match self.valid {
            Some(true) => b.condition("invalidated_at IS NULL", vec![]),
            Some(false) => b.condition("invalidated_at IS NOT NULL", vec![]),
            None => {}
        }
        if let Some(after) = &self.after {
            b.condition(
                "(registered_at, token) < ({}, {})",
                vec![Param::Int(micros(after.at)), Param::Text(after.id.clone())],
            );
        }
        b.finish(
            &format!("SELECT {} FROM tokens", columns::TOKEN),
            "registered_at DESC, token DESC",
            self.limit,
        )
    }
}

/// The page of `limit` rows out of `rows` (fetched with one more than `limit`).
pub(crate) fn calls_page(mut rows: Vec<Call>, limit: usize) -> Page<Call> {
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = more.then(|| rows.last()).flatten().map(|c| PageKey {
        at: c.created_at,
        id: c.call_id.clone(),
    });
    Page { items: rows, next }
}

/// [`calls_page`] for tokens.
pub(crate) fn tokens_page(mut rows: Vec<Token>, limit: usize) -> Page<Token> {
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = more.then(|| rows.last()).flatten().map(|t| PageKey {
        at: t.registered_at,
        id: t.token.clone(),
    });
    Page { items: rows, next }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_conditions_asked_for_are_written() {
        let query = CallQuery {
            app: "acme".into(),
            state: None,
            since: None,
            until: Some(Timestamp::from_utc_micros(5)),
            after: Some(PageKey {
                at: Timestamp::from_utc_micros(3),
                id: "c".into(),
            }),
            limit: 10,
        };
        let listing = query.listing(|n| format!("${n}"));
        assert!(
            listing.sql.ends_with(
                "WHERE app = $1 AND created_at < $2 AND (created_at, call_id) < ($3, $4) \
                 ORDER BY created_at DESC, call_id DESC LIMIT $5"
            ),
            "{}",
            listing.sql
        );
        assert_eq!(listing.params.len(), 5);
        assert!(matches!(listing.params[4], Param::Int(11)));
    }
}
