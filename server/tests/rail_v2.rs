//! The rail API, version 2, through the whole app over real SQLite backends.

mod rail_support;

use serde_json::json;

use rail_support::{backends, client, get, pointers, post, user};

#[tokio::test]
async fn users_are_listed_by_keyset_cursor_with_rfc3339_times() {
    let client = client(backends().await);
    let mut made = Vec::new();
    for n in 0..5 {
        made.push(user(&client, "/api/v2", &format!("u{n}@example.com")).await);
    }
    let (status, body) = get(&client, &format!("/api/v2/users/{}", made[0])).await;
    assert_eq!(status, 200, "{body}");
    let created = body["created_at"]
        .as_str()
        .expect("v2 times are RFC 3339 text");
    chrono::DateTime::parse_from_rfc3339(created).unwrap();

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v2/users?limit=2&cursor={c}"),
            None => "/api/v2/users?limit=2".to_owned(),
        };
        let (status, slice) = get(&client, &path).await;
        assert_eq!(status, 200, "{slice}");
        for item in slice["items"].as_array().unwrap() {
            seen.push(item["id"].as_str().unwrap().to_owned());
        }
        // A user created mid-listing does not shift the slices (keyset, not offset).
        if cursor.is_none() {
            user(&client, "/api/v2", "late@example.com").await;
        }
        match slice["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => {
                assert_eq!(slice["has_next"], json!(false));
                break;
            }
        }
    }
    made.reverse();
    assert_eq!(seen, made, "newest first, each once");

    // Not of the documented cursor form: refused like any out-of-bounds query value.
    let (status, problem) = get(&client, "/api/v2/users?cursor=garbage").await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(pointers(&problem), ["#/query/cursor"]);
    let (status, problem) = post(&client, "/api/v2/users", json!({ "email": 5 })).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(pointers(&problem), ["/email", "/full_name"]);
}

/// Records a v2 deposit of `amount` (the `{amount, asset}` object) for `user`.
async fn deposit(
    client: &poem::test::TestClient<impl poem::Endpoint>,
    user: &str,
    tx: &str,
    amount: serde_json::Value,
) -> (u16, serde_json::Value) {
    post(
        client,
        "/api/v2/deposits",
        json!({
            "user_id": user, "chain": "ethereum", "tx_hash": tx,
            "output_index": 0, "amount": amount,
        }),
    )
    .await
}

