//! What every trial opens: a one-connection store, users, claimed keys and their answer.

use std::time::Duration;

use stack_backends::sql::{self, SqlOptions, SqlStore};
use stack_core::ErrorKind;
use stack_core::idempotency::{Begun, IdempotencyKey, IdempotencyStore, RequestFingerprint};
use stack_core::idempotency::{Claim, StoredResponse};
use stack_core::store::{NewUser, UserStore};

/// A day: the lease and the expiry of keys that must not lapse during a trial.
pub(crate) const DAY: Duration = Duration::from_secs(86_400);

/// A migrated store on `kind` ("sqlite" or "postgres") whose pool holds ONE connection,
/// so that a call inside a unit that asked the pool for another would time out.
pub(crate) async fn store(kind: &str) -> SqlStore {
    let url = match kind {
        "sqlite" => {
            let dir = std::env::temp_dir().join(stack_tests::unique("stack-unit"));
            std::fs::create_dir_all(&dir).expect("temp dir");
            format!("sqlite://{}?mode=rwc", dir.join("unit.db").display())
        }
        _ => stack_tests::services::fresh_postgres_database().await,
    };
    let options = SqlOptions {
        max_open: 1,
        min_idle: 0,
        acquire_timeout: Duration::from_secs(2),
        ..SqlOptions::default()
    };
    sql::migrate_url(&url, &options).await.expect("migrate");
    sql::open(&url, &options).await.expect("open")
}

/// A user to create, with `email`.
pub(crate) fn new_user(email: &str) -> NewUser {
    NewUser {
        email: email.to_owned(),
        phone: None,
        full_name: "Unit User".into(),
    }
}

/// Claims `key` on `store` for a POST to `/users`, leased for `lease`.
pub(crate) async fn claim(store: &dyn IdempotencyStore, key: &str, lease: Duration) -> Claim {
    let request = RequestFingerprint {
        method: "POST".into(),
        target: "/users".into(),
        body_sha256: "0".repeat(64),
    };
    let key = IdempotencyKey::parse(key).expect("key");
    match store.begin(&key, &request, lease, DAY).await {
        Ok(Begun::Claimed(claim)) => claim,
        other => panic!("expected a claim, got {other:?}"),
    }
}

/// The answer the trials store for a claimed key.
pub(crate) fn answer() -> StoredResponse {
    StoredResponse {
        status: 201,
        content_type: Some("application/json".into()),
        body: b"{}".to_vec(),
    }
}

/// Whether a user with `email` exists (creating it again conflicts).
pub(crate) async fn exists(store: &SqlStore, email: &str) -> bool {
    match store.create_user(new_user(email)).await {
        Ok(_) => false,
        Err(error) => {
            assert_eq!(error.kind(), ErrorKind::Conflict, "{error}");
            true
        }
    }
}

/// The text column `value` of the one row `sql` answers on `store`.
async fn one_text(store: &SqlStore, sql: &str) -> String {
    use sea_orm::ConnectionTrait;
    let db = store.connection();
    let statement = sea_orm::Statement::from_string(db.get_database_backend(), sql);
    let row = db
        .query_one_raw(statement)
        .await
        .expect(sql)
        .expect("a row");
    row.try_get("", "value").expect("value")
}

/// The URL `store` was opened on, recovered from the database itself.
pub(crate) async fn store_url(store: &SqlStore, kind: &str) -> String {
    if kind == "sqlite" {
        let sql = "SELECT file AS value FROM pragma_database_list WHERE name = 'main'";
        return format!("sqlite://{}", one_text(store, sql).await);
    }
    let db = one_text(store, "SELECT current_database() AS value").await;
    let base = stack_tests::services::postgres().await.url;
    let (server, _) = base.rsplit_once('/').expect("a database in the URL");
    format!("{server}/{db}")
}
