//! `Idempotency-Key` and the body limit on the rail itself (the middleware alone is tried in
//! idempotency.rs): what a client retrying a money-moving POST sees.

mod rail_support;

use poem::Body;
use serde_json::{Value, json};

use rail_support::{answer, backends, client, get, user};

async fn post_keyed(
    client: &poem::test::TestClient<impl poem::Endpoint>,
    path: &str,
    key: &str,
    body: &Value,
) -> (u16, Value, Option<String>) {
    let response = client
        .post(path)
        .header("Idempotency-Key", key)
        .body_json(body)
        .send()
        .await;
    let replayed = response
        .0
        .headers()
        .get("idempotent-replayed")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (status, body) = answer(response).await;
    (status, body, replayed)
}

#[tokio::test]
async fn a_retried_debit_is_replayed_and_a_refused_body_frees_its_key() {
    let client = client(backends().await);
    let ana = user(&client, "/api/v1", "ana@example.com").await;
    let deposit = json!({
        "user_id": ana, "chain": "ethereum", "tx_hash": format!("0x{}", "ab".repeat(32)),
        "output_index": 0, "asset": "USDC", "amount": "10"
    });
    let (status, recorded, _) = post_keyed(&client, "/api/v1/deposits", "dep-1", &deposit).await;
    assert_eq!(status, 201, "{recorded}");
    let id = recorded["id"].as_str().unwrap().to_owned();
    let confirm = format!("/api/v1/deposits/{id}/confirm");
    let (status, _, _) = post_keyed(&client, &confirm, "confirm-1", &json!(null)).await;
    assert!(status < 300, "{status}");

    // A debit whose body fails the input checks stores nothing: the same key with a fixed
    // body runs.
    let debits = format!("/api/v1/users/{ana}/debits");
    let bad = json!({ "asset": "USDC", "amount": "-1", "reference": "order-1" });
    let (status, problem, _) = post_keyed(&client, &debits, "debit-1", &bad).await;
    assert_eq!(status, 422, "{problem}");
    let good = json!({ "asset": "USDC", "amount": "4", "reference": "order-1" });
    let (status, first, replayed) = post_keyed(&client, &debits, "debit-1", &good).await;
    assert_eq!((status, replayed), (201, None), "{first}");

    // The retry replays the first answer byte for byte and takes nothing more.
    let (status, again, replayed) = post_keyed(&client, &debits, "debit-1", &good).await;
    assert_eq!((status, replayed.as_deref()), (201, Some("true")));
    assert_eq!(again, first);
    // The same key for another body is refused.
    let other = json!({ "asset": "USDC", "amount": "5", "reference": "order-2" });
    let (status, problem, _) = post_keyed(&client, &debits, "debit-1", &other).await;
    assert_eq!(status, 422, "{problem}");

    // A debit the Store refuses (too little money) ran: its 422 is stored and replayed.
    let greedy = json!({ "asset": "USDC", "amount": "100", "reference": "order-3" });
    let (status, _, _) = post_keyed(&client, &debits, "debit-3", &greedy).await;
    assert_eq!(status, 422);
    let (status, _, replayed) = post_keyed(&client, &debits, "debit-3", &greedy).await;
    assert_eq!((status, replayed.as_deref()), (422, Some("true")));

    let (_, balances) = get(&client, &format!("/api/v1/users/{ana}/balances")).await;
    assert_eq!(balances[0]["available"], "6", "{balances}");
}

#[tokio::test]
async fn a_body_past_the_limit_is_413_whatever_its_framing() {
    let client = client(backends().await);
    let big = vec![b' '; stack_server::http::body_limit::MAX_BODY + 1];
    let (tx, rx) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let mut tx = tx;
        let _ = tx.write_all(&big).await;
    });
    let response = client
        .post("/api/v1/users")
        .content_type("application/json")
        .body(Body::from_async_read(rx))
        .send()
        .await;
    let (status, problem) = answer(response).await;
    assert_eq!(status, 413, "{problem}");
}
