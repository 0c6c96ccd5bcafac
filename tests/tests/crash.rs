//! The crash test: three worker processes share 10,000 jobs on Redis; one is killed with
//! SIGKILL in the middle. Every job completes (none lost), only jobs whose lease the killed
//! worker held ran twice, and no job stays leased.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use stack_backends::redis::{RedisQueue, RedisTarget};
use stack_core::queue::{NewJob, Queue, QueueOptions};

const JOBS: u64 = 10_000;
const WORKERS: usize = 3;
const CONCURRENCY: usize = 10;

fn start_worker(url: &str, queue: &str, record: &str) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crash_worker"))
        .args([url, queue, record, &CONCURRENCY.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start a worker");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout");
    BufReader::new(stdout).read_line(&mut line).expect("read");
    assert!(line.starts_with("ready"), "worker said {line:?}");
    child
}

fn send(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_loses_no_job_and_only_its_running_jobs_run_twice() {
    let url = stack_tests::services::redis().await.url;
    let name = stack_tests::unique("crash");
    let record = format!("{name}:starts");
    let queue = RedisQueue::open(RedisTarget::Single(url.clone()), QueueOptions::new(&name))
        .await
        .unwrap();
    let jobs = (0..JOBS)
        .map(|n| NewJob::new("work", serde_json::json!({ "n": n })))
        .collect();
    queue.enqueue_batch(jobs).await.unwrap();

    let client = redis::Client::open(url.as_str()).unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    let mut workers: Vec<Child> = (0..WORKERS)
        .map(|_| start_worker(&url, &name, &record))
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
    let victim = workers.remove(0);
    let victim_pid = victim.id();
    send(&victim, "KILL");
    let mut victim = victim;
    victim.wait().unwrap();
    // The killed worker can change nothing now: the leases it held are in the running set
    // until they lapse, next to those of the living workers.
    let running_at_kill: HashSet<String> = redis::cmd("ZRANGE")
        .arg(format!("stack:queue:{{{name}}}:running"))
        .arg(0)
        .arg(-1)
        .query_async::<Vec<String>>(&mut redis)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let leased_at_kill = leased_numbers(&queue, &running_at_kill).await;

    loop {
        let stats = queue.stats().await.unwrap();
        if stats.ready() + stats.scheduled + stats.running == 0 {
            assert_eq!(stats.dead, 0, "no job died");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "jobs did not finish: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for worker in &workers {
        send(worker, "TERM");
    }
    for mut worker in workers {
        assert!(
            worker.wait().unwrap().success(),
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
    assert_eq!(runs.len() as u64, JOBS, "every job ran (0 lost)");
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
    let leased: u64 = redis::cmd("ZCARD")
        .arg(format!("stack:queue:{{{name}}}:running"))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(leased, 0, "no job stays leased");
    println!(
        "{} starts for {JOBS} jobs; {} ran twice, all leased by the killed worker ({} leases held at the kill)",
        starts.len(),
        twice.len(),
        running_at_kill.len()
    );
}

/// The `n` of each job leased at the kill. Read right after the kill: the killed worker's
/// jobs stay in Redis at least until their leases lapse (3 s) and they run again; a living
/// worker's job that completed meanwhile is gone, and is not needed.
async fn leased_numbers(queue: &RedisQueue, running: &HashSet<String>) -> HashSet<u64> {
    let mut numbers = HashSet::new();
    for id in running {
        let id = id.parse().expect("a job id");
        if let Some(job) = queue.get(id).await.expect("read a job") {
            numbers.insert(job.payload["n"].as_u64().expect("a job made by this test"));
        }
    }
    numbers
}
