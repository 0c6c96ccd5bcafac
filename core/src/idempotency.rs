//! Idempotency keys: a client that retries a POST with the same `Idempotency-Key` gets the
//! first answer again instead of a second execution (the IETF httpapi idempotency-key draft,
//! and Stripe's behaviour).
//!
//! [`IdempotencyStore`] keeps one record per key: the request it was first used for (method,
//! target, a SHA-256 of the body), whether that request is still running (under a lease) or
//! done, and the response it got. The HTTP wrapper (`stack_server::http::idempotency`) drives
//! it: [`begin`](IdempotencyStore::begin) claims a key or says why not, then
//! [`finish`](IdempotencyStore::finish) stores the response, or
//! [`abandon`](IdempotencyStore::abandon) frees the key when the request was refused before
//! its handler ran.
//!
//! A claim carries a fencing token: after its lease lapses another request may take the key
//! over, and the first one's late `finish` then changes nothing.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use uuid::Uuid;

use crate::{Error, Result};

/// The longest key accepted, in characters.
pub const MAX_KEY_LEN: usize = 255;

/// A client's idempotency key: 1 to 255 visible ASCII characters (`!` to `~`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// `key` when it is 1 to 255 visible ASCII characters.
    ///
    /// # Errors
    /// `Invalid` on `Idempotency-Key`, saying what is wrong.
    ///
    /// ```
    /// use stack_core::idempotency::IdempotencyKey;
    /// assert!(IdempotencyKey::parse("8e03978e-40d5-43e8-bc93-6894a57f9324").is_ok());
    /// assert!(IdempotencyKey::parse("").is_err());
    /// assert!(IdempotencyKey::parse(&"k".repeat(256)).is_err());
    /// assert!(IdempotencyKey::parse("tab\there").is_err());
    /// ```
    pub fn parse(key: &str) -> Result<Self> {
        let reason = if key.is_empty() {
            Some("must not be empty".to_owned())
        } else if key.len() > MAX_KEY_LEN {
            Some(format!(
                "must be at most {MAX_KEY_LEN} characters (got {})",
                key.len()
            ))
        } else if !key.bytes().all(|b| b.is_ascii_graphic()) {
            Some("must be visible ASCII characters only (no spaces or control characters)".into())
        } else {
            None
        };
        match reason {
            Some(reason) => Err(Error::invalid("Idempotency-Key", reason)),
            None => Ok(Self(key.to_owned())),
        }
    }

    /// The key as the client sent it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What identifies the request a key was first used for: a retry must match all three.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFingerprint {
    /// The HTTP method (`POST`).
    pub method: String,
    /// The path and query the client sent, prefixed by the API version the server resolved
    /// when there is one (`v2 /api/users`).
    pub target: String,
    /// The SHA-256 of the body bytes, as 64 lowercase hex digits.
    pub body_sha256: String,
}

/// A response as stored for replay: status, content type, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type`, when the response had one.
    pub content_type: Option<String>,
    /// The body bytes, exactly.
    pub body: Vec<u8>,
}

/// A key claimed by one request: only this claim can finish or abandon it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The key.
    pub key: IdempotencyKey,
    /// The fencing token of this claim; a takeover makes a new one.
    pub token: Uuid,
}

/// The outcome of [`IdempotencyStore::begin`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begun {
    /// The key is this request's (new, expired, or taken over after the lease of an earlier
    /// claim lapsed): run the handler, then `finish` or `abandon`.
    Claimed(Claim),
    /// The key's request is done: answer with its stored response.
    Replay(StoredResponse),
    /// The key's request is still running (its lease has `retry_after` left).
    InFlight {
        /// How long the running claim's lease still lasts.
        retry_after: Duration,
    },
    /// The key was first used for another request (method, target or body differ).
    Mismatch {
        /// The request the key was first used for.
        first: RequestFingerprint,
    },
}

/// Where idempotency records live. Object-safe; used as `Arc<dyn IdempotencyStore>`.
///
/// Times are the backend's: a SQL store reads its own clock once per call, so instances
/// sharing a database agree on leases and expiry to within their clocks' skew.
#[async_trait]
pub trait IdempotencyStore: Send + Sync + fmt::Debug {
    /// Claims `key` for `request`, atomically across processes: one request wins a new key,
    /// an expired one, or one whose running claim's lease lapsed (with the same
    /// fingerprint). Otherwise says why not: [`Begun::Replay`], [`Begun::InFlight`] or
    /// [`Begun::Mismatch`]. A claim is leased for `lease`; the key expires `ttl` after it was
    /// claimed.
    ///
    /// # Errors
    /// `Unavailable` or `Backend` when the store cannot be reached or fails.
    async fn begin(
        &self,
        key: &IdempotencyKey,
        request: &RequestFingerprint,
        lease: Duration,
        ttl: Duration,
    ) -> Result<Begun>;

    /// Stores `response` as the answer of `claim`'s request; later `begin`s replay it.
    ///
    /// # Errors
    /// `Conflict` when the claim is no longer held (its lease lapsed and another request took
    /// the key, or it expired and was purged); nothing changes then.
    async fn finish(&self, claim: &Claim, response: &StoredResponse) -> Result<()>;

    /// Frees `claim`'s key (the request was refused before its handler ran), so a retry runs.
    /// A claim no longer held changes nothing.
    ///
    /// # Errors
    /// `Unavailable` or `Backend` when the store fails.
    async fn abandon(&self, claim: &Claim) -> Result<()>;

    /// Deletes up to `limit` expired records (never a running claim whose lease is live);
    /// answers how many. Call again while it answers `limit`.
    ///
    /// # Errors
    /// `Unavailable` or `Backend` when the store fails.
    async fn purge_expired(&self, limit: u32) -> Result<u64>;
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn keys_are_bounded_visible_ascii() {
        assert!(IdempotencyKey::parse(&"k".repeat(MAX_KEY_LEN)).is_ok());
        for bad in ["", " ", "a b", "é", "a\u{7f}"] {
            let error = IdempotencyKey::parse(bad).expect_err(bad);
            assert!(
                matches!(&error, Error::Invalid { field, .. } if field == "Idempotency-Key"),
                "{bad:?}: {error}"
            );
        }
        let long = IdempotencyKey::parse(&"k".repeat(MAX_KEY_LEN + 1)).expect_err("256");
        assert!(long.to_string().contains("at most 255"), "{long}");
    }

    #[test]
    fn the_store_is_object_safe() {
        fn assert_send_sync<T: Send + Sync + ?Sized>() {}
        assert_send_sync::<Arc<dyn IdempotencyStore>>();
    }
}
