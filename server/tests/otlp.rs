//! `stack serve` built with feature `otlp` exports its spans over OTLP/HTTP: a deposit
//! confirmed with a caller's `traceparent` has its notification job's `job.attempt` span
//! POSTed to the configured collector in the caller's trace, sent at the latest when the
//! process stops (the batch's timer is set far beyond the test); and a collector that is down
//! neither fails requests nor stops the server from exiting cleanly.

#![cfg(feature = "otlp")]
#![allow(clippy::unwrap_used, reason = "a failed call must fail the test")]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{LogTail, free_port, raw, serve, signal, wait_exit, wait_until_serving};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;
use serde_json::{Value, json};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// An OTLP/HTTP receiver on loopback: every `POST /v1/traces` body, decoded, with the
/// `service.name` of each resource's spans.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<(String, Span)>>>,
}

impl Collector {
    /// Listens on a free port; the collector and its base URL.
    fn start() -> (Self, String) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let collector = Self::default();
        let sink = collector.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let sink = sink.clone();
                std::thread::spawn(move || sink.receive(stream));
            }
        });
        (collector, url)
    }

    /// Reads one request, answers 200 and closes.
    fn receive(&self, stream: std::net::TcpStream) {
        let mut reader = BufReader::new(stream);
        let (mut head, mut length) = (Vec::new(), 0);
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
            head.push(line);
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        assert!(head[0].starts_with("POST /v1/traces "), "{head:?}");
        let request = ExportTraceServiceRequest::decode(&body[..]).unwrap();
        let mut spans = self.spans.lock().unwrap();
        for resource in request.resource_spans {
            let service = resource
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| text(kv.value.as_ref()?.value.as_ref()?))
                .unwrap_or_default();
            for span in resource.scope_spans.into_iter().flat_map(|s| s.spans) {
                spans.push((service.clone(), span));
            }
        }
        drop(spans);
        let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        let _ = reader.into_inner().write_all(answer);
    }

    /// Waits up to 20 s for a `job.attempt` span; its service name and span.
    fn attempt(&self) -> (String, Span) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let spans = self.spans.lock().unwrap();
            if let Some(found) = spans.iter().find(|(_, s)| s.name == "job.attempt") {
                return found.clone();
            }
            let names: Vec<&str> = spans.iter().map(|(_, s)| s.name.as_str()).collect();
            assert!(
                Instant::now() < deadline,
                "no job.attempt span exported within 20 s; spans: {names:?}"
            );
            drop(spans);
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn text(value: &AnyValue) -> Option<String> {
    match value {
        AnyValue::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

/// Sends `method path` with a JSON `body` and extra `headers`; the status and JSON answer.
fn call(port: u16, method: &str, path: &str, headers: &str, body: Option<&Value>) -> (u16, Value) {
    let body = body.map(Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{headers}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let response = String::from_utf8(raw(port, request.as_bytes()).unwrap()).unwrap();
    let (head, payload) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(payload).unwrap_or(Value::Null))
}

/// Creates a user and a deposit, and confirms it with `headers`; the user's id.
fn confirm_a_deposit(port: u16, headers: &str) -> String {
    let user = json!({ "email": "ana@example.com", "phone": "+14155550100", "full_name": "Ana" });
    let (status, user) = call(port, "POST", "/api/v1/users", "", Some(&user));
    assert_eq!(status, 201, "{user}");
    let user = user["id"].as_str().unwrap().to_owned();
    let deposit = json!({
        "user_id": user, "chain": "ethereum", "tx_hash": "0xab01",
        "output_index": 0, "asset": "USDC", "amount": "12.50",
    });
    let (status, deposit) = call(port, "POST", "/api/v1/deposits", "", Some(&deposit));
    assert_eq!(status, 201, "{deposit}");
    let confirm = format!(
        "/api/v1/deposits/{}/confirm",
        deposit["id"].as_str().unwrap()
    );
    let (status, body) = call(port, "POST", &confirm, headers, None);
    assert_eq!(status, 200, "{body}");
    user
}

#[test]
fn the_job_attempt_span_reaches_the_collector_in_the_callers_trace() {
    let (collector, url) = Collector::start();
    let port = free_port();
    let env = [
        ("STACK__TRACING__OTLP_ENDPOINT", url.as_str()),
        ("STACK__TRACING__SERVICE_NAME", "rail-test"),
        // No timed export within the test: the spans go out when the process stops.
        ("OTEL_BSP_SCHEDULE_DELAY", "600000"),
    ];
    let mut child = serve(port, &env);
    let logs = LogTail::new(&mut child);
    wait_until_serving(port);
    logs.wait_for("exporting spans over OTLP");
    let parent = format!("traceparent: 00-{TRACE_ID}-00f067aa0ba902b7-01\r\n");
    confirm_a_deposit(port, &parent);
    logs.wait_for("deposit confirmed: owner notified");

    signal(&child, "TERM");
    let status = wait_exit(&mut child, Duration::from_secs(30)).expect("serve exits");
    assert!(status.success(), "{status:?}\n{}", logs.all());
    let (service, attempt) = collector.attempt();
    assert_eq!(service, "rail-test");
    let trace: String = attempt
        .trace_id
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(trace, TRACE_ID, "the attempt continues the request's trace");
}

#[test]
fn a_collector_that_is_down_neither_fails_requests_nor_holds_up_the_exit() {
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let port = free_port();
    let env = [
        ("STACK__TRACING__OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "50"),
    ];
    let mut child = serve(port, &env);
    let logs = LogTail::new(&mut child);
    wait_until_serving(port);
    confirm_a_deposit(port, "");
    logs.wait_for("deposit confirmed: owner notified");

    signal(&child, "TERM");
    let status = wait_exit(&mut child, Duration::from_secs(30)).expect("serve exits");
    assert!(status.success(), "{status:?}\n{}", logs.all());
}
