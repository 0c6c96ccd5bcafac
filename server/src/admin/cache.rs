//! `/admin/cache`: invalidation by keys, by pattern, and by user.

use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use stack_core::cache::{KeyPattern, TypedCache, UserKeys, validate_entry};
use uuid::Uuid;

use super::Tag;
use super::auth::AdminAuth;
use crate::backends::Backends;
use crate::http::api_error::{ApiError, ApiResult, pointer};
use crate::http::problem::FieldError;

/// Keys to delete.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct KeysRequest {
    /// The keys, exactly as stored (1 to 1000).
    #[oai(validator(min_items = 1, max_items = 1000))]
    pub keys: Vec<String>,
}

/// A pattern of keys to delete.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct PatternRequest {
    /// A pattern with the syntax of Redis `MATCH` (`user:*`, `rate:?:[0-9]`), matched on
    /// every node of a cluster.
    pub pattern: String,
}

/// What a deletion did.
#[derive(Debug, Object)]
pub struct Deleted {
    /// Keys that existed and are gone.
    pub deleted: u64,
}

/// A user's cache moved to a new generation.
#[derive(Debug, Object)]
pub struct UserInvalidated {
    /// The user.
    pub user_id: Uuid,
    /// The user's new generation: every entry cached under an older one is unreachable.
    pub generation: i64,
}

/// The cache's admin operations.
#[derive(Debug)]
pub struct CacheApi {
    backends: Backends,
}

impl CacheApi {
    /// The operations over `backends`.
    pub fn new(backends: Backends) -> Self {
        Self { backends }
    }
}

#[OpenApi(tag = "Tag::Cache")]
impl CacheApi {
    /// Deletes the given keys; answers how many existed.
    #[oai(path = "/cache/invalidate/keys", method = "post")]
    async fn keys(&self, _auth: AdminAuth, body: Json<KeysRequest>) -> ApiResult<Json<Deleted>> {
        let errors: Vec<FieldError> = body
            .keys
            .iter()
            .enumerate()
            .filter_map(|(i, key)| {
                validate_entry(key, None).err().map(|e| FieldError {
                    pointer: pointer(&format!("keys.{i}")),
                    detail: match e {
                        stack_core::Error::Invalid { reason, .. } => reason,
                        other => other.to_string(),
                    },
                })
            })
            .collect();
        if !errors.is_empty() {
            return Err(ApiError::invalid(errors));
        }
        let deleted = self.backends.cache.delete_many(&body.keys).await?;
        tracing::info!(
            action = "cache.keys_invalidated",
            keys = body.keys.len(),
            deleted,
            "admin action"
        );
        Ok(Json(Deleted { deleted }))
    }

    /// Deletes every key matching a pattern (a scan of every node); answers how many.
    #[oai(path = "/cache/invalidate/pattern", method = "post")]
    async fn pattern(
        &self,
        _auth: AdminAuth,
        body: Json<PatternRequest>,
    ) -> ApiResult<Json<Deleted>> {
        let pattern = KeyPattern::parse(&body.pattern)?;
        let deleted = self.backends.cache.delete_pattern(pattern.as_str()).await?;
        tracing::info!(action = "cache.pattern_invalidated", pattern = %pattern.as_str(), deleted, "admin action");
        Ok(Json(Deleted { deleted }))
    }

    /// Makes every entry cached for a user unreachable at once (one increment of the user's
    /// generation; the caching Store's entries of that user included).
    #[oai(path = "/cache/invalidate/users/:id", method = "post")]
    async fn user(&self, _auth: AdminAuth, id: Path<Uuid>) -> ApiResult<Json<UserInvalidated>> {
        let keys = UserKeys::new(TypedCache::new(self.backends.cache.clone()));
        let generation = keys.bump(id.0).await?;
        tracing::info!(action = "cache.user_invalidated", user = %id.0, generation, "admin action");
        Ok(Json(UserInvalidated {
            user_id: id.0,
            generation,
        }))
    }
}
