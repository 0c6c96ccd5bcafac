//! HTTP plumbing shared by every route: the connection loop, RFC 9457 problem responses
//! (including hyper's own error answers), request guards, API version negotiation, and
//! shutdown signals.

pub mod api_error;
pub mod body_limit;
pub mod guards;
pub mod idempotency;
pub mod json_keys;
pub mod problem;
pub mod problem_io;
pub mod request_log;
pub mod server;
pub mod shutdown;
pub mod versions;
