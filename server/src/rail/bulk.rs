//! Bulk answers, the same in both versions: one entry per input item, in input order, each
//! with its status and the id made, or the problem that stopped it.

use std::future::Future;

use poem::http::StatusCode;
use poem_openapi::Object;
use poem_openapi::payload::Json;
use stack_core::bulk::{BulkItem, BulkOutcome};
use uuid::Uuid;

use super::field::Checks;
use crate::http::api_error::{ApiError, ApiResult};
use crate::http::problem::{FieldError, Problem};

/// What happened to one item of a bulk request.
#[derive(Debug, Object)]
pub struct BulkEntry {
    /// The item's position in the request, from 0.
    pub index: u32,
    /// The HTTP status the item would have had alone (201 created, 200 recorded, 409,
    /// 422, ...).
    pub status: u16,
    /// The id of the record made or found, when the item succeeded.
    #[oai(skip_serializing_if_is_none)]
    pub id: Option<Uuid>,
    /// Why the item failed, when it did; its pointers point into the whole request.
    #[oai(skip_serializing_if_is_none)]
    pub problem: Option<Problem>,
}

/// The answer of a bulk request.
#[derive(Debug, Object)]
pub struct BulkAnswer {
    /// One entry per input item, in input order.
    pub items: Vec<BulkEntry>,
}

fn problem_of(error: ApiError) -> Problem {
    match error {
        ApiError::BadRequest(Json(p))
        | ApiError::Unauthorized(Json(p), _)
        | ApiError::Forbidden(Json(p))
        | ApiError::NotFound(Json(p))
        | ApiError::Conflict(Json(p))
        | ApiError::PayloadTooLarge(Json(p))
        | ApiError::UnsupportedMediaType(Json(p))
        | ApiError::Unprocessable(Json(p))
        | ApiError::Internal(Json(p))
        | ApiError::Unavailable(Json(p), _) => p,
    }
}

fn failed(index: usize, error: ApiError) -> BulkEntry {
    BulkEntry {
        index: u32::try_from(index).unwrap_or(u32::MAX),
        status: error.status().as_u16(),
        id: None,
        problem: Some(problem_of(error)),
    }
}

#[allow(
    clippy::result_large_err,
    reason = "answers with ApiError, the type every operation returns so that its document lists the problem answers"
)]
/// Checks every item of a bulk body with `check` (item `i` flagged under `/i`): each
/// item's Store input or its bad fields.
///
/// # Errors
/// 422 listing those fields of every item whose JSON is missing or not of the documented
/// type: such a request is refused whole, while a value of the right type that a domain
/// check refuses is answered in its item's entry.
pub fn check_items<I, N>(
    items: Vec<I>,
    check: impl Fn(I, &mut Checks) -> Option<N>,
) -> ApiResult<Vec<Result<N, Vec<FieldError>>>> {
    let mut flaws = Vec::new();
    let mut checked = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let mut checks = Checks::under(format!("/{index}"));
        let value = check(item, &mut checks);
        flaws.extend_from_slice(checks.flaws());
        checked.push(checks.outcome(value));
    }
    if flaws.is_empty() {
        Ok(checked)
    } else {
        Err(ApiError::refused(flaws))
    }
}

/// Runs the items that passed their checks through `store` in one call and answers every
/// item in input order: `checked[i]` is the item's Store input or its bad fields; `done` is
/// the status of an item the Store took; `place` puts a field the Store refuses (relative to
/// the item, as the version lays it out).
///
/// # Errors
/// Only when the Store fails as a whole (nothing is then answered per item).
pub async fn run<N, F, Fut>(
    checked: Vec<Result<N, Vec<FieldError>>>,
    done: StatusCode,
    place: fn(&str) -> String,
    store: F,
) -> ApiResult<BulkAnswer>
where
    F: FnOnce(Vec<N>) -> Fut,
    Fut: Future<Output = stack_core::Result<Vec<BulkItem<Uuid>>>>,
{
    let mut entries: Vec<Option<BulkEntry>> = Vec::with_capacity(checked.len());
    let mut positions = Vec::new();
    let mut valid = Vec::new();
    for (index, item) in checked.into_iter().enumerate() {
        match item {
            Ok(input) => {
                positions.push(index);
                valid.push(input);
                entries.push(None);
            }
            Err(errors) => entries.push(Some(failed(index, ApiError::invalid(errors)))),
        }
    }
    let results = if valid.is_empty() {
        Vec::new()
    } else {
        store(valid).await?
    };
    for BulkItem { index, outcome } in results {
        let Some(&at) = positions.get(index) else {
            continue;
        };
        let entry = match outcome {
            BulkOutcome::Ok(id) => BulkEntry {
                index: u32::try_from(at).unwrap_or(u32::MAX),
                status: done.as_u16(),
                id: Some(id),
                problem: None,
            },
            BulkOutcome::Failed(stack_core::Error::Invalid { field, reason, .. }) => {
                let mut checks = Checks::under(format!("/{at}"));
                checks.flag(&place(&field), reason);
                failed(at, ApiError::invalid(checks.into_errors()))
            }
            BulkOutcome::Failed(error) => failed(at, error.into()),
            BulkOutcome::Cancelled => failed(
                at,
                ApiError::unavailable(
                    "the item was not processed",
                    std::time::Duration::from_secs(1),
                ),
            ),
        };
        if let Some(slot) = entries.get_mut(at) {
            *slot = Some(entry);
        }
    }
    let items = entries
        .into_iter()
        .enumerate()
        .map(|(index, entry)| {
            entry.unwrap_or_else(|| {
                failed(
                    index,
                    ApiError::internal(&"the store answered no result for an item"),
                )
            })
        })
        .collect();
    Ok(BulkAnswer { items })
}
