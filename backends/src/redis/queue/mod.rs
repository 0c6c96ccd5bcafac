//! The Redis queue: see [`RedisQueue`].

mod contract;
mod eviction;
mod rows;
mod scripts;
mod workers;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use stack_core::page::{Page, PageRequest};
use stack_core::queue::{
    Enqueued, FailOutcome, Failure, Job, JobCursor, JobId, JobList, JobListing, Lease, LeaseToken,
    ListedJob, ListedState, LiveWorker, NewJob, Priority, PriorityStats, Progress, Queue,
    QueueCapabilities, QueueLocation, QueueOptions, QueueStats, WorkerBeat, validate_batch,
    validate_lease, validate_limit, validate_reserve, validate_type_filter,
};
use stack_core::{Error, Result};
use tokio::sync::{Mutex, Notify};

use self::rows::{ROW, Spec, decode, decode_all, lease_token_of, millis, rank};
use self::scripts::{Keys, Op, Scripts};
use super::{RedisConnection, RedisTarget};
use crate::redis::connection::redis_error;

/// Jobs per enqueue script, and leases per reserve or batch acknowledgement: a script never
/// holds the server for long, whatever the caller asks for.
const CHUNK: usize = 500;

/// How many lapsed leases each reserve hands back before it leases: any instance that
/// reserves recovers the leases of dead workers, so no reaper process is needed.
const RECOVER_ON_RESERVE: usize = 100;

/// The key prefix of a queue whose options name none: the keys every earlier release wrote.
pub const DEFAULT_QUEUE_KEY_PREFIX: &str = "stack:";

/// Settings of the Redis queue beyond [`QueueOptions`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisQueueOptions {
    /// Prepended to every key of the queue (`<key_prefix>queue:{<name>}:...`), so that
    /// applications sharing a server keep queues of the same name apart. No `{` or `}`: the
    /// hash tag that keeps a queue on one Cluster shard is the queue name's. Default
    /// [`DEFAULT_QUEUE_KEY_PREFIX`] (`stack:`), where earlier releases kept every queue.
    pub key_prefix: String,
}

impl Default for RedisQueueOptions {
    fn default() -> Self {
        Self {
            key_prefix: DEFAULT_QUEUE_KEY_PREFIX.to_owned(),
        }
    }
}

impl RedisQueueOptions {
    /// Options with `key_prefix`.
    pub fn with_key_prefix(key_prefix: impl Into<String>) -> Self {
        Self {
            key_prefix: key_prefix.into(),
        }
    }

    /// Checks the prefix.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `queue.key_prefix` when it holds `{` or `}`: Redis Cluster
    /// would hash the prefix's braces instead of the queue's tag.
    pub fn validate(&self) -> Result<()> {
        if self.key_prefix.contains(['{', '}']) {
            return Err(Error::invalid(
                "queue.key_prefix",
                "must not contain `{` or `}`: the queue's keys carry the hash tag `{<queue name>}`, and a brace in the prefix would move it",
            ));
        }
        Ok(())
    }
}

/// A durable queue on Redis or Redis Cluster, with the full semantics of [`Queue`].
///
/// Each operation is one Lua script over the queue's keys, `<prefix>queue:{<name>}:*`
/// ([`RedisQueueOptions::key_prefix`], `stack:` by default), which share the hash tag
/// `{<queue name>}` and so live on one shard of a Cluster: no `KEYS`, no cross-slot command,
/// every key declared. Times are the server's (`TIME`), at millisecond precision. Idle workers
/// block on a marker list (`BLPOP`, over a connection of their own) that enqueues, retries
/// and releases push to. Lease ids are random (UUIDv4) and made here, not counted by the
/// server, so a failover that loses the last writes cannot hand out the same lease twice.
/// Opening refuses a server whose `maxmemory-policy` may evict the queue's keys.
#[derive(Debug)]
pub struct RedisQueue {
    options: QueueOptions,
    target: RedisTarget,
    connection: RedisConnection,
    keys: Keys,
    scripts: Scripts,
    /// The connection one waiter of this handle blocks on; others wait on `woken`.
    waiter: Mutex<Option<RedisConnection>>,
    woken: Notify,
}

