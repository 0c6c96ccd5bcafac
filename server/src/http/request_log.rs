//! poem's [`Tracing`] middleware at no cost when its spans are filtered out.
//!
//! poem's middleware works out the client address (reading the forwarding headers and
//! formatting it as text) and reads the clock twice on every request before it knows whether
//! its `request` span and `response` events are recorded; at the default `info` they are, at
//! `warn` (the load benchmark's setting) they are not, and that work was a few percent of a
//! cached read. [`RequestLog`] asks the subscriber first, with the target, level and fields
//! of that span, and runs poem's middleware unchanged whenever it would record.
//!
//! A request with a valid W3C `traceparent` header (and `tracestate`) continues the caller's
//! trace: the request span, and so every job the request enqueues, is a child of that
//! context. Without one (or with a malformed one, ignored as the W3C recommendation says) the
//! request span starts a new trace, when an OpenTelemetry layer is installed.

use opentelemetry::context::FutureExt;
use poem::middleware::Tracing;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use stack_core::queue::TraceContext;

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

/// Whether poem's `request` span would be recorded now: the same target, level and field
/// names as the span poem's [`Tracing`] opens, so the subscriber's filter answers the same for
/// both. It opens no span: a probe span would be exported by an OpenTelemetry layer.
fn recorded() -> bool {
    tracing::span_enabled!(
        target: "poem::middleware::tracing_mw",
        tracing::Level::INFO,
        remote_addr,
        version,
        method,
        uri
    )
}

impl<E: Endpoint> Endpoint for RequestLogEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Response> {
        let parent = incoming_trace(&req);
        let call = async move {
            if recorded() {
                Tracing.transform(&self.inner).call(req).await
            } else {
                self.inner.call(req).await.map(IntoResponse::into_response)
            }
        };
        match parent {
            // The request span, opened inside, takes the active OpenTelemetry context as its
            // parent.
            Some(parent) => call.with_context(parent.to_otel()).await,
            None => call.await,
        }
    }
}

/// The caller's trace context from the `traceparent` and `tracestate` headers, when valid.
fn incoming_trace(req: &Request) -> Option<TraceContext> {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    TraceContext::parse(header("traceparent")?, header("tracestate"))
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
