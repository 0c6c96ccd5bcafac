//! Units of work (`stack_core::unit`) on the SQL Store, on an SQLite file and on PostgreSQL:
//! writes, the idempotency record and reads share one transaction; a unit that fails or is
//! dropped leaves nothing; the caching Store neither serves nor fills inside a unit and
//! invalidates only after the commit.

use std::sync::Arc;
use std::time::Duration;

use stack_backends::memory::{MemoryCache, MemoryCacheOptions};
use stack_backends::sql::{self, SqlOptions, SqlStore};
use stack_core::cache::{Cache, TypedCache};
use stack_core::datapath::CachingStore;
use stack_core::idempotency::{Begun, IdempotencyKey, IdempotencyStore, RequestFingerprint};
use stack_core::idempotency::{Claim, StoredResponse};
use stack_core::store::{MoneyStore, NewUser, Store, UserStore};
use stack_core::unit::{self, Unit};
use stack_core::{Error, ErrorKind};
use stack_tests::store_suite::{recorded, user};

const DAY: Duration = Duration::from_secs(86_400);

/// A migrated store on `kind` ("sqlite" or "postgres") whose pool holds ONE connection,
/// so that a call inside a unit that asked the pool for another would time out.
async fn store(kind: &str) -> SqlStore {
    let url = match kind {
        "sqlite" => {
            let dir = std::env::temp_dir().join(stack_tests::unique("stack-unit"));
            std::fs::create_dir_all(&dir).expect("temp dir");
            format!("sqlite://{}?mode=rwc", dir.join("unit.db").display())
        }
        _ => stack_tests::services::fresh_postgres_database().await,
    };
    let options = SqlOptions {
        max_open: 1,
        min_idle: 0,
        acquire_timeout: Duration::from_secs(2),
        ..SqlOptions::default()
    };
    sql::migrate_url(&url, &options).await.expect("migrate");
    sql::open(&url, &options).await.expect("open")
}

fn new_user(email: &str) -> NewUser {
    NewUser {
        email: email.to_owned(),
        phone: None,
        full_name: "Unit User".into(),
    }
}

async fn claim(store: &dyn IdempotencyStore, key: &str, lease: Duration) -> Claim {
    let request = RequestFingerprint {
        method: "POST".into(),
        target: "/users".into(),
        body_sha256: "0".repeat(64),
    };
    let key = IdempotencyKey::parse(key).expect("key");
    match store.begin(&key, &request, lease, DAY).await {
        Ok(Begun::Claimed(claim)) => claim,
        other => panic!("expected a claim, got {other:?}"),
    }
}

fn answer() -> StoredResponse {
    StoredResponse {
        status: 201,
        content_type: Some("application/json".into()),
        body: b"{}".to_vec(),
    }
}

/// Whether a user with `email` exists (creating it again conflicts).
async fn exists(store: &SqlStore, email: &str) -> bool {
    match store.create_user(new_user(email)).await {
        Ok(_) => false,
        Err(error) => {
            assert_eq!(error.kind(), ErrorKind::Conflict, "{error}");
            true
        }
    }
}

/// The write and the stored answer commit together; reads inside the unit see the unit's
/// own writes on the unit's connection (the pool has one, so a read that asked the pool
/// for another would time out).
async fn write_read_and_answer_commit_together(kind: &str) {
    let store = store(kind).await;
    let claimed = claim(&store, "k-commit", DAY).await;
    let unit = Unit::begin(&store).await.expect("begin");
    let email = format!("{}@example.com", stack_tests::unique("c"));
    let created = unit
        .run(async {
            let created = store.create_user(new_user(&email)).await?;
            let again = store.user(created.id).await?;
            assert_eq!(again.email, email);
            let deposit = recorded(&store, created.id, "12.5").await;
            store.confirm_deposit(deposit).await?;
            let balances = store.balances(created.id).await?;
            assert_eq!(balances.len(), 1, "the unit reads its own credit");
            store.finish(&claimed, &answer()).await?;
            store.health().await?;
            Ok::<_, Error>(created)
        })
        .await
        .expect("work inside the unit");
    unit.commit().await.expect("commit");
    assert_eq!(store.user(created.id).await.expect("user").email, email);
    let key = IdempotencyKey::parse("k-commit").expect("key");
    let request = RequestFingerprint {
        method: "POST".into(),
        target: "/users".into(),
        body_sha256: "0".repeat(64),
    };
    let replay = store.begin(&key, &request, DAY, DAY).await.expect("begin");
    assert_eq!(replay, Begun::Replay(answer()));
}

