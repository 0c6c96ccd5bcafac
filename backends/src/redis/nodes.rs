//! Addressing the nodes of a Redis deployment one by one: what `SCAN` and a health check of
//! every primary need (a plain `SCAN` on a Cluster would reach one random node).

use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{Cmd, FromRedisValue, RedisResult, Value};

use super::RedisConnection;

/// One node to send a command to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    /// The single server.
    Only,
    /// A Cluster primary.
    At {
        /// Its host.
        host: String,
        /// Its port.
        port: u16,
    },
}

/// Every primary: the server itself, or each Cluster primary from `CLUSTER SLOTS`.
pub(crate) async fn primaries(connection: &RedisConnection) -> RedisResult<Vec<Node>> {
    let RedisConnection::Cluster(cluster) = connection else {
        return Ok(vec![Node::Only]);
    };
    let mut cluster = cluster.clone();
    let slots: Value = redis::cmd("CLUSTER")
        .arg("SLOTS")
        .query_async(&mut cluster)
        .await?;
    let mut nodes = Vec::new();
    if let Value::Array(ranges) = slots {
        for range in ranges {
            // [start, end, [host, port, id, ...], replicas...]
            let Value::Array(parts) = range else { continue };
            let Some(Value::Array(primary)) = parts.get(2) else {
                continue;
            };
            let host = primary
                .first()
                .map(String::from_redis_value_ref)
                .transpose()?;
            let port = primary.get(1).map(u16::from_redis_value_ref).transpose()?;
            if let (Some(host), Some(port)) = (host, port) {
                let node = Node::At { host, port };
                if !nodes.contains(&node) {
                    nodes.push(node);
                }
            }
        }
    }
    Ok(nodes)
}

/// Runs `cmd` on `node`.
pub(crate) async fn on_node<T: FromRedisValue>(
    connection: &RedisConnection,
    node: &Node,
    cmd: Cmd,
) -> RedisResult<T> {
    match (connection, node) {
        (RedisConnection::Cluster(cluster), Node::At { host, port }) => {
            let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                host: host.clone(),
                port: *port,
            });
            let value = cluster.clone().route_command(cmd, routing).await?;
            Ok(T::from_redis_value(value)?)
        }
        (connection, _) => cmd.query_async(&mut connection.clone()).await,
    }
}

/// The Cluster slot of `key` (CRC16 of its hash tag, or of the whole key), as Redis
/// computes it.
pub(crate) fn slot(key: &[u8]) -> u16 {
    let tagged = key
        .iter()
        .position(|b| *b == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            rest.iter()
                .position(|b| *b == b'}')
                .filter(|close| *close > 0)
                .map(|close| &rest[..close])
        })
        .unwrap_or(key);
    crc16::State::<crc16::XMODEM>::calculate(tagged) % 16384
}

#[cfg(test)]
mod tests {
    use super::slot;

    #[test]
    fn slots_follow_redis() {
        // Values from `CLUSTER KEYSLOT`.
        assert_eq!(slot(b"foo"), 12182);
        assert_eq!(slot(b"{user1000}.following"), slot(b"{user1000}.followers"));
        assert_eq!(slot(b"foo{}{bar}"), slot(b"foo{}{bar}"));
        assert_eq!(slot(b"{}foo"), slot(b"{}foo"));
    }
}
