//! The invalidation subscriber of a [`TieredCache`](super::TieredCache): it applies the other
//! instances' messages to this instance's first tier, and clears that tier each time it
//! (re)subscribes, since it may have missed messages.

use std::time::Duration;

use futures::StreamExt;
use stack_core::cache::Cache;
use stack_core::{Error, Result};

use crate::memory::MemoryCache;
use crate::redis::RedisTarget;
use crate::redis::connection::redis_error;

/// The subscriber's task, aborted when the last clone of its cache is dropped.
#[derive(Debug)]
pub(super) struct Listener(pub(super) tokio::task::JoinHandle<()>);

impl Drop for Listener {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Applies one message to the first tier.
async fn apply(l1: &MemoryCache, id: &str, payload: &str) {
    let Some((from, what)) = payload.split_once('\n') else {
        return;
    };
    if from == id {
        return;
    }
    let result = match what.split_once(' ') {
        Some(("k", key)) => l1.delete(key).await.map(drop),
        Some(("p", pattern)) => l1.delete_pattern(pattern).await.map(drop),
        _ => {
            l1.clear();
            Ok(())
        }
    };
    if let Err(error) = result {
        tracing::warn!(%error, "applying an invalidation failed; clearing the first tier");
        l1.clear();
    }
}

/// Subscribes to `channel` for as long as the cache lives, clearing the first tier each time
/// it (re)subscribes.
pub(super) async fn listen(
    target: RedisTarget,
    channel: String,
    id: String,
    l1: MemoryCache,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    let mut ready = Some(ready);
    loop {
        let outcome = match &target {
            RedisTarget::Single(url) => listen_single(url, &channel, &id, &l1, &mut ready).await,
            RedisTarget::Cluster(nodes) => {
                listen_cluster(nodes, &channel, &id, &l1, &mut ready).await
            }
        };
        l1.clear();
        if let Err(error) = outcome {
            tracing::debug!(%error, "invalidation subscriber disconnected; resubscribing");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn listen_single(
    url: &str,
    channel: &str,
    id: &str,
    l1: &MemoryCache,
    ready: &mut Option<tokio::sync::oneshot::Sender<()>>,
) -> Result<()> {
    let client = redis::Client::open(url).map_err(redis_error)?;
    let mut pubsub = client.get_async_pubsub().await.map_err(redis_error)?;
    pubsub.subscribe(channel).await.map_err(redis_error)?;
    l1.clear();
    if let Some(ready) = ready.take() {
        let _ = ready.send(());
    }
    let mut messages = pubsub.into_on_message();
    while let Some(message) = messages.next().await {
        if let Ok(payload) = message.get_payload::<String>() {
            apply(l1, id, &payload).await;
        }
    }
    Err(Error::unavailable(
        "invalidation channel closed",
        std::io::Error::from(std::io::ErrorKind::ConnectionReset),
    ))
}

async fn listen_cluster(
    nodes: &[String],
    channel: &str,
    id: &str,
    l1: &MemoryCache,
    ready: &mut Option<tokio::sync::oneshot::Sender<()>>,
) -> Result<()> {
    let (pushes, mut received) = tokio::sync::mpsc::unbounded_channel();
    let client = redis::cluster::ClusterClient::builder(nodes.to_vec())
        .use_protocol(redis::ProtocolVersion::RESP3)
        .push_sender(pushes)
        .build()
        .map_err(redis_error)?;
    let mut connection = client.get_async_connection().await.map_err(redis_error)?;
    connection.ssubscribe(channel).await.map_err(redis_error)?;
    l1.clear();
    if let Some(ready) = ready.take() {
        let _ = ready.send(());
    }
    while let Some(push) = received.recv().await {
        match push.kind {
            redis::PushKind::SMessage => {
                let payload = push
                    .data
                    .get(1)
                    .and_then(|v| redis::from_redis_value_ref::<String>(v).ok());
                if let Some(payload) = payload {
                    apply(l1, id, &payload).await;
                }
            }
            // The client resubscribed after losing a node: messages may have been missed.
            redis::PushKind::SSubscribe | redis::PushKind::Disconnection => l1.clear(),
            _ => {}
        }
    }
    Err(Error::unavailable(
        "invalidation channel closed",
        std::io::Error::from(std::io::ErrorKind::ConnectionReset),
    ))
}
