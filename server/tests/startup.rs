//! Start-up and logging as an operator meets them: the bind is checked before "listening",
//! the log says which configuration was read, colours only on a terminal, and a log output
//! that goes away never takes the server down.

#![allow(clippy::unwrap_used, reason = "a failed call must fail the test")]

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{
    LogTail, Spawned, free_port, get, serve, signal, stack, wait_exit, wait_until_serving,
};

#[test]
fn a_busy_port_fails_before_listening_is_logged() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut child = serve(port, &[]);
    let logs = LogTail::new(&mut child);
    let status = wait_exit(&mut child, Duration::from_secs(30)).expect("exits");
    assert_eq!(status.code(), Some(1));
    logs.wait_for("cannot listen on 127.0.0.1");
    assert!(!logs.all().contains("STACK listening"), "{}", logs.all());
}

#[test]
fn port_zero_is_refused_like_any_bad_value() {
    let out = stack().args(["serve", "--port", "0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("server.port (from --port): must be between 1 and 65535"),
        "{stderr}"
    );
}

#[test]
fn the_log_names_the_configuration_file_and_the_real_address() {
    let port = free_port();
    let mut child = serve(port, &[]);
    let logs = LogTail::new(&mut child);
    wait_until_serving(port);
    let loaded = logs.wait_for("configuration loaded");
    assert!(loaded.contains("configs/config.yaml"), "{loaded}");
    let listening = logs.wait_for("STACK listening");
    assert!(
        listening.contains(&format!("http://127.0.0.1:{port}/docs")),
        "{listening}"
    );
    signal(&child, "TERM");
    assert!(
        wait_exit(&mut child, Duration::from_secs(30))
            .unwrap()
            .success()
    );

    // No file: the defaults, and the log says so.
    let dir = std::env::temp_dir().join(format!("stack-nofile-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = Spawned::new(
        stack()
            .current_dir(&dir)
            .args(["serve", "--port", &port.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let logs = LogTail::new(&mut child);
    wait_until_serving(port);
    logs.wait_for("no configuration file found; built-in defaults");
    signal(&child, "TERM");
    assert!(
        wait_exit(&mut child, Duration::from_secs(30))
            .unwrap()
            .success()
    );
    // Text logs into a pipe carry no colour codes.
    assert!(
        !logs.all().contains('\u{1b}'),
        "ANSI codes in a pipe:\n{}",
        logs.all()
    );
}

#[test]
fn closed_log_output_neither_stops_the_server_nor_floods() {
    // stdout and stderr both closed, as with `stack serve 2>&1 | head -1`.
    let port = free_port();
    let mut child = serve(port, &[]);
    wait_until_serving(port);
    drop(child.stdout.take());
    drop(child.stderr.take());
    for _ in 0..20 {
        assert!(
            get(port, "/health/live")
                .unwrap()
                .starts_with("HTTP/1.1 200")
        );
    }
    assert!(child.try_wait().unwrap().is_none(), "the server died");
    signal(&child, "TERM");
    let status = wait_exit(&mut child, Duration::from_secs(30)).expect("exits");
    assert!(status.success(), "{status:?}");

    // Only stdout closed: nothing floods stderr.
    let mut child = serve(port, &[]);
    wait_until_serving(port);
    drop(child.stdout.take());
    for _ in 0..50 {
        get(port, "/health/live").unwrap();
    }
    signal(&child, "TERM");
    let (status, stderr) = child.wait_with_stderr(Duration::from_secs(30));
    assert!(status.expect("exits").success());
    assert!(
        stderr.is_empty(),
        "stderr: {}",
        String::from_utf8_lossy(&stderr)
    );
}
