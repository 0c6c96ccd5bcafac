//! The rail's documents say what its checks accept: closed input objects, the bounds and
//! patterns of values, bulk items loosened to their types; and a bulk item of the wrong
//! type refuses the whole request.

mod rail_support;

use regex::Regex;
use serde_json::{Value, json};

use rail_support::{backends, client, get, pointers, post, user};

fn pattern(doc: &Value, schema: &str, property: &str) -> Regex {
    let text = doc["components"]["schemas"][schema]["properties"][property]["pattern"]
        .as_str()
        .unwrap_or_else(|| panic!("{schema}.{property} has no pattern"));
    Regex::new(text).expect("a documented pattern compiles")
}

#[tokio::test]
async fn documents_close_inputs_bound_values_and_loosen_bulk_items() {
    let client = client(backends().await);
    let (_, v1) = get(&client, "/api/v1/openapi.json").await;
    let (_, v2) = get(&client, "/api/v2/openapi.json").await;
    let schemas = &v1["components"]["schemas"];
    for input in [
        "CreateUser",
        "CreateWallet",
        "CreateDeposit",
        "CreateDebit",
        "Transition",
    ] {
        assert_eq!(
            schemas[input]["additionalProperties"],
            json!(false),
            "{input}"
        );
    }
    assert_eq!(
        v2["components"]["schemas"]["MoneyIn"]["additionalProperties"],
        json!(false)
    );
    assert_eq!(
        schemas["User"].get("additionalProperties"),
        None,
        "answers stay open"
    );
    assert_eq!(
        schemas["User"]["properties"]["phone"]["nullable"],
        json!(true)
    );
    assert_eq!(
        schemas["CreateUser"]["properties"]["email"]["maxLength"],
        json!(254)
    );

    let bulk = &v1["paths"]["/users/bulk"]["post"]["requestBody"]["content"]["application/json; charset=utf-8"]
        ["schema"];
    assert_eq!(bulk["maxItems"], json!(500), "{bulk}");
    assert_eq!(
        bulk["items"]["$ref"],
        json!("#/components/schemas/CreateUserItem")
    );
    let item = &schemas["CreateUserItem"];
    assert_eq!(item["additionalProperties"], json!(false));
    assert_eq!(item["properties"]["email"].get("pattern"), None, "{item}");

    let page = v1["paths"]["/users"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "page")
        .unwrap();
    assert_eq!(
        page["schema"]["maximum"].as_f64(),
        Some(f64::from(u32::MAX)),
        "{page}"
    );
    let cursor = v2["paths"]["/users"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "cursor")
        .unwrap();
    let cursor = Regex::new(cursor["schema"]["pattern"].as_str().unwrap()).unwrap();
    let (_, slice) = get(&client, "/api/v2/users?limit=1").await;
    let (_, slice) = match slice["next_cursor"].as_str() {
        Some(_) => (0, slice),
        None => {
            user(&client, "/api/v2", "cursor-a@example.com").await;
            user(&client, "/api/v2", "cursor-b@example.com").await;
            get(&client, "/api/v2/users?limit=1").await
        }
    };
    let given = slice["next_cursor"].as_str().unwrap();
    assert!(cursor.is_match(given), "the server's own cursor {given}");
}

#[tokio::test]
async fn a_documented_amount_is_an_accepted_amount() {
    let client = client(backends().await);
    let (_, v1) = get(&client, "/api/v1/openapi.json").await;
    let documented = pattern(&v1, "CreateDeposit", "amount");
    let ana = user(&client, "/api/v1", "amounts@example.com").await;
    let samples = [
        ("1", true),
        ("12.5", true),
        ("0.000000000000000001", true),
        ("99999999999999999999.12345678", true),
        ("1234567890.123456789012345678", true),
        ("0", false),
        ("0.0", false),
        ("-1", false),
        ("1e5", false),
        ("100000000000000000000", false),
        ("1.0000000000000000001", false),
    ];
    for (n, (amount, valid)) in samples.into_iter().enumerate() {
        assert_eq!(
            documented.is_match(amount),
            valid,
            "the pattern on {amount}"
        );
        let body = json!({
            "user_id": ana, "chain": "bitcoin", "tx_hash": format!("{n:02x}"),
            "output_index": 0, "asset": "DAI", "amount": amount,
        });
        let (status, answer) = post(&client, "/api/v1/deposits", body).await;
        let expected = if valid { 201 } else { 422 };
        assert_eq!(status, expected, "{amount}: {answer}");
    }
}

#[tokio::test]
async fn a_bulk_item_of_the_wrong_type_refuses_the_whole_request() {
    let client = client(backends().await);
    let ana = user(&client, "/api/v1", "bulk@example.com").await;
    let item = |tx: &str, amount: Value| {
        json!({
            "user_id": ana, "chain": "bitcoin", "tx_hash": tx,
            "output_index": 0, "asset": "BTC", "amount": amount,
        })
    };
    let mut typeless = item("bb", json!(1));
    typeless["user_id"] = json!("nope");
    let body = json!([item("aa", json!("1")), item("cc", json!("0")), typeless]);
    let (status, problem) = post(&client, "/api/v1/deposits/bulk", body).await;
    assert_eq!(status, 422, "{problem}");
    let mut found = pointers(&problem);
    found.sort();
    assert_eq!(
        found,
        ["/2/amount", "/2/user_id"],
        "only the type flaws: {problem}"
    );
    let (_, page) = get(&client, &format!("/api/v1/deposits?user_id={ana}")).await;
    assert_eq!(page["total_items"], json!(0), "nothing recorded: {page}");

    let body = json!([{ "amount": { "amount": "1", "asset": 5 }, "user_id": ana,
        "chain": "bitcoin", "tx_hash": "dd", "output_index": 0 }]);
    let (status, problem) = post(&client, "/api/v2/deposits/bulk", body).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(pointers(&problem), ["/0/amount/asset"], "{problem}");
}
