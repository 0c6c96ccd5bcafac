//! A keyed request runs in a unit of work: what its handler wrote commits with its stored
//! answer, and is undone with an answer that is not stored.

#![allow(clippy::unwrap_used, reason = "a failed call must fail the test")]

use std::sync::Arc;
use std::time::Duration;

use poem::http::StatusCode;
use poem::{EndpointExt, Route};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, OpenApiService};
use stack_backends::sql::SqlStore;
use stack_core::store::{NewUser, UserStore};
use stack_server::http::api_error::{ApiError, ApiResult};
use stack_server::http::idempotency::{Idempotency, IdempotencyOptions};

use super::things::{App, MAX_BODY, State, postgres, send, sqlite};

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
struct NewAccount {
    email: String,
}

#[derive(Debug, ApiResponse)]
enum Created {
    #[oai(status = 201)]
    Created(Json<String>),
}

struct Accounts(Arc<SqlStore>);

impl Accounts {
    async fn create_user(&self, email: String) -> ApiResult<String> {
        let user = NewUser {
            email,
            phone: None,
            full_name: "Unit".into(),
        };
        Ok(self.0.create_user(user).await?.id.to_string())
    }
}

#[OpenApi]
impl Accounts {
    /// Creates a user.
    #[oai(path = "/accounts", method = "post")]
    async fn create(&self, body: Json<NewAccount>) -> ApiResult<Created> {
        Ok(Created::Created(Json(
            self.create_user(body.0.email).await?,
        )))
    }

    /// Creates a user, then fails as a dependency that is down would.
    #[oai(path = "/failing", method = "post")]
    async fn then_down(&self, body: Json<NewAccount>) -> ApiResult<Created> {
        self.create_user(body.0.email).await?;
        Err(ApiError::unavailable("down", Duration::from_secs(1)))
    }
}

fn app(store: &SqlStore, units: bool) -> App {
    let store = Arc::new(store.clone());
    let service = OpenApiService::new(Accounts(Arc::clone(&store)), "accounts", "1");
    let options = IdempotencyOptions {
        lease: Duration::from_secs(60),
        ttl: Duration::from_secs(86_400),
        max_body: MAX_BODY,
    };
    let mut idempotency = Idempotency::new(store.clone(), options);
    if units {
        idempotency = idempotency.with_units(store.clone());
    }
    App {
        endpoint: Route::new()
            .nest("/", service)
            .with(idempotency)
            .map_to_response()
            .boxed(),
        state: Arc::new(State::default()),
        store,
    }
}

fn body(email: &str) -> String {
    format!(r#"{{"email":"{email}"}}"#)
}

/// Creates the user again (under a key of its own, so the wrapper renders its errors).
async fn created_again(app: &App, email: &str) -> StatusCode {
    let key = stack_tests::unique("again");
    send(app, "/accounts", Some(&key), body(email)).await.status
}

async fn writes_follow_the_stored_answer(store: SqlStore) {
    let app = app(&store, true);
    let email = format!("{}@example.com", stack_tests::unique("down"));
    let down = send(&app, "/failing", Some("d1"), body(&email)).await;
    assert_eq!(
        down.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        down.text()
    );
    assert_eq!(
        created_again(&app, &email).await,
        StatusCode::CREATED,
        "an answer not stored undid its handler's write"
    );

    let email = format!("{}@example.com", stack_tests::unique("ok"));
    let first = send(&app, "/accounts", Some("c1"), body(&email)).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    let replay = send(&app, "/accounts", Some("c1"), body(&email)).await;
    assert!(replay.replayed());
    assert_eq!(replay.body, first.body);
    assert_eq!(
        created_again(&app, &email).await,
        StatusCode::CONFLICT,
        "a stored answer's write committed with it"
    );
}

#[tokio::test]
async fn writes_follow_the_stored_answer_on_sqlite() {
    writes_follow_the_stored_answer(sqlite().await).await;
}

#[tokio::test]
async fn writes_follow_the_stored_answer_on_postgres() {
    writes_follow_the_stored_answer(postgres().await).await;
}

/// Without units (a host that did not give the wrapper a transaction source) a 5xx after a
/// write leaves the write: the reason the rail runs with them.
#[tokio::test]
async fn without_units_a_write_before_a_5xx_stays() {
    let store = sqlite().await;
    let app = app(&store, false);
    let email = format!("{}@example.com", stack_tests::unique("stay"));
    let down = send(&app, "/failing", Some("d1"), body(&email)).await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(created_again(&app, &email).await, StatusCode::CONFLICT);
}