/// A request whose key was taken over cannot store its answer, and its write is undone
/// with it: only the request that holds the key changes anything.
async fn a_lost_key_undoes_the_write(kind: &str) {
    let store = store(kind).await;
    let first = claim(&store, "k-lost", Duration::from_millis(300)).await;
    let url = store_url(&store, kind).await;
    let email = format!("{}@example.com", stack_tests::unique("l"));
    let unit = Unit::begin(&store).await.expect("begin");
    unit.run(store.create_user(new_user(&email)))
        .await
        .expect("create inside the unit");
    // The first request's lease lapses and a retry takes the key over (outside the unit:
    // on PostgreSQL through a second pool, since the unit holds this one's only connection).
    let other = sql::open(&url, &SqlOptions::default())
        .await
        .expect("second pool");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let _second = loop {
        let key = IdempotencyKey::parse("k-lost").expect("key");
        let request = RequestFingerprint {
            method: "POST".into(),
            target: "/users".into(),
            body_sha256: "0".repeat(64),
        };
        match other.begin(&key, &request, DAY, DAY).await {
            Ok(Begun::Claimed(claim)) => break claim,
            other if std::time::Instant::now() > deadline => panic!("never taken over: {other:?}"),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    let finished = unit.run(store.finish(&first, &answer())).await;
    assert_eq!(finished.expect_err("fenced").kind(), ErrorKind::Conflict);
    unit.rollback().await.expect("rollback");
    assert!(
        !exists(&store, &email).await,
        "the fenced request's user was undone"
    );
}

/// The text column `value` of the one row `sql` answers on `store`.
async fn one_text(store: &SqlStore, sql: &str) -> String {
    use sea_orm::ConnectionTrait;
    let db = store.connection();
    let statement = sea_orm::Statement::from_string(db.get_database_backend(), sql);
    let row = db
        .query_one_raw(statement)
        .await
        .expect(sql)
        .expect("a row");
    row.try_get("", "value").expect("value")
}

/// The URL `store` was opened on, recovered from the database itself.
async fn store_url(store: &SqlStore, kind: &str) -> String {
    if kind == "sqlite" {
        let sql = "SELECT file AS value FROM pragma_database_list WHERE name = 'main'";
        return format!("sqlite://{}", one_text(store, sql).await);
    }
    let db = one_text(store, "SELECT current_database() AS value").await;
    let base = stack_tests::services::postgres().await.url;
    let (server, _) = base.rsplit_once('/').expect("a database in the URL");
    format!("{server}/{db}")
}

/// `atomically` rolls back when its work fails, and a unit dropped while open writes
/// nothing.
async fn failures_and_drops_write_nothing(kind: &str) {
    let store = store(kind).await;
    let email = format!("{}@example.com", stack_tests::unique("f"));
    let failed: stack_core::Result<()> = unit::atomically(&store, async {
        store.create_user(new_user(&email)).await?;
        Err(Error::invalid("amount", "refused after the write"))
    })
    .await;
    assert_eq!(failed.expect_err("refused").kind(), ErrorKind::Invalid);
    assert!(!exists(&store, &email).await, "rolled back");

    let dropped = format!("{}@example.com", stack_tests::unique("d"));
    let unit = Unit::begin(&store).await.expect("begin");
    unit.run(store.create_user(new_user(&dropped)))
        .await
        .expect("create");
    drop(unit);
    assert!(!exists(&store, &dropped).await, "a dropped unit rolls back");
}

/// Through the caching Store, with a second process's caching Store (another pool) on the
/// same cache: a read inside a unit is neither served from nor stored in the cache (a
/// rolled-back credit is never seen), and a credit's invalidation waits for the commit (a
/// reader that caches the old balance before the commit does not hide the new one after).
async fn the_cache_sees_only_committed_writes(kind: &str) {
    let sql = store(kind).await;
    let cache: Arc<dyn Cache> = Arc::new(MemoryCache::new(MemoryCacheOptions::default()));
    let ttl = Duration::from_secs(60);
    let cached = CachingStore::new(Arc::new(sql.clone()), TypedCache::new(cache.clone()), ttl);
    let other = sql::open(&store_url(&sql, kind).await, &SqlOptions::default())
        .await
        .expect("second pool");
    let reader = CachingStore::new(Arc::new(other), TypedCache::new(cache), ttl);
    let owner = user(&cached).await.id;
    let first = recorded(&cached, owner, "5").await;
    assert!(reader.balances(owner).await.expect("read").is_empty());

    let unit = Unit::begin(&sql).await.expect("begin");
    unit.run(async {
        cached.confirm_deposit(first).await?;
        let seen = cached.balances(owner).await?;
        assert_eq!(seen.len(), 1, "the unit sees its own credit");
        Ok::<_, Error>(())
    })
    .await
    .expect("confirm inside the unit");
    unit.rollback().await.expect("rollback");
    assert!(
        reader.balances(owner).await.expect("read").is_empty(),
        "a rolled-back credit is never served"
    );

    let unit = Unit::begin(&sql).await.expect("begin");
    unit.run(cached.confirm_deposit(first))
        .await
        .expect("confirm inside the unit");
    assert!(
        reader
            .balances(owner)
            .await
            .expect("read before the commit")
            .is_empty(),
        "before the commit the old balance is read (and cached)"
    );
    unit.commit().await.expect("commit");
    let after = reader.balances(owner).await.expect("read after the commit");
    assert_eq!(after.len(), 1, "the commit's invalidation shows the credit");
}

/// A block that joined a unit and failed cannot be undone alone: the unit refuses to
/// commit any of it.
async fn a_failed_joined_block_rolls_the_unit_back(kind: &str) {
    let store = store(kind).await;
    let (kept, partial) = (
        format!("{}@example.com", stack_tests::unique("k")),
        format!("{}@example.com", stack_tests::unique("p")),
    );
    let unit = Unit::begin(&store).await.expect("begin");
    let inner: stack_core::Result<()> = unit
        .run(async {
            store.create_user(new_user(&kept)).await?;
            unit::atomically(&store, async {
                store.create_user(new_user(&partial)).await?;
                Err(Error::invalid("amount", "refused after a write"))
            })
            .await
        })
        .await;
    assert!(inner.is_err());
    assert!(unit.rollback_only());
    let committed = unit.commit().await;
    assert_eq!(committed.expect_err("refused").kind(), ErrorKind::Conflict);
    assert!(
        !exists(&store, &partial).await,
        "the failed block left nothing"
    );
    assert!(!exists(&store, &kept).await, "nor did the rest of its unit");
}

/// A store over another database never runs in a unit of this one's.
async fn another_database_does_not_join(kind: &str) {
    let (mine, theirs) = (store(kind).await, store(kind).await);
    let email = format!("{}@example.com", stack_tests::unique("o"));
    let unit = Unit::begin(&mine).await.expect("begin");
    unit.run(theirs.create_user(new_user(&email)))
        .await
        .expect("their write, on their own pool");
    unit.rollback().await.expect("rollback");
    assert!(exists(&theirs, &email).await, "their write is theirs, kept");
}

/// On a queue that cannot store a job in the unit's transaction, the job is enqueued after
/// the commit, never before it, and never for a unit that rolls back.
async fn a_deferred_job_waits_for_the_commit(kind: &str) {
    use stack_core::queue::{NewJob, Queue, QueueOptions};
    let store = store(kind).await;
    let queue: Arc<dyn Queue> = Arc::new(
        stack_backends::memory::MemoryQueue::new(QueueOptions::new("units")).expect("queue"),
    );
    let job = |n: u32| NewJob::new("unit.job", serde_json::json!({ "n": n }));
    let unit = Unit::begin(&store).await.expect("begin");
    let deferred = unit
        .run(unit::enqueue(Arc::clone(&queue), job(1)))
        .await
        .expect("enqueue");
    assert_eq!(deferred, None, "deferred to the commit");
    assert_eq!(
        queue
            .stats()
            .await
            .expect("stats")
            .ready_at(stack_core::queue::Priority::Normal),
        0
    );
    unit.rollback().await.expect("rollback");

    let unit = Unit::begin(&store).await.expect("begin");
    unit.run(unit::enqueue(Arc::clone(&queue), job(2)))
        .await
        .expect("enqueue");
    assert_eq!(
        queue
            .stats()
            .await
            .expect("stats")
            .ready_at(stack_core::queue::Priority::Normal),
        0
    );
    unit.commit().await.expect("commit");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while queue
        .stats()
        .await
        .expect("stats")
        .ready_at(stack_core::queue::Priority::Normal)
        == 0
    {
        assert!(std::time::Instant::now() < deadline, "never enqueued");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let leased = queue
        .reserve(10, Duration::from_secs(60))
        .await
        .expect("reserve");
    let numbers: Vec<_> = leased.iter().map(|l| l.job.payload["n"].clone()).collect();
    assert_eq!(
        numbers,
        [serde_json::json!(2)],
        "only the committed unit's job"
    );
}

/// A typed job enqueued inside a unit on the SQL queue of the unit's own pool (one
/// connection: a second one would time out) is stored with the unit's writes: gone when the
/// unit rolls back, there when it commits.
async fn a_typed_job_in_a_unit_commits_with_it(kind: &str) {
    use stack_backends::sql::{SqlQueue, SqlQueueOptions};
    use stack_core::queue::{Queue, QueueOptions, TypedJob};
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Tally {
        n: u32,
    }
    impl TypedJob for Tally {
        const TYPE: &'static str = "unit.tally";
    }
    let store = store(kind).await;
    let options = QueueOptions::new(stack_tests::unique("units"));
    let queue: Arc<dyn Queue> = SqlQueue::open(
        store.connection().clone(),
        options,
        SqlQueueOptions::default(),
    )
    .expect("queue");
    for commit in [false, true] {
        let unit = Unit::begin(&store).await.expect("begin");
        let n = u32::from(commit);
        let stored = unit
            .run(unit::enqueue_job(Arc::clone(&queue), &Tally { n }))
            .await
            .expect("enqueue");
        let id = stored.expect("stored in the unit's transaction").id();
        if commit {
            unit.commit().await.expect("commit");
        } else {
            unit.rollback().await.expect("rollback");
        }
        let job = queue.get(id).await.expect("get");
        assert_eq!(job.is_some(), commit, "commit {commit}");
    }
    let leased = queue.reserve(10, DAY).await.expect("reserve");
    let numbers: Vec<_> = leased.iter().map(|l| l.job.payload["n"].clone()).collect();
    assert_eq!(numbers, [serde_json::json!(1)], "only the committed job");
    assert_eq!(leased[0].job.job_type, "unit.tally");
}

macro_rules! on_both {
    ($($trial:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $trial() {
                    super::$trial("sqlite").await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $trial() {
                    super::$trial("postgres").await;
                }
            )*
        }
    };
}

on_both!(
    write_read_and_answer_commit_together,
    failures_and_drops_write_nothing,
    the_cache_sees_only_committed_writes,
    a_failed_joined_block_rolls_the_unit_back,
    another_database_does_not_join,
    a_deferred_job_waits_for_the_commit,
    a_typed_job_in_a_unit_commits_with_it,
);

/// On SQLite the unit holds the write lock, so no other request can take its key over
/// until it ends: the fencing trial is PostgreSQL's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_lost_key_undoes_the_write() {
    a_lost_key_undoes_the_write("postgres").await;
}
