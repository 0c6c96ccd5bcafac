//! `stack serve` as an operator runs it: it answers on its port and exits cleanly on SIGINT
//! and SIGTERM.

#![allow(
    clippy::unwrap_used,
    reason = "helpers of tests: a failed call must fail the test"
)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(port: u16) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stack"));
    for (key, _) in std::env::vars() {
        if key.starts_with("STACK") {
            command.env_remove(key);
        }
    }
    command
        .args(["serve", "--log-format", "json", "--port", &port.to_string()])
        .arg("--config")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../configs/config.yaml"
        ))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// A raw HTTP/1.1 GET; answers the status line, or `None` while nothing listens.
fn get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.lines().next().map(str::to_owned)
}

fn wait_until_serving(port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some(status) = get(port, "/health/ready") {
            return status;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("stack serve never answered on port {port}");
}

fn signal_and_wait(child: Child, signal: &str) {
    let pid = child.id().to_string();
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let output = child.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "exit {:?}; logs:\n{logs}",
        output.status
    );
    assert!(logs.contains("shutting down"), "{logs}");
    assert!(logs.contains("STACK stopped"), "{logs}");
    // Logs are JSON lines with --log-format json.
    for line in logs.lines() {
        assert!(
            line.starts_with('{') && line.ends_with('}'),
            "not JSON: {line}"
        );
    }
}

#[test]
fn serve_answers_then_stops_cleanly_on_sigterm() {
    let port = free_port();
    let child = start(port);
    assert_eq!(wait_until_serving(port), "HTTP/1.1 200 OK");
    signal_and_wait(child, "TERM");
    assert!(
        get(port, "/health/live").is_none(),
        "still serving after shutdown"
    );
}

#[test]
fn serve_stops_cleanly_on_sigint() {
    let port = free_port();
    let child = start(port);
    wait_until_serving(port);
    signal_and_wait(child, "INT");
}
