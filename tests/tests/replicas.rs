//! The replica router against a real streaming standby (started by `scripts/services.sh`):
//! reads served by the replica once a write has replicated, read-your-writes on the primary,
//! and the replica stopped and started again with no read failing. One test, because it
//! stops the standby that other steps read from.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use stack_backends::sql::{SqlOptions, SqlReplica, SqlStore};
use stack_core::ErrorKind;
use stack_core::datapath::{Layered, NodeStatus, Replica, ReplicaOptions, ReplicaRouter};
use stack_core::store::UserStore;
use stack_tests::standby_faults::{CutOff, StalledSenders, env, on_standby};

/// Runs pg_ctl on the standby as the postgres user.
fn pg_ctl(action: &str) {
    let bin = format!("{}/pg_ctl", env("STACK_TEST_PG_BIN"));
    let dir = env("STACK_TEST_POSTGRES_REPLICA_DIR");
    let mut args = vec!["-u", "postgres", "--", &bin, "-D", &dir, "-w", "-t", "60"];
    match action {
        "stop" => args.extend(["-m", "fast", "stop"]),
        _ => args.extend(["-l", "/tmp/stack-pg-replica.log", "start"]),
    }
    // Through a shell that closes descriptors 3 to 9 first: the standby started here runs on
    // after the test, and must not keep a descriptor it inherited (the lock that
    // `flock /tmp/stack-cargo.lock cargo ...` holds would be held until the standby stops).
    let status = Command::new("sh")
        .args([
            "-c",
            "exec 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-; exec runuser \"$@\"",
            "sh",
        ])
        .args(&args)
        .status()
        .expect("runuser");
    assert!(status.success(), "pg_ctl {action} failed");
}

fn node<'a>(status: &'a [NodeStatus], name: &str) -> &'a NodeStatus {
    status
        .iter()
        .find(|n| n.node.contains(name))
        .expect("node listed")
}

