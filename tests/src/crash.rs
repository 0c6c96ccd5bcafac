//! The crash test, for any durable queue: three worker processes share 10,000 jobs; one is
//! killed with SIGKILL in the middle. At the end every job id is accounted for: completed, or dead with a
//! reason; only jobs whose lease the killed worker held ran twice; no job stays leased and no
//! job data is left behind.
//!
//! How a completion is seen: the queue deletes a job without a unique key when it completes, so `get` answering `None` cannot by itself tell a completed job from one whose
//! data was lost. Each worker records the completions it is about to send (`acking`) and
//! those the queue took (`acked`). A job is completed when a worker recorded the queue taking
//! its completion and the queue holds nothing of it. The one exception allowed: a job whose
//! completion the killed worker sent but could not record as taken before it died (it is in
//! that worker's `acking` record, and the queue holds nothing of it).

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use async_trait::async_trait;
use stack_core::queue::{Enqueued, JobId, JobState, NewJob, Queue};

const JOBS: u64 = 10_000;
const WORKERS: usize = 3;
const CONCURRENCY: usize = 10;

/// A worker process, killed if the test ends before stopping it: a failed assertion must not
/// leave workers running.
struct Worker(Child);

impl Drop for Worker {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn start_worker(binary: &str, url: &str, queue: &str, record: &str, extra: &[String]) -> Worker {
    let mut child = Command::new(binary)
        .args([url, queue, record, &CONCURRENCY.to_string()])
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start a worker");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout");
    BufReader::new(stdout).read_line(&mut line).expect("read");
    let worker = Worker(child);
    assert!(line.starts_with("ready"), "worker said {line:?}");
    worker
}

