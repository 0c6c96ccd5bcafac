//! Listings on the wire: v1's numbered pages with their totals, v2's keyset slices with an
//! opaque cursor, and the query values both take.

#![allow(
    clippy::result_large_err,
    reason = "these helpers answer with ApiError, the type every operation returns so that its document lists the problem answers"
)]

use chrono::{DateTime, TimeZone, Utc};
use poem_openapi::Object;
use poem_openapi::types::{ParseFromJSON, ToJSON};
use stack_core::page::{Page, PageRequest};
use stack_core::store::{Cursor, CursorPage, CursorRequest};

use crate::http::api_error::{ApiError, ApiResult};
use crate::http::problem::FieldError;

/// The largest batch a bulk endpoint takes; a larger one is refused with 413.
pub const MAX_BULK: usize = 500;

/// One page of a listing (v1), counting from one.
#[derive(Debug, Object)]
pub struct Paged<T: ParseFromJSON + ToJSON> {
    /// The items of this page, newest first.
    pub items: Vec<T>,
    /// This page's number, from 1.
    pub page: u32,
    /// The page size used (1 to 100; 20 when not given).
    pub limit: u32,
    /// How many items the whole listing has.
    pub total_items: u64,
    /// How many pages the whole listing has (0 when it is empty).
    pub total_pages: u64,
    /// Whether a later page has items.
    pub has_next: bool,
    /// Whether an earlier page exists.
    pub has_prev: bool,
}

impl<T: ParseFromJSON + ToJSON> Paged<T> {
    /// The wire form of `page`, each item mapped by `f`.
    pub fn of<D>(page: Page<D>, f: impl FnMut(D) -> T) -> Self {
        let page = page.map(f);
        Self {
            items: page.items,
            page: page.page,
            limit: page.limit,
            total_items: page.total_items,
            total_pages: page.total_pages,
            has_next: page.has_next,
            has_prev: page.has_prev,
        }
    }
}

/// One slice of a listing by keyset cursor (v2): stable while items are added.
#[derive(Debug, Object)]
pub struct Sliced<T: ParseFromJSON + ToJSON> {
    /// The items of this slice, newest first.
    pub items: Vec<T>,
    /// The slice size used (1 to 100; 20 when not given).
    pub limit: u32,
    /// Pass as `cursor` for the next slice; absent at the end.
    #[oai(skip_serializing_if_is_none)]
    pub next_cursor: Option<String>,
    /// Whether a next slice exists.
    pub has_next: bool,
}

impl<T: ParseFromJSON + ToJSON> Sliced<T> {
    /// The wire form of `slice`, each item mapped by `f`.
    pub fn of<D>(slice: CursorPage<D>, request: CursorRequest, f: impl FnMut(D) -> T) -> Self {
        Self {
            items: slice.items.into_iter().map(f).collect(),
            limit: request.limit,
            has_next: slice.next.is_some(),
            next_cursor: slice.next.map(|c| c.encode()),
        }
    }
}

/// A 422 naming the query parameter `name`.
pub fn bad_query(name: &str, detail: impl Into<String>) -> ApiError {
    ApiError::refused(vec![FieldError {
        pointer: format!("#/query/{name}"),
        detail: detail.into(),
    }])
}

fn query_error(error: stack_core::Error) -> ApiError {
    match error {
        stack_core::Error::Invalid { field, reason, .. } => bad_query(&field, reason),
        other => other.into(),
    }
}

/// The page a v1 listing asks for (`page` from 1, `limit` 20 by default).
///
/// # Errors
/// 422 naming `page` or `limit` when zero (the documented bounds refuse them first).
pub fn page_request(page: Option<u32>, limit: Option<u32>) -> ApiResult<PageRequest> {
    PageRequest::from_query(page, limit).map_err(query_error)
}

/// The slice a v2 listing asks for.
///
/// # Errors
/// 422 naming `cursor` when it is not one this server gave out, or `limit`.
pub fn cursor_request(cursor: Option<&str>, limit: Option<u32>) -> ApiResult<CursorRequest> {
    let after = cursor
        .map(Cursor::decode)
        .transpose()
        .map_err(query_error)?;
    CursorRequest::new(after, limit.unwrap_or(stack_core::page::DEFAULT_LIMIT)).map_err(query_error)
}

/// The time of the Unix seconds `seconds` given as the query parameter `name` (v1).
///
/// # Errors
/// 422 naming `name` when out of range.
pub fn unix_time(name: &str, seconds: Option<i64>) -> ApiResult<Option<DateTime<Utc>>> {
    seconds
        .map(|s| {
            Utc.timestamp_opt(s, 0)
                .single()
                .ok_or_else(|| bad_query(name, "must be Unix seconds within years 1 to 9999"))
        })
        .transpose()
}

/// 413 when a bulk body has more than [`MAX_BULK`] items.
///
/// # Errors
/// [`ApiError::PayloadTooLarge`].
pub fn bulk_cap(len: usize) -> ApiResult<()> {
    if len > MAX_BULK {
        crate::http::idempotency::mark_refused();
        return Err(ApiError::too_large(format!(
            "a bulk request takes at most {MAX_BULK} items; this one has {len}"
        )));
    }
    Ok(())
}
