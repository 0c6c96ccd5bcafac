//! The Redis queue's keys: a prefix of the operator's choosing (two queues of one name under
//! two prefixes are apart; a brace, which would move the hash tag, is refused), no key left
//! behind once every job completed, and none at all after a drop. Keys are found with `SCAN`
//! on every node (a Cluster's three primaries), as an operator would.

use std::time::Duration;

use stack_backends::redis::{RedisQueue, RedisQueueOptions, RedisTarget};
use stack_core::ErrorKind;
use stack_core::queue::{Failure, Queue, QueueOptions};

use crate::queue_suite::{LONG_LEASE, drop_all, fill, job, options, reserve_until, total};

/// A prefix no other trial uses.
pub fn fresh_prefix() -> String {
    format!("{}:", crate::unique("pfx"))
}

async fn open(target: &RedisTarget, opts: QueueOptions, prefix: &str) -> RedisQueue {
    RedisQueue::open_with(
        target.clone(),
        opts,
        RedisQueueOptions::with_key_prefix(prefix),
    )
    .await
    .expect("open the Redis queue")
}

/// Every key starting with `prefix`, by `SCAN` on each node of `target`.
pub async fn keys_under(target: &RedisTarget, prefix: &str) -> Vec<String> {
    let nodes = match target {
        RedisTarget::Single(url) => vec![url.clone()],
        RedisTarget::Cluster(urls) => urls.clone(),
    };
    let mut found = Vec::new();
    for url in nodes {
        let client = redis::Client::open(url.as_str()).expect("a node URL");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("connect to a node");
        let mut cursor = 0_u64;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{prefix}*"))
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .expect("SCAN");
            found.extend(keys);
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
    found.sort();
    found
}

/// Jobs that all end (completed, some after a retry; one dead letter, then purged) leave no
/// key under the queue's prefix: no wake-up list, no death counter, no empty structure.
pub async fn a_queue_whose_jobs_all_ended_leaves_no_key(target: RedisTarget) {
    let prefix = fresh_prefix();
    let queue = open(&target, options(), &prefix).await;
    queue
        .enqueue_batch((0..40).map(|n| job("w", n).max_attempts(3)).collect())
        .await
        .unwrap();
    queue
        .enqueue(job("doomed", 99).max_attempts(1))
        .await
        .unwrap();
    assert!(
        !keys_under(&target, &prefix).await.is_empty(),
        "keys while jobs live"
    );
    let mut ended = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while ended < 41 && tokio::time::Instant::now() < deadline {
        queue
            .wait_for_work(Duration::from_millis(100))
            .await
            .unwrap();
        for lease in reserve_until(&queue, 10, LONG_LEASE, Duration::from_millis(50)).await {
            if lease.job.job_type == "doomed" {
                queue
                    .fail(&lease.token, Failure::permanent("no"))
                    .await
                    .unwrap();
                ended += 1;
            } else if lease.job.attempts == 1 && lease.job.payload["n"].as_u64() < Some(10) {
                queue
                    .fail(&lease.token, Failure::retry("again"))
                    .await
                    .unwrap();
            } else {
                queue.complete(&lease.token).await.unwrap();
                ended += 1;
            }
        }
    }
    assert_eq!(ended, 41, "every job ended");
    let purged = queue.purge_dead(None, 10).await.unwrap();
    assert_eq!((purged.done, purged.remaining), (1, 0));
    assert_eq!(total(&queue.stats().await.unwrap()), 0);
    assert_eq!(keys_under(&target, &prefix).await, Vec::<String>::new());
}

/// A completed job that holds a unique key is kept (in five keys: its payload, spec and meta,
/// the unique key and the completed set; with the wake-up list, the six keys issue 16 saw)
/// for the retention, so the key merges duplicates; past it, an idle worker's reserve
/// forgets it and the queue leaves no key.
pub async fn a_completed_unique_job_leaves_no_key_after_its_retention(target: RedisTarget) {
    let prefix = fresh_prefix();
    let mut opts = options();
    opts.completed_retention = Duration::from_millis(300);
    let queue = open(&target, opts, &prefix).await;
    let id = queue
        .enqueue(job("w", 1).unique_key("tick"))
        .await
        .unwrap()
        .id();
    let lease = reserve_until(&queue, 1, LONG_LEASE, Duration::from_secs(5)).await;
    queue.complete(&lease[0].token).await.unwrap();
    let again = queue.enqueue(job("w", 2).unique_key("tick")).await.unwrap();
    assert_eq!(again.id(), id, "merged while remembered");
    assert!(!again.is_created());
    let kept = keys_under(&target, &prefix).await;
    for part in ["payload", "spec", "meta", "unique", "completed"] {
        assert!(
            kept.iter().any(|k| k.ends_with(&format!(":{part}"))),
            "{part}: {kept:?}"
        );
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !keys_under(&target, &prefix).await.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the retention passed long ago"
        );
        assert!(queue.reserve(1, LONG_LEASE).await.unwrap().is_empty());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(queue.get(id).await.unwrap().is_none(), "forgotten");
}

/// Two queues of one name under two prefixes are apart; dropping one (forced, by batches of
/// three) leaves no key under its prefix and every job of the other; the other then drops
/// too. The default prefix is `stack:`, where earlier releases kept every queue.
pub async fn a_dropped_queue_leaves_no_key_and_the_same_name_elsewhere_is_kept(
    target: RedisTarget,
) {
    let opts = options();
    let name = opts.name.clone();
    let (first, second) = (fresh_prefix(), fresh_prefix());
    let dropped = open(&target, opts.clone(), &first).await;
    let kept = open(&target, opts.clone(), &second).await;
    let mine = fill(&dropped).await;
    let theirs = fill(&kept).await;
    assert!(mine.ids.iter().all(|id| !theirs.ids.contains(id)));
    let beside = total(&kept.stats().await.unwrap());
    assert_eq!(
        total(&dropped.stats().await.unwrap()),
        beside,
        "apart, alike"
    );
    let legacy = RedisQueue::open(target.clone(), opts).await.unwrap();
    assert_eq!(total(&legacy.stats().await.unwrap()), 0, "a third queue");
    legacy.enqueue(job("w", 1)).await.unwrap();
    let old_layout = keys_under(&target, &format!("stack:queue:{{{name}}}:")).await;
    assert!(!old_layout.is_empty(), "the default prefix is stack:");
    drop_all(&legacy, false, 10).await;

    let held = keys_under(&target, &first).await;
    assert!(held.len() >= 10, "the filled queue's keys: {held:?}");
    assert!(held.iter().all(|k| k.contains(&format!("{{{name}}}"))));
    let refused = dropped.drop_queue(false, 100).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Conflict);
    assert_eq!(
        keys_under(&target, &first).await,
        held,
        "a refusal deletes nothing"
    );

    drop_all(&dropped, true, 3).await;
    assert_eq!(keys_under(&target, &first).await, Vec::<String>::new());
    assert_eq!(total(&kept.stats().await.unwrap()), beside);
    for id in &theirs.ids[1..] {
        assert!(kept.get(*id).await.unwrap().is_some(), "job {id} kept");
    }
    kept.complete(&theirs.running.token).await.unwrap();
    drop_all(&kept, false, 1000).await;
    assert_eq!(keys_under(&target, &second).await, Vec::<String>::new());
}

