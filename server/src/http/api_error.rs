//! The error answer of every documented API operation: one type, so that each operation's
//! OpenAPI document lists the same problem+json responses, and one mapping from
//! [`stack_core::Error`] to HTTP that keeps internal detail (SQL, driver messages) out of
//! responses and in the log.

use std::time::Duration;

use poem::http::StatusCode;
use poem_openapi::ApiResponse;
use poem_openapi::payload::Json;
use stack_core::Error;

use super::problem::{FieldError, Problem};

/// What an API operation answers when it fails: RFC 9457 problem+json.
#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// The request is malformed: a body that is not JSON, a bad path or query parameter.
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<Problem>),
    /// No credentials, where the operation needs them.
    #[oai(status = 401, content_type = "application/problem+json")]
    Unauthorized(
        Json<Problem>,
        /// The scheme to authenticate with (`Bearer`).
        #[oai(header = "WWW-Authenticate")]
        String,
    ),
    /// Credentials that do not grant this operation.
    #[oai(status = 403, content_type = "application/problem+json")]
    Forbidden(Json<Problem>),
    /// The resource does not exist.
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
    /// The request clashes with the current state (a duplicate, a request still running).
    #[oai(status = 409, content_type = "application/problem+json")]
    Conflict(Json<Problem>),
    /// The body is larger than the server accepts.
    #[oai(status = 413, content_type = "application/problem+json")]
    PayloadTooLarge(Json<Problem>),
    /// The body's media type is not one the operation reads (`application/json`).
    #[oai(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Json<Problem>),
    /// The request is well-formed but its content is refused; `errors` points at every bad
    /// field.
    #[oai(status = 422, content_type = "application/problem+json")]
    Unprocessable(Json<Problem>),
    /// A failure of the server, with no detail (it is in the server's log).
    #[oai(status = 500, content_type = "application/problem+json")]
    Internal(Json<Problem>),
    /// A backend is down or its circuit is open; retry after the given seconds.
    #[oai(status = 503, content_type = "application/problem+json")]
    Unavailable(
        Json<Problem>,
        /// Seconds to wait before retrying.
        #[oai(header = "Retry-After")]
        u64,
    ),
}

/// The result of an API operation.
pub type ApiResult<T> = Result<T, ApiError>;

fn problem(status: StatusCode, detail: impl Into<String>) -> Json<Problem> {
    Json(Problem::new(status, Some(detail.into())))
}

impl ApiError {
    /// 400 with `detail`.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::BadRequest(problem(StatusCode::BAD_REQUEST, detail))
    }

    /// 404 with `detail`.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::NotFound(problem(StatusCode::NOT_FOUND, detail))
    }

    /// 409 with `detail`.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::Conflict(problem(StatusCode::CONFLICT, detail))
    }

    /// 413 with `detail`.
    pub fn too_large(detail: impl Into<String>) -> Self {
        Self::PayloadTooLarge(problem(StatusCode::PAYLOAD_TOO_LARGE, detail))
    }

    /// 422 listing every bad field.
    pub fn invalid(errors: Vec<FieldError>) -> Self {
        let detail = match errors.len() {
            1 => "a field of the request is invalid".to_owned(),
            n => format!("{n} fields of the request are invalid"),
        };
        Self::Unprocessable(Json(
            Problem::new(StatusCode::UNPROCESSABLE_ENTITY, Some(detail)).with_errors(errors),
        ))
    }

    /// 422 listing every bad field of a request refused by the operation's own input checks,
    /// before any work: a retry with the same `Idempotency-Key` and a fixed body runs (see
    /// [`mark_refused`](crate::http::idempotency::mark_refused)).
    pub fn refused(errors: Vec<FieldError>) -> Self {
        crate::http::idempotency::mark_refused();
        Self::invalid(errors)
    }

    /// 503 asking the client to come back after `after` (at least a second).
    pub fn unavailable(detail: impl Into<String>, after: Duration) -> Self {
        let seconds = after.as_secs() + u64::from(after.subsec_nanos() > 0);
        Self::Unavailable(
            problem(StatusCode::SERVICE_UNAVAILABLE, detail),
            seconds.max(1),
        )
    }

    /// 500 with no detail; `error` goes to the log only.
    pub fn internal(error: &dyn std::fmt::Display) -> Self {
        tracing::error!(%error, "request failed");
        Self::Internal(Json(Problem::new(StatusCode::INTERNAL_SERVER_ERROR, None)))
    }

    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(..) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable(..) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// The JSON Pointer of a field the library names (`amount`, `items.3.amount`).
pub fn pointer(field: &str) -> String {
    let mut out = String::new();
    for part in field.split('.') {
        out.push('/');
        out.push_str(&part.replace('~', "~0").replace('/', "~1"));
    }
    out
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        match error {
            Error::NotFound { what, .. } => Self::not_found(format!("{what} not found")),
            Error::Conflict { reason, .. } => Self::conflict(reason),
            Error::Invalid { field, reason, .. } => Self::invalid(vec![FieldError {
                pointer: pointer(&field),
                detail: reason,
            }]),
            Error::CircuitOpen { retry_after } => {
                Self::unavailable("the database is not answering; retry later", retry_after)
            }
            Error::Unavailable { .. }
            | Error::Timeout { .. }
            | Error::Backend {
                temporary: true, ..
            } => {
                tracing::warn!(%error, "a backend is unavailable");
                Self::unavailable(
                    "a backend is not answering; retry later",
                    Duration::from_secs(1),
                )
            }
            other => Self::internal(&other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_errors_map_to_statuses_without_internal_detail() {
        let cases = [
            (Error::not_found("user 1"), 404),
            (Error::conflict("email taken"), 409),
            (Error::invalid("amount", "must be positive"), 422),
            (
                Error::CircuitOpen {
                    retry_after: Duration::from_millis(1500),
                },
                503,
            ),
            (Error::backend("syntax error at or near SELECT"), 500),
            (
                Error::Backend {
                    message: "database is locked".into(),
                    temporary: true,
                    source: None,
                },
                503,
            ),
        ];
        for (error, status) in cases {
            let api = ApiError::from(error);
            assert_eq!(api.status().as_u16(), status);
            let response = poem::IntoResponse::into_response(api);
            assert_eq!(response.status().as_u16(), status);
        }
        let ApiError::Internal(Json(problem)) = ApiError::from(Error::backend("SELECT 1")) else {
            panic!("a backend error is a 500");
        };
        assert_eq!(problem.detail, None);
        let ApiError::Unavailable(_, after) = ApiError::from(Error::CircuitOpen {
            retry_after: Duration::from_millis(1500),
        }) else {
            panic!("an open circuit is a 503");
        };
        assert_eq!(after, 2, "Retry-After rounds up to whole seconds");
    }

    #[test]
    fn pointers_escape_and_nest() {
        assert_eq!(pointer("amount"), "/amount");
        assert_eq!(pointer("items.3.amount"), "/items/3/amount");
        assert_eq!(pointer("a/b~c"), "/a~1b~0c");
    }
}
