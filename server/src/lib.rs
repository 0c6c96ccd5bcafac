//! # stack-server
//!
//! The STACK reference server: poem + poem-openapi serving health checks, the OpenAPI
//! document and Swagger UI over the backends that configuration selects, with graceful
//! shutdown and structured logs. The `stack` binary (`src/main.rs`) is a thin CLI over it.
//!
//! [`app::build`] reads like the architecture: open the backends, build the routes.

pub mod admin;
pub mod api;
pub mod app;
pub mod backends;
pub mod cli;
pub mod config;
pub mod http;
pub mod jobs;
pub mod logging;
pub mod migrate;
pub mod process;
pub mod rail;
pub mod serve;
pub mod worker;
