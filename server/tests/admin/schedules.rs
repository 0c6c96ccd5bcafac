//! `/admin/schedules`: the list with next and last fire, and "trigger now".

use poem::http::StatusCode;
use stack_core::queue::JobState;
use stack_core::scheduler::{ScheduleSpec, Scheduler};
use uuid::Uuid;

use super::{admin, app, config, open, send};

#[tokio::test]
async fn schedules_list_their_fires_and_trigger_now_enqueues_under_a_key_of_its_own() {
    let config = config();
    let backends = open(&config).await;
    let scheduler = backends.scheduler.clone();
    let queue = backends.queue.clone();
    let added = scheduler
        .add(ScheduleSpec::new("nightly", "0 30 2 * * *", "build_report"))
        .await
        .unwrap();
    let tick = added.next_fire.unwrap();
    // The tick fires (as the background task would at that time).
    scheduler.fire_due(tick).await;
    let client = admin(app(backends, &config));

    let (status, list) = send(client.get("/admin/schedules")).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let nightly = &list[0];
    assert_eq!(nightly["name"], "nightly");
    assert_eq!(nightly["job_type"], "build_report");
    let last = nightly["last_fire"]
        .as_str()
        .unwrap()
        .parse::<chrono::DateTime<chrono::Utc>>();
    assert_eq!(last.unwrap(), tick);
    let next = nightly["next_fire"].as_str().unwrap().to_owned();

    let trigger = || client.post("/admin/schedules/nightly/trigger");
    let (status, first) = send(trigger()).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["duplicate"], false);
    let key = first["unique_key"].as_str().unwrap();
    assert!(key.starts_with("cron:nightly:manual:"), "{key}");
    let id: Uuid = first["job_id"].as_str().unwrap().parse().unwrap();
    let job = queue.get(id).await.unwrap().unwrap();
    assert_eq!(job.job_type, "build_report");
    assert_eq!(job.state, JobState::Pending);
    assert_eq!(job.unique_key.as_deref(), Some(key));
    // A second trigger is a run of its own.
    let (_, second) = send(trigger()).await;
    assert_ne!(second["job_id"], first["job_id"]);
    assert_eq!(
        queue.stats().await.unwrap().ready(),
        3,
        "the tick and two runs"
    );
    // The schedule's ticks are unchanged.
    let (_, list) = send(client.get("/admin/schedules")).await;
    assert_eq!(list[0]["next_fire"], next.as_str());

    let (status, problem) = send(client.post("/admin/schedules/nope/trigger")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
}
