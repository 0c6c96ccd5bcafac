//! `/admin/queue`: stats, and the dead letters (list, replay one, replay by type, purge),
//! each replay and purge with its audit log; on the memory queue and on Redis.

use std::time::Duration;

use chrono::Utc;
use poem::http::StatusCode;
use serde_json::json;
use stack_core::config::Config;
use stack_core::page::PageRequest;
use stack_core::queue::{Failure, JobId, JobState, NewJob, Priority, Queue};
use stack_core::store::{AuditFilter, Store};
use uuid::Uuid;

use super::{admin, app, config, open, send};

/// Enqueues `n` jobs of `job_type` and dead-letters them (one attempt, a permanent failure).
async fn dead(queue: &dyn Queue, job_type: &str, n: usize) -> Vec<JobId> {
    let mut ids = Vec::new();
    for i in 0..n {
        let job = NewJob::new(job_type, json!({ "n": i })).max_attempts(1);
        ids.push(queue.enqueue(job).await.unwrap().id());
    }
    loop {
        let leases = queue.reserve(100, Duration::from_secs(30)).await.unwrap();
        if leases.is_empty() {
            return ids;
        }
        for lease in leases {
            queue
                .fail(&lease.token, Failure::permanent("boom"))
                .await
                .unwrap();
        }
    }
}

async fn dead_count(queue: &dyn Queue) -> u64 {
    queue.stats().await.unwrap().dead
}

/// The operator audit logs of `action`.
pub(super) async fn audits(store: &dyn Store, action: &str) -> Vec<stack_core::store::AuditLog> {
    let filter = AuditFilter {
        action: Some(action.into()),
        ..AuditFilter::default()
    };
    store
        .list_audit_logs(&filter, PageRequest::default())
        .await
        .unwrap()
        .items
}

#[tokio::test]
async fn stats_count_ready_jobs_by_priority_with_the_oldest_ready_age() {
    let config = config();
    let backends = open(&config).await;
    let queue = backends.queue.clone();
    let overdue = Utc::now() - chrono::Duration::seconds(5);
    let high = NewJob::new("urgent", json!({}))
        .priority(Priority::High)
        .run_at(overdue);
    queue.enqueue(high).await.unwrap();
    let low = NewJob::new("later", json!({})).priority(Priority::Low);
    queue.enqueue(low).await.unwrap();
    let client = admin(app(backends, &config));
    let (status, stats) = send(client.get("/admin/queue/stats")).await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    assert_eq!(stats["backend"], "sqlite");
    let by = stats["by_priority"].as_array().unwrap();
    let names: Vec<&str> = by.iter().map(|p| p["priority"].as_str().unwrap()).collect();
    assert_eq!(names, ["critical", "high", "normal", "low"]);
    assert_eq!(by[0]["ready"], 0);
    assert!(by[0].get("oldest_ready_age_ms").is_none_or(|v| v.is_null()));
    assert_eq!(by[1]["ready"], 1);
    assert!(
        by[1]["oldest_ready_age_ms"].as_u64().unwrap() >= 5000,
        "{stats}"
    );
    assert_eq!(by[3]["ready"], 1);
    assert_eq!(stats["dead"], 0);
}

