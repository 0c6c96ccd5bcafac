//! The service harness reaches the real PostgreSQL and Redis the SQL and Redis backends will
//! be tested against (started by `scripts/test.sh`, or by testcontainers with Docker).

use sea_orm::{ConnectionTrait, Database};

#[tokio::test]
async fn postgres_answers_a_query() {
    let service = stack_tests::services::postgres().await;
    let db = Database::connect(&service.url)
        .await
        .unwrap_or_else(|e| panic!("connect {}: {e}", service.url));
    db.ping().await.unwrap();
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT 1 AS one",
        ))
        .await
        .unwrap()
        .expect("a row");
    assert_eq!(row.try_get::<i32>("", "one").unwrap(), 1);
}

#[tokio::test]
async fn redis_answers_ping() {
    let service = stack_tests::services::redis().await;
    let client = redis::Client::open(service.url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let pong: String = redis::cmd("PING").query_async(&mut conn).await.unwrap();
    assert_eq!(pong, "PONG");
}