impl RedisQueue {
    /// Connects to `target` and opens the queue `options.name` there.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a queue name every backend refuses ([`QueueOptions::validate`]:
    /// empty, or holding `{` or `}`, which would break the hash tag), a bad URL, or a server
    /// whose `maxmemory-policy` may evict keys (the message names the setting to change);
    /// [`Error::Unavailable`] when Redis does not answer.
    pub async fn open(target: RedisTarget, options: QueueOptions) -> Result<Self> {
        Self::open_with(target, options, RedisQueueOptions::default()).await
    }

    /// Connects to `target` and opens the queue `options.name` under the key prefix of
    /// `redis_options`.
    ///
    /// # Errors
    /// As [`RedisQueue::open`], and [`Error::Invalid`] naming `queue.key_prefix` for a
    /// prefix holding `{` or `}` ([`RedisQueueOptions::validate`]).
    pub async fn open_with(
        target: RedisTarget,
        options: QueueOptions,
        redis_options: RedisQueueOptions,
    ) -> Result<Self> {
        options.validate()?;
        redis_options.validate()?;
        let connection = target.connect().await?;
        eviction::check_eviction_policy(&connection).await?;
        Ok(Self {
            keys: Keys::new(&redis_options.key_prefix, &options.name),
            scripts: Scripts::new(),
            options,
            target,
            connection,
            waiter: Mutex::new(None),
            woken: Notify::new(),
        })
    }

    async fn run(&self, op: Op, args: &[String]) -> Result<Vec<String>> {
        self.scripts
            .run(&self.connection, &self.keys, op, args)
            .await
    }

    async fn admin(&self, args: &[String]) -> Result<Vec<String>> {
        self.run(Op::Admin, args).await
    }