fn send(worker: &Worker, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &worker.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// The queue under test, as the crash test needs to see it.
#[async_trait]
pub trait CrashSubject: Send + Sync {
    /// The queue's name.
    fn name(&self) -> &str;
    /// A handle on the queue.
    fn queue(&self) -> &dyn Queue;
    /// What the worker binary takes after its four arguments to open the same queue.
    fn worker_args(&self) -> Vec<String>;
    /// The ids of the jobs leased now.
    async fn leased_ids(&self) -> HashSet<JobId>;
    /// Asserts that the queue holds data only for its `dead` jobs.
    async fn nothing_left_behind(&self, dead: usize);
}

/// Runs the crash test on `subject`: `binary` is the crash worker, `redis_url` the Redis
/// where workers record their starts and acknowledgements.
///
/// # Panics
/// When a job is lost, runs twice without having been leased by the killed worker, or stays
/// leased.
pub async fn a_killed_worker_loses_no_job_and_only_its_running_jobs_run_twice(
    subject: &dyn CrashSubject,
    binary: &str,
    redis_url: &str,
) {
    let url = redis_url.to_owned();
    let name = subject.name().to_owned();
    let record = format!("{name}:starts");
    let queue = subject.queue();
    let extra = subject.worker_args();
    let jobs = (0..JOBS)
        .map(|n| NewJob::new("work", serde_json::json!({ "n": n })))
        .collect();
    let ids: Vec<JobId> = queue
        .enqueue_batch(jobs)
        .await
        .unwrap()
        .into_iter()
        .map(|e| match e {
            Enqueued::Created(id) => id,
            Enqueued::Duplicate(id) => panic!("job {id} is not new"),
        })
        .collect();

    let client = redis::Client::open(url.as_str()).unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    let mut workers: Vec<Worker> = (0..WORKERS)
        .map(|_| start_worker(binary, &url, &name, &record, &extra))
        .collect();

    // Kill the first worker once about a fifth of the jobs have started.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let started: u64 = redis::cmd("LLEN")
            .arg(&record)
            .query_async(&mut redis)
            .await
            .unwrap();
        if started >= JOBS / 5 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "jobs are not starting"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut victim = workers.remove(0);
    let victim_pid = victim.0.id();
    send(&victim, "KILL");
    victim.0.wait().unwrap();
    // The killed worker can change nothing now: the leases it held are running until they
    // lapse, next to those of the living workers.
    let running_at_kill = subject.leased_ids().await;
    let leased_at_kill = leased_numbers(queue, &running_at_kill).await;

    // The workers should be done when the queue is idle; every id is then accounted for
    // (records may trail the queue by a moment, so accounting is retried until the deadline).
    wait_until_idle(queue, deadline).await;
    // The victim is dead: the completions it saw taken are final.
    let victim_acking: HashSet<JobId> = records(&mut redis, &format!("{record}:acking"))
        .await
        .into_iter()
        .filter(|(_, pid)| *pid == victim_pid)
        .map(|(id, _)| id)
        .collect();
    let accounts = loop {
        let accounts = account(queue, &mut redis, &record, &ids).await;
        // A living worker records a completion just after the queue takes it: until the
        // deadline, an unconfirmed job outside the victim's may be a record on its way.
        let trailing = accounts
            .unconfirmed
            .iter()
            .any(|id| !victim_acking.contains(id));
        if accounts.open.is_empty() && !trailing {
            break accounts;
        }
        if tokio::time::Instant::now() >= deadline {
            assert!(
                accounts.open.is_empty(),
                "{} jobs neither completed nor dead, for example {:?}",
                accounts.open.len(),
                &accounts.open[..accounts.open.len().min(5)]
            );
            break accounts;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for (id, pids) in &accounts.acked {
        assert_eq!(pids.len(), 1, "job {id}: completed {} times", pids.len());
    }
    for id in &accounts.unconfirmed {
        assert!(
            victim_acking.contains(id),
            "job {id} is gone from the queue but no worker saw its completion taken"
        );
    }
    // No handler fails and every job has attempts to spare: a dead job here is a job the
    // queue mishandled (dead-lettered something healthy), whatever its reason says.
    assert!(
        accounts.dead.is_empty(),
        "{} jobs dead, for example {:?}",
        accounts.dead.len(),
        accounts.dead.first()
    );
    assert_eq!(
        accounts.acked.len() + accounts.unconfirmed.len() + accounts.dead.len(),
        ids.len(),
        "every job accounted for once"
    );
    subject.nothing_left_behind(accounts.dead.len()).await;

    for worker in &workers {
        send(worker, "TERM");
    }
    for mut worker in workers {
        assert!(
            worker.0.wait().unwrap().success(),
            "a living worker stops cleanly"
        );
    }

    let starts: Vec<String> = redis::cmd("LRANGE")
        .arg(&record)
        .arg(0)
        .arg(-1)
        .query_async(&mut redis)
        .await
        .unwrap();
    let mut runs: HashMap<u64, Vec<u32>> = HashMap::new();
    for start in &starts {
        let (n, pid) = start.split_once(':').unwrap();
        runs.entry(n.parse().unwrap())
            .or_default()
            .push(pid.parse().unwrap());
    }
    assert_eq!(runs.len() as u64, JOBS, "every job started");
    let twice: Vec<(&u64, &Vec<u32>)> = runs.iter().filter(|(_, pids)| pids.len() > 1).collect();
    for (n, pids) in &twice {
        assert_eq!(pids.len(), 2, "job {n} ran {} times", pids.len());
        assert_eq!(
            pids[0], victim_pid,
            "job {n} ran twice but not first on the killed worker"
        );
        assert!(
            leased_at_kill.contains(n),
            "job {n} ran twice but was not leased at the kill"
        );
    }
    assert!(
        starts
            .iter()
            .any(|s| s.ends_with(&format!(":{victim_pid}"))),
        "the killed worker had run jobs"
    );
    println!(
        "{} starts for {JOBS} jobs: {} completions taken, {} sent by the killed worker as it died, \
         {} dead; {} ran twice, all leased by the killed worker ({} leases held at the kill)",
        starts.len(),
        accounts.acked.len(),
        accounts.unconfirmed.len(),
        accounts.dead.len(),
        twice.len(),
        running_at_kill.len()
    );
}

/// Waits until the queue has nothing ready, scheduled or running.
async fn wait_until_idle(queue: &dyn Queue, deadline: tokio::time::Instant) {
    loop {
        let stats = queue.stats().await.expect("queue stats");
        if stats.ready() + stats.scheduled + stats.running == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "jobs did not finish: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Where each job is at the end.
#[derive(Debug, Default)]
struct Accounts {
    /// Completions the queue took, with the pid of each worker that recorded one.
    acked: HashMap<JobId, Vec<u32>>,
    /// Gone from the queue, with no completion recorded as taken.
    unconfirmed: Vec<JobId>,
    /// Dead, with the reason.
    dead: Vec<(JobId, String)>,
    /// Neither completed nor dead (yet): each with its state.
    open: Vec<(JobId, Option<JobState>)>,
}

async fn account(
    queue: &dyn Queue,
    redis: &mut redis::aio::MultiplexedConnection,
    record: &str,
    ids: &[JobId],
) -> Accounts {
    let mut accounts = Accounts::default();
    for (id, pid) in records(redis, &format!("{record}:acked")).await {
        accounts.acked.entry(id).or_default().push(pid);
    }
    for id in ids.iter().filter(|id| !accounts.acked.contains_key(id)) {
        match queue.get(*id).await.expect("read a job") {
            None => accounts.unconfirmed.push(*id),
            Some(job) if job.state == JobState::Dead => {
                accounts
                    .dead
                    .push((*id, job.last_error.unwrap_or_default()));
            }
            Some(job) => accounts.open.push((*id, Some(job.state))),
        }
    }
    accounts
}

/// The `<job id>:<pid>` entries of a worker record.
async fn records(redis: &mut redis::aio::MultiplexedConnection, list: &str) -> Vec<(JobId, u32)> {
    let entries: Vec<String> = redis::cmd("LRANGE")
        .arg(list)
        .arg(0)
        .arg(-1)
        .query_async(redis)
        .await
        .expect("read a record");
    entries
        .iter()
        .map(|entry| {
            let (id, pid) = entry.rsplit_once(':').expect("<job id>:<pid>");
            (id.parse().expect("a job id"), pid.parse().expect("a pid"))
        })
        .collect()
}

/// The `n` of each job leased at the kill. Read right after the kill: the killed worker's
/// jobs stay in the queue at least until their leases lapse (3 s) and they run again; a
/// living worker's job that completed meanwhile is gone, and is not needed.
async fn leased_numbers(queue: &dyn Queue, running: &HashSet<JobId>) -> HashSet<u64> {
    let mut numbers = HashSet::new();
    for &id in running {
        if let Some(job) = queue.get(id).await.expect("read a job") {
            numbers.insert(job.payload["n"].as_u64().expect("a job made by this test"));
        }
    }
    numbers
}
