//! poem's [`Tracing`] middleware at no cost when its spans are filtered out.
//!
//! poem's middleware works out the client address (reading the forwarding headers and
//! formatting it as text) and reads the clock twice on every request before it knows whether
//! its `request` span and `response` events are recorded; at the default `info` they are, at
//! `warn` (the load benchmark's setting) they are not, and that work was a few percent of a
//! cached read. [`RequestLog`] asks the subscriber first, with a span of the same target,
//! name, level and fields, and runs poem's middleware unchanged whenever it would record.

use poem::middleware::Tracing;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use tracing::field::Empty;

/// The middleware: see the module documentation.
#[derive(Debug, Default, Clone, Copy)]
pub struct RequestLog;

impl<E: Endpoint> Middleware<E> for RequestLog {
    type Output = RequestLogEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        RequestLogEndpoint { inner }
    }
}

/// An endpoint wrapped by [`RequestLog`].
#[derive(Debug)]
pub struct RequestLogEndpoint<E> {
    inner: E,
}

/// Whether poem's `request` span would be recorded now: the same target, name, level and
/// field names as the span poem's [`Tracing`] opens, so the subscriber's filter answers the
/// same for both.
fn recorded() -> bool {
    !tracing::span!(
        target: "poem::middleware::tracing_mw",
        tracing::Level::INFO,
        "request",
        remote_addr = Empty,
        version = Empty,
        method = Empty,
        uri = Empty,
    )
    .is_disabled()
}

impl<E: Endpoint> Endpoint for RequestLogEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Response> {
        if recorded() {
            Tracing.transform(&self.inner).call(req).await
        } else {
            self.inner.call(req).await.map(IntoResponse::into_response)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_subscriber_s_filter() {
        use tracing_subscriber::layer::SubscriberExt;
        let at = |level: &str| {
            let filter = tracing_subscriber::EnvFilter::new(level);
            let subscriber = tracing_subscriber::registry().with(filter);
            tracing::subscriber::with_default(subscriber, recorded)
        };
        assert!(at("info"));
        assert!(at("warn,poem=info"));
        assert!(!at("warn"));
        assert!(!at("info,poem::middleware=warn"));
    }
}
