//! The worker registry: reports listed until they expire (by the backend's clock) or are
//! forgotten, replaced by a later report, apart per queue, refused whole when invalid, and
//! gone with a dropped queue.

use std::time::Duration;

use chrono::Utc;
use stack_core::Error;
use stack_core::queue::{LiveWorker, MAX_BEAT_JOBS, MAX_HOST, Queue, WorkerBeat, to_millis};
use stack_core::worker::WorkerStats;
use uuid::Uuid;

use super::{QueueFactory, options};

fn beat(host: &str, jobs: usize) -> WorkerBeat {
    WorkerBeat {
        id: Uuid::new_v4(),
        host: host.to_owned(),
        pid: u32::MAX,
        started_at: to_millis(Utc::now()),
        size: 4,
        max: u64::MAX,
        jobs: (0..jobs).map(|_| Uuid::now_v7()).collect(),
        stats: WorkerStats {
            running: 3,
            completed: u64::MAX,
            retried: 2,
            dead: 1,
            released: 0,
            lost: 5,
        },
    }
}

async fn listed(queue: &dyn Queue) -> Vec<WorkerBeat> {
    let live: Vec<LiveWorker> = queue.workers().await.expect("list workers");
    live.into_iter().map(|w| w.beat).collect()
}

const MINUTE: Duration = Duration::from_secs(60);

/// Reports round-trip exactly (edge values, hosts with `|`, `}` and non-ASCII text, the
/// most jobs a report holds), are ordered by host, replaced by a later report of the same
/// worker, listed by a second handle of a durable queue, kept apart from another queue,
/// forgotten on request, and expire by the backend's clock; invalid reports change nothing;
/// a dropped queue lists none.
pub async fn workers_are_listed_until_they_expire_or_are_forgotten(make: QueueFactory) {
    let opts = options();
    let queue = make(opts.clone()).await;
    let other = make(options()).await;
    assert!(
        listed(queue.as_ref()).await.is_empty(),
        "a new queue lists no worker"
    );

    let mut a = beat("h|1}{é", MAX_BEAT_JOBS);
    let b = beat(&"b".repeat(MAX_HOST), 0);
    queue.record_worker(&a, MINUTE).await.expect("report a");
    queue.record_worker(&b, MINUTE).await.expect("report b");
    assert_eq!(listed(queue.as_ref()).await, vec![b.clone(), a.clone()]);
    for live in queue.workers().await.unwrap() {
        assert_eq!(
            live.expires_at - live.seen_at,
            chrono::Duration::milliseconds(60_000),
            "listed for the ttl from its arrival"
        );
    }
    assert!(listed(other.as_ref()).await.is_empty(), "queues are apart");
    if queue.capabilities().durable {
        let twin = make(opts.clone()).await;
        assert_eq!(
            listed(twin.as_ref()).await.len(),
            2,
            "a second handle sees both"
        );
    }

    a.size = 7;
    a.jobs.truncate(1);
    queue
        .record_worker(&a, MINUTE)
        .await
        .expect("report a again");
    assert_eq!(listed(queue.as_ref()).await, vec![b.clone(), a.clone()]);

    queue.forget_worker(b.id).await.expect("forget b");
    queue
        .forget_worker(Uuid::new_v4())
        .await
        .expect("forget an unknown worker");
    assert_eq!(listed(queue.as_ref()).await, vec![a.clone()]);

    let mut bad = Vec::new();
    let mut host_empty = beat("", 0);
    host_empty.id = a.id;
    bad.push((host_empty, MINUTE));
    bad.push((beat("line\nbreak", 0), MINUTE));
    bad.push((beat(&"h".repeat(MAX_HOST + 1), 0), MINUTE));
    bad.push((beat("many", MAX_BEAT_JOBS + 1), MINUTE));
    bad.push((beat("zero", 0), Duration::ZERO));
    bad.push((beat("long", 0), Duration::from_secs(24 * 3600 + 1)));
    bad.push((beat("max", 0), Duration::MAX));
    for (report, ttl) in bad {
        let refused = queue.record_worker(&report, ttl).await;
        assert!(
            matches!(refused, Err(Error::Invalid { .. })),
            "{ttl:?} {:?}: {refused:?}",
            report.host
        );
    }
    assert_eq!(
        listed(queue.as_ref()).await,
        vec![a.clone()],
        "refusals change nothing"
    );

    let brief = beat("brief", 0);
    queue
        .record_worker(&brief, Duration::from_millis(300))
        .await
        .expect("report a brief worker");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let now = listed(queue.as_ref()).await;
        assert!(now.contains(&a), "the long-lived report stays");
        if !now.iter().any(|w| w.id == brief.id) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "a report past its ttl is still listed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    queue
        .record_worker(&b, MINUTE)
        .await
        .expect("report b again");
    loop {
        let progress = queue.drop_queue(true, 1000).await.expect("drop the queue");
        if progress.remaining == 0 {
            break;
        }
    }
    assert!(
        listed(queue.as_ref()).await.is_empty(),
        "a dropped queue lists no worker"
    );
    other
        .drop_queue(true, 1000)
        .await
        .expect("drop the other queue");
}