async fn until<F: FnMut() -> bool>(what: &str, mut ok: F) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A fresh database on the primary, migrated, and a replica on the standby once the
/// database and its schema have reached it; also the replica's URL.
async fn primary_and_standby() -> (SqlStore, SqlReplica, String) {
    let primary_url = stack_tests::services::fresh_postgres_database().await;
    let db_name = primary_url
        .rsplit('/')
        .next()
        .expect("a database")
        .to_owned();
    let replica_base = env("STACK_TEST_POSTGRES_REPLICA_URL");
    let replica_url = format!(
        "{}/{db_name}",
        replica_base.rsplit_once('/').expect("a URL").0
    );
    let primary = stack_backends::sql::open(&primary_url, &SqlOptions::default())
        .await
        .expect("the primary");
    stack_backends::sql::migrate_up(primary.connection(), None)
        .await
        .expect("migrated");
    // The new database and its schema reach the standby through the WAL.
    let replica = loop {
        if let Ok(replica) = SqlReplica::open(&replica_url, &SqlOptions::default()).await {
            if replica
                .store()
                .list_users(&Default::default(), Default::default())
                .await
                .is_ok()
            {
                break replica;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    (primary, replica, replica_url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_go_to_the_standby_and_survive_it_stopping_and_starting() {
    let (primary, replica, replica_url) = primary_and_standby().await;
    assert!(replica.replay_lag().await.is_ok(), "the node is a standby");
    let label = replica.label();
    let options = ReplicaOptions {
        max_lag: Duration::from_secs(10),
        check_every: Duration::from_millis(200),
        read_your_writes: Duration::ZERO,
    };
    let router =
        ReplicaRouter::start(Arc::new(primary.clone()), vec![Arc::new(replica)], options).await;
    let store = Layered::new(router.clone());

    // 1. A user written on the primary is read from the replica once replicated.
    let user = stack_tests::store_suite::user(&store).await;
    let before = router.status();
    loop {
        match store.user(user.id).await {
            Ok(found) => {
                assert_eq!(found, user);
                break;
            }
            Err(e) => assert_eq!(e.kind(), ErrorKind::NotFound, "{e}"),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let after = router.status();
    assert!(
        node(&after, &label).reads > node(&before, &label).reads,
        "the replica answered"
    );
    assert_eq!(
        node(&after, "primary").reads,
        node(&before, "primary").reads
    );

    // 2. Read-your-writes: a router with a window reads a fresh write back from the primary.
    let ryw = Layered::new(
        ReplicaRouter::start(
            Arc::new(primary.clone()),
            vec![Arc::new(
                SqlReplica::open(&replica_url, &SqlOptions::default())
                    .await
                    .unwrap(),
            )],
            ReplicaOptions {
                read_your_writes: Duration::from_secs(30),
                ..options
            },
        )
        .await,
    );
    let fresh = stack_tests::store_suite::user(&ryw).await;
    assert_eq!(
        ryw.user(fresh.id).await.unwrap(),
        fresh,
        "read back at once"
    );
    assert_eq!(node(&ryw.policy().status(), "primary").reads, 1);

    // 3. The replica stops while reads run: they move to the primary and none fails.
    let primary_reads = node(&router.status(), "primary").reads;
    let reading = Arc::new(AtomicBool::new(true));
    let reader = tokio::spawn({
        let (store, reading, id) = (store.clone(), Arc::clone(&reading), user.id);
        async move {
            let mut reads = 0_u32;
            while reading.load(Ordering::SeqCst) {
                store
                    .user(id)
                    .await
                    .expect("no read fails while the replica goes down");
                reads += 1;
            }
            reads
        }
    });
    tokio::task::spawn_blocking(|| pg_ctl("stop"))
        .await
        .unwrap();
    until("the replica is out of rotation", || {
        !node(&router.status(), &label).healthy
    })
    .await;
    reading.store(false, Ordering::SeqCst);
    assert!(reader.await.unwrap() > 0);
    store.user(user.id).await.expect("read on the primary");
    assert!(node(&router.status(), "primary").reads > primary_reads);

    // 4. It starts again and comes back into rotation, nothing else restarted.
    pg_ctl("start");
    until("the replica is back", || {
        node(&router.status(), &label).healthy
    })
    .await;
    let replica_reads = node(&router.status(), &label).reads;
    let mut served = false;
    for _ in 0..50 {
        store.user(user.id).await.expect("read");
        if node(&router.status(), &label).reads > replica_reads {
            served = true;
            break;
        }
    }
    assert!(served, "the replica serves reads again");
}

/// A standby cut off its primary while writes go on shows received = replayed WAL, as a
/// current one does: it leaves the rotation once it has not streamed within `max_lag`, and
/// comes back when it streams again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_cut_off_its_primary_leaves_the_rotation_and_comes_back() {
    let (primary, replica, _) = primary_and_standby().await;
    let label = replica.label();
    let router = ReplicaRouter::start(
        Arc::new(primary.clone()),
        vec![Arc::new(replica)],
        ReplicaOptions {
            max_lag: Duration::from_secs(2),
            check_every: Duration::from_millis(200),
            read_your_writes: Duration::ZERO,
        },
    )
    .await;
    until("the standby is in rotation", || {
        node(&router.status(), &label).healthy
    })
    .await;
    let writing = Arc::new(AtomicBool::new(true));
    let writer = tokio::spawn({
        let (primary, writing) = (primary.clone(), Arc::clone(&writing));
        async move {
            let mut written = 0_u32;
            while writing.load(Ordering::SeqCst) {
                stack_tests::store_suite::user(&primary).await;
                written += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            written
        }
    });
    {
        let _cut = tokio::task::spawn_blocking(CutOff::make).await.unwrap();
        until("the cut-off standby leaves the rotation", || {
            !node(&router.status(), &label).healthy
        })
        .await;
        let status = router.status();
        let cut = node(&status, &label);
        assert!(cut.error.is_some(), "the reason is shown: {cut:?}");
    }
    until("the standby streams again and is back", || {
        node(&router.status(), &label).healthy
    })
    .await;
    writing.store(false, Ordering::SeqCst);
    assert!(writer.await.unwrap() > 0, "writes went on");
}

/// A standby that still streams but receives nothing new (its primary's WAL sender is
/// stalled) while writes go on shows received = replayed WAL and a `streaming` receiver, as a
/// current one does: compared with the primary's WAL position, it is behind, and leaves the
/// rotation within `max_lag` and a few checks, long before its receiver times out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_streaming_behind_its_primary_leaves_the_rotation() {
    let (primary, replica, _) = primary_and_standby().await;
    let replica = replica.with_primary(primary.clone());
    let label = replica.label();
    let router = ReplicaRouter::start(
        Arc::new(primary.clone()),
        vec![Arc::new(replica.clone())],
        ReplicaOptions {
            max_lag: Duration::from_secs(2),
            check_every: Duration::from_millis(200),
            read_your_writes: Duration::ZERO,
        },
    )
    .await;
    until("the standby is in rotation", || {
        node(&router.status(), &label).healthy
    })
    .await;
    let writing = Arc::new(AtomicBool::new(true));
    let writer = tokio::spawn({
        let (primary, writing) = (primary.clone(), Arc::clone(&writing));
        async move {
            while writing.load(Ordering::SeqCst) {
                stack_tests::store_suite::user(&primary).await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    });
    {
        let _stalled = tokio::task::spawn_blocking(StalledSenders::make)
            .await
            .unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        while node(&router.status(), &label).healthy {
            assert!(
                tokio::time::Instant::now() < deadline,
                "a standby behind its primary stayed in rotation: {:?}",
                node(&router.status(), &label)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let receiver =
            tokio::task::spawn_blocking(|| on_standby("SELECT status FROM pg_stat_wal_receiver"));
        assert_eq!(
            receiver.await.unwrap().unwrap(),
            "streaming",
            "the standby still streams"
        );
        assert!(
            replica.bytes_behind().is_some_and(|bytes| bytes > 0),
            "bytes behind: {:?}",
            replica.bytes_behind()
        );
        let status = router.status();
        let behind = node(&status, &label);
        assert!(behind.error.is_some(), "the reason is shown: {behind:?}");
    }
    until("the standby catches up and is back", || {
        node(&router.status(), &label).healthy
    })
    .await;
    writing.store(false, Ordering::SeqCst);
    writer.await.unwrap();
    until("nothing is left to replay", || {
        replica.bytes_behind() == Some(0)
    })
    .await;
}
