//! `DELETE /admin/queue`: dropping the configured queue, confirmed, refused while a job runs
//! unless forced, by bounded batches, each audited; on the SQL queue and on Redis (where no
//! key of the queue's prefix is left).

use std::sync::Arc;

use poem::http::StatusCode;
use serde_json::json;
use stack_core::config::Config;
use stack_core::queue::{NewJob, Queue};
use stack_server::app::AppOptions;
use stack_server::backends::Backends;
use stack_tests::faulty_queue::FaultyQueue;
use stack_tests::queue_suite::{fill, total};

use super::queue::audits;
use super::{admin, app, config, open, send};

async fn held(queue: &dyn Queue) -> u64 {
    total(&queue.stats().await.unwrap())
}

/// Drops the queue of `config` through the admin API; answers the backend's queue handle.
async fn a_drop_is_confirmed_refused_while_running_unless_forced_and_audited(
    config: Config,
) -> std::sync::Arc<dyn Queue> {
    let backends = open(&config).await;
    let queue = backends.queue.clone();
    let store = backends.store.clone();
    let filled = fill(queue.as_ref()).await;
    let before = held(queue.as_ref()).await;
    assert!(before >= 8, "{before}");
    let client = admin(app(backends, &config));
    let drop = || client.delete("/admin/queue");

    let (status, problem) = send(drop()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "#/query/confirm");
    let (status, problem) = send(drop().query("confirm", &true).query("limit", &0)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let wrong = drop()
        .query("confirm", &true)
        .header("authorization", "Bearer not-the-admin-token");
    assert_eq!(send(wrong).await.0, StatusCode::FORBIDDEN);
    let (status, problem) = send(drop().query("confirm", &true)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("running"),
        "{problem}"
    );
    assert_eq!(held(queue.as_ref()).await, before, "nothing was dropped");
    // The refused call left its trace too: what was asked, of which queue, holding what, and
    // its outcome under the same subject.
    let refused = audits(store.as_ref(), "queue.drop_requested").await;
    assert_eq!(refused.len(), 1);
    let outcome = audits(store.as_ref(), "queue.drop_refused").await;
    assert_eq!(outcome.len(), 1, "the refusal is audited");
    assert_eq!(outcome[0].subject_id, refused[0].subject_id);
    assert!(audits(store.as_ref(), "queue.dropped").await.is_empty());
    let location = queue.location().unwrap();
    let detail: serde_json::Value = serde_json::from_str(&refused[0].detail).unwrap();
    assert_eq!(detail["queue"], location.name.as_str(), "{detail}");
    assert_eq!(detail["namespace"], location.namespace.as_str(), "{detail}");
    assert_eq!(detail["force"], false, "{detail}");
    assert_eq!(detail["held"]["running"], 1, "{detail}");
    assert_eq!(detail["held"]["dead"], 1, "{detail}");

    let (mut dropped, mut calls) = (0, 0);
    loop {
        let forced = drop()
            .query("confirm", &true)
            .query("force", &true)
            .query("limit", &3);
        let (status, outcome) = send(forced).await;
        assert_eq!(status, StatusCode::OK, "{outcome}");
        let done = outcome["done"].as_u64().unwrap();
        assert!(done <= 3, "{outcome}");
        dropped += done;
        calls += 1;
        if outcome["remaining"] == 0 {
            break;
        }
        assert!(calls < 100, "the drop ends");
    }
    assert_eq!(dropped, before, "every job dropped once");
    assert_eq!(held(queue.as_ref()).await, 0);
    for id in &filled.ids {
        assert!(queue.get(*id).await.unwrap().is_none(), "job {id} gone");
    }
    assert_eq!(
        audits(store.as_ref(), "queue.drop_requested").await.len(),
        calls + 1
    );
    // Each call's outcome names what it deleted: together, every job once.
    let outcomes = audits(store.as_ref(), "queue.dropped").await;
    assert_eq!(outcomes.len(), calls);
    let audited: u64 = outcomes
        .iter()
        .map(|log| {
            let detail: serde_json::Value = serde_json::from_str(&log.detail).unwrap();
            detail["done"].as_u64().unwrap()
        })
        .sum();
    assert_eq!(audited, before, "the outcomes account for every job");
    queue
}

/// A drop that fails after its queue deleted jobs (the backend's answer lost, say) still left
/// its audit log, written before the deletion, naming the queue and what it held.
#[tokio::test]
async fn a_drop_failing_after_it_deleted_has_left_its_audit_log() {
    let config = config();
    let opened = open(&config).await;
    let faulty = Arc::new(FaultyQueue::new(opened.queue.clone()));
    faulty.fail_drops_after_deleting();
    let store = opened.store.clone();
    let queue: Arc<dyn Queue> = faulty.clone();
    queue.enqueue(NewJob::new("w", json!({}))).await.unwrap();
    let backends = Backends::builder(store.clone(), opened.cache.clone(), queue.clone())
        .build()
        .unwrap();
    let options = AppOptions::new().without_rail();
    let client = admin(stack_server::app::build_with(backends, &config.api, options).unwrap());

    let (status, problem) = send(client.delete("/admin/queue").query("confirm", &true)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{problem}");
    assert_eq!(held(queue.as_ref()).await, 0, "the jobs were deleted");
    let logs = audits(store.as_ref(), "queue.drop_requested").await;
    assert_eq!(logs.len(), 1, "the trace is there");
    let failed = audits(store.as_ref(), "queue.drop_failed").await;
    assert_eq!(failed.len(), 1, "and the failure under the same subject");
    assert_eq!(failed[0].subject_id, logs[0].subject_id);
    let detail: serde_json::Value = serde_json::from_str(&logs[0].detail).unwrap();
    assert_eq!(detail["queue"], "default", "{detail}");
    assert_eq!(
        detail["namespace"], "stack_jobs (queue = 'default')",
        "{detail}"
    );
    assert_eq!(detail["held"]["ready"], 1, "{detail}");
}

#[tokio::test]
async fn a_drop_on_the_sql_queue() {
    a_drop_is_confirmed_refused_while_running_unless_forced_and_audited(config()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drop_on_redis_leaves_no_key_under_the_configured_prefix() {
    let redis = stack_tests::services::redis().await;
    let mut config = config();
    config.queue.backend = redis.url.clone();
    config.redis.url = redis.url.clone();
    config.queue.name = stack_tests::unique("admin");
    let prefix = stack_tests::redis_queue_keys::fresh_prefix();
    config.queue.key_prefix = prefix.clone();
    let target = stack_backends::redis::RedisTarget::Single(redis.url.clone());
    let queue = a_drop_is_confirmed_refused_while_running_unless_forced_and_audited(config).await;
    assert_eq!(queue.name(), "redis");
    let left = stack_tests::redis_queue_keys::keys_under(&target, &prefix).await;
    assert_eq!(left, Vec::<String>::new());
}
