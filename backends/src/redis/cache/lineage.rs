//! Reads with the lineage of the server state they come from (see
//! [`Cache::get_many_in_lineage`](stack_core::cache::Cache::get_many_in_lineage)).
//!
//! The lineage is the `run_id` of the server that answers, read in the same script as the
//! values, so the two always come from one server state. A server has a new `run_id` at every
//! start (a restart that reloads an older snapshot or append-only file) and a promoted
//! replica has its own (a failover that lost the last writes): in both cases, what the keys
//! held may have gone back in time. `run_id` is chosen over the replication id
//! (`master_replid`): a replica shares its master's replication id, but a restarted master
//! may keep its own, and a restart can lose writes just as a failover can.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use redis::Script;
use stack_core::{Error, Result};

use super::RedisCache;

/// The answering server's run id, then `MGET` of every key.
static READ_IN_LINEAGE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "local id = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)') or '' \
         return {id, redis.call('MGET', unpack(KEYS))}",
    )
});

/// Most keys in one script call (Lua's `unpack` has a bound near 8000).
const CHUNK: usize = 1000;

type Read = (Option<Vec<u8>>, Option<String>);

impl RedisCache {
    /// The values of `keys`, each with the run id of the server it was read from.
    pub(super) async fn read_in_lineage(&self, keys: &[String]) -> Result<Vec<Read>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let full: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        let chunks: Vec<Vec<String>> = self
            .groups(full.clone())
            .into_iter()
            .flat_map(|group| {
                group
                    .chunks(CHUNK)
                    .map(<[String]>::to_vec)
                    .collect::<Vec<_>>()
            })
            .collect();
        let replies = futures::future::try_join_all(chunks.into_iter().map(|chunk| async move {
            let mut invocation = READ_IN_LINEAGE.prepare_invoke();
            for key in &chunk {
                invocation.key(key);
            }
            let mut connection = self.connection.clone();
            let (id, values): (String, Vec<Option<Vec<u8>>>) =
                self.tally(invocation.invoke_async(&mut connection).await)?;
            if values.len() != chunk.len() {
                return Err(Error::backend("the lineage read answered too few values"));
            }
            let id = Some(id).filter(|id| !id.is_empty());
            Ok(chunk
                .into_iter()
                .zip(values)
                .map(|(key, value)| (key, (value, id.clone())))
                .collect::<Vec<_>>())
        }))
        .await?;
        let found: BTreeMap<String, Read> = replies.into_iter().flatten().collect();
        let read: Vec<Read> = full
            .iter()
            .map(|k| found.get(k).cloned().unwrap_or((None, None)))
            .collect();
        let hits = read.iter().filter(|(v, _)| v.is_some()).count() as u64;
        self.count_reads(hits, read.len() as u64 - hits);
        Ok(read)
    }
}
