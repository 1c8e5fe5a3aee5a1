//! Pages of calls and tokens on PostgreSQL (`crate::listing` builds the statements).

use tokio_postgres::types::ToSql;

use super::PgStore;
use super::calls::{call_row, token_row};
use crate::error::QueryContext;
use crate::listing::{CallQuery, Listing, Page, Param, TokenQuery, calls_page, tokens_page};
use crate::{Call, StoreError, Token};

fn placeholder(n: usize) -> String {
    format!("${n}")
}

fn params(listing: &Listing) -> Vec<&(dyn ToSql + Sync)> {
    listing
        .params
        .iter()
        .map(|p| match p {
            Param::Text(text) => text as &(dyn ToSql + Sync),
            Param::Int(n) => n as &(dyn ToSql + Sync),
        })
        .collect()
}

impl PgStore {
    pub(crate) async fn list_calls(&self, query: &CallQuery) -> Result<Page<Call>, StoreError> {
        const OP: &str = "list_calls";
        let listing = query.listing(placeholder);
        let client = self.client(OP).await?;
        let stmt = client.prepare_cached(&listing.sql).await.op(OP)?;
        let rows = client.query(&stmt, &params(&listing)).await.op(OP)?;
        let calls = rows
            .iter()
            .map(|row| call_row(row, OP))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(calls_page(calls, query.limit))
    }

    pub(crate) async fn list_tokens(&self, query: &TokenQuery) -> Result<Page<Token>, StoreError> {
        const OP: &str = "list_tokens";
        let listing = query.listing(placeholder);
        let client = self.client(OP).await?;
        let stmt = client.prepare_cached(&listing.sql).await.op(OP)?;
        let rows = client.query(&stmt, &params(&listing)).await.op(OP)?;
        let tokens = rows
            .iter()
            .map(|row| token_row(row, OP))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(tokens_page(tokens, query.limit))
    }
}
