//! `Idempotency-Key` around a small poem-openapi API, over a real SQLite file and a real
//! PostgreSQL: replays, mismatches, a retry while the first runs, restarts, two instances,
//! expiry, what is not stored, key validation, takeover after the lease, the body limit.

#![allow(clippy::unwrap_used, reason = "a failed call must fail the test")]

mod things;
mod units;

use std::sync::Arc;
use std::time::{Duration, Instant};

use poem::Body;
use poem::http::StatusCode;
use stack_backends::sql::{self, SqlOptions, SqlStore};

use things::{MAX_BODY, app, calls, default_app, migrated, postgres, send, sqlite, sqlite_url};

async fn replay_and_mismatch(store: SqlStore) {
    let app = default_app(&store);
    let first = send(&app, "/things", Some("k1"), r#"{"name":"a"}"#).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    assert!(!first.replayed());
    let again = send(&app, "/things", Some("k1"), r#"{"name":"a"}"#).await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.body, first.body, "replayed byte for byte");
    assert_eq!(
        again.headers.get("content-type"),
        first.headers.get("content-type")
    );
    assert!(again.replayed());
    assert_eq!(calls(&app), 1, "the handler ran once");

    let body = send(&app, "/things", Some("k1"), r#"{"name":"b"}"#).await;
    assert_eq!(body.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body.headers.get("content-type").unwrap(),
        "application/problem+json"
    );
    assert!(body.text().contains("different body"), "{}", body.text());
    let path = send(&app, "/others", Some("k1"), r#"{"name":"a"}"#).await;
    assert_eq!(path.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(path.text().contains("/others"), "{}", path.text());
    assert_eq!(calls(&app), 1);

    // No key: untouched, runs every time.
    send(&app, "/things", None, r#"{"name":"a"}"#).await;
    send(&app, "/things", None, r#"{"name":"a"}"#).await;
    assert_eq!(calls(&app), 3);
}

#[tokio::test]
async fn replay_and_mismatch_on_sqlite() {
    replay_and_mismatch(sqlite().await).await;
}

#[tokio::test]
async fn replay_and_mismatch_on_postgres() {
    replay_and_mismatch(postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_while_the_first_runs_is_409() {
    let app = Arc::new(default_app(&sqlite().await));
    let entered = app.state.entered.notified();
    let first = {
        let app = Arc::clone(&app);
        tokio::spawn(async move { send(&app, "/slow", Some("s"), r#"{"name":"a"}"#).await })
    };
    entered.await;
    let retry = send(&app, "/slow", Some("s"), r#"{"name":"a"}"#).await;
    assert_eq!(retry.status, StatusCode::CONFLICT, "{}", retry.text());
    assert!(retry.headers.get("retry-after").is_some());
    app.state.release.notify_one();
    let first = first.await.unwrap();
    assert_eq!(first.status, StatusCode::CREATED);
    let after = send(&app, "/slow", Some("s"), r#"{"name":"a"}"#).await;
    assert!(after.replayed());
    assert_eq!(after.body, first.body);
    assert_eq!(calls(&app), 1);
}

#[tokio::test]
async fn a_new_app_over_the_same_sqlite_file_replays() {
    let url = sqlite_url();
    let first = {
        let app = default_app(&migrated(&url).await);
        send(&app, "/things", Some("r"), r#"{"name":"a"}"#).await
    };
    let app = default_app(&migrated(&url).await);
    let again = send(&app, "/things", Some("r"), r#"{"name":"a"}"#).await;
    assert!(again.replayed());
    assert_eq!(again.body, first.body);
    assert_eq!(calls(&app), 0, "the restarted app ran nothing");
}

#[tokio::test]
async fn two_instances_over_one_postgres_replay_each_other() {
    let url = stack_tests::services::fresh_postgres_database().await;
    let one = default_app(&migrated(&url).await);
    let two = default_app(&sql::open(&url, &SqlOptions::default()).await.unwrap());
    let first = send(&one, "/things", Some("x"), r#"{"name":"a"}"#).await;
    let again = send(&two, "/things", Some("x"), r#"{"name":"a"}"#).await;
    assert!(again.replayed());
    assert_eq!(again.body, first.body);
    let other = send(&two, "/things", Some("y"), r#"{"name":"b"}"#).await;
    let back = send(&one, "/things", Some("y"), r#"{"name":"b"}"#).await;
    assert_eq!(back.body, other.body);
    assert_eq!((calls(&one), calls(&two)), (1, 1));
}

#[tokio::test]
async fn an_expired_key_is_free_again() {
    let store = sqlite().await;
    let app = app(&store, Duration::from_secs(60), Duration::from_millis(200));
    let first = send(&app, "/things", Some("e"), r#"{"name":"a"}"#).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reused = send(&app, "/things", Some("e"), r#"{"name":"b"}"#).await;
        if reused.status == StatusCode::CREATED {
            assert!(!reused.replayed());
            break;
        }
        assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(Instant::now() < deadline, "the key never expired");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(calls(&app), 2);
    let purged = stack_server::http::idempotency::purge_expired(app.store.as_ref(), 10).await;
    assert_eq!(purged.unwrap(), 0, "the reused key is not expired yet");
}

#[tokio::test]
async fn refusals_before_the_handler_and_503_store_nothing() {
    let app = default_app(&sqlite().await);
    // Fails the body's validator: refused by poem-openapi before the handler.
    let bad = send(
        &app,
        "/things",
        Some("v"),
        r#"{"name":"far too long a name"}"#,
    )
    .await;
    assert!(bad.status.is_client_error(), "{}", bad.status);
    let unknown = send(&app, "/things", Some("v"), r#"{"name":"a","x":1}"#).await;
    assert!(unknown.status.is_client_error(), "{}", unknown.status);
    let fixed = send(&app, "/things", Some("v"), r#"{"name":"a"}"#).await;
    assert_eq!(fixed.status, StatusCode::CREATED, "{}", fixed.text());
    assert!(!fixed.replayed());
    assert_eq!(calls(&app), 1);

    let down = send(&app, "/down", Some("d"), r#"{"name":"a"}"#).await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
    let down = send(&app, "/down", Some("d"), r#"{"name":"a"}"#).await;
    assert!(!down.replayed(), "a 503 is not stored");
    assert_eq!(calls(&app), 3);

    // A domain refusal after the handler ran is kept.
    let refused = send(&app, "/refused", Some("f"), r#"{"name":"a"}"#).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let again = send(&app, "/refused", Some("f"), r#"{"name":"a"}"#).await;
    assert!(again.replayed());
    assert_eq!(again.body, refused.body);
    assert_eq!(calls(&app), 4);
}

#[tokio::test]
async fn malformed_keys_are_400() {
    let app = default_app(&sqlite().await);
    for key in ["k".repeat(256), String::new(), "a b".into()] {
        let answer = send(&app, "/things", Some(&key), r#"{"name":"a"}"#).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{key:?}");
        assert!(
            answer.text().contains("Idempotency-Key"),
            "{}",
            answer.text()
        );
    }
    assert_eq!(calls(&app), 0);
    let longest = send(&app, "/things", Some(&"k".repeat(255)), r#"{"name":"a"}"#).await;
    assert_eq!(longest.status, StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_takes_over_once_the_lock_lapses() {
    let store = sqlite().await;
    // The first instance holds the key for 300 ms and then hangs (as if it died).
    let hung = Arc::new(app(
        &store,
        Duration::from_millis(300),
        Duration::from_secs(60),
    ));
    let entered = hung.state.entered.notified();
    let first = {
        let hung = Arc::clone(&hung);
        tokio::spawn(async move { send(&hung, "/slow", Some("t"), r#"{"name":"a"}"#).await })
    };
    entered.await;
    let other = default_app(&store);
    // Its own /slow (the takeover) passes the gate at once.
    other.state.release.notify_one();
    let early = send(&other, "/things", Some("t"), r#"{"name":"a"}"#).await;
    assert_eq!(
        early.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "another path"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut saw_conflict = false;
    let taken = loop {
        let retry = send(&other, "/slow", Some("t"), r#"{"name":"a"}"#).await;
        if retry.status == StatusCode::CONFLICT {
            saw_conflict = true;
            assert!(Instant::now() < deadline, "the lease never lapsed");
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        break retry;
    };
    assert!(saw_conflict, "the lease held at first");
    assert_eq!(taken.status, StatusCode::CREATED, "{}", taken.text());
    // The hung first request finishes late: its client gets an answer, but the stored one
    // is the takeover's.
    hung.state.release.notify_one();
    let late = first.await.unwrap();
    assert_eq!(late.status, StatusCode::CREATED);
    let replay = send(&other, "/slow", Some("t"), r#"{"name":"a"}"#).await;
    assert!(replay.replayed());
    assert_eq!(replay.body, taken.body);
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_413_and_claims_nothing() {
    let app = default_app(&sqlite().await);
    let chunks = futures_chunks(MAX_BODY + 1);
    let big = send(&app, "/things", Some("b"), chunks).await;
    assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        big.headers.get("content-type").unwrap(),
        "application/problem+json"
    );
    let small = send(&app, "/things", Some("b"), r#"{"name":"a"}"#).await;
    assert_eq!(small.status, StatusCode::CREATED);
    assert_eq!(calls(&app), 1);
}

/// A body of `len` bytes sent as a stream with no Content-Length.
fn futures_chunks(len: usize) -> Body {
    let (writer, reader) = tokio::io::duplex(64);
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let mut writer = writer;
        let _ = writer.write_all(&vec![b' '; len]).await;
    });
    Body::from_async_read(reader)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_dropped_mid_handler_frees_its_key() {
    let app = default_app(&sqlite().await);
    // The client goes away while the handler waits: the server drops the request's future.
    let entered = app.state.entered.notified();
    let first = send(&app, "/slow", Some("gone"), r#"{"name":"a"}"#);
    tokio::select! {
        _ = first => panic!("the gate is closed"),
        () = entered => {}
    }
    app.state.release.notify_one();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let retry = send(&app, "/slow", Some("gone"), r#"{"name":"a"}"#).await;
        if retry.status == StatusCode::CREATED {
            assert!(!retry.replayed());
            break;
        }
        assert_eq!(retry.status, StatusCode::CONFLICT, "{}", retry.text());
        assert!(
            Instant::now() < deadline,
            "the key stayed held for its 60 s lease"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
