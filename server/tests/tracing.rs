//! One trace from the HTTP request through the enqueue to every attempt of the job's handler,
//! a retry included, recorded by OpenTelemetry's in-memory exporter: with an incoming
//! `traceparent` (the caller's trace is continued) and without one (a new trace starts).

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::trace::{SpanId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use poem_openapi::payload::PlainText;
use poem_openapi::{OpenApi, OpenApiService};
use stack_core::config::{Config, ServerConfig};
use stack_core::queue::{NewJob, Queue};
use stack_core::worker::{Handlers, JobContext, JobError, WorkerOptions, WorkerPool};
use stack_server::app::{self, AppOptions};
use stack_server::backends::Backends;
use stack_server::http::server::{ServeOptions, serve};
use stack_server::http::shutdown::Shutdown;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tracing_subscriber::layer::SubscriberExt;

const FLAKY: &str = "trace.flaky";
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// A host API whose one endpoint enqueues a job.
struct HostApi {
    queue: Arc<dyn Queue>,
}

#[OpenApi]
impl HostApi {
    /// Enqueues a flaky job; answers its id.
    #[oai(path = "/enqueue", method = "post")]
    async fn enqueue(&self) -> poem::Result<PlainText<String>> {
        let job = NewJob::new(FLAKY, serde_json::json!({}));
        let enqueued = self.queue.enqueue(job).await.map_err(|e| {
            poem::Error::from_string(e.to_string(), poem::http::StatusCode::INTERNAL_SERVER_ERROR)
        })?;
        Ok(PlainText(enqueued.id().to_string()))
    }
}

/// Installs the OpenTelemetry layer, exporting to memory, for this process.
fn install() -> InMemorySpanExporter {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("stack-test"));
    let subscriber = tracing_subscriber::registry()
        .with(layer)
        .with(tracing_subscriber::filter::LevelFilter::INFO);
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
    exporter
}

/// The handler fails its first attempt and succeeds on the second.
fn handlers() -> Handlers {
    Handlers::new().register_fn(FLAKY, |_: serde_json::Value, cx: JobContext| async move {
        if cx.job.attempts == 1 {
            Err(JobError::retry_after(
                "fails once",
                Duration::from_millis(20),
            ))
        } else {
            Ok(())
        }
    })
}

/// POSTs to `/host/enqueue` with `headers`; the job id answered.
async fn enqueue(port: u16, headers: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let request = format!(
        "POST /host/enqueue HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n{headers}Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer))
        .await
        .expect("an answer")
        .expect("read");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    answer
        .rsplit("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

/// Waits for both attempt spans of job `id`; every span exported by then.
async fn spans_of_two_attempts(exporter: &InMemorySpanExporter, id: &str) -> Vec<SpanData> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let spans = exporter.get_finished_spans().expect("the exporter answers");
        let attempts = spans
            .iter()
            .filter(|s| s.name == "job.attempt" && attribute(s, "job.id").as_deref() == Some(id))
            .count();
        if attempts >= 2 {
            return spans;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job {id}: {attempts} attempt spans after 20 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The request, enqueue and attempt spans of job `id`, checked to form one trace: the
/// request span, its `queue.enqueue` child, and both attempts as children of the enqueue span.
/// Answers the trace id and the request span's parent.
fn one_trace(spans: &[SpanData], id: &str) -> (String, SpanId) {
    let mut attempts: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.name == "job.attempt" && attribute(s, "job.id").as_deref() == Some(id))
        .collect();
    attempts.sort_by_key(|s| attribute(s, "job.attempt"));
    assert_eq!(attempts.len(), 2, "one span per attempt");
    let trace = attempts[0].span_context.trace_id();
    let in_trace = |name: &str| -> Vec<&SpanData> {
        spans
            .iter()
            .filter(|s| s.name == name && s.span_context.trace_id() == trace)
            .collect()
    };
    let [request] = in_trace("request")[..] else {
        panic!("one request span in trace {trace}: {spans:#?}");
    };
    let [enqueue] = in_trace("queue.enqueue")[..] else {
        panic!("one enqueue span in trace {trace}: {spans:#?}");
    };
    assert_eq!(enqueue.parent_span_id, request.span_context.span_id());
    assert_eq!(attribute(enqueue, "job.type").as_deref(), Some(FLAKY));
    for (n, attempt) in (1..).zip(&attempts) {
        assert_eq!(attempt.span_context.trace_id(), trace, "attempt {n}");
        assert_eq!(
            attempt.parent_span_id,
            enqueue.span_context.span_id(),
            "attempt {n} is a child of the enqueue"
        );
        assert_eq!(attribute(attempt, "job.attempt"), Some(n.to_string()));
        assert_eq!(attribute(attempt, "job.type").as_deref(), Some(FLAKY));
    }
    (trace.to_string(), request.parent_span_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_runs_from_the_request_through_the_enqueue_to_every_attempt() {
    let exporter = install();
    let mut config = Config::default();
    config.database.url = "sqlite::memory:".into();
    let backends = Backends::open(&config).await.expect("the backends open");
    let queue = Arc::clone(&backends.queue);
    let host = OpenApiService::new(
        HostApi {
            queue: Arc::clone(&queue),
        },
        "Host",
        "1",
    );
    let options = AppOptions::new().api("/host", "Host", host);
    let app = app::build_with(backends, &config.api, options).expect("the app");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let port = listener.local_addr().expect("bound").port();
    let (shutdown, trigger) = Shutdown::manual();
    let server = tokio::spawn(async move {
        serve(
            listener,
            app,
            ServeOptions::from_config(&ServerConfig::default()),
            &shutdown,
        )
        .await;
    });
    let workers = WorkerPool::start(queue, handlers(), WorkerOptions::default()).expect("workers");

    // The caller's trace is continued: the request span is a child of its span.
    let header = format!("traceparent: 00-{TRACE_ID}-{CALLER_SPAN}-01\r\ntracestate: k=v\r\n");
    let continued = enqueue(port, &header).await;
    let spans = spans_of_two_attempts(&exporter, &continued).await;
    let (trace, parent) = one_trace(&spans, &continued);
    assert_eq!(trace, TRACE_ID);
    assert_eq!(parent.to_string(), CALLER_SPAN);

    // Without a header (or with a malformed one), the request starts a trace of its own.
    for headers in ["", "traceparent: 00-not-a-trace\r\n"] {
        let fresh = enqueue(port, headers).await;
        let spans = spans_of_two_attempts(&exporter, &fresh).await;
        let (trace, parent) = one_trace(&spans, &fresh);
        assert_ne!(trace, TRACE_ID);
        assert_eq!(parent, SpanId::INVALID, "the request span is a root");
    }

    workers.shutdown();
    trigger.stop();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stops")
        .expect("the server task");
}
