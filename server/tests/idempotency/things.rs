//! `Idempotency-Key` around a small poem-openapi API, over a real SQLite file and a real
//! PostgreSQL: replays, mismatches, a retry while the first runs, restarts, two instances,
//! expiry, what is not stored, key validation, takeover after the lease, the body limit.

#![allow(clippy::unwrap_used, reason = "a failed call must fail the test")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use poem::http::{HeaderMap, Method, StatusCode};
use poem::{Body, Endpoint, EndpointExt, Request, Route};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, OpenApiService};
use stack_backends::sql::{self, SqlOptions, SqlStore};
use stack_server::http::api_error::{ApiError, ApiResult};
use stack_server::http::idempotency::{Idempotency, IdempotencyOptions, REPLAYED_HEADER};
use tokio::sync::Notify;

pub(crate) const MAX_BODY: usize = 1024;

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
struct NewThing {
    #[oai(validator(max_length = 10))]
    name: String,
}

#[derive(Debug, Object)]
struct Thing {
    call: usize,
    name: String,
}

#[derive(Debug, ApiResponse)]
enum Created {
    /// Made.
    #[oai(status = 201)]
    Created(Json<Thing>),
}

/// The handlers' shared state: how often each ran, and a gate that holds `/slow`.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) calls: AtomicUsize,
    pub(crate) entered: Notify,
    pub(crate) release: Notify,
}

struct Things(Arc<State>);

#[OpenApi]
impl Things {
    /// Makes a thing.
    #[oai(path = "/things", method = "post")]
    async fn create(&self, body: Json<NewThing>) -> ApiResult<Created> {
        let call = self.0.calls.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(Created::Created(Json(Thing {
            call,
            name: body.0.name,
        })))
    }

    /// Also makes a thing (another path).
    #[oai(path = "/others", method = "post")]
    async fn other(&self, body: Json<NewThing>) -> ApiResult<Created> {
        self.create(body).await
    }

    /// Makes a thing once released.
    #[oai(path = "/slow", method = "post")]
    async fn slow(&self, body: Json<NewThing>) -> ApiResult<Created> {
        self.0.entered.notify_one();
        self.0.release.notified().await;
        self.create(body).await
    }

    /// Refuses in the domain (after the handler ran): kept.
    #[oai(path = "/refused", method = "post")]
    async fn refused(&self, _body: Json<NewThing>) -> ApiResult<Created> {
        self.0.calls.fetch_add(1, Ordering::SeqCst);
        Err(stack_core::Error::invalid("amount", "balance too small").into())
    }

    /// The database is down: not kept.
    #[oai(path = "/down", method = "post")]
    async fn down(&self, _body: Json<NewThing>) -> ApiResult<Created> {
        self.0.calls.fetch_add(1, Ordering::SeqCst);
        Err(ApiError::unavailable("down", Duration::from_secs(1)))
    }
}

pub(crate) struct App {
    pub(crate) endpoint: poem::endpoint::BoxEndpoint<'static, poem::Response>,
    pub(crate) state: Arc<State>,
    pub(crate) store: Arc<SqlStore>,
}

pub(crate) fn app(store: &SqlStore, lease: Duration, ttl: Duration) -> App {
    let state = Arc::new(State::default());
    let service = OpenApiService::new(Things(Arc::clone(&state)), "things", "1");
    let store = Arc::new(store.clone());
    let options = IdempotencyOptions {
        lease,
        ttl,
        max_body: MAX_BODY,
    };
    let endpoint = Route::new()
        .nest("/", service)
        .with(Idempotency::new(store.clone(), options))
        .map_to_response()
        .boxed();
    App {
        endpoint,
        state,
        store,
    }
}

pub(crate) fn default_app(store: &SqlStore) -> App {
    app(store, Duration::from_secs(60), Duration::from_secs(86_400))
}

pub(crate) async fn migrated(url: &str) -> SqlStore {
    let options = SqlOptions::default();
    sql::migrate_url(url, &options).await.unwrap();
    sql::open(url, &options).await.unwrap()
}

pub(crate) fn sqlite_url() -> String {
    let dir = std::env::temp_dir().join(stack_tests::unique("stack-idem-http"));
    std::fs::create_dir_all(&dir).unwrap();
    format!("sqlite://{}?mode=rwc", dir.join("idem.db").display())
}

pub(crate) async fn sqlite() -> SqlStore {
    migrated(&sqlite_url()).await
}

pub(crate) async fn postgres() -> SqlStore {
    migrated(&stack_tests::services::fresh_postgres_database().await).await
}

pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    pub(crate) fn replayed(&self) -> bool {
        self.headers.get(REPLAYED_HEADER).is_some()
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub(crate) async fn send(
    app: &App,
    path: &str,
    key: Option<&str>,
    body: impl Into<Body>,
) -> Answer {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(path.parse().unwrap())
        .content_type("application/json");
    if let Some(key) = key {
        req = req.header("idempotency-key", key);
    }
    let response = app.endpoint.call(req.body(body)).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().into_vec().await.unwrap();
    Answer {
        status,
        headers,
        body,
    }
}

pub(crate) fn calls(app: &App) -> usize {
    app.state.calls.load(Ordering::SeqCst)
}
