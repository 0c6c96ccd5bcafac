//! Pagination: a validated [`PageRequest`] in, a [`Page`] with its totals out.
//!
//! Pages count from one. A limit above [`MAX_LIMIT`] is capped rather than refused, because
//! a client asking for too much is better served than rejected; a page or limit of zero is
//! an error, because it can only be a mistake.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The limit used when a request names none.
pub const DEFAULT_LIMIT: u32 = 20;
/// The largest limit served; larger requests are capped to it.
pub const MAX_LIMIT: u32 = 100;

/// Which page of a listing to return, counting from one.
///
/// ```
/// use stack_core::page::PageRequest;
/// let req = PageRequest::new(3, 1000).unwrap();
/// assert_eq!(req.limit(), 100); // capped, not refused
/// assert_eq!(req.offset(), 200);
/// assert!(PageRequest::new(0, 10).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PageRequest {
    page: u32,
    limit: u32,
}

impl PageRequest {
    /// A request for `page` (from one) of `limit` items; `limit` above [`MAX_LIMIT`] is capped.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `page` or `limit` when either is zero.
    pub fn new(page: u32, limit: u32) -> Result<Self> {
        if page == 0 {
            return Err(Error::invalid(
                "page",
                "must be at least 1 (pages count from 1)",
            ));
        }
        if limit == 0 {
            return Err(Error::invalid("limit", "must be at least 1"));
        }
        Ok(Self {
            page,
            limit: limit.min(MAX_LIMIT),
        })
    }

    /// A request from optional query values: a missing page is 1, a missing limit is
    /// [`DEFAULT_LIMIT`].
    ///
    /// # Errors
    /// As [`PageRequest::new`].
    pub fn from_query(page: Option<u32>, limit: Option<u32>) -> Result<Self> {
        Self::new(page.unwrap_or(1), limit.unwrap_or(DEFAULT_LIMIT))
    }

    /// The page number, from one.
    pub fn page(&self) -> u32 {
        self.page
    }

    /// The number of items per page, after capping.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// How many items come before this page.
    pub fn offset(&self) -> u64 {
        u64::from(self.page - 1) * u64::from(self.limit)
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            page: 1,
            limit: DEFAULT_LIMIT,
        }
    }
}

/// One page of a listing with the totals a client needs to page through it.
///
/// ```
/// use stack_core::page::{Page, PageRequest};
/// let req = PageRequest::new(5, 10).unwrap();
/// let page: Page<u32> = Page::new(vec![], req, 42);
/// assert_eq!(page.total_pages, 5);
/// assert!(!page.has_next && page.has_prev);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items of this page, at most `limit` of them.
    pub items: Vec<T>,
    /// This page's number, from one.
    pub page: u32,
    /// The page size used.
    pub limit: u32,
    /// How many items the whole listing has.
    pub total_items: u64,
    /// How many pages the whole listing has (zero for an empty listing).
    pub total_pages: u64,
    /// Whether a later page has items.
    pub has_next: bool,
    /// Whether an earlier page exists.
    pub has_prev: bool,
}

impl<T> Page<T> {
    /// Wraps the `items` fetched for `req` out of `total_items`.
    pub fn new(items: Vec<T>, req: PageRequest, total_items: u64) -> Self {
        let limit = u64::from(req.limit);
        let total_pages = total_items.div_ceil(limit);
        Self {
            items,
            page: req.page,
            limit: req.limit,
            total_items,
            total_pages,
            has_next: u64::from(req.page) < total_pages,
            has_prev: req.page > 1,
        }
    }

    /// Pages an in-memory listing: takes the slice of `all` that `req` asks for.
    pub fn from_vec(all: Vec<T>, req: PageRequest) -> Self {
        let total = all.len() as u64;
        let start = usize::try_from(req.offset()).unwrap_or(usize::MAX);
        let items = all
            .into_iter()
            .skip(start)
            .take(req.limit as usize)
            .collect();
        Self::new(items, req, total)
    }

    /// Turns every item into another type, keeping the totals.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            page: self.page,
            limit: self.limit,
            total_items: self.total_items,
            total_pages: self.total_pages,
            has_next: self.has_next,
            has_prev: self.has_prev,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_page_or_limit_is_invalid_and_names_the_field() {
        for (page, limit, field) in [(0, 10, "page"), (1, 0, "limit")] {
            let err = PageRequest::new(page, limit).unwrap_err();
            assert!(
                matches!(err, Error::Invalid { field: ref f, .. } if f == field),
                "{err}"
            );
        }
    }

    #[test]
    fn defaults_and_cap() {
        let req = PageRequest::from_query(None, None).unwrap();
        assert_eq!(
            (req.page(), req.limit(), req.offset()),
            (1, DEFAULT_LIMIT, 0)
        );
        assert_eq!(PageRequest::new(1, 1000).unwrap().limit(), MAX_LIMIT);
        assert_eq!(
            PageRequest::new(u32::MAX, 100).unwrap().offset(),
            (u64::from(u32::MAX) - 1) * 100
        );
    }

    #[test]
    fn totals_and_neighbours() {
        let page = Page::from_vec(
            (0..45).collect::<Vec<u32>>(),
            PageRequest::new(3, 20).unwrap(),
        );
        assert_eq!(page.items, (40..45).collect::<Vec<_>>());
        assert_eq!((page.total_items, page.total_pages), (45, 3));
        assert!(!page.has_next && page.has_prev);

        let past = Page::from_vec(
            (0..45).collect::<Vec<u32>>(),
            PageRequest::new(7, 20).unwrap(),
        );
        assert!(past.items.is_empty());
        assert_eq!(
            (
                past.total_items,
                past.total_pages,
                past.has_next,
                past.has_prev
            ),
            (45, 3, false, true)
        );

        let empty = Page::<u32>::new(vec![], PageRequest::default(), 0);
        assert_eq!(
            (empty.total_pages, empty.has_next, empty.has_prev),
            (0, false, false)
        );
    }
}
