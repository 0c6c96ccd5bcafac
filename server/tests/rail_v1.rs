//! The rail API, version 1, through the whole app over real SQLite backends.

mod rail_support;

use serde_json::json;

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
