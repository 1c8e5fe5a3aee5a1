//! Pages of calls and tokens on SQLite (`crate::listing` builds the statements).

use rusqlite::params_from_iter;
use rusqlite::types::Value;

use super::SqliteStore;
use super::calls::{call_row, token_row};
use crate::error::QueryContext;
use crate::listing::{CallQuery, Listing, Page, Param, TokenQuery, calls_page, tokens_page};
use crate::{Call, StoreError, Token};

fn placeholder(n: usize) -> String {
    format!("?{n}")
}

fn values(listing: Listing) -> (String, Vec<Value>) {
    let values = listing
        .params
        .into_iter()
        .map(|p| match p {
            Param::Text(text) => Value::Text(text),
            Param::Int(n) => Value::Integer(n),
        })
        .collect();
    (listing.sql, values)
}

impl SqliteStore {
    pub(crate) async fn list_calls(&self, query: &CallQuery) -> Result<Page<Call>, StoreError> {
        const OP: &str = "list_calls";
        let limit = query.limit;
        let (sql, values) = values(query.listing(placeholder));
        self.run(move |conn| {
            let mut stmt = conn.prepare_cached(&sql).op(OP)?;
            let mut rows = stmt.query(params_from_iter(values)).op(OP)?;
            let mut calls = Vec::new();
            while let Some(row) = rows.next().op(OP)? {
                calls.push(call_row(row, OP)?);
            }
            Ok(calls_page(calls, limit))
        })
        .await
    }

    pub(crate) async fn list_tokens(&self, query: &TokenQuery) -> Result<Page<Token>, StoreError> {
        const OP: &str = "list_tokens";
        let limit = query.limit;
        let (sql, values) = values(query.listing(placeholder));
        self.run(move |conn| {
            let mut stmt = conn.prepare_cached(&sql).op(OP)?;
            let mut rows = stmt.query(params_from_iter(values)).op(OP)?;
            let mut tokens = Vec::new();
            while let Some(row) = rows.next().op(OP)? {
                tokens.push(token_row(row, OP)?);
            }
            Ok(tokens_page(tokens, limit))
        })
        .await
    }
}
