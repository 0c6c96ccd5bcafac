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

    let (status, problem) = get(&client, "/api/v2/users?cursor=garbage").await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(pointers(&problem), ["#/query/cursor"]);
    let (status, problem) = post(&client, "/api/v2/users", json!({ "email": 5 })).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(pointers(&problem), ["/email", "/full_name"]);
}
