//! Writes, the stored answer and reads in one transaction: committed together, undone
//! together (a failure, a drop, a lost key, a failed joined block), never joined by another
//! database's store.

use std::time::Duration;

use stack_backends::sql::{self, SqlOptions};
use stack_core::idempotency::{Begun, IdempotencyKey, IdempotencyStore, RequestFingerprint};
use stack_core::store::{MoneyStore, Store, UserStore};
use stack_core::unit::{self, Unit};
use stack_core::{Error, ErrorKind};
use stack_tests::store_suite::recorded;

use crate::fixtures::{DAY, answer, claim, exists, new_user, store, store_url};

/// The write and the stored answer commit together; reads inside the unit see the unit's
/// own writes on the unit's connection (the pool has one, so a read that asked the pool
/// for another would time out).
pub(crate) async fn write_read_and_answer_commit_together(kind: &str) {
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
pub(crate) async fn a_lost_key_undoes_the_write(kind: &str) {
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

/// `atomically` rolls back when its work fails, and a unit dropped while open writes
/// nothing.
pub(crate) async fn failures_and_drops_write_nothing(kind: &str) {
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

/// A block that joined a unit and failed cannot be undone alone: the unit refuses to
/// commit any of it.
pub(crate) async fn a_failed_joined_block_rolls_the_unit_back(kind: &str) {
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
pub(crate) async fn another_database_does_not_join(kind: &str) {
    let (mine, theirs) = (store(kind).await, store(kind).await);
    let email = format!("{}@example.com", stack_tests::unique("o"));
    let unit = Unit::begin(&mine).await.expect("begin");
    unit.run(theirs.create_user(new_user(&email)))
        .await
        .expect("their write, on their own pool");
    unit.rollback().await.expect("rollback");
    assert!(exists(&theirs, &email).await, "their write is theirs, kept");
}
