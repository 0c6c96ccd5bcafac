//! `stack serve` as an operator runs it: it answers on its port and exits cleanly on SIGINT
//! and SIGTERM; half-sent requests cannot hold it; a second signal cuts the grace short;
//! connections cut are logged.

#![allow(clippy::unwrap_used, reason = "a failed call must fail the test")]

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use common::{LogTail, Spawned, free_port, get, serve, signal, wait_exit, wait_until_serving};

fn signal_and_wait(mut child: Spawned, name: &str) {
    signal(&child, name);
    let logs = LogTail::new(&mut child);
    let status = wait_exit(&mut child, Duration::from_secs(30)).expect("exits");
    assert!(status.success(), "exit {status:?}; logs:\n{}", logs.all());
    logs.wait_for("shutting down");
    logs.wait_for("STACK stopped");
    // Logs are JSON lines with --log-format json.
    for line in logs.all().lines() {
        assert!(
            line.starts_with('{') && line.ends_with('}'),
            "not JSON: {line}"
        );
    }
}

#[test]
fn serve_answers_then_stops_cleanly_on_sigterm() {
    let port = free_port();
    let child = serve(port, &[]);
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
    let child = serve(port, &[]);
    wait_until_serving(port);
    signal_and_wait(child, "INT");
}

/// Opens a connection and sends half of its first request's headers, then has a request on
/// a second connection answered: connections are accepted in order, so the first is surely
/// accepted (and the log shows this server answered).
fn half_request(port: u16) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .write_all(b"GET /health/live HTTP/1.1\r\nHos")
        .unwrap();
    let answer = common::get(port, "/health/live?from=half-request").unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    stream
}

#[test]
fn a_half_sent_request_is_closed_and_does_not_hold_a_shutdown() {
    let port = free_port();
    let mut child = serve(
        port,
        &[
            ("STACK__SERVER__HEADER_READ_TIMEOUT", "1s"),
            ("STACK__SERVER__SHUTDOWN_GRACE", "5m"),
        ],
    );
    wait_until_serving(port);
    let mut stalled = half_request(port);
    stalled
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut buf = [0u8; 64];
    let read = std::io::Read::read(&mut stalled, &mut buf);
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "the stalled connection was closed by the server"
    );
    assert!(
        !matches!(&read, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut),
        "the server held the connection: {read:?}"
    );

    let _another = half_request(port);
    signal(&child, "INT");
    // The grace is five minutes; the half-sent request is cut by its header deadline.
    let status =
        wait_exit(&mut child, Duration::from_secs(60)).expect("exits long before the grace");
    assert!(status.success());
}

#[test]
fn a_second_signal_cuts_the_grace_short_and_says_so() {
    let port = free_port();
    let mut child = serve(
        port,
        &[
            ("STACK__SERVER__HEADER_READ_TIMEOUT", "5m"),
            ("STACK__SERVER__SHUTDOWN_GRACE", "5m"),
        ],
    );
    let logs = LogTail::new(&mut child);
    wait_until_serving(port);
    let _stalled = half_request(port);
    // This server (not one that held the port before) answered the first request.
    logs.wait_for("from=half-request");
    signal(&child, "INT");
    logs.wait_for("shutting down");
    signal(&child, "INT");
    let status =
        wait_exit(&mut child, Duration::from_secs(60)).expect("a second signal exits promptly");
    assert!(status.success());
    let line = logs.wait_for("second signal");
    assert!(line.contains("\"connections_cut\":1"), "{line}");
}

#[test]
fn connections_cut_when_the_grace_runs_out_are_logged() {
    let port = free_port();
    let mut child = serve(
        port,
        &[
            ("STACK__SERVER__HEADER_READ_TIMEOUT", "5m"),
            ("STACK__SERVER__SHUTDOWN_GRACE", "1s"),
        ],
    );
    let logs = LogTail::new(&mut child);
    wait_until_serving(port);
    let _stalled = half_request(port);
    logs.wait_for("from=half-request");
    signal(&child, "TERM");
    let status = wait_exit(&mut child, Duration::from_secs(60)).expect("exits after the grace");
    assert!(status.success());
    let line = logs.wait_for("grace ran out");
    assert!(line.contains("\"connections_cut\":1"), "{line}");
    logs.wait_for("STACK stopped");
}

/// A test that fails while `stack serve` runs leaves no server behind: the process is killed
/// and reaped when its handle is dropped by the unwinding test.
#[test]
fn a_failing_test_leaves_no_server_running() {
    let port = free_port();
    let pid = std::sync::Mutex::new(None);
    let failed = std::panic::catch_unwind(|| {
        let child = serve(port, &[]);
        *pid.lock().unwrap() = Some(child.id());
        wait_until_serving(port);
        panic!("the test fails while the server runs");
    });
    assert!(failed.is_err());
    let pid = pid.lock().unwrap().expect("spawned");
    // Reaped by the guard: no process, not even a zombie, holds the pid.
    let alive = std::path::Path::new(&format!("/proc/{pid}")).exists();
    assert!(!alive, "stack serve {pid} still runs after its test failed");
    assert!(
        get(port, "/health/live").is_none(),
        "port {port} still answers"
    );
}
