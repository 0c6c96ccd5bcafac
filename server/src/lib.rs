//! # stack-server
//!
//! The STACK reference server: poem + poem-openapi serving health checks, the OpenAPI
//! document and Swagger UI over the backends that configuration selects, with graceful
//! shutdown and structured logs. The `stack` binary (`src/main.rs`) is a thin CLI over it.
//!
//! ## Embedding
//! A host application uses the library, not the binary:
//! - [`backends::Backends`]: [`Backends::open`](backends::Backends::open) from configuration,
//!   or [`Backends::builder`](backends::Backends::builder) over the host's own Store, cache
//!   and queue (so `/health/ready` reports those);
//! - [`app::build`] / [`app::build_with`]: the app as a poem `Endpoint` to nest, shaped by
//!   [`app::AppOptions`] (its prefix, title and version, the host's own APIs);
//! - [`http::server::serve`] with a [`http::shutdown::Shutdown`] stopped from code, and
//!   [`http::problem::render`] as the fallback that makes the host's own errors problem+json;
//! - [`poem`] and [`poem_openapi`], re-exported so the host's versions match STACK's. Their
//!   macros (`#[handler]`, `#[OpenApi]`, `#[derive(Object)]`) name the crates `poem` and
//!   `poem_openapi`: a host that does not list them in its own `Cargo.toml` brings them into
//!   scope where it uses the macros (`use stack_server::{poem, poem_openapi};`).
//!
//! The modules hidden from these docs (`cli`, `process`, `serve`, `worker`, `migrate`,
//! `logging`, `config`, `otlp`) are the `stack` binary's and may change without notice.

pub use poem;
pub use poem_openapi;

pub mod admin;
pub mod api;
pub mod app;
pub mod backends;
pub mod http;
pub mod jobs;
pub mod metrics;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub mod rail;

// The `stack` binary's own: its command line, process set-up and commands.
#[doc(hidden)]
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub mod cli;
#[doc(hidden)]
pub mod config;
#[doc(hidden)]
pub mod logging;
#[doc(hidden)]
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub mod migrate;
#[doc(hidden)]
#[cfg(feature = "otlp")]
pub mod otlp;
#[doc(hidden)]
pub mod process;
#[doc(hidden)]
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub mod serve;
#[doc(hidden)]
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub mod worker;
