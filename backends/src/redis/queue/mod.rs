//! The Redis queue: see [`RedisQueue`].

mod contract;
mod rows;
mod scripts;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use stack_core::page::{Page, PageRequest};
use stack_core::queue::{
    Enqueued, FailOutcome, Failure, Job, JobId, Lease, LeaseToken, NewJob, Priority, PriorityStats,
    Progress, Queue, QueueCapabilities, QueueOptions, QueueStats, validate_batch, validate_limit,
    validate_reserve,
};
use stack_core::{Error, Result};
use tokio::sync::{Mutex, Notify};

use self::rows::{Spec, decode, decode_all, millis, rank};
use self::scripts::{Keys, Op, Scripts};
use super::{RedisConnection, RedisTarget};
use crate::redis::connection::redis_error;

/// Jobs per enqueue script, and leases per reserve or batch acknowledgement: a script never
/// holds the server for long, whatever the caller asks for.
const CHUNK: usize = 500;

/// How many lapsed leases each reserve hands back before it leases: any instance that
/// reserves recovers the leases of dead workers, so no reaper process is needed.
const RECOVER_ON_RESERVE: usize = 100;

/// A durable queue on Redis or Redis Cluster, with the full semantics of [`Queue`].
///
/// Each operation is one Lua script over the queue's keys, which share the hash tag
/// `{<queue name>}` and so live on one shard of a Cluster: no `KEYS`, no cross-slot command,
/// every key declared. Times are the server's (`TIME`), at millisecond precision. Idle workers
/// block on a marker list (`BLPOP`, over a connection of their own) that enqueues, retries
/// and releases push to.
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
    /// [`Error::Invalid`] for an empty queue name or a bad URL; [`Error::Unavailable`] when
    /// Redis does not answer.
    pub async fn open(target: RedisTarget, options: QueueOptions) -> Result<Self> {
        if options.name.is_empty() {
            return Err(Error::invalid("queue.name", "must not be empty"));
        }
        let connection = target.connect().await?;
        Ok(Self {
            keys: Keys::new(&options.name),
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
        for job in jobs {
            let spec = serde_json::to_string(&Spec::of(job))
                .map_err(|e| Error::backend(format!("encode job: {e}")))?;
            let delay = job.delay.map_or(0, |d| d.as_millis());
            args.extend([
                uuid::Uuid::now_v7().to_string(),
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
        reply
            .iter()
            .map(|r| {
                let (kind, id) = r.split_at(1.min(r.len()));
                let id: JobId = id
                    .parse()
                    .map_err(|_| Error::backend("Redis queue: malformed enqueue reply"))?;
                Ok(if kind == "D" {
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

fn token_args(tokens: &[LeaseToken]) -> impl Iterator<Item = String> + '_ {
    tokens
        .iter()
        .flat_map(|t| [t.job_id.to_string(), t.lease_id.to_string()])
}

fn count(text: Option<&String>) -> Result<u64> {
    text.and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::backend("Redis queue: malformed count"))
}
