//! What the middleware reads from a keyed request: its key, and the fingerprint a retry must
//! match.

use poem::Request;
use sha2::{Digest, Sha256};
use stack_core::idempotency::{IdempotencyKey, RequestFingerprint};
use stack_core::version::ApiVersion;

use super::KEY_HEADER;

/// The key of `req`, `None` when it sends none, or why it is refused (a 400).
pub(super) fn key_of(req: &Request) -> std::result::Result<Option<IdempotencyKey>, String> {
    let mut values = req.headers().get_all(KEY_HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err("Idempotency-Key: send it once".to_owned());
    }
    let parsed = value
        .to_str()
        .map_err(|_| stack_core::Error::invalid("Idempotency-Key", "must be visible ASCII"))
        .and_then(IdempotencyKey::parse);
    match parsed {
        Ok(key) => Ok(Some(key)),
        Err(stack_core::Error::Invalid { field, reason, .. }) => Err(format!("{field}: {reason}")),
        Err(other) => Err(other.to_string()),
    }
}

/// The target of a request as STACK's app received it (after the host's prefix is stripped),
/// put in the request's extensions by the app for the fingerprint.
#[derive(Debug, Clone)]
pub struct AppTarget(pub poem::http::Uri);

/// What identifies `req` with `body`: method, the target relative to STACK's app (with the
/// API version the guards resolved, when they did), and a SHA-256 of the body. Relative to
/// the app, so the mount prefix a host nests it at (or changes) is no part of it.
pub(super) fn fingerprint(req: &Request, body: &[u8]) -> RequestFingerprint {
    // The app records the target as it received it ([`AppTarget`]); outside an app (the
    // middleware alone) the server's record of the target the client sent, and a request
    // built in-process has the default `/` there and its own URI instead.
    let uri = match req.extensions().get::<AppTarget>() {
        Some(AppTarget(uri)) => uri,
        None if req.original_uri().path() == "/" => req.uri(),
        None => req.original_uri(),
    };
    let target = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let target = match req.extensions().get::<ApiVersion>() {
        Some(version) => format!("{version} {target}"),
        None => target,
    };
    let digest = Sha256::digest(body);
    let body_sha256 = digest.iter().map(|b| format!("{b:02x}")).collect();
    RequestFingerprint {
        method: req.method().as_str().to_owned(),
        target,
        body_sha256,
    }
}
