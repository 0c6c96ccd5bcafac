//! RFC 9457 problem details: every error the server answers is `application/problem+json`.

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::Object;
use serde::Serialize;

/// The media type of problem details.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One bad field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Object)]
pub struct FieldError {
    /// A JSON Pointer (RFC 6901) to the field in the request body (`/email`,
    /// `/items/3/amount`), or the name of a path or query parameter prefixed with `#/`
    /// and its location (`#/query/limit`).
    pub pointer: String,
    /// What is wrong with it and, where it helps, what is accepted.
    pub detail: String,
}

/// A problem details object (RFC 9457).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Object)]
pub struct Problem {
    /// A URI naming the problem type; `about:blank` when the status says it all.
    #[serde(rename = "type")]
    #[oai(rename = "type")]
    pub problem_type: String,
    /// The status's reason phrase.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong with this request.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[oai(skip_serializing_if_is_none)]
    pub detail: Option<String>,
    /// Every bad field of the request, when the request was refused for its content.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[oai(skip_serializing_if_is_empty, default)]
    pub errors: Vec<FieldError>,
}

impl Problem {
    /// A problem with `status` and an optional `detail`.
    pub fn new(status: StatusCode, detail: Option<String>) -> Self {
        Self {
            problem_type: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            status: status.as_u16(),
            detail,
            errors: Vec::new(),
        }
    }

    /// This problem listing `errors`.
    #[must_use]
    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    /// The problem for an error raised by poem or poem-openapi (an unknown route, a bad
    /// parameter). Server errors keep their detail out of the response and in the log.
    pub fn from_poem(error: &poem::Error) -> Self {
        let status = error.status();
        if status.is_server_error() {
            tracing::error!(%error, "request failed");
            return Self::new(status, None);
        }
        Self::new(status, Some(error.to_string()))
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        Response::builder()
            .status(status)
            .content_type(PROBLEM_JSON)
            .body(body)
    }
}

/// The response for `error`: the one an API handler already rendered (an
/// [`ApiError`](super::api_error::ApiError)), or problem+json for an error raised by poem.
pub fn respond(error: poem::Error) -> Response {
    // The route template the error's request matched, kept for the request metrics.
    let pattern = error.data::<poem::PathPattern>().cloned();
    let mut response = if error.is_from_response() {
        error.into_response()
    } else {
        Problem::from_poem(&error).into_response()
    };
    if let Some(pattern) = pattern {
        response.set_data(pattern);
    }
    response
}

/// The `catch_all_error` handler of the app: any error becomes problem+json. A host that
/// mounts STACK's routes uses it as its own fallback, so that its errors (a 404 for a path
/// no route of its serves, its handlers' errors) have the same shape as STACK's:
/// `Route::new().nest("/stack", stack).catch_all_error(stack_server::http::problem::render)`.
pub async fn render(error: poem::Error) -> Response {
    respond(error)
}
