//! The queue refuses a Redis that may evict its keys: an evicted job is a lost job, and an
//! evicted unique key or counter breaks the queue's promises silently.
//!
//! Accepted policies: `noeviction` (a full server refuses writes instead, which the queue
//! reports as an error), and the `volatile-*` policies, which evict only keys with a TTL: no
//! key of the queue ever has one (no script sets one), so they cannot take a job. Every other
//! policy (`allkeys-*`) is refused at open. When `CONFIG` is disabled or renamed (as some
//! managed services do), the policy cannot be read: a warning is logged and the queue opens.

use std::collections::HashMap;

use stack_core::{Error, Result};

use crate::redis::RedisConnection;
use crate::redis::connection::redis_error;
use crate::redis::nodes::{Node, on_node, primaries};

/// Whether a server with `policy` may evict a key of the queue.
pub(super) fn may_evict_queue_keys(policy: &str) -> bool {
    let policy = policy.to_ascii_lowercase();
    !(policy == "noeviction" || policy.starts_with("volatile-"))
}

fn describe(node: &Node) -> String {
    match node {
        Node::Only => "the server".to_owned(),
        Node::At { host, port } => format!("the primary {host}:{port}"),
    }
}

/// Reads `maxmemory-policy` on every primary and refuses one that may evict queue keys.
///
/// # Errors
/// [`Error::Invalid`] naming `maxmemory-policy`, with the setting to change.
pub(super) async fn check_eviction_policy(connection: &RedisConnection) -> Result<()> {
    let nodes = match primaries(connection).await {
        Ok(nodes) => nodes,
        Err(error) => {
            tracing::warn!(error = %redis_error(error), "could not list the Redis primaries to read maxmemory-policy; make sure it is noeviction");
            return Ok(());
        }
    };
    for node in nodes {
        let mut cmd = redis::cmd("CONFIG");
        cmd.arg("GET").arg("maxmemory-policy");
        let policy = match on_node::<HashMap<String, String>>(connection, &node, cmd).await {
            Ok(reply) => reply.get("maxmemory-policy").cloned(),
            Err(error) => {
                tracing::warn!(node = %describe(&node), error = %redis_error(error), "cannot read maxmemory-policy (CONFIG disabled?); the queue loses jobs if the server evicts keys: make sure it is noeviction");
                continue;
            }
        };
        let Some(policy) = policy else {
            tracing::warn!(node = %describe(&node), "the server did not answer maxmemory-policy; make sure it is noeviction");
            continue;
        };
        if may_evict_queue_keys(&policy) {
            return Err(Error::invalid(
                "maxmemory-policy",
                format!(
                    "is `{policy}` on {}: Redis may evict the queue's keys and lose jobs. Set \
                     `maxmemory-policy noeviction` (in redis.conf, or CONFIG SET \
                     maxmemory-policy noeviction on every primary); a volatile-* policy is \
                     also accepted, since queue keys have no TTL",
                    describe(&node)
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::may_evict_queue_keys;

    #[test]
    fn only_policies_that_spare_keys_without_a_ttl_are_accepted() {
        for ok in [
            "noeviction",
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
        ] {
            assert!(!may_evict_queue_keys(ok), "{ok}");
        }
        for bad in [
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "something-new",
        ] {
            assert!(may_evict_queue_keys(bad), "{bad}");
        }
    }
}