    async fn progress(&self, args: &[String]) -> Result<Progress> {
        let reply = self.admin(args).await?;
        log_notes(reply.get(2..).unwrap_or_default());
        let number = |i: usize| {
            reply
                .get(i)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| Error::backend("Redis queue: malformed progress reply"))
        };
        Ok(Progress {
            done: number(0)?,
            remaining: number(1)?,
        })
    }

    async fn enqueue_chunk(&self, jobs: &[NewJob]) -> Result<Vec<Enqueued>> {
        let mut args = Vec::with_capacity(1 + jobs.len() * 8);
        args.push(self.options.completed_retention.as_millis().to_string());
        // Per job, the id this call made up for it: a 'D' naming a job's own minted id is this
        // very enqueue, retried by the connection after a lost reply, not another job.
        let mut minted = Vec::with_capacity(jobs.len());
        for job in jobs {
            let spec = serde_json::to_string(&Spec::of(job))
                .map_err(|e| Error::backend(format!("encode job: {e}")))?;
            let delay = job.delay.map_or(0, |d| d.as_millis());
            let id = job.id.unwrap_or_else(uuid::Uuid::now_v7);
            minted.push(job.id.is_none().then_some(id));
            args.extend([
                id.to_string(),
                job.payload.to_string(),
                spec,
                rank(job.priority).to_string(),
                job.max_attempts.to_string(),
                job.run_at
                    .map_or(String::new(), |at| at.timestamp_millis().to_string()),
                delay.to_string(),
                job.unique_key.clone().unwrap_or_default(),
            ]);
        }
        let reply = self.run(Op::Enqueue, &args).await?;
        if reply.len() != jobs.len() {
            return Err(Error::backend("Redis queue: malformed enqueue reply"));
        }
        reply
            .iter()
            .zip(minted)
            .map(|(r, minted)| {
                let (kind, id) = r.split_at(1.min(r.len()));
                let id: JobId = id
                    .parse()
                    .map_err(|_| Error::backend("Redis queue: malformed enqueue reply"))?;
                Ok(if kind == "D" && minted != Some(id) {
                    Enqueued::Duplicate(id)
                } else {
                    Enqueued::Created(id)
                })
            })
            .collect()
    }

    async fn settle_one(&self, args: Vec<String>, token: &LeaseToken) -> Result<String> {
        let reply = self.run(Op::Settle, &args).await?;
        let answer = reply.into_iter().next().unwrap_or_default();
        refused(&answer, token)?;
        Ok(answer)
    }

    /// Dead-letters a leased job whose row the client cannot decode (a garbled payload or
    /// error history), with the reason; logs it when not even its lease can be read (its
    /// lease then lapses and recovery deals with it).
    async fn bury_unreadable(&self, row: &[String], error: &Error) {
        let Some(token) = lease_token_of(row) else {
            tracing::error!(%error, "Redis queue: a leased job cannot be read; its lease will lapse");
            return;
        };
        let reason = Failure::permanent(format!("dead-lettered by the queue: {error}"));
        if let Err(failed) = self.fail(&token, reason).await {
            tracing::error!(job = %token.job_id, %error, %failed, "Redis queue: could not dead-letter an unreadable job; its lease will lapse");
        }
    }

    /// Blocks on the marker list for up to `wait`, over this handle's blocking connection.
    async fn block_on_marker(&self, wait: Duration) -> Result<()> {
        let Ok(mut slot) = self.waiter.try_lock() else {
            // Another task of this handle is blocking already; it wakes us when it returns.
            let _ = tokio::time::timeout(wait, self.woken.notified()).await;
            return Ok(());
        };
        if slot.is_none() {
            *slot = Some(self.target.connect_blocking().await?);
        }
        let Some(connection) = slot.as_mut() else {
            return Ok(());
        };
        let seconds = wait.as_secs_f64().max(0.01);
        let mut blpop = redis::cmd("BLPOP");
        blpop.arg(self.keys.marker()).arg(seconds);
        let pop = blpop.query_async::<Option<(String, String)>>(connection);
        let outcome = tokio::time::timeout(wait + Duration::from_secs(1), pop).await;
        self.woken.notify_waiters();
        match outcome {
            Ok(Err(e)) => {
                // Drop the connection so the next wait opens a fresh one.
                *slot = None;
                Err(redis_error(e))
            }
            Err(_) => {
                *slot = None;
                Ok(())
            }
            Ok(Ok(_)) => Ok(()),
        }
    }
}

/// The error a script's refusal code stands for.
fn refused(answer: &str, token: &LeaseToken) -> Result<()> {
    match answer {
        "N" => Err(Error::not_found(format!("job {}", token.job_id))),
        "C" => Err(Error::conflict(format!(
            "job {} attempt {} no longer holds its lease (it expired and was handed out again, or the job was already finished)",
            token.job_id, token.attempt
        ))),
        _ => Ok(()),
    }
}

/// Logs what a script removed because nothing about it could be read.
fn log_notes(notes: &[String]) {
    for note in notes {
        tracing::warn!(note = %note, "Redis queue: an unreadable entry was removed");
    }
}

/// A reserve reply: the expiry, the notes, and the rows.
fn split_reserve_reply(reply: &[String]) -> Result<(&str, &[String], &[String])> {
    let malformed = || Error::backend("Redis queue: malformed reserve reply");
    let (expiry, rest) = reply.split_first().ok_or_else(malformed)?;
    let (notes, rest) = rest.split_first().ok_or_else(malformed)?;
    let notes: usize = notes.parse().map_err(|_| malformed())?;
    if rest.len() < notes {
        return Err(malformed());
    }
    let (notes, rows) = rest.split_at(notes);
    Ok((expiry, notes, rows))
}

fn token_args(tokens: &[LeaseToken]) -> impl Iterator<Item = String> + '_ {
    tokens
        .iter()
        .flat_map(|t| [t.job_id.to_string(), t.lease_id.to_string()])
}

fn count(text: Option<&String>) -> Result<u64> {
    text.and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::backend("Redis queue: malformed count"))
}
