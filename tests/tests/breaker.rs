//! The circuit breaker around a PostgreSQL that this test starts, stops and starts again:
//! answers (not found, bad input) never open it; an outage does, after which calls fail at
//! once; once the server is back, one probe closes it, with nothing restarted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use stack_backends::sql::SqlOptions;
use stack_core::ErrorKind;
use stack_core::datapath::{BreakerOptions, BreakerState, CircuitBreaker, Layered};
use stack_core::store::{NewUser, UserStore};
use stack_tests::blackhole::Blackhole;
use stack_tests::own_postgres::OwnPostgres;

/// A migrated store at `url` whose calls give up on a connection after 1 s.
async fn migrated_store(url: &str) -> stack_backends::sql::SqlStore {
    let options = SqlOptions {
        acquire_timeout: Duration::from_secs(1),
        min_idle: 0,
        ..SqlOptions::default()
    };
    let store = stack_backends::sql::open(url, &options)
        .await
        .expect("open");
    stack_backends::sql::migrate_up(store.connection(), None)
        .await
        .expect("migrate");
    store
}

/// Polls the breaker until it reaches `state` (the cooldown runs on the breaker's clock).
async fn wait_for(breaker: &CircuitBreaker, state: BreakerState) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while breaker.state() != state {
        assert!(
            Instant::now() < deadline,
            "the breaker never reached {state:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_breaker_opens_on_an_outage_fails_fast_and_closes_when_the_database_returns() {
    let server = OwnPostgres::start();
    let store = migrated_store(&server.url()).await;
    let breaker = CircuitBreaker::new(
        Arc::new(store),
        BreakerOptions {
            failure_threshold: 3,
            cooldown: Duration::from_secs(2),
            ..BreakerOptions::default()
        },
    );
    let db = Layered::new(breaker.clone());
    let user = stack_tests::store_suite::user(&db).await;

    // Answers are not failures: many of them leave the breaker closed.
    for _ in 0..10 {
        let missing = db.user(uuid::Uuid::now_v7()).await.unwrap_err();
        assert_eq!(missing.kind(), ErrorKind::NotFound);
    }
    assert_eq!(breaker.state(), BreakerState::Closed);
    for _ in 0..10 {
        let bad = NewUser {
            email: "not an email".into(),
            phone: None,
            full_name: "x".into(),
        };
        assert_eq!(
            db.create_user(bad).await.unwrap_err().kind(),
            ErrorKind::Invalid
        );
    }
    assert_eq!(breaker.state(), BreakerState::Closed);

    // The outage: connection-level failures open it after three.
    server.down();
    let outage = Instant::now();
    let mut unavailable = 0;
    while breaker.state() == BreakerState::Closed {
        let e = db.user(user.id).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
        unavailable += 1;
        assert!(unavailable <= 3, "the breaker opens after three failures");
    }
    assert_eq!(breaker.state(), BreakerState::Open);
    println!(
        "closed breaker: {unavailable} failed calls took {:?}",
        outage.elapsed()
    );

    // Open: calls fail at once, without touching the database.
    let started = Instant::now();
    for _ in 0..1000 {
        let e = db.user(user.id).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::CircuitOpen, "{e}");
    }
    println!(
        "open breaker: 1,000 calls failed in {:?} ({:?} each)",
        started.elapsed(),
        started.elapsed() / 1000
    );

    // After the cooldown, a call refused by input checks is no probe: the probe is a health
    // check, which fails while the database is down, so the breaker opens again.
    wait_for(&breaker, BreakerState::HalfOpen).await;
    let bad = NewUser {
        email: "not an email".into(),
        phone: None,
        full_name: "x".into(),
    };
    let e = db.create_user(bad).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CircuitOpen, "{e}");
    assert_eq!(
        breaker.state(),
        BreakerState::Open,
        "a failed probe opens it again"
    );

    // The database returns; after the cooldown one probe passes and closes the breaker.
    server.up();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match db.user(user.id).await {
            Ok(found) => {
                assert_eq!(found, user);
                break;
            }
            Err(e) => assert!(
                matches!(e.kind(), ErrorKind::CircuitOpen | ErrorKind::Unavailable),
                "{e}"
            ),
        }
        assert!(Instant::now() < deadline, "the breaker did not close");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(breaker.state(), BreakerState::Closed);
}

/// A database that hangs instead of refusing (every byte to and from it vanishes): each call
/// ends with `Timeout` at the call deadline and opens the breaker; the probe after the
/// cooldown has its own deadline, so the breaker opens again instead of staying half-open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_database_times_calls_out_and_the_probe_gives_up() {
    let url = stack_tests::services::fresh_postgres_database().await;
    let (head, rest) = url.split_once('@').expect("user@host in the URL");
    let (host, path) = rest.split_once('/').expect("a database in the URL");
    let target = tokio::net::lookup_host(host)
        .await
        .expect("resolve")
        .next()
        .expect("an address");
    let hole = Blackhole::start(target).await;
    let proxied = format!("{head}@{}/{path}", hole.addr());
    let store = migrated_store(&proxied).await;
    let breaker = CircuitBreaker::new(
        Arc::new(store),
        BreakerOptions {
            failure_threshold: 2,
            cooldown: Duration::from_millis(500),
            probe_timeout: Duration::from_millis(300),
            call_timeout: Some(Duration::from_secs(1)),
        },
    );
    let db = Layered::new(breaker.clone());
    let user = stack_tests::store_suite::user(&db).await;

    hole.swallow(true);
    // Bounded by the test's own guard: without a call deadline these never return.
    let guard = Duration::from_secs(30);
    for _ in 0..2 {
        let e = tokio::time::timeout(guard, db.user(user.id))
            .await
            .expect("a call on a hung database returns")
            .unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::Timeout | ErrorKind::Unavailable),
            "{e}"
        );
    }
    assert_eq!(breaker.state(), BreakerState::Open);
    for _ in 0..3 {
        wait_for(&breaker, BreakerState::HalfOpen).await;
        let e = tokio::time::timeout(guard, db.user(user.id))
            .await
            .expect("the probe has its own deadline")
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::CircuitOpen, "{e}");
        assert_eq!(breaker.state(), BreakerState::Open, "not stuck half-open");
    }
}
