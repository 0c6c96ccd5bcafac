//! The rail API: users, wallets, deposits, balances, the ledger, onboarding and audit logs,
//! as two documented versions a host mounts with [`api`].
//!
//! Both versions call one [`service::Rail`]; they differ only on the wire: v1 pages by number
//! and writes amounts as decimal strings beside an `asset` and times as Unix seconds; v2
//! pages the growing listings by keyset cursor and writes amounts as `{amount, asset}`
//! objects and times in RFC 3339. Every body field is checked at once ([`field::Checks`]), so
//! a 422 lists every bad field with its JSON Pointer.

pub mod bulk;
pub mod document;
pub mod errors;
pub mod field;
pub mod input;
pub mod pages;
pub mod rules;
pub mod service;
pub mod states;
pub mod unknown_fields;
pub mod v1;
pub mod v2;

use std::sync::Arc;

use poem::endpoint::BoxEndpoint;
use poem::{EndpointExt, IntoEndpoint, Route, get};
use poem_openapi::{OpenApiService, Tags};
use stack_core::config::Config;
use stack_core::version::ApiVersion;

use crate::backends::Backends;
use crate::http::body_limit::{BodyLimit, MAX_BODY};
use crate::http::idempotency::{Idempotency, IdempotencyOptions};
use service::Rail;
use unknown_fields::UnknownFields;

/// The groups of operations in the documents.
#[derive(Debug, Tags)]
pub enum Tag {
    /// Customers of the rail.
    Users,
    /// Users' deposit addresses.
    Wallets,
    /// Money arriving on chains.
    Deposits,
    /// Balances, debits and the ledger.
    Money,
    /// Onboarding (KYC) flows.
    Onboarding,
    /// The audit trail.
    Audit,
}

/// One version's OpenAPI document.
#[derive(Debug, Clone)]
pub struct VersionSpec {
    /// The version (`v1`).
    pub version: &'static str,
    /// Where the document is served, relative to where the API is nested
    /// (`/v1/openapi.json`).
    pub path: &'static str,
    /// The document (JSON).
    pub json: String,
}

/// The rail API as a value a host nests (`Route::new().nest("/api", rail::api(..))`): each
/// supported version under `/v1` and `/v2` with its document at `/v1/openapi.json` and
/// `/v2/openapi.json`. It holds no global state, handles no signals and sets up no logger.
pub struct RailApi {
    route: Route,
    specs: Vec<VersionSpec>,
    idempotency: Idempotency,
}

impl std::fmt::Debug for RailApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RailApi")
            .field(
                "versions",
                &self.specs.iter().map(|s| s.version).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl RailApi {
    /// The documents of the versions served, for a docs UI that lists them.
    pub fn specs(&self) -> &[VersionSpec] {
        &self.specs
    }
}

impl IntoEndpoint for RailApi {
    type Endpoint = BoxEndpoint<'static>;

    fn into_endpoint(self) -> Self::Endpoint {
        // Outermost first: bodies are held to their limit, then `Idempotency-Key` replays or
        // claims, then poem-openapi's own refusals become problem+json (inside the claim, so
        // that they free the key: see `http::idempotency`).
        self.route
            .around(|next, req| async move { errors::render_refusals(next.as_ref(), req).await })
            .with(self.idempotency)
            .with(BodyLimit::new(MAX_BODY))
            .boxed()
    }
}

/// Serves the document `json`.
fn document_endpoint(json: String) -> impl poem::Endpoint {
    poem::endpoint::make_sync(move |_| {
        poem::Response::builder()
            .content_type("application/json; charset=utf-8")
            .body(json.clone())
    })
}

/// The rail API over `backends`, nested by its host at `/api` (the documents' server URLs
/// say so); the versions served are `config.api.supported_versions` among v1 and v2.
///
/// # Errors
/// `Unsupported` when `backends` have no SQL database (`BackendsBuilder::database`): the
/// rail keeps its transactions and idempotency keys there.
pub fn api(backends: &Backends, config: &Config) -> stack_core::Result<RailApi> {
    api_at(backends, config, "/api")
}

/// As [`api`], for a host that nests it at `prefix` (the full path from the root, e.g.
/// `/stack/api`) instead of `/api`.
///
/// # Errors
/// As [`api`].
pub fn api_at(backends: &Backends, config: &Config, prefix: &str) -> stack_core::Result<RailApi> {
    let Some(database) = backends.database.clone() else {
        return Err(stack_core::Error::unsupported(
            "the rail API keeps its transactions and idempotency keys in an SQL database; \
             give the backends one (`Backends::builder(..).data_path(..)` or `.sql_store(..)`)",
        ));
    };
    let database = Arc::new(database);
    let rail = Rail::new(backends, database.clone());
    let serves = |n: u16| config.api.supported_versions.contains(&ApiVersion::new(n));
    let version = env!("CARGO_PKG_VERSION");
    let mut route = Route::new();
    let mut specs = Vec::new();
    if serves(1) {
        let service = OpenApiService::new(v1::apis(&rail), "STACK rail API v1", version)
            .description(v1::DESCRIPTION)
            .server(format!("{prefix}/v1"));
        let json = document::finish(&service.spec());
        let fields = UnknownFields::from_json(&json);
        route = route.at("/v1/openapi.json", get(document_endpoint(json.clone())));
        specs.push(VersionSpec {
            version: "v1",
            path: "/v1/openapi.json",
            json,
        });
        route = route.nest("/v1", service.with(fields));
    }
    if serves(2) {
        let service = OpenApiService::new(v2::apis(&rail), "STACK rail API v2", version)
            .description(v2::DESCRIPTION)
            .server(format!("{prefix}/v2"));
        let json = document::finish(&service.spec());
        let fields = UnknownFields::from_json(&json);
        route = route.at("/v2/openapi.json", get(document_endpoint(json.clone())));
        specs.push(VersionSpec {
            version: "v2",
            path: "/v2/openapi.json",
            json,
        });
        route = route.nest("/v2", service.with(fields));
    }
    let idempotency = Idempotency::new(
        database.clone(),
        IdempotencyOptions::from_config(&config.api, MAX_BODY),
    )
    .with_units(database);
    Ok(RailApi {
        route,
        specs,
        idempotency,
    })
}
