//! The one auth wrapper of the admin API: `Authorization: Bearer <api.admin_token>`.
//!
//! [`Gate`] guards every route under `/admin` (the operations and their document): no bearer
//! credentials is 401 with `WWW-Authenticate: Bearer`, a wrong token 403. The token is kept
//! only as its SHA-256 digest and compared digest to digest in constant time, so neither its
//! content nor its length shows in the time an answer takes; it is never logged (the request
//! log records the method and URI, not headers). [`AdminAuth`] declares the scheme in the
//! admin OpenAPI document and checks the token again in each operation, so an operation
//! mounted without the gate still refuses.

use std::fmt;

use poem::http::{HeaderMap, StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response};
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;
use poem_openapi::payload::Json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::http::api_error::ApiError;
use crate::http::problem::Problem;

/// The configured admin token, as its SHA-256 digest only.
#[derive(Clone)]
pub struct Gate {
    digest: [u8; 32],
}

impl fmt::Debug for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Gate(<admin token>)")
    }
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// The token of `Authorization: Bearer <token>` (the scheme in any case), if that is what
/// the request carries.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Why the gate refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No bearer credentials (401).
    NoCredentials,
    /// A token that is not the admin token (403).
    WrongToken,
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::NoCredentials => unauthorized(),
            Refusal::WrongToken => forbidden(),
        }
    }
}

/// 401: no credentials; says which scheme to use.
fn unauthorized() -> ApiError {
    let detail = "the admin API needs `Authorization: Bearer <api.admin_token>`";
    ApiError::Unauthorized(
        Json(Problem::new(StatusCode::UNAUTHORIZED, Some(detail.into()))),
        "Bearer".into(),
    )
}

/// 403: credentials that are not the admin token.
fn forbidden() -> ApiError {
    let detail = "the bearer token is not the admin token";
    ApiError::Forbidden(Json(Problem::new(
        StatusCode::FORBIDDEN,
        Some(detail.into()),
    )))
}

impl Gate {
    /// The gate of `token` (`api.admin_token`).
    pub fn new(token: &str) -> Self {
        Self {
            digest: digest(token),
        }
    }

    /// Whether `presented` is the admin token, in time that does not depend on either.
    pub fn admits(&self, presented: &str) -> bool {
        self.digest.ct_eq(&digest(presented)).into()
    }

    /// Checks a request's credentials.
    ///
    /// # Errors
    /// The [`Refusal`]: no bearer credentials, or a wrong token.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        match bearer(headers) {
            None => Err(Refusal::NoCredentials),
            Some(token) if self.admits(token) => Ok(()),
            Some(_) => {
                tracing::warn!("admin API: a request with a wrong bearer token was refused");
                Err(Refusal::WrongToken)
            }
        }
    }

    /// Runs `next` for a request the gate admits; answers 401 or 403 otherwise.
    ///
    /// # Errors
    /// Whatever `next` fails with.
    pub async fn call<E: Endpoint>(&self, next: &E, req: Request) -> poem::Result<Response> {
        match self.check(req.headers()) {
            Ok(()) => next.call(req).await.map(IntoResponse::into_response),
            Err(refused) => Ok(ApiError::from(refused).into_response()),
        }
    }
}

/// The admin API's bearer scheme: declared on every admin operation, and checked against
/// the [`Gate`] in the request's data.
#[derive(Debug, SecurityScheme)]
#[oai(ty = "bearer", checker = "admit")]
pub struct AdminAuth(());

async fn admit(req: &Request, credentials: Bearer) -> poem::Result<()> {
    let admitted = req
        .data::<Gate>()
        .is_some_and(|gate| gate.admits(&credentials.token));
    if admitted {
        Ok(())
    } else {
        Err(poem::Error::from_response(forbidden().into_response()))
    }
}

#[cfg(test)]
mod tests {
    use poem::http::HeaderValue;

    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(header::AUTHORIZATION, value);
        }
        headers
    }

    #[test]
    fn only_the_token_as_bearer_credentials_is_admitted() {
        let gate = Gate::new("0123456789abcdef");
        assert!(gate.check(&headers("Bearer 0123456789abcdef")).is_ok());
        assert!(gate.check(&headers("bearer 0123456789abcdef")).is_ok());
        let refusal = |value: &str| gate.check(&headers(value)).err();
        assert_eq!(refusal(""), Some(Refusal::NoCredentials));
        assert_eq!(refusal("Bearer "), Some(Refusal::NoCredentials));
        assert_eq!(
            refusal("Basic 0123456789abcdef"),
            Some(Refusal::NoCredentials)
        );
        assert_eq!(
            refusal("Bearer 0123456789abcdeF"),
            Some(Refusal::WrongToken)
        );
        assert_eq!(
            refusal("Bearer 0123456789abcdef0"),
            Some(Refusal::WrongToken)
        );
        assert_eq!(
            ApiError::from(Refusal::NoCredentials).status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            ApiError::from(Refusal::WrongToken).status(),
            StatusCode::FORBIDDEN
        );
        assert!(
            !format!("{gate:?}").contains("0123"),
            "the token is never printed"
        );
    }
}
