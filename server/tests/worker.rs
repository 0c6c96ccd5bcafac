//! `stack worker` as a process: it runs the rail service's jobs from a Redis queue against
//! the configured database, dead-letters a job it cannot parse, and stops on SIGTERM; its
//! pool autoscales when `workers.autoscale` is set.

mod common;

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use common::{LogTail, Spawned, signal, stack, wait_exit};
use rust_decimal::Decimal;
use stack_backends::redis::{RedisQueue, RedisTarget};
use stack_core::queue::{JobState, NewJob, Queue, QueueOptions, TypedJob};
use stack_core::store::{DepositStatus, Store};
use stack_server::jobs::ConfirmDeposit;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_confirms_deposits_from_the_queue_and_stops_on_sigterm() {
    let dir = std::env::temp_dir().join(stack_tests::unique("stack-worker"));
    std::fs::create_dir_all(&dir).unwrap();
    let database = format!("sqlite://{}/w.db?mode=rwc", dir.display());
    let options = stack_backends::sql::SqlOptions::default();
    stack_backends::sql::migrate_url(&database, &options)
        .await
        .unwrap();
    let store = stack_backends::sql::open(&database, &options)
        .await
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    let user = stack_tests::store_suite::user(store.as_ref()).await.id;
    let deposit = stack_tests::store_suite::recorded(store.as_ref(), user, "12.5").await;

    let redis = stack_tests::services::redis().await.url;
    let name = stack_tests::unique("worker");
    let queue = RedisQueue::open(RedisTarget::Single(redis.clone()), QueueOptions::new(&name))
        .await
        .unwrap();
    let confirm = NewJob::of(&ConfirmDeposit {
        deposit_id: deposit,
    })
    .unwrap();
    let first = queue.enqueue(confirm.clone()).await.unwrap().id();
    // The same confirmation twice (a retried producer): credited once.
    let second = queue.enqueue(confirm).await.unwrap().id();
    let bad = queue
        .enqueue(NewJob::new(
            ConfirmDeposit::TYPE,
            serde_json::json!({ "deposit": 1 }),
        ))
        .await
        .unwrap()
        .id();

    let mut child = Spawned::new(
        stack()
            .args(["worker", "--log-format", "json", "--concurrency", "4"])
            .env("STACK__DATABASE__URL", &database)
            .env("STACK__QUEUE__BACKEND", "redis://")
            .env("STACK__QUEUE__NAME", &name)
            .env("STACK__REDIS__URL", &redis)
            .env("STACK__WORKERS__AUTOSCALE__MIN", "2")
            .env("STACK__WORKERS__AUTOSCALE__MAX", "6")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let logs = LogTail::new(&mut child);
    let running = logs.wait_for("STACK worker running");
    // Autoscaling from its minimum: `--concurrency` is not read then.
    for field in ["\"concurrency\":2", "\"autoscale\":true", "\"max\":6"] {
        assert!(running.contains(field), "{field} in {running}");
    }

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let done =
            queue.get(first).await.unwrap().is_none() && queue.get(second).await.unwrap().is_none();
        let dead = queue.get(bad).await.unwrap().map(|j| j.state) == Some(JobState::Dead);
        if done && dead {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "jobs not done; logs:\n{}",
            logs.all()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let error = queue.get(bad).await.unwrap().unwrap().last_error.unwrap();
    assert!(error.contains("does not parse"), "{error}");
    assert_eq!(
        store.deposit(deposit).await.unwrap().status,
        DepositStatus::Confirmed
    );
    let balances = store.balances(user).await.unwrap();
    assert_eq!(balances.len(), 1);
    assert_eq!(balances[0].available, Decimal::new(125, 1), "credited once");

    signal(&child, "TERM");
    let status = wait_exit(&mut child, Duration::from_secs(30)).expect("the worker exits");
    assert!(status.success(), "{status:?}\n{}", logs.all());
    let stopped = logs.wait_for("STACK worker stopped");
    assert!(stopped.contains("\"completed\":2"), "{stopped}");
    let _ = std::fs::remove_dir_all(&dir);
}
