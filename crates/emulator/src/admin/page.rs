//! Cursor pagination of the admin API's lists (`GET /v1/devices`, `/v1/pushes`,
//! `/v1/deliveries`): `?limit=` items per page and `?after=` the `next` of the page before.
//!
//! A cursor names the last item a page gave (a log's ever-growing number, a device's key), not
//! a position, so a client paging while pushes arrive sees every item once: new ones land
//! after the cursor, and dropping old ones (retention, count cap) shifts nothing.

use super::ApiError;

/// Items per page when `limit` is not given.
pub(crate) const DEFAULT_LIMIT: usize = 100;
/// The largest `limit` taken: a page of VoIP pushes stays about 500 KiB of JSON.
pub(crate) const MAX_LIMIT: usize = 1000;

/// `?limit=` as given, checked.
pub(crate) fn limit(text: Option<&str>) -> Result<usize, ApiError> {
    let Some(text) = text else {
        return Ok(DEFAULT_LIMIT);
    };
    match text.parse::<usize>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(ApiError::bad(
            "limit",
            format!(
                "limit {text:?} must be a whole number from 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})"
            ),
        )),
    }
}

/// `?after=` of a log (a record number), checked.
pub(crate) fn log_cursor(text: Option<&str>) -> Result<Option<usize>, ApiError> {
    text.map(|text| {
        text.parse::<usize>().map_err(|_| {
            ApiError::bad(
                "after",
                format!(
                    "after {text:?} is not a cursor of this list; pass the `next` of the previous page, or leave it out for the first page"
                ),
            )
        })
    })
    .transpose()
}

/// Up to `limit` items of `items` and the cursor of the last one when more follow.
pub(crate) fn take<T, C>(
    items: impl Iterator<Item = T>,
    limit: usize,
    cursor: impl Fn(&T) -> C,
) -> (Vec<T>, Option<C>) {
    let mut page: Vec<T> = items.take(limit.saturating_add(1)).collect();
    if page.len() <= limit {
        return (page, None);
    }
    page.truncate(limit);
    let next = page.last().map(cursor);
    (page, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_defaults_and_is_bounded() {
        assert_eq!(limit(None).unwrap(), DEFAULT_LIMIT);
        assert_eq!(limit(Some("1")).unwrap(), 1);
        assert_eq!(limit(Some("1000")).unwrap(), MAX_LIMIT);
        for bad in ["0", "1001", "-1", "ten", ""] {
            assert!(limit(Some(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_page_says_next_only_when_more_follow() {
        let cursor = |n: &u32| *n;
        assert_eq!(take(1..=3, 3, cursor), (vec![1, 2, 3], None));
        assert_eq!(take(1..=4, 3, cursor), (vec![1, 2, 3], Some(3)));
        assert_eq!(take(1..1, 3, cursor), (vec![], None));
        assert!(log_cursor(Some("x")).is_err());
        assert_eq!(log_cursor(Some("7")).unwrap(), Some(7));
    }
}
