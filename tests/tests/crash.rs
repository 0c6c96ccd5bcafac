//! The crash test (see [`stack_tests::crash`]) on Redis and on PostgreSQL: three worker
//! processes share 10,000 jobs; one is killed with SIGKILL in the middle; every job id is
//! accounted for at the end.

#![allow(clippy::unwrap_used)] // trial helpers outside #[test] functions

use std::collections::HashSet;

use async_trait::async_trait;
use stack_backends::redis::{RedisQueue, RedisTarget};
use stack_core::queue::{JobId, Queue, QueueOptions};
use stack_tests::crash::{
    CrashSubject, a_killed_worker_loses_no_job_and_only_its_running_jobs_run_twice as crash,
};

struct OnRedis {
    url: String,
    name: String,
    queue: RedisQueue,
}

impl OnRedis {
    async fn redis(&self) -> redis::aio::MultiplexedConnection {
        let client = redis::Client::open(self.url.as_str()).unwrap();
        client.get_multiplexed_async_connection().await.unwrap()
    }
}

#[async_trait]
impl CrashSubject for OnRedis {
    fn name(&self) -> &str {
        &self.name
    }

    fn queue(&self) -> &dyn Queue {
        &self.queue
    }

    fn worker_args(&self) -> Vec<String> {
        Vec::new()
    }

    async fn leased_ids(&self) -> HashSet<JobId> {
        let mut redis = self.redis().await;
        redis::cmd("ZRANGE")
            .arg(format!("stack:queue:{{{}}}:running", self.name))
            .arg(0)
            .arg(-1)
            .query_async::<Vec<String>>(&mut redis)
            .await
            .unwrap()
            .iter()
            .map(|id| id.parse().expect("a job id"))
            .collect()
    }

    /// The queue holds data only for its `dead` jobs: nothing pending or leased, no payload,
    /// spec or state of any completed job, and no unique key.
    async fn nothing_left_behind(&self, dead: usize) {
        let name = &self.name;
        let mut redis = self.redis().await;
        let key = |k: &str| format!("stack:queue:{{{name}}}:{k}");
        for set in [
            "pending:critical",
            "pending:high",
            "pending:normal",
            "pending:low",
            "running",
            "completed",
        ] {
            let size: usize = redis::cmd("ZCARD")
                .arg(key(set))
                .query_async(&mut redis)
                .await
                .expect("read a queue key");
            assert_eq!(size, 0, "{set} is empty");
        }
        // Dead jobs keep their payload, spec and state (and errors, when they failed).
        for (hash, exactly) in [
            ("payload", true),
            ("spec", true),
            ("meta", true),
            ("errors", false),
        ] {
            let size: usize = redis::cmd("HLEN")
                .arg(key(hash))
                .query_async(&mut redis)
                .await
                .expect("read a queue key");
            let fits = if exactly { size == dead } else { size <= dead };
            assert!(fits, "{hash} holds {size} entries; dead jobs: {dead}");
        }
        let unique: usize = redis::cmd("HLEN")
            .arg(key("unique"))
            .query_async(&mut redis)
            .await
            .expect("read a queue key");
        assert_eq!(unique, 0, "no unique key is held");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_loses_no_job_and_only_its_running_jobs_run_twice() {
    let url = stack_tests::services::redis().await.url;
    let name = stack_tests::unique("crash");
    let queue = RedisQueue::open(RedisTarget::Single(url.clone()), QueueOptions::new(&name))
        .await
        .unwrap();
    let subject = OnRedis {
        url: url.clone(),
        name,
        queue,
    };
    crash(&subject, env!("CARGO_BIN_EXE_crash_worker"), &url).await;
}

struct OnPostgres {
    url: String,
    name: String,
    queue: std::sync::Arc<stack_backends::sql::SqlQueue>,
}

#[async_trait]
impl CrashSubject for OnPostgres {
    fn name(&self) -> &str {
        &self.name
    }

    fn queue(&self) -> &dyn Queue {
        &*self.queue
    }

    fn worker_args(&self) -> Vec<String> {
        vec![self.url.clone()]
    }

    async fn leased_ids(&self) -> HashSet<JobId> {
        use sea_orm::{ConnectionTrait, DbBackend, Statement};
        let rows = self
            .queue
            .connection()
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT id FROM stack_jobs WHERE queue = $1 AND state = 'running'",
                [self.name.clone().into()],
            ))
            .await
            .unwrap();
        rows.iter()
            .map(|row| row.try_get::<JobId>("", "id").unwrap())
            .collect()
    }

    /// The table holds only the `dead` jobs of the queue: nothing pending or leased, no
    /// completed job (none holds a unique key).
    async fn nothing_left_behind(&self, dead: usize) {
        use sea_orm::{ConnectionTrait, DbBackend, Statement};
        let row = self
            .queue
            .connection()
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT COUNT(*) AS n FROM stack_jobs WHERE queue = $1",
                [self.name.clone().into()],
            ))
            .await
            .unwrap()
            .unwrap();
        let rows: i64 = row.try_get("", "n").unwrap();
        assert_eq!(
            usize::try_from(rows).unwrap(),
            dead,
            "rows left in stack_jobs"
        );
    }
}

/// The same test on PostgreSQL: the workers open the SQL queue on a fresh database (the
/// starts and acknowledgements are still recorded on Redis, apart from the queue).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_killed_worker_loses_no_job_and_only_its_running_jobs_run_twice() {
    let redis = stack_tests::services::redis().await.url;
    let url = stack_tests::sql_queue::postgres_url().await;
    let name = stack_tests::unique("crash");
    let queue = stack_tests::sql_queue::open(&url, QueueOptions::new(&name)).await;
    let subject = OnPostgres { url, name, queue };
    crash(&subject, env!("CARGO_BIN_EXE_crash_worker"), &redis).await;
}