#[tokio::test]
async fn money_is_an_amount_with_its_asset_and_lists_slice_by_cursor() {
    let client = client(backends().await);
    let ana = user(&client, "/api/v2", "ana@example.com").await;
    let mut ids = Vec::new();
    for n in 1..6 {
        let money = json!({ "amount": format!("1.{n}"), "asset": "usdc" });
        let (status, body) = deposit(&client, &ana, &format!("0x0{n}"), money).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(
            body["amount"],
            json!({ "amount": format!("1.{n}"), "asset": "USDC" })
        );
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    let (status, same) = deposit(
        &client,
        &ana,
        "0x01",
        json!({ "amount": "1.10", "asset": "USDC" }),
    )
    .await;
    assert_eq!((status, &same["id"]), (200, &json!(ids[0])), "{same}");

    let mut seen = Vec::new();
    let mut path = format!("/api/v2/deposits?user_id={ana}&status=pending&limit=2");
    loop {
        let (status, slice) = get(&client, &path).await;
        assert_eq!(status, 200, "{slice}");
        assert!(
            slice.get("total_items").is_none(),
            "v2 slices, it does not count"
        );
        for item in slice["items"].as_array().unwrap() {
            seen.push(item["id"].as_str().unwrap().to_owned());
        }
        match slice["next_cursor"].as_str() {
            Some(next) => {
                path =
                    format!("/api/v2/deposits?user_id={ana}&status=pending&limit=2&cursor={next}")
            }
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids);

    let id = &ids[0];
    let (status, confirmed) = post(
        &client,
        &format!("/api/v2/deposits/{id}/confirm"),
        json!(null),
    )
    .await;
    assert_eq!(status, 200, "{confirmed}");
    chrono::DateTime::parse_from_rfc3339(confirmed["confirmed_at"].as_str().unwrap()).unwrap();
    let (_, balances) = get(&client, &format!("/api/v2/users/{ana}/balances")).await;
    assert_eq!(
        balances[0]["available"],
        json!({ "amount": "1.5", "asset": "USDC" })
    );

    let debits = format!("/api/v2/users/{ana}/debits");
    let over = json!({ "amount": { "amount": "1.51", "asset": "USDC" }, "reference": "r" });
    let (status, problem) = post(&client, &debits, over).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(pointers(&problem), ["/amount/amount"]);
    let ok = json!({ "amount": { "amount": "0.4", "asset": "USDC" }, "reference": "r" });
    let (status, entry) = post(&client, &debits, ok).await;
    assert_eq!(status, 201, "{entry}");
    let (_, ledger) = get(
        &client,
        &format!("/api/v2/users/{ana}/transactions?limit=1"),
    )
    .await;
    assert_eq!(
        ledger["items"][0]["amount"],
        json!({ "amount": "0.4", "asset": "USDC" })
    );
    let next = ledger["next_cursor"].as_str().unwrap();
    let (_, rest) = get(
        &client,
        &format!("/api/v2/users/{ana}/transactions?limit=1&cursor={next}"),
    )
    .await;
    assert_eq!(rest["items"][0]["kind"], "credit");
    assert_eq!(rest["has_next"], json!(false));
    let (_, logs) = get(
        &client,
        &format!("/api/v2/audit-logs?user_id={ana}&action=deposit.confirmed"),
    )
    .await;
    assert_eq!(logs["items"].as_array().unwrap().len(), 1, "{logs}");
}

#[tokio::test]
async fn v2_names_every_bad_field_inside_the_amount_object() {
    let client = client(backends().await);
    let ana = user(&client, "/api/v2", "ana@example.com").await;
    let (status, problem) = deposit(
        &client,
        &ana,
        "0x01",
        json!({ "amount": 12.5, "asset": "x" }),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(pointers(&problem), ["/amount/amount", "/amount/asset"]);
    let (status, problem) = deposit(&client, &ana, "0x01", json!("12.5")).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(pointers(&problem), ["/amount"]);
    let (status, problem) = post(
        &client,
        "/api/v2/deposits",
        json!({ "user_id": ana, "chain": "", "tx_hash": "", "output_index": 0 }),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(
        pointers(&problem),
        ["/amount", "/chain", "/tx_hash"],
        "{problem}"
    );
    let nineteen = json!({ "amount": "0.0000000000000000001", "asset": "ETH" });
    let (status, problem) = deposit(&client, &ana, "0x01", nineteen).await;
    assert_eq!(
        (status, pointers(&problem)),
        (422, vec!["/amount/amount".to_owned()])
    );
    let (status, _) = get(&client, "/api/v2/deposits?created_from=yesterday").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn wallets_onboarding_and_bulk_on_v2() {
    let client = client(backends().await);
    let ana = user(&client, "/api/v2", "ana@example.com").await;
    let wallets = format!("/api/v2/users/{ana}/wallets");
    let (status, wallet) = post(
        &client,
        &wallets,
        json!({ "chain": "Ethereum", "address": format!("0x{}", "Ab".repeat(20)) }),
    )
    .await;
    assert_eq!(
        (status, &wallet["chain"]),
        (201, &json!("ethereum")),
        "{wallet}"
    );
    let (status, problem) = post(&client, &wallets, json!({ "chain": "", "address": " " })).await;
    assert_eq!(
        (status, pointers(&problem)),
        (422, vec!["/chain".to_owned(), "/address".to_owned()])
    );
    let (_, page) = get(&client, &wallets).await;
    assert_eq!(
        page["total_items"],
        json!(1),
        "a user's wallets are paged: {page}"
    );

    let (status, flow) = post(
        &client,
        &format!("/api/v2/users/{ana}/onboarding"),
        json!(null),
    )
    .await;
    assert_eq!(status, 201, "{flow}");
    let moves = format!(
        "/api/v2/onboarding/{}/transitions",
        flow["id"].as_str().unwrap()
    );
    let (status, _) = post(&client, &moves, json!({ "status": "kyc_approved" })).await;
    assert_eq!(status, 422);
    let (status, moved) = post(&client, &moves, json!({ "status": "kyc_submitted" })).await;
    assert_eq!((status, &moved["status"]), (200, &json!("kyc_submitted")));

    let item = |tx: &str, amount: serde_json::Value| json!({ "user_id": ana, "chain": "solana", "tx_hash": tx, "output_index": 1, "amount": amount });
    let body = json!([
        item("Ab1", json!({ "amount": "1", "asset": "SOL" })),
        item("Ab2", json!({ "amount": "-1", "asset": "SOL" })),
        item("Ab1", json!({ "amount": "1", "asset": "SOL" })),
    ]);
    let (status, answer) = post(&client, "/api/v2/deposits/bulk", body).await;
    assert_eq!(status, 200, "{answer}");
    let items = answer["items"].as_array().unwrap();
    assert_eq!(
        items
            .iter()
            .map(|i| i["status"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [200, 422, 200]
    );
    assert_eq!(
        items[0]["id"], items[2]["id"],
        "the same deposit twice is one deposit"
    );
    assert_eq!(pointers(&items[1]["problem"]), ["/1/amount/amount"]);
}

#[tokio::test]
async fn each_version_has_its_own_document() {
    let client = client(backends().await);
    let (status, v1) = get(&client, "/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    let (status, v2) = get(&client, "/api/v2/openapi.json").await;
    assert_eq!(status, 200);
    for doc in [&v1, &v2] {
        let paths = doc["paths"].as_object().unwrap();
        for path in [
            "/users",
            "/users/{id}",
            "/deposits/{id}/confirm",
            "/onboarding/{id}/transitions",
            "/audit-logs",
        ] {
            assert!(paths.contains_key(path), "{path} missing");
        }
    }
    assert_eq!(
        v1["components"]["schemas"]["Deposit"]["properties"]["amount"]["type"],
        "string"
    );
    let amount = v2["components"]["schemas"]["Deposit"]["properties"]["amount"].to_string();
    assert!(amount.contains("#/components/schemas/Money"), "{amount}");
    assert_eq!(v2["servers"][0]["url"], "/api/v2");
}

#[tokio::test]
async fn a_host_mounts_the_rail_beside_its_own_routes_with_the_versions_it_configures() {
    use poem::{EndpointExt, Route, handler};

    #[handler]
    fn hello() -> &'static str {
        "host"
    }

    let backends = backends().await;
    let mut config = stack_core::config::Config::default();
    config.api.supported_versions = vec![stack_core::version::ApiVersion::new(2)];
    let rail = stack_server::rail::api_at(&backends, &config, "/rail")
        .expect("the backends have a database");
    let versions: Vec<_> = rail.specs().iter().map(|s| (s.version, s.path)).collect();
    assert_eq!(versions, [("v2", "/v2/openapi.json")]);
    let spec: serde_json::Value = serde_json::from_str(&rail.specs()[0].json).unwrap();
    assert_eq!(spec["servers"][0]["url"], "/rail/v2");
    // No catch-all of the host's: the rail's own refusals are problem+json anyway.
    let host = Route::new()
        .at("/hello", poem::get(hello))
        .nest("/rail", rail)
        .boxed();
    let client = poem::test::TestClient::new(host);
    client.get("/hello").send().await.assert_text("host").await;
    let body = json!({ "email": "h@example.com", "full_name": "H" });
    let (status, _) = post(&client, "/rail/v2/users", body).await;
    assert_eq!(status, 201);
    let response = client.get("/rail/v1/users").send().await;
    assert_eq!(response.0.status().as_u16(), 404, "v1 is not configured");
    let (status, problem) = get(&client, "/rail/v2/users?limit=0").await;
    assert_eq!(
        (status, pointers(&problem)),
        (400, vec!["#/query/limit".to_owned()])
    );
    let response = client
        .post("/rail/v2/users")
        .content_type("text/plain")
        .body("hello")
        .send()
        .await;
    let (status, _) = rail_support::answer(response).await;
    assert_eq!(status, 415, "a wrong content type is a problem too");
}
