//! The replica router against a real streaming standby (started by `scripts/services.sh`):
//! reads served by the replica once a write has replicated, read-your-writes on the primary,
//! and the replica stopped and started again with no read failing. One test, because it
//! stops the standby that other steps read from.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use stack_backends::sql::{SqlOptions, SqlReplica};
use stack_core::ErrorKind;
use stack_core::datapath::{Layered, NodeStatus, Replica, ReplicaOptions, ReplicaRouter};
use stack_core::store::UserStore;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run scripts/test.sh (or `. scripts/services.sh`), which starts the standby")
    })
}

/// Runs pg_ctl on the standby as the postgres user.
fn pg_ctl(action: &str) {
    let bin = format!("{}/pg_ctl", env("STACK_TEST_PG_BIN"));
    let dir = env("STACK_TEST_POSTGRES_REPLICA_DIR");
    let mut args = vec!["-u", "postgres", "--", &bin, "-D", &dir, "-w", "-t", "60"];
    match action {
        "stop" => args.extend(["-m", "fast", "stop"]),
        _ => args.extend(["-l", "/tmp/stack-pg-replica.log", "start"]),
    }
    let status = Command::new("runuser")
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_go_to_the_standby_and_survive_it_stopping_and_starting() {
    let primary_url = stack_tests::services::fresh_postgres_database().await;
    let db_name = primary_url.rsplit('/').next().unwrap().to_owned();
    let replica_base = env("STACK_TEST_POSTGRES_REPLICA_URL");
    let replica_url = format!("{}/{db_name}", replica_base.rsplit_once('/').unwrap().0);
    let primary = stack_backends::sql::open(&primary_url, &SqlOptions::default())
        .await
        .unwrap();
    stack_backends::sql::migrate_up(primary.connection(), None)
        .await
        .unwrap();
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
