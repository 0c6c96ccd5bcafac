//! The rail API, version 1, through the whole app over real SQLite backends.

mod rail_support;

use serde_json::json;
use stack_core::queue::TypedJob;
use stack_server::jobs::DepositConfirmed;

use rail_support::{backends, client, get, pointers, post, user};

#[tokio::test]
async fn users_are_created_read_and_listed_by_page() {
    let client = client(backends().await);
    let (status, body) = post(
        &client,
        "/api/v1/users",
        json!({ "email": " Ana@Example.COM ", "phone": null, "full_name": "Ana" }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["email"], "ana@example.com");
    assert!(
        body["created_at"].is_i64(),
        "v1 times are Unix seconds: {body}"
    );
    let id = body["id"].as_str().unwrap().to_owned();

    let (status, got) = get(&client, &format!("/api/v1/users/{id}")).await;
    assert_eq!((status, &got["id"]), (200, &json!(id)));

    for n in 0..4 {
        user(&client, "/api/v1", &format!("u{n}@example.com")).await;
    }
    let (status, page) = get(&client, "/api/v1/users?page=2&limit=2").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        (
            &page["total_items"],
            &page["total_pages"],
            &page["has_next"],
            &page["has_prev"]
        ),
        (&json!(5), &json!(3), &json!(true), &json!(true))
    );
    let (status, _) = get(&client, &format!("/api/v1/users/{}", uuid::Uuid::now_v7())).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn every_bad_field_of_a_user_is_listed_with_its_pointer() {
    let client = client(backends().await);
    let (status, problem) = post(
        &client,
        "/api/v1/users",
        json!({ "email": "nope", "phone": "555", "full_name": 7 }),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(
        pointers(&problem),
        ["/full_name", "/email", "/phone"],
        "{problem}"
    );
    let (status, problem) = post(&client, "/api/v1/users", json!({})).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(pointers(&problem), ["/email", "/full_name"], "{problem}");
}

#[tokio::test]
async fn unknown_fields_and_malformed_bodies_are_400_problems() {
    let client = client(backends().await);
    let (status, problem) = post(
        &client,
        "/api/v1/users",
        json!({ "email": "a@example.com", "full_name": "A", "nick": "x" }),
    )
    .await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(pointers(&problem), ["/nick"]);
    let response = client
        .post("/api/v1/users")
        .content_type("application/json")
        .body("{not json")
        .send()
        .await;
    let (status, _) = rail_support::answer(response).await;
    assert_eq!(status, 400);
    for bad in ["limit=0", "limit=101", "page=0", "limit=x"] {
        let (status, problem) = get(&client, &format!("/api/v1/users?{bad}")).await;
        assert_eq!(status, 400, "{bad}: {problem}");
        let name = bad.split('=').next().unwrap();
        assert_eq!(pointers(&problem), [format!("#/query/{name}")], "{bad}");
    }
    let (status, problem) = get(&client, "/api/v1/users/not-a-uuid").await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(pointers(&problem), ["#/path/id"]);
}

/// Records a deposit of `amount` (a JSON value: v1 wants a string) for `user`.
async fn deposit(
    client: &poem::test::TestClient<impl poem::Endpoint>,
    user: &str,
    tx: &str,
    amount: serde_json::Value,
) -> (u16, serde_json::Value) {
    post(
        client,
        "/api/v1/deposits",
        json!({
            "user_id": user, "chain": "ethereum", "tx_hash": tx,
            "output_index": 0, "asset": "USDC", "amount": amount,
        }),
    )
    .await
}

/// The money path: record (idempotent), confirm five times at once (one credit, one
/// notification job), overdraw (422, nothing changes), debit, and read the ledger.
async fn money_path(backends: stack_server::backends::Backends) {
    let queue = std::sync::Arc::clone(&backends.queue);
    let client = client(backends);
    let ana = user(&client, "/api/v1", "ana@example.com").await;
    let (status, first) = deposit(&client, &ana, "0xAB01", json!("12.50")).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["amount"], "12.5");
    assert_eq!(first["asset"], "USDC");
    assert_eq!(first["tx_hash"], "0xab01", "one spelling per transaction");
    let (status, again) = deposit(&client, &ana, "0xab01", json!("12.5")).await;
    assert_eq!((status, &again["id"]), (200, &first["id"]), "{again}");

    let id = first["id"].as_str().expect("a deposit has an id");
    let confirm = format!("/api/v1/deposits/{id}/confirm");
    let send = || async { rail_support::answer(client.post(&confirm).send().await).await };
    let answers = tokio::join!(send(), send(), send(), send(), send());
    for (status, body) in [answers.0, answers.1, answers.2, answers.3, answers.4] {
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "confirmed");
    }
    let (_, balances) = get(&client, &format!("/api/v1/users/{ana}/balances")).await;
    assert_eq!(
        balances,
        json!([{
            "asset": "USDC", "available": "12.5", "updated_at": balances[0]["updated_at"],
        }]),
        "credited once"
    );
    let leases = queue
        .reserve(10, std::time::Duration::from_secs(30))
        .await
        .expect("the queue answers");
    let notices: Vec<_> = leases
        .iter()
        .filter(|l| l.job.job_type == <DepositConfirmed as TypedJob>::TYPE)
        .collect();
    assert_eq!(notices.len(), 1, "one notification however many confirms");
    assert_eq!(notices[0].job.payload["deposit_id"], json!(id));

    let debits = format!("/api/v1/users/{ana}/debits");
    let (status, problem) = post(
        &client,
        &debits,
        json!({ "asset": "USDC", "amount": "12.51", "reference": "r-1" }),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(pointers(&problem), ["/amount"]);
    let (_, after) = get(&client, &format!("/api/v1/users/{ana}/balances")).await;
    assert_eq!(after[0]["available"], "12.5", "an overdraw changes nothing");
    let (status, entry) = post(
        &client,
        &debits,
        json!({ "asset": "USDC", "amount": "2.5", "reference": "r-1" }),
    )
    .await;
    assert_eq!(status, 201, "{entry}");
    assert_eq!(
        (&entry["kind"], &entry["amount"]),
        (&json!("debit"), &json!("2.5"))
    );

    let (status, ledger) = get(
        &client,
        &format!("/api/v1/users/{ana}/transactions?limit=1"),
    )
    .await;
    assert_eq!(status, 200, "{ledger}");
    assert_eq!(
        (&ledger["total_items"], &ledger["has_next"]),
        (&json!(2), &json!(true))
    );
    assert_eq!(ledger["items"][0]["kind"], "debit", "newest first");
    let (_, credits) = get(
        &client,
        &format!("/api/v1/users/{ana}/transactions?kind=credit"),
    )
    .await;
    assert_eq!(credits["items"][0]["amount"], "12.5");
    let (_, confirmed) = get(
        &client,
        &format!("/api/v1/audit-logs?user_id={ana}&action=deposit.confirmed"),
    )
    .await;
    assert_eq!(confirmed["total_items"], json!(1), "{confirmed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_money_path_on_sqlite() {
    money_path(backends().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_money_path_on_postgres() {
    let url = stack_tests::services::fresh_postgres_database().await;
    let mut config = stack_core::config::Config::default();
    config.database.url = url.clone();
    let options = stack_backends::registry::sql_options(&config.database);
    stack_backends::sql::migrate_url(&url, &options)
        .await
        .unwrap();
    money_path(
        stack_server::backends::Backends::open(&config)
            .await
            .unwrap(),
    )
    .await;
}

#[tokio::test]
async fn amounts_are_exact_strings_and_every_bad_field_is_named() {
    let client = client(backends().await);
    let ana = user(&client, "/api/v1", "ana@example.com").await;
    let (status, problem) = deposit(&client, &ana, "0x01", json!(12.5)).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(pointers(&problem), ["/amount"]);
    assert!(
        problem["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("string"),
        "{problem}"
    );
    for amount in [
        "12345678901234567890123456789012345678",
        "0.0000000000000000001",
        "100000000000000000000",
        "0",
        "-1",
        "1e3",
        "1.0000001",
    ] {
        let (status, problem) = deposit(&client, &ana, "0x02", json!(amount)).await;
        assert_eq!(status, 422, "{amount}: {problem}");
        assert_eq!(pointers(&problem), ["/amount"], "{amount}");
    }
    // USDC has 6 decimal places: a seventh is refused on `amount`, saying so.
    let (_, problem) = deposit(&client, &ana, "0x02", json!("1.0000001")).await;
    assert!(
        problem.to_string().contains("USDC has 6 decimal places"),
        "{problem}"
    );
    let (status, problem) = post(
        &client,
        "/api/v1/deposits",
        json!({
            "user_id": "nope", "chain": "Eth Mainnet", "tx_hash": "0xzz",
            "output_index": -1, "asset": "x", "amount": 5,
        }),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    let mut found = pointers(&problem);
    found.sort();
    assert_eq!(
        found,
        ["/amount", "/asset", "/chain", "/output_index", "/user_id"],
        "{problem}"
    );
    let (status, _) = get(&client, "/api/v1/deposits?status=lost").await;
    assert_eq!(status, 400);
    let (status, none) = deposit(
        &client,
        &uuid::Uuid::now_v7().to_string(),
        "0x03",
        json!("1"),
    )
    .await;
    assert_eq!(status, 404, "{none}");
}

#[tokio::test]
async fn bulk_answers_each_item_in_input_order() {
    let client = client(backends().await);
    let ana = user(&client, "/api/v1", "ana@example.com").await;
    let item = |tx: &str, amount: serde_json::Value| {
        json!({
            "user_id": ana, "chain": "bitcoin", "tx_hash": tx,
            "output_index": 0, "asset": "BTC", "amount": amount,
        })
    };
    let body = json!([
        item("aa", json!("1")),
        item("bb", json!("0")),
        item("cc", json!("0.5"))
    ]);
    let (status, answer) = post(&client, "/api/v1/deposits/bulk", body).await;
    assert_eq!(status, 200, "{answer}");
    let items = answer["items"].as_array().unwrap();
    let statuses: Vec<_> = items
        .iter()
        .map(|i| i["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [200, 422, 200]);
    let indexes: Vec<_> = items.iter().map(|i| i["index"].as_u64().unwrap()).collect();
    assert_eq!(indexes, [0, 1, 2]);
    assert_eq!(pointers(&items[1]["problem"]), ["/1/amount"]);
    let (_, page) = get(
        &client,
        &format!("/api/v1/deposits?user_id={ana}&chain=bitcoin"),
    )
    .await;
    assert_eq!(page["total_items"], json!(2));
    let third = items[2]["id"].as_str().unwrap();
    let (_, one) = get(&client, &format!("/api/v1/deposits/{third}")).await;
    assert_eq!(one["amount"], "0.5");

    let users = json!([
        { "email": "b@example.com", "full_name": "B" },
        { "email": "ana@example.com", "full_name": "Dup" },
        { "email": "bad", "full_name": "" },
    ]);
    let (status, answer) = post(&client, "/api/v1/users/bulk", users).await;
    assert_eq!(status, 200, "{answer}");
    let statuses: Vec<_> = answer["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [201, 409, 422]);
    assert_eq!(
        pointers(&answer["items"][2]["problem"]),
        ["/2/email", "/2/full_name"]
    );

    let many: Vec<_> = (0..501)
        .map(|n| json!({ "email": format!("m{n}@example.com"), "full_name": "M" }))
        .collect();
    let (status, _) = post(&client, "/api/v1/users/bulk", json!(many)).await;
    assert_eq!(status, 413);
}

#[tokio::test]
async fn onboarding_moves_only_through_valid_transitions() {
    let client = client(backends().await);
    let ana = user(&client, "/api/v1", "ana@example.com").await;
    let (status, flow) = post(
        &client,
        &format!("/api/v1/users/{ana}/onboarding"),
        json!(null),
    )
    .await;
    assert_eq!(status, 201, "{flow}");
    assert_eq!(flow["status"], "started");
    let (status, _) = post(
        &client,
        &format!("/api/v1/users/{ana}/onboarding"),
        json!(null),
    )
    .await;
    assert_eq!(status, 409);
    let moves = format!(
        "/api/v1/onboarding/{}/transitions",
        flow["id"].as_str().unwrap()
    );
    let (status, problem) = post(&client, &moves, json!({ "status": "completed" })).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(pointers(&problem), ["/status"]);
    for to in [
        "kyc_submitted",
        "kyc_rejected",
        "kyc_submitted",
        "kyc_approved",
        "completed",
    ] {
        let (status, moved) = post(&client, &moves, json!({ "status": to })).await;
        assert_eq!((status, &moved["status"]), (200, &json!(to)), "{moved}");
    }
    let (status, _) = post(
        &client,
        &format!("/api/v1/onboarding/{}/transitions", uuid::Uuid::now_v7()),
        json!({ "status": "kyc_submitted" }),
    )
    .await;
    assert_eq!(status, 404);
    let (_, logs) = get(
        &client,
        &format!("/api/v1/audit-logs?user_id={ana}&action=onboarding.moved"),
    )
    .await;
    assert_eq!(logs["total_items"], json!(5), "{logs}");
}
