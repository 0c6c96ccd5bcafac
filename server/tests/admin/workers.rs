//! `GET /admin/queue/workers` and the worker of a running job in `GET /admin/queue/jobs`.

use std::time::Duration;

use chrono::Utc;
use poem::http::StatusCode;
use serde_json::json;
use stack_core::queue::{JobId, NewJob, Queue, WorkerBeat, to_millis};
use stack_core::worker::WorkerStats;
use uuid::Uuid;

use super::{admin, app, config, open, send};

/// Reports a worker pool on `host` with pid 4242 holding `jobs`, for ten minutes.
pub(super) async fn report_holding(queue: &dyn Queue, host: &str, jobs: Vec<JobId>) -> WorkerBeat {
    let beat = WorkerBeat {
        id: Uuid::new_v4(),
        host: host.to_owned(),
        pid: 4242,
        started_at: to_millis(Utc::now()),
        size: 6,
        max: 12,
        jobs,
        stats: WorkerStats {
            running: 1,
            completed: 40,
            retried: 3,
            dead: 2,
            released: 1,
            lost: 0,
        },
    };
    queue
        .record_worker(&beat, Duration::from_secs(600))
        .await
        .unwrap();
    beat
}

#[tokio::test]
async fn workers_are_listed_with_totals_and_name_the_holder_of_a_running_job() {
    let config = config();
    let backends = open(&config).await;
    let queue = backends.queue.clone();
    let held = queue
        .enqueue(NewJob::new("video.encode", json!({})))
        .await
        .unwrap()
        .id();
    let orphan = queue
        .enqueue(NewJob::new("video.encode", json!({})))
        .await
        .unwrap()
        .id();
    assert_eq!(
        queue
            .reserve(2, Duration::from_secs(600))
            .await
            .unwrap()
            .len(),
        2
    );
    let one = report_holding(queue.as_ref(), "node-a", vec![held]).await;
    let two = report_holding(queue.as_ref(), "node-a", Vec::new()).await;
    let three = report_holding(queue.as_ref(), "node-b", Vec::new()).await;
    let client = admin(app(backends, &config));

    let (status, view) = send(client.get("/admin/queue/workers")).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["supported"], true);
    assert_eq!(view["pools"], 3, "{view}");
    assert_eq!(view["processes"], 2, "two pools share node-a:4242: {view}");
    assert_eq!(
        (view["size"].as_u64(), view["held"].as_u64()),
        (Some(18), Some(3))
    );
    let items = view["items"].as_array().unwrap();
    let ids: Vec<&str> = items.iter().map(|w| w["id"].as_str().unwrap()).collect();
    for beat in [&one, &two, &three] {
        assert!(ids.contains(&beat.id.to_string().as_str()), "{view}");
    }
    let first = items
        .iter()
        .find(|w| w["id"] == one.id.to_string())
        .unwrap();
    assert_eq!(first["host"], "node-a");
    assert_eq!(first["jobs"], json!([held.to_string()]));
    assert_eq!(
        (first["completed"].as_u64(), first["dead"].as_u64()),
        (Some(40), Some(2))
    );
    assert!(first["seen_at"].is_string() && first["expires_at"].is_string());

    let (_, page) = send(client.get("/admin/queue/jobs").query("state", &"running")).await;
    let worker_of = |id: JobId| {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["id"] == id.to_string())
            .map(|j| j["worker"].clone())
    };
    assert_eq!(worker_of(held), Some(json!(one.id.to_string())), "{page}");
    assert_eq!(
        worker_of(orphan),
        Some(serde_json::Value::Null),
        "no report lists it: {page}"
    );

    // Without the token the list is not shown.
    let (status, _) = send(
        poem::test::TestClient::new(app(open(&config).await, &config)).get("/admin/queue/workers"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
