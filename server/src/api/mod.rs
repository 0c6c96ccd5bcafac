//! The documented APIs, and the `/docs` page listing their documents.

pub mod docs;
pub mod health;
