//! Unit tests of `TypedCache`: a cache that fails is bypassed, and its failures are
//! counted in full and logged once per interval.

use std::time::Duration;

use async_trait::async_trait;

use super::*;
use crate::Error;
use crate::cache::{CacheCapabilities, CacheStats};

/// A cache whose server is unreachable: every call fails.
#[derive(Debug)]
struct Down;

fn down() -> Error {
    Error::unavailable(
        "cache",
        std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
    )
}

#[async_trait]
impl Cache for Down {
    fn name(&self) -> &'static str {
        "down"
    }
    fn capabilities(&self) -> CacheCapabilities {
        CacheCapabilities::default()
    }
    async fn get(&self, _: &str) -> Result<Option<Vec<u8>>> {
        Err(down())
    }
    async fn get_many(&self, _: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        Err(down())
    }
    async fn set(&self, _: &str, _: Vec<u8>, _: Option<Duration>) -> Result<()> {
        Err(down())
    }
    async fn increment(&self, _: &str, _: i64, _: Option<Duration>) -> Result<i64> {
        Err(down())
    }
    async fn set_if_absent(&self, _: &str, _: Vec<u8>, _: Option<Duration>) -> Result<bool> {
        Err(down())
    }
    async fn expire(&self, _: &str, _: Duration) -> Result<bool> {
        Err(down())
    }
    async fn delete(&self, _: &str) -> Result<bool> {
        Err(down())
    }
    async fn delete_many(&self, _: &[String]) -> Result<u64> {
        Err(down())
    }
    async fn delete_pattern(&self, _: &str) -> Result<u64> {
        Err(down())
    }
    async fn health(&self) -> Result<()> {
        Err(down())
    }
    async fn stats(&self) -> Result<CacheStats> {
        Err(down())
    }
}

#[tokio::test]
async fn a_failing_cache_degrades_to_the_loader() {
    let cache = TypedCache::new(Arc::new(Down));
    assert_eq!(cache.get::<u32>("k").await, None);
    let value = cache
        .get_or_load("k", None, || async { Ok(7u32) })
        .await
        .unwrap();
    assert_eq!(value, 7);
    let failed: Result<u32> = cache
        .get_or_load("k", None, || async { Err(Error::not_found("k")) })
        .await;
    assert_eq!(failed.unwrap_err().kind(), crate::ErrorKind::NotFound);
    assert!(
        cache.loading.lock().unwrap().is_empty(),
        "gates are released"
    );
}

/// Writes log lines into a shared buffer.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn an_outage_is_counted_in_full_and_logged_once_per_interval() {
    let lines = Lines::default();
    let sink = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let cache = TypedCache::new(Arc::new(Down));
    for _ in 0..50 {
        assert_eq!(cache.get::<u32>("k").await, None);
    }
    assert_eq!(cache.failures(), 50, "every failure is counted");
    let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    assert_eq!(
        text.matches("the cache is bypassed").count(),
        1,
        "one line per interval, not fifty:\n{text}"
    );
}

/// A load whose future is dropped (a request cancelled, a timeout) releases its key's gate,
/// and so does a caller dropped while it waited for that load: the map is empty and the next
/// load of the key runs.
#[tokio::test]
async fn a_cancelled_load_releases_its_gate() {
    let cache = TypedCache::new(Arc::new(Down));
    let (started, has_started) = tokio::sync::oneshot::channel::<()>();
    let loading = tokio::spawn({
        let cache = cache.clone();
        async move {
            cache
                .get_or_load("k", None, || async move {
                    let _ = started.send(());
                    std::future::pending::<Result<u32>>().await
                })
                .await
        }
    });
    has_started.await.unwrap();
    // A second caller waits on the gate the first one holds; it is cancelled too.
    let waiting = tokio::time::timeout(
        Duration::from_millis(50),
        cache.get_or_load("k", None, || async { Ok(1u32) }),
    )
    .await;
    assert!(
        waiting.is_err(),
        "the waiter was cancelled while the load ran"
    );
    assert_eq!(cache.gates(), 1, "the running load still holds the gate");
    loading.abort();
    assert!(loading.await.unwrap_err().is_cancelled());
    assert_eq!(cache.gates(), 0, "the cancelled load released its gate");
    let next = tokio::time::timeout(
        Duration::from_secs(5),
        cache.get_or_load("k", None, || async { Ok(2u32) }),
    )
    .await
    .expect("the next load is not blocked")
    .unwrap();
    assert_eq!(next, 2);
    assert_eq!(cache.gates(), 0);
}
