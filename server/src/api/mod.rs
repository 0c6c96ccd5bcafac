//! The documented APIs served under `/openapi.json` and `/docs`.

pub mod health;
