//! The Lua scripts of the Redis queue and the keys every one of them declares.

use redis::{Script, ToRedisArgs};
use stack_core::Result;

use crate::redis::RedisConnection;
use crate::redis::connection::redis_error;

const PRELUDE: &str = include_str!("lua/prelude.lua");

/// Names of the keys of one queue, in the order `prelude.lua` reads them from `KEYS`.
const KEY_NAMES: [&str; 17] = [
    "pending:critical",
    "pending:high",
    "pending:normal",
    "pending:low",
    "running",
    "dead",
    "dead:by_type",
    "completed",
    "unique",
    "payload",
    "spec",
    "meta",
    "errors",
    "seq",
    "marker",
    "workers",
    "workers:due",
];

/// Where the marker list sits in [`KEY_NAMES`].
const MARKER: usize = 14;

/// Every key of one queue: `<prefix>queue:{<name>}:<key>`. They share the hash tag
/// `{<name>}`, so a Cluster keeps a queue on one shard and every script touches one slot
/// (neither the prefix nor the name may hold a brace, which would move the tag).
#[derive(Debug, Clone)]
pub(super) struct Keys {
    all: Vec<String>,
}

impl Keys {
    pub(super) fn new(prefix: &str, queue_name: &str) -> Self {
        Self {
            all: KEY_NAMES
                .iter()
                .map(|k| format!("{prefix}queue:{{{queue_name}}}:{k}"))
                .collect(),
        }
    }

    /// What every key of the queue starts with, `<prefix>queue:{<name>}:`.
    pub(super) fn namespace(&self) -> String {
        let marker = self.marker();
        marker
            .strip_suffix(KEY_NAMES[MARKER])
            .unwrap_or(marker)
            .to_owned()
    }

    /// The list idle workers block on.
    pub(super) fn marker(&self) -> &str {
        &self.all[MARKER]
    }
}

/// The five scripts, loaded once per queue handle (redis-rs sends `EVALSHA` and falls back to
/// `EVAL` when a server has not seen a script yet).
#[derive(Debug)]
pub(super) struct Scripts {
    enqueue: Script,
    reserve: Script,
    settle: Script,
    admin: Script,
    workers: Script,
}

/// Which script to run.
#[derive(Debug, Clone, Copy)]
pub(super) enum Op {
    /// Store jobs.
    Enqueue,
    /// Lease ready jobs.
    Reserve,
    /// Complete, extend, release or fail leases.
    Settle,
    /// Reads and bounded maintenance.
    Admin,
    /// The worker registry.
    Workers,
}

impl Scripts {
    pub(super) fn new() -> Self {
        let with_prelude = |body: &str| Script::new(&format!("{PRELUDE}\n{body}"));
        Self {
            enqueue: with_prelude(include_str!("lua/enqueue.lua")),
            reserve: with_prelude(include_str!("lua/reserve.lua")),
            settle: with_prelude(include_str!("lua/settle.lua")),
            admin: with_prelude(include_str!("lua/admin.lua")),
            workers: with_prelude(include_str!("lua/workers.lua")),
        }
    }

    /// Runs script `op` with every key of `keys` and `args`; the reply as strings.
    pub(super) async fn run<A: ToRedisArgs>(
        &self,
        connection: &RedisConnection,
        keys: &Keys,
        op: Op,
        args: &[A],
    ) -> Result<Vec<String>> {
        let script = match op {
            Op::Enqueue => &self.enqueue,
            Op::Reserve => &self.reserve,
            Op::Settle => &self.settle,
            Op::Admin => &self.admin,
            Op::Workers => &self.workers,
        };
        let mut invocation = script.prepare_invoke();
        for key in &keys.all {
            invocation.key(key);
        }
        for arg in args {
            invocation.arg(arg);
        }
        let mut connection = connection.clone();
        invocation
            .invoke_async(&mut connection)
            .await
            .map_err(redis_error)
    }
}
