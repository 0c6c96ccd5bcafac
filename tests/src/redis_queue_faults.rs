//! Trials only Redis can have: job data corrupted by hand under a live queue, the server's
//! eviction policy, and names that would break the hash tag. Each takes the target to run on
//! (a single node or the Cluster).

use std::collections::HashSet;
use std::time::Duration;

use stack_backends::redis::{RedisConnection, RedisQueue, RedisTarget};
use stack_core::queue::{JobState, Queue, QueueOptions};
use stack_core::{Error, ErrorKind};

use crate::queue_suite::{LONG_LEASE, job, options};

async fn open(target: &RedisTarget, opts: QueueOptions) -> RedisQueue {
    RedisQueue::open(target.clone(), opts)
        .await
        .expect("open the Redis queue")
}

async fn raw(target: &RedisTarget) -> RedisConnection {
    target.connect().await.expect("a raw connection")
}

fn key(queue: &str, name: &str) -> String {
    format!("stack:queue:{{{queue}}}:{name}")
}

/// Among 500 due jobs, one whose meta was overwritten with garbage (by hand, `HSET`) is
/// dead-lettered with the reason by the reserve that meets it; every other job is leased in
/// that same reserve. Every id is accounted for: 499 leased and completed, one dead.
pub async fn a_corrupted_meta_among_500_due_jobs_is_dead_lettered(target: RedisTarget) {
    let opts = options();
    let name = opts.name.clone();
    let queue = open(&target, opts).await;
    let stored = queue
        .enqueue_batch((0..500).map(|n| job("w", n)).collect())
        .await
        .unwrap();
    let ids: Vec<_> = stored.iter().map(|e| e.id()).collect();
    let bad = ids[250];
    let mut conn = raw(&target).await;
    let _: u64 = redis::cmd("HSET")
        .arg(key(&name, "meta"))
        .arg(bad.to_string())
        .arg("garbage|not|a|meta")
        .query_async(&mut conn)
        .await
        .unwrap();

    let leases = queue.reserve(500, LONG_LEASE).await.unwrap();
    let leased: HashSet<_> = leases.iter().map(|l| l.job.id).collect();
    let others: HashSet<_> = ids.iter().copied().filter(|id| *id != bad).collect();
    assert_eq!(leased, others, "every other job leased in the same reserve");
    let dead = queue.get(bad).await.unwrap().expect("the bad job is kept");
    assert_eq!(dead.state, JobState::Dead);
    let reason = dead.last_error.unwrap_or_default();
    assert!(
        reason.contains("meta"),
        "the reason names the meta: {reason}"
    );

    let tokens: Vec<_> = leases.iter().map(|l| l.token).collect();
    let acks = queue.complete_many(&tokens).await.unwrap();
    assert!(acks.iter().all(Result::is_ok));
    for id in &others {
        assert!(queue.get(*id).await.unwrap().is_none(), "{id} completed");
    }
    let stats = queue.stats().await.unwrap();
    assert_eq!(
        (stats.ready(), stats.scheduled, stats.running, stats.dead),
        (0, 0, 0, 1)
    );
}

/// An entry of the pending set with no data at all is removed (the reason logged), and its
/// neighbours are leased; so is a lapsed lease whose job has no data.
pub async fn an_entry_with_nothing_readable_is_removed(target: RedisTarget) {
    let opts = options();
    let name = opts.name.clone();
    let queue = open(&target, opts).await;
    let id = queue.enqueue(job("w", 1)).await.unwrap().id();
    let mut conn = raw(&target).await;
    let ghost = uuid::Uuid::now_v7().to_string();
    let added: u64 = redis::cmd("ZADD")
        .arg(key(&name, "pending:normal"))
        .arg(0)
        .arg(&ghost)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(added, 1);
    let added: u64 = redis::cmd("ZADD")
        .arg(key(&name, "running"))
        .arg(0)
        .arg("lapsed-ghost")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(added, 1);
    let leases = queue.reserve(10, LONG_LEASE).await.unwrap();
    assert_eq!(
        leases.iter().map(|l| l.job.id).collect::<Vec<_>>(),
        vec![id]
    );
    for (set, member) in [
        ("pending:normal", ghost.as_str()),
        ("running", "lapsed-ghost"),
    ] {
        let score: Option<f64> = redis::cmd("ZSCORE")
            .arg(key(&name, set))
            .arg(member)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(score, None, "{member} left in {set}");
    }
    queue.complete(&leases[0].token).await.unwrap();
    let stats = queue.stats().await.unwrap();
    assert_eq!((stats.ready(), stats.running, stats.dead), (0, 0, 0));
}

/// A queue name that would break the hash tag is refused before anything is stored.
pub async fn a_name_that_breaks_the_hash_tag_is_refused(target: RedisTarget) {
    for name in ["}x", "a{b}", "a}", ""] {
        let err = RedisQueue::open(target.clone(), QueueOptions::new(name))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Invalid { field, .. } if field == "queue.name"),
            "{name:?}: {err}"
        );
    }
}

/// A server whose `maxmemory-policy` may evict keys is refused at open, with the setting to
/// change; `noeviction` and `volatile-*` are accepted, and so is a server where `CONFIG` is
/// not allowed (a warning is logged).
pub async fn a_server_that_may_evict_keys_is_refused() {
    let own = crate::own_redis::OwnRedis::start();
    let target = RedisTarget::Single(own.url());
    let mut conn = raw(&target).await;
    for (policy, accepted) in [
        ("allkeys-lru", false),
        ("allkeys-random", false),
        ("volatile-lru", true),
        ("noeviction", true),
    ] {
        let () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("maxmemory-policy")
            .arg(policy)
            .query_async(&mut conn)
            .await
            .unwrap();
        let opened = RedisQueue::open(target.clone(), options()).await;
        match opened {
            Ok(_) => assert!(accepted, "{policy} was accepted"),
            Err(err) => {
                assert!(!accepted, "{policy} was refused: {err}");
                assert_eq!(err.kind(), ErrorKind::Invalid);
                let text = err.to_string();
                assert!(
                    text.contains("noeviction") && text.contains(policy),
                    "{text}"
                );
            }
        }
    }
    // A user who may not run CONFIG: the policy cannot be read, the queue opens anyway.
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg("allkeys-lru")
        .query_async(&mut conn)
        .await
        .unwrap();
    let () = redis::cmd("ACL")
        .arg("SETUSER")
        .arg("noconfig")
        .arg("on")
        .arg(">secret")
        .arg("~*")
        .arg("&*")
        .arg("+@all")
        .arg("-config")
        .query_async(&mut conn)
        .await
        .unwrap();
    let limited = RedisTarget::Single(format!("redis://noconfig:secret@127.0.0.1:{}", own.port));
    let queue = RedisQueue::open(limited, options())
        .await
        .expect("opens when CONFIG is not allowed");
    queue.enqueue(job("w", 1)).await.unwrap();
    let leased = queue.reserve(1, Duration::from_secs(5)).await.unwrap();
    assert_eq!(leased.len(), 1);
}
