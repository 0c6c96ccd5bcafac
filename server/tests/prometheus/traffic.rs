//! The traffic the test drives through the API while Prometheus scrapes.

use serde_json::{Value, json};

use crate::client::http;

/// Requests of both versions and their outcomes: users created and read twice (a cache miss,
/// then hits), a deposit confirmed (its notification job enqueued), an unknown user (404), a
/// body the API refuses (422).
pub(crate) fn drive_api(port: u16, round: usize) {
    let body = json!({
        "email": format!("u{round}-{}@example.com", uuid::Uuid::new_v4().simple()),
        "phone": "+14155550100", "full_name": "Metrics",
    });
    let (status, user) = http(port, "POST", "/api/v1/users", Some(&body));
    assert_eq!(status, 201, "{user}");
    let id = serde_json::from_str::<Value>(&user).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for version in ["v1", "v2", "v2"] {
        let (status, body) = http(port, "GET", &format!("/api/{version}/users/{id}"), None);
        assert_eq!(status, 200, "{body}");
    }
    // A confirmed deposit enqueues its notification, which the worker runs.
    let deposit = json!({
        "user_id": id, "chain": "ethereum", "tx_hash": format!("0x{}", uuid::Uuid::new_v4().simple()),
        "output_index": 0, "asset": "USDC", "amount": "12.50",
    });
    let (status, deposit) = http(port, "POST", "/api/v1/deposits", Some(&deposit));
    assert_eq!(status, 201, "{deposit}");
    let deposit = serde_json::from_str::<Value>(&deposit).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = http(
        port,
        "POST",
        &format!("/api/v1/deposits/{deposit}/confirm"),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let unknown = uuid::Uuid::new_v4();
    assert_eq!(
        http(port, "GET", &format!("/api/v2/users/{unknown}"), None).0,
        404
    );
    assert_eq!(
        http(port, "POST", "/api/v1/users", Some(&json!({ "email": 7 }))).0,
        422
    );
}
