//! poem-openapi's own refusals (a body that is not JSON or not the documented shape, an
//! unknown body field, a bad path or query parameter, a wrong content type) answered as
//! problem+json with a pointer where one is known, never as text/plain, whoever mounts the
//! API.

use poem::http::StatusCode;
use poem::{Endpoint, IntoResponse, Request, Response};
use poem_openapi::error::{ParseParamError, ParsePathError, ParseRequestPayloadError};

use crate::http::problem::{FieldError, Problem};

/// The pointer of the unknown field a payload error names (`unknown field `nick`.`).
fn unknown_field(reason: &str) -> Option<String> {
    let rest = reason.split("unknown field `").nth(1)?;
    let name = rest.split('`').next()?;
    Some(crate::http::api_error::pointer(name))
}

/// The problem answering `error`, when it is a refusal of the request's form; `None` for
/// anything else (an unknown route, a server error), which the host renders.
pub fn problem_for(error: &poem::Error) -> Option<Problem> {
    let status = error.status();
    if error.is_from_response()
        || !status.is_client_error()
        || status == StatusCode::NOT_FOUND
        || status == StatusCode::METHOD_NOT_ALLOWED
    {
        return None;
    }
    let mut problem = Problem::new(status, Some(error.to_string()));
    let at = |pointer: String, reason: &str| FieldError {
        pointer,
        detail: reason.to_owned(),
    };
    if let Some(e) = error.downcast_ref::<ParseParamError>() {
        problem = problem.with_errors(vec![at(format!("#/query/{}", e.name), &e.reason)]);
    } else if let Some(e) = error.downcast_ref::<ParsePathError>() {
        // poem-openapi names path parameters `param0`, `param1`... internally; every rail
        // path has one parameter, documented as `id`.
        problem = problem.with_errors(vec![at("#/path/id".into(), &e.reason)]);
    } else if let Some(e) = error.downcast_ref::<ParseRequestPayloadError>() {
        if let Some(pointer) = unknown_field(&e.reason) {
            problem = problem.with_errors(vec![at(pointer, "is not a field of this body")]);
        }
    }
    Some(problem)
}

/// The middleware: calls `next` and answers its form refusals with problem+json.
///
/// # Errors
/// Any other error of `next`, unchanged.
pub async fn render_refusals<E: Endpoint>(next: &E, req: Request) -> poem::Result<Response> {
    match next.call(req).await {
        Ok(response) => Ok(response.into_response()),
        Err(error) => match problem_for(&error) {
            Some(problem) => Ok(crate::http::idempotency::not_stored(problem)),
            None => Err(error),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_and_params_get_pointers() {
        assert_eq!(
            unknown_field(r#"failed to parse "CreateUser": unknown field `nick`."#).as_deref(),
            Some("/nick")
        );
        let error = poem::Error::from(ParseParamError {
            name: "limit",
            reason: "must be at most 100".into(),
        });
        let problem = problem_for(&error).unwrap();
        assert_eq!(problem.status, 400);
        assert_eq!(problem.errors[0].pointer, "#/query/limit");
        let missing = poem::Error::from_status(StatusCode::NOT_FOUND);
        assert!(problem_for(&missing).is_none());
    }
}
