//! Span export over OTLP/HTTP (feature `otlp`): a `tracing-opentelemetry` layer whose spans
//! a batch processor on the tokio runtime POSTs as protobuf to `tracing.otlp_endpoint`.
//!
//! Export never holds up the server: a finished span is handed to a bounded queue
//! (`OTEL_BSP_MAX_QUEUE_SIZE`, 2048 by default) without waiting, and dropped when the queue
//! is full (a collector that is down or slow); each export gives up after
//! [`EXPORT_TIMEOUT`].

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{SpanExporter, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::runtime::Tokio;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use stack_core::config::TracingConfig;
use tracing_subscriber::Layer as _;

use crate::logging::ExtraLayer;

/// How long one export (an HTTP POST of a batch) may take before it is abandoned.
pub const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// The running exporter; [`Export::shutdown`] sends the spans still buffered.
#[derive(Debug)]
pub struct Export {
    provider: SdkTracerProvider,
}

impl Export {
    /// Starts exporting to `config.otlp_endpoint`, when it is set: the layer to install and
    /// the handle to shut it down with. Must run inside the tokio runtime (the batch
    /// processor is a task of it).
    ///
    /// # Errors
    /// An endpoint that is refused, or an exporter that cannot be built.
    pub fn start(config: &TracingConfig) -> Result<Option<(Self, ExtraLayer)>, String> {
        let Some(url) = config.traces_url() else {
            return Ok(None);
        };
        let url = url.map_err(|e| format!("tracing.otlp_endpoint: {e}"))?;
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| format!("cannot set up TLS for OTLP: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        let client = opentelemetry_http::hyper::HyperClient::new(https, EXPORT_TIMEOUT, None);
        let exporter = SpanExporter::builder()
            .with_http()
            .with_http_client(client)
            .with_endpoint(url)
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|e| format!("cannot start the OTLP exporter: {e}"))?;
        let processor = BatchSpanProcessor::builder(exporter, Tokio).build();
        let resource = Resource::builder()
            .with_service_name(config.service_name.clone())
            .build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_resource(resource)
            .build();
        let layer = tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("stack"))
            .boxed();
        Ok(Some((Self { provider }, layer)))
    }

    /// Exports the spans still buffered and stops. Call it outside the runtime's tasks, while
    /// the runtime still runs (the export is one of its tasks). Waits at most
    /// [`EXPORT_TIMEOUT`] and a second: the SDK's shutdown has no bound of its own (each
    /// batch queued before it gets a whole export timeout against a collector that does not
    /// answer), so it runs on a thread of its own that is abandoned when the wait is over,
    /// with the spans it had not sent.
    pub fn shutdown(self) {
        let (done, outcome) = std::sync::mpsc::channel();
        let provider = self.provider;
        let spawned = std::thread::Builder::new()
            .name("otlp-shutdown".into())
            .spawn(move || {
                let _ = done.send(provider.shutdown());
            });
        if let Err(error) = spawned {
            tracing::warn!(%error, "the last spans could not be exported over OTLP");
            return;
        }
        match outcome.recv_timeout(EXPORT_TIMEOUT + Duration::from_secs(1)) {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::warn!(%error, "the last spans could not be exported over OTLP");
            }
            Err(_) => tracing::warn!(
                waited = ?(EXPORT_TIMEOUT + Duration::from_secs(1)),
                "the OTLP collector did not take the last spans in time: they are dropped"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    /// A collector that accepts connections and never answers (a hung proxy, a stuck
    /// collector): the documented bound on the exit's wait is one export, [`EXPORT_TIMEOUT`].
    #[test]
    fn a_hung_collector_holds_the_exit_for_at_most_one_export() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming().map_while(Result::ok) {
                held.push(stream); // read nothing, answer nothing
            }
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let config = TracingConfig {
            otlp_endpoint: Some(url),
            service_name: "hung".into(),
        };
        let (export, layer) = {
            let _inside = runtime.enter();
            Export::start(&config).unwrap().unwrap()
        };
        let subscriber = tracing_subscriber::registry().with(layer);
        // A busy server's last seconds: three full batches and some, under the queue's 2048.
        tracing::subscriber::with_default(subscriber, || {
            for i in 0..1800 {
                tracing::info_span!("request", i).in_scope(|| {});
            }
        });
        let started = Instant::now();
        export.shutdown();
        let took = started.elapsed();
        runtime.shutdown_timeout(Duration::from_millis(100));
        assert!(
            took < EXPORT_TIMEOUT + Duration::from_secs(2),
            "the exit waited {took:?} for a hung collector (documented: at most {EXPORT_TIMEOUT:?})"
        );
    }
}