/// A prefix with `{` or `}` is refused before anything is written: Redis Cluster would hash
/// the prefix's braces instead of the queue's tag.
pub async fn a_prefix_that_breaks_the_hash_tag_is_refused(target: RedisTarget) {
    for prefix in ["{app}:", "app{", "app}:", "{"] {
        let err = RedisQueue::open_with(
            target.clone(),
            options(),
            RedisQueueOptions::with_key_prefix(prefix),
        )
        .await
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{prefix:?}");
        assert!(err.to_string().contains("queue.key_prefix"), "{err}");
    }
    let empty = open(&target, options(), "").await;
    empty.enqueue(job("w", 1)).await.unwrap();
    assert_eq!(
        drop_all(&empty, false, 10).await,
        1,
        "an empty prefix works"
    );
}

/// Worker reports leave no key behind: a forgotten one at once, expired ones once the
/// registry is read (the hash and the sorted set of expiries both go, found by `SCAN`).
pub async fn worker_reports_leave_no_key_once_forgotten_or_expired(target: RedisTarget) {
    use stack_core::queue::WorkerBeat;
    let prefix = fresh_prefix();
    let queue = open(&target, options(), &prefix).await;
    let beat = |host: &str| WorkerBeat {
        id: uuid::Uuid::new_v4(),
        host: host.to_owned(),
        pid: 1,
        started_at: chrono::Utc::now(),
        size: 1,
        max: 1,
        jobs: Vec::new(),
        stats: stack_core::worker::WorkerStats::default(),
    };
    let kept = beat("kept");
    queue
        .record_worker(&kept, LONG_LEASE)
        .await
        .expect("report");
    assert_eq!(
        keys_under(&target, &prefix).await.len(),
        2,
        "the hash and its expiries"
    );
    queue.forget_worker(kept.id).await.expect("forget");
    assert_eq!(keys_under(&target, &prefix).await, Vec::<String>::new());

    for host in ["brief-1", "brief-2"] {
        let report = beat(host);
        queue
            .record_worker(&report, Duration::from_millis(50))
            .await
            .expect("report");
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let listed = queue.workers().await.expect("list");
        let left = keys_under(&target, &prefix).await;
        if listed.is_empty() && left.is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "expired reports left {left:?} (listed {})",
            listed.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
