//! RFC 9457 problem details: every error the server answers is `application/problem+json`.

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use serde::Serialize;

/// The media type of problem details.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// A problem details object (RFC 9457).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// A URI naming the problem type; `about:blank` when the status says it all.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// The status's reason phrase.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong with this request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Problem {
    /// A problem with `status` and an optional `detail`.
    pub fn new(status: StatusCode, detail: Option<String>) -> Self {
        Self {
            problem_type: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            status: status.as_u16(),
            detail,
        }
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

/// The `catch_all_error` handler of the app: any error becomes problem+json.
pub async fn render(error: poem::Error) -> Response {
    Problem::from_poem(&error).into_response()
}
