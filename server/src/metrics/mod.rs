//! Prometheus metrics: the recorder the `stack` binary installs, the `/metrics` endpoint, the
//! sampler of the gauges that are read rather than counted, and the API's request metrics.
//!
//! Library code (this crate's routes and workers, `stack-core`, `stack-backends`) only emits
//! through the `metrics` crate; nothing installs a recorder but [`install`], which the
//! `stack` binary calls. A host that embeds the app installs its own (or calls [`install`]
//! itself) and passes the handle with [`AppOptions::metrics`](crate::app::AppOptions::metrics)
//! to have `/metrics` served beside the API. Every series is listed in
//! [`stack_core::metrics::SERIES`] and in docs/operations.md.

mod http;
mod run;
mod sampler;

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};
use poem::http::header;
use poem::{Endpoint, EndpointExt, IntoEndpoint, Response, Route, get, handler};
use stack_core::metrics::{Kind, SERIES};
use tokio_util::sync::CancellationToken;

pub use http::{HttpMetrics, HttpMetricsEndpoint, UNMATCHED};
pub use metrics_exporter_prometheus::PrometheusHandle;
pub use run::Exporter;
pub use sampler::{sample, sample_every};

/// Histogram buckets, in seconds, of every `_seconds` histogram: from half a millisecond
/// (a cached SQLite read) to five minutes (a job at the default `workers.job_timeout`), so
/// `histogram_quantile` gives p50/p95/p99 at every scale STACK measures.
pub const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 300.0,
];

/// The `Content-Type` of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A Prometheus recorder with STACK's [`BUCKETS`], not installed: a host that combines
/// recorders (a fanout, a layer) installs it itself and keeps its `handle()`.
pub fn recorder() -> PrometheusRecorder {
    // `set_buckets` refuses only an empty list.
    PrometheusBuilder::new()
        .set_buckets(BUCKETS)
        .unwrap_or_else(|_| PrometheusBuilder::new())
        .build_recorder()
}

/// Installs the process's global Prometheus recorder (the `stack` binary's, once per process:
/// a second call answers the same handle) and describes every series of [`SERIES`].
///
/// # Errors
/// When another global recorder was installed first.
pub fn install() -> Result<PrometheusHandle, String> {
    static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder)
                .map_err(|e| format!("cannot install the Prometheus recorder: {e}"))?;
            for series in SERIES {
                let (name, help) = (series.name, series.help);
                match series.kind {
                    Kind::Counter => metrics::describe_counter!(name, help),
                    Kind::Gauge => metrics::describe_gauge!(name, help),
                    Kind::Histogram => metrics::describe_histogram!(name, help),
                }
            }
            Ok(handle)
        })
        .clone()
}

/// `GET` answering `handle`'s rendering in the Prometheus text format.
pub fn endpoint(handle: PrometheusHandle) -> impl Endpoint + 'static {
    #[handler]
    fn render(poem::web::Data(handle): poem::web::Data<&PrometheusHandle>) -> Response {
        Response::builder()
            .header(header::CONTENT_TYPE, CONTENT_TYPE)
            .body(handle.render())
    }
    get(render).data(handle).into_endpoint()
}

/// Serves `/metrics` alone on `listener` (bound to `metrics.listen`) until `stop` is
/// cancelled.
///
/// # Errors
/// When the server fails.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    handle: PrometheusHandle,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let bound = listener.local_addr()?;
    tracing::info!(addr = %bound, "metrics listening on /metrics");
    let app = Route::new().at("/metrics", endpoint(handle));
    let server =
        poem::Server::new_with_acceptor(poem::listener::TcpAcceptor::from_tokio(listener)?);
    server
        .run_with_graceful_shutdown(app, stop.cancelled_owned(), Some(Duration::from_secs(1)))
        .await
}

/// Runs `handle`'s upkeep every `every` until `stop` is cancelled: the recorder drains its
/// histograms' pending samples there, so memory stays bounded when nothing scrapes.
pub async fn upkeep(handle: PrometheusHandle, every: Duration, stop: CancellationToken) {
    let mut ticks = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = ticks.tick() => handle.run_upkeep(),
            () = stop.cancelled() => return,
        }
    }
}
