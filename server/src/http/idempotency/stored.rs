//! Which answers are kept for replay, and the replay itself.
//!
//! The rule: a response is stored once the handler ran, errors included (a 404, a 409, a
//! domain 422 such as "balance too small"), and not when the request was refused
//! before the handler ran, or the refusal is about the server's state rather than the
//! request:
//!
//! - an error that poem or poem-openapi raised itself (an `Err` that is not a rendered
//!   response): a body or parameter that failed to parse or validate (400/413/422), a wrong
//!   content type, a route that does not exist;
//! - a response (or an error) marked [`NotStored`], which a validation layer that renders
//!   its own refusals sets;
//! - any 5xx (a circuit open, a backend unavailable or busy, a statement that timed out, a
//!   failure of the server): whether the write happened is not known to the client, and the
//!   rail's writes are idempotent by themselves, so the retry runs again instead of replaying
//!   a failure for the key's lifetime.
//!
//! A request that is not stored frees its key, so a retry (with a fixed body) runs.

use poem::http::{HeaderValue, StatusCode, header};
use poem::{IntoResponse, Response};
use stack_core::idempotency::StoredResponse;

use crate::http::problem;

/// The header that marks a replayed response.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// Marks a response (in [`Response::extensions`]) or an error (with
/// [`poem::Error::set_data`]) as a refusal before the handler ran: the idempotency wrapper
/// does not store it, and frees the key for a retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotStored;

/// `response` marked [`NotStored`].
pub fn not_stored(response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    response.extensions_mut().insert(NotStored);
    response
}

tokio::task_local! {
    /// Set while the wrapper serves a request: whether the handler refused it before its work.
    static REFUSED: std::cell::Cell<bool>;
}

/// Marks the request being served as refused before its work began (its input failed the
/// handler's own checks): the idempotency wrapper stores nothing and frees the key. For
/// refusals an operation renders itself (an [`ApiError`](crate::http::api_error::ApiError)
/// returned from a handler), which cannot carry [`NotStored`]. Outside the wrapper it does
/// nothing.
pub fn mark_refused() {
    let _ = REFUSED.try_with(|refused| refused.set(true));
}

/// Runs `call`, telling whether [`mark_refused`] was called while it ran.
pub(super) async fn watch_refusal<T>(call: impl Future<Output = T>) -> (T, bool) {
    REFUSED
        .scope(std::cell::Cell::new(false), async move {
            let output = call.await;
            (output, REFUSED.with(std::cell::Cell::get))
        })
        .await
}

/// The response of the inner endpoint and whether it is kept for replay.
pub(super) fn classify(result: poem::Result<Response>) -> (Response, bool) {
    let response = match result {
        Ok(response) => response,
        Err(error) if error.data::<NotStored>().is_some() => {
            return (problem::respond(error), false);
        }
        Err(error) if error.is_from_response() => error.into_response(),
        // Raised by poem or poem-openapi before the handler: parsing, validation, routing.
        Err(error) => return (problem::respond(error), false),
    };
    let keep =
        response.extensions().get::<NotStored>().is_none() && !response.status().is_server_error();
    (response, keep)
}

/// A response rebuilt from its stored parts, marked as a replay.
pub(super) fn replay(stored: StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = Response::builder().status(status).body(stored.body);
    if let Some(value) = stored
        .content_type
        .and_then(|c| HeaderValue::from_str(&c).ok())
    {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
        .headers_mut()
        .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    response
}

/// The parts of `response` to store (its body already read as `body`).
pub(super) fn parts(response: &Response, body: Vec<u8>) -> StoredResponse {
    StoredResponse {
        status: response.status().as_u16(),
        content_type: response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body,
    }
}

#[cfg(test)]
mod tests {
    use poem::Error;

    use super::*;

    #[test]
    fn handler_answers_are_kept_and_refusals_before_it_are_not() {
        let ok = Response::builder().status(StatusCode::CREATED).finish();
        assert!(classify(Ok(ok)).1);
        let domain = Error::from_response(
            Response::builder()
                .status(StatusCode::UNPROCESSABLE_ENTITY)
                .finish(),
        );
        assert!(classify(Err(domain)).1, "a handler's 422 is kept");
        let parse = Error::from_string("bad json", StatusCode::BAD_REQUEST);
        let (response, keep) = classify(Err(parse));
        assert!(!keep, "poem's own refusal is not kept");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let marked = not_stored(StatusCode::UNPROCESSABLE_ENTITY);
        assert!(!classify(Ok(marked)).1);
        let mut marked = Error::from_response(StatusCode::BAD_REQUEST.into_response());
        marked.set_data(NotStored);
        assert!(!classify(Err(marked)).1);
        let down = Response::builder()
            .status(StatusCode::SERVICE_UNAVAILABLE)
            .finish();
        assert!(!classify(Ok(down)).1, "a 503 is not kept");
        let failed = Response::builder()
            .status(StatusCode::INTERNAL_SERVER_ERROR)
            .finish();
        assert!(!classify(Ok(failed)).1, "a 500 is not kept: the retry runs");
    }

    #[tokio::test]
    async fn a_replay_has_the_stored_status_type_and_bytes() {
        let response = replay(StoredResponse {
            status: 201,
            content_type: Some("application/json; charset=utf-8".into()),
            body: b"{\"id\":1}".to_vec(),
        });
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE).unwrap(),
            "application/json; charset=utf-8"
        );
        assert_eq!(response.headers().get(REPLAYED_HEADER).unwrap(), "true");
        let body = response.into_body().into_vec().await.unwrap();
        assert_eq!(body, b"{\"id\":1}");
    }
}