/// Lists a page of dead letters by type, replays one (pending again, audited), replays by
/// type within a limit (audited), and refuses bad parameters changing nothing.
async fn dead_letters_are_listed_replayed_and_audited(config: Config) {
    let backends = open(&config).await;
    let queue = backends.queue.clone();
    let store = backends.store.clone();
    let receipts = dead(queue.as_ref(), "receipt", 3).await;
    dead(queue.as_ref(), "report", 1).await;
    let client = admin(app(backends, &config));

    let list = |page: u32| {
        client
            .get("/admin/queue/dead-letters")
            .query("type", &"receipt")
            .query("limit", &2)
            .query("page", &page)
    };
    let (status, first) = send(list(1)).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["total_items"], 3);
    assert_eq!(first["has_next"], true);
    let items = first["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["type"], "receipt");
    assert_eq!(items[0]["state"], "dead");
    assert_eq!(items[0]["errors"][0]["message"], "boom");
    let (_, second) = send(list(2)).await;
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_eq!(second["has_prev"], true);
    for (name, value) in [("page", "0"), ("type", "")] {
        let request = client.get("/admin/queue/dead-letters").query(name, &value);
        let (status, problem) = send(request).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name}: {problem}"
        );
        assert_eq!(problem["errors"][0]["pointer"], format!("#/query/{name}"));
    }

    let replay = |id: Uuid| client.post(format!("/admin/queue/dead-letters/{id}/replay"));
    let (status, replayed) = send(replay(receipts[0])).await;
    assert_eq!(status, StatusCode::OK, "{replayed}");
    let job = queue.get(receipts[0]).await.unwrap().unwrap();
    assert_eq!(
        job.state,
        JobState::Pending,
        "a replayed dead letter is pending again"
    );
    let rows = audits(store.as_ref(), "job.replayed").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].subject_id, receipts[0]);
    assert_eq!(rows[0].user_id, None);
    assert_eq!(replayed["audit_id"], rows[0].id.to_string());
    // No longer dead, or never was: 404, and no audit row.
    assert_eq!(send(replay(receipts[0])).await.0, StatusCode::NOT_FOUND);
    assert_eq!(send(replay(Uuid::now_v7())).await.0, StatusCode::NOT_FOUND);
    let (status, _) = send(client.post("/admin/queue/dead-letters/nope/replay")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(audits(store.as_ref(), "job.replayed").await.len(), 1);

    let by_type = |limit: u64| {
        client
            .post("/admin/queue/dead-letters/replay")
            .query("type", &"receipt")
            .query("limit", &limit)
    };
    let (status, problem) = send(by_type(0)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(
        dead_count(queue.as_ref()).await,
        3,
        "a refused replay changes nothing"
    );
    let (status, outcome) = send(by_type(1)).await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(
        (outcome["done"].as_u64(), outcome["remaining"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(dead_count(queue.as_ref()).await, 2);
    let rows = audits(store.as_ref(), "jobs.replayed").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(outcome["operation_id"], rows[0].subject_id.to_string());
    let detail: serde_json::Value = serde_json::from_str(&rows[0].detail).unwrap();
    assert_eq!(detail["job_type"], "receipt");
    assert_eq!(detail["replayed"], 1);
    let (status, _) = send(client.post("/admin/queue/dead-letters/replay")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the type is required");
}

#[tokio::test]
async fn dead_letters_on_the_memory_queue() {
    dead_letters_are_listed_replayed_and_audited(config()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_on_redis() {
    let redis = stack_tests::services::redis().await;
    let mut config = config();
    config.queue.backend = redis.url.clone();
    config.queue.name = stack_tests::unique("admin");
    dead_letters_are_listed_replayed_and_audited(config).await;
}

#[tokio::test]
async fn a_purge_needs_confirmation_and_is_audited() {
    let config = config();
    let backends = open(&config).await;
    let queue = backends.queue.clone();
    let store = backends.store.clone();
    dead(queue.as_ref(), "a", 2).await;
    dead(queue.as_ref(), "b", 1).await;
    let client = admin(app(backends, &config));
    let purge = || client.delete("/admin/queue/dead-letters");

    let (status, problem) = send(purge()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "#/query/confirm");
    let (status, _) = send(purge().query("confirm", &false)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let wrong = purge()
        .query("confirm", &true)
        .header("authorization", "Bearer not-the-admin-token");
    assert_eq!(send(wrong).await.0, StatusCode::FORBIDDEN);
    assert_eq!(dead_count(queue.as_ref()).await, 3, "nothing was purged");
    assert!(audits(store.as_ref(), "jobs.purged").await.is_empty());

    let (status, outcome) = send(purge().query("confirm", &true).query("type", &"b")).await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["done"], 1);
    assert_eq!(dead_count(queue.as_ref()).await, 2);
    let (_, outcome) = send(purge().query("confirm", &true)).await;
    assert_eq!(
        (outcome["done"].as_u64(), outcome["remaining"].as_u64()),
        (Some(2), Some(0))
    );
    assert_eq!(dead_count(queue.as_ref()).await, 0);
    assert_eq!(audits(store.as_ref(), "jobs.purged").await.len(), 2);
}
