//! Embedding STACK in a host application, as a host does it: the host's own backends in the
//! app ([`backends`]), the app under a prefix beside the host's routes with the host's APIs
//! and title ([`options`]), and the server loop stopped from code on a real port
//! ([`serving`]). Real backends: SQLite in memory, the memory cache and queue.

#![allow(
    clippy::unwrap_used,
    reason = "tests: a failed call must fail the test"
)]

mod backends;
mod options;
mod pools;
mod serving;

use std::sync::Arc;

use poem::Endpoint;
use poem::http::StatusCode;
use poem::test::TestRequestBuilder;
use serde_json::Value;
use stack_backends::memory::{MemoryCache, MemoryCacheOptions, MemoryQueue};
use stack_backends::sql::SqlStore;
use stack_core::cache::Cache;
use stack_core::config::DatabaseConfig;
use stack_core::queue::{Queue, QueueOptions};

/// The admin token of these tests.
const TOKEN: &str = "admin-token-for-embed-tests-0123";

/// A host's own backends: a migrated in-memory SQLite Store, a memory cache and queue.
async fn host_backends() -> (SqlStore, Arc<dyn Cache>, Arc<dyn Queue>) {
    let database = DatabaseConfig {
        url: "sqlite::memory:".into(),
        ..DatabaseConfig::default()
    };
    let store = stack_backends::registry::open_store(&database)
        .await
        .unwrap();
    stack_backends::sql::migrate_up(store.connection(), None)
        .await
        .unwrap();
    let cache: Arc<dyn Cache> = Arc::new(MemoryCache::new(MemoryCacheOptions::default()));
    let queue: Arc<dyn Queue> = Arc::new(MemoryQueue::new(QueueOptions::new("host")).unwrap());
    (store, cache, queue)
}

/// Sends `request`: its status, content type and JSON body (`null` when not JSON).
async fn send<E: Endpoint>(request: TestRequestBuilder<'_, E>) -> (StatusCode, String, Value) {
    let response = request.send().await.0;
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response.into_body().into_bytes().await.unwrap();
    (
        status,
        content_type,
        serde_json::from_slice(&body).unwrap_or(Value::Null),
    )
}
