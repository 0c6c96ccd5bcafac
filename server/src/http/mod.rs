//! HTTP plumbing shared by every route: RFC 9457 problem responses and shutdown signals.

pub mod problem;
pub mod shutdown;
