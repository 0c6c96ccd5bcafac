//! Typed jobs end to end: one [`TypedJob`] definition names the job for every producer (the
//! queue, a unit of work, a cron schedule) and for its handler, which takes the payload type.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use stack_core::queue::{JobId, JobState, NewJob, Priority, QueueExt, TypedJob};
use stack_core::scheduler::{CronScheduler, ScheduleSpec, Scheduler};
use stack_core::worker::{Handler, Handlers, JobContext, JobError, WorkerPool};
use stack_core::{Error, unit};

use super::{pool_options, until};
use crate::queue_suite::{QueueFactory, options};

/// A typed job, run by a function handler.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Greet {
    name: String,
    times: u32,
}

impl TypedJob for Greet {
    const TYPE: &'static str = "trial.greet";
}

/// A typed job, run by a [`Handler`] impl.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Tally {
    count: u64,
}

impl TypedJob for Tally {
    const TYPE: &'static str = "trial.tally";
}

/// What the handlers saw: each run's payload as a debug string, its stored type and priority.
type Seen = Arc<Mutex<Vec<(String, String, Priority)>>>;

struct TallyHandler(Seen);

#[async_trait::async_trait]
impl Handler for TallyHandler {
    type Payload = Tally;

    async fn handle(&self, payload: Tally, context: JobContext) -> Result<(), JobError> {
        let run = (
            format!("{payload:?}"),
            context.job.job_type,
            context.job.priority,
        );
        self.0.lock().unwrap().push(run);
        Ok(())
    }
}

/// Typed jobs enqueued every typed way (the queue with and without settings, a unit of work,
/// a cron schedule's manual run) reach the handler registered by the same definition, with
/// their payload and settings, and complete.
pub async fn typed_jobs_reach_their_typed_handlers(factory: QueueFactory) {
    let queue = factory(options()).await;
    let seen: Seen = Arc::default();
    let record = Arc::clone(&seen);
    let handlers = Handlers::new()
        .register_job_fn(move |greet: Greet, context: JobContext| {
            let run = (
                format!("{greet:?}"),
                context.job.job_type,
                context.job.priority,
            );
            record.lock().unwrap().push(run);
            async { Ok(()) }
        })
        .register_job(TallyHandler(Arc::clone(&seen)));
    assert_eq!(
        {
            let mut types: Vec<_> = handlers.types().collect();
            types.sort_unstable();
            types
        },
        ["trial.greet", "trial.tally"]
    );

    let ana = Greet {
        name: "ana".into(),
        times: 1,
    };
    let bo = Greet {
        name: "bo".into(),
        times: 2,
    };
    let tally = Tally { count: 3 };
    let cron = Tally { count: 4 };
    let mut ids: Vec<JobId> = vec![
        queue.enqueue_job(&ana).await.unwrap().id(),
        queue
            .enqueue_job_with(&bo, |job| job.priority(Priority::High))
            .await
            .unwrap()
            .id(),
        unit::enqueue_job(Arc::clone(&queue), &tally)
            .await
            .unwrap()
            .expect("outside a unit the job is enqueued at once")
            .id(),
    ];
    let scheduler = CronScheduler::new(Arc::clone(&queue));
    let spec = ScheduleSpec::of("typed", "0 0 0 1 1 *", &cron).unwrap();
    assert_eq!(spec.job_type, Tally::TYPE);
    scheduler.add(spec).await.unwrap();
    ids.push(scheduler.trigger("typed").await.unwrap().0.id());

    let pool = WorkerPool::start(Arc::clone(&queue), handlers, pool_options()).unwrap();
    until("every typed job ran and completed", || async {
        let mut done = true;
        for id in &ids {
            match queue.get(*id).await.unwrap() {
                Some(job) if job.state == JobState::Dead => {
                    panic!("typed job {} died: {:?}", job.job_type, job.last_error)
                }
                Some(job) if job.state != JobState::Completed => done = false,
                _ => {}
            }
        }
        done
    })
    .await;
    pool.stop().await;

    let mut runs = seen.lock().unwrap().clone();
    runs.sort();
    let run = |payload: &dyn std::fmt::Debug, job_type: &str, priority| {
        (format!("{payload:?}"), job_type.to_owned(), priority)
    };
    let mut expected = vec![
        run(&ana, Greet::TYPE, Priority::Normal),
        run(&bo, Greet::TYPE, Priority::High),
        run(&tally, Tally::TYPE, Priority::Normal),
        run(&cron, Tally::TYPE, Priority::Normal),
    ];
    expected.sort();
    assert_eq!(runs, expected, "each job ran once with its payload");
}

/// A payload JSON cannot hold: a map whose keys are not strings.
#[derive(Debug, Serialize, Deserialize)]
struct Unencodable {
    by_bytes: BTreeMap<Vec<u8>, u8>,
}

impl TypedJob for Unencodable {
    const TYPE: &'static str = "trial.unencodable";
}

/// Whether `result` failed as `Invalid` on field `payload`, naming the job type.
fn invalid_payload<T: std::fmt::Debug>(result: Result<T, Error>) -> bool {
    match result {
        Err(Error::Invalid { field, reason, .. }) => {
            field == "payload" && reason.contains(Unencodable::TYPE)
        }
        other => panic!("expected an invalid payload, got {other:?}"),
    }
}

/// A payload that does not serialize is an `Invalid` error naming `payload` on every typed
/// way in, and nothing is enqueued.
pub async fn an_unserializable_payload_is_invalid_and_enqueues_nothing(factory: QueueFactory) {
    let queue = factory(options()).await;
    let bad = Unencodable {
        by_bytes: BTreeMap::from([(vec![1, 2], 3)]),
    };
    assert!(invalid_payload(NewJob::of(&bad)));
    assert!(invalid_payload(queue.enqueue_job(&bad).await));
    assert!(invalid_payload(
        queue
            .enqueue_job_with(&bad, |job| job.priority(Priority::Critical))
            .await
    ));
    assert!(invalid_payload(
        unit::enqueue_job(Arc::clone(&queue), &bad).await
    ));
    assert!(invalid_payload(ScheduleSpec::of(
        "unencodable",
        "* * * * * *",
        &bad
    )));

    let stats = queue.stats().await.unwrap();
    assert_eq!(
        (
            stats.ready(),
            stats.scheduled,
            stats.running,
            stats.dead,
            stats.completed
        ),
        (0, 0, 0, 0, 0),
        "nothing was enqueued: {stats:?}"
    );
    assert!(queue.next_run_at().await.unwrap().is_none());
}
