//! The circuit breaker around a PostgreSQL that this test starts, stops and starts again:
//! answers (not found, bad input) never open it; an outage does, after which calls fail at
//! once; once the server is back, one probe closes it, with nothing restarted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use stack_backends::sql::SqlOptions;
use stack_core::ErrorKind;
use stack_core::datapath::{BreakerOptions, BreakerState, CircuitBreaker, Layered};
use stack_core::store::{NewUser, UserStore};
use stack_tests::own_postgres::OwnPostgres;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_breaker_opens_on_an_outage_fails_fast_and_closes_when_the_database_returns() {
    let server = OwnPostgres::start();
    let options = SqlOptions {
        acquire_timeout: Duration::from_secs(1),
        min_idle: 0,
        ..SqlOptions::default()
    };
    let store = stack_backends::sql::open(&server.url(), &options)
        .await
        .unwrap();
    stack_backends::sql::migrate_up(store.connection(), None)
        .await
        .unwrap();
    let breaker = CircuitBreaker::new(
        Arc::new(store),
        BreakerOptions {
            failure_threshold: 3,
            cooldown: Duration::from_secs(2),
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
