//! Hostile and malformed requests against the running server, over raw TCP: every error a
//! client can see is problem+json, 405 names what is allowed, and a path that does not
//! decode is not found.

#![allow(clippy::unwrap_used, reason = "a failed call must fail the test")]

mod common;

use common::{free_port, raw, serve, signal, wait_exit, wait_until_serving};
use std::time::Duration;

struct Answer {
    status: u16,
    headers: String,
    body: serde_json::Value,
}

fn parse(response: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(response);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    Answer {
        status,
        headers: head.to_ascii_lowercase(),
        body: serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    }
}

fn assert_problem(case: &str, response: &[u8], status: u16) -> Answer {
    let answer = parse(response);
    let shown = String::from_utf8_lossy(&response[..response.len().min(400)]).into_owned();
    assert_eq!(answer.status, status, "{case}: {shown}");
    assert!(
        answer
            .headers
            .contains("content-type: application/problem+json"),
        "{case}: {shown}"
    );
    assert_eq!(answer.body["status"], status, "{case}: {shown}");
    assert!(answer.body["title"].is_string(), "{case}: {shown}");
    assert!(answer.body["detail"].is_string(), "{case}: {shown}");
    answer
}

fn request(lines: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in lines {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

#[test]
fn every_error_a_client_can_provoke_is_problem_json() {
    let port = free_port();
    let mut child = serve(port, &[]);
    wait_until_serving(port);

    let huge_header = [b"X-Big: ".as_slice(), &vec![b'a'; 600_000]].concat();
    let many: Vec<Vec<u8>> = (0..2000)
        .map(|i| format!("X-{i}: a").into_bytes())
        .collect();
    let mut many_lines: Vec<&[u8]> = vec![b"GET /health/live HTTP/1.1", b"Host: x"];
    many_lines.extend(many.iter().map(Vec::as_slice));
    let long_url = format!("GET /{} HTTP/1.1", "a".repeat(100_000));

    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "a 600 KB header",
            request(&[b"GET /health/live HTTP/1.1", b"Host: x", &huge_header]),
            431,
        ),
        ("2,000 headers", request(&many_lines), 431),
        (
            "a 100 KB URL",
            request(&[long_url.as_bytes(), b"Host: x"]),
            414,
        ),
        (
            "a bad Content-Length",
            request(&[
                b"POST /health/live HTTP/1.1",
                b"Host: x",
                b"Content-Length: abc",
            ]),
            400,
        ),
        (
            "a NUL in a header",
            request(&[b"GET /health/live HTTP/1.1", b"Host: x", b"X-A: a\0b"]),
            400,
        ),
        (
            "a non-UTF-8 API-Version",
            request(&[
                b"GET /health/live HTTP/1.1",
                b"Host: x",
                b"API-Version: \xff\xfe",
                b"Connection: close",
            ]),
            400,
        ),
        (
            "an unsupported API-Version",
            request(&[
                b"GET /health/live HTTP/1.1",
                b"Host: x",
                b"API-Version: 9",
                b"Connection: close",
            ]),
            400,
        ),
        (
            "an undecodable path",
            request(&[b"GET /%ff HTTP/1.1", b"Host: x", b"Connection: close"]),
            404,
        ),
        (
            "an unknown path",
            request(&[b"GET /no/such HTTP/1.1", b"Host: x", b"Connection: close"]),
            404,
        ),
    ];
    for (case, bytes, status) in cases {
        let response = raw(port, &bytes).unwrap();
        assert_problem(case, &response, status);
    }

    signal(&child, "TERM");
    assert!(
        wait_exit(&mut child, Duration::from_secs(30))
            .unwrap()
            .success()
    );
}

#[test]
fn a_method_a_route_does_not_serve_is_405_with_allow() {
    let port = free_port();
    let mut child = serve(port, &[]);
    wait_until_serving(port);
    for (method, path) in [
        ("POST", "/health/live"),
        ("PUT", "/openapi.json"),
        ("DELETE", "/openapi.json"),
        ("POST", "/docs"),
        ("DELETE", "/docs/index.css"),
    ] {
        let line = format!("{method} {path} HTTP/1.1");
        let response = raw(
            port,
            &request(&[
                line.as_bytes(),
                b"Host: x",
                b"Content-Length: 0",
                b"Connection: close",
            ]),
        )
        .unwrap();
        let answer = assert_problem(&line, &response, 405);
        assert!(
            answer.headers.contains("\r\nallow: get, head"),
            "{line}: {}",
            answer.headers
        );
    }
    // What is allowed still answers, and says which version served it.
    let ok = parse(
        &raw(
            port,
            &request(&[
                b"GET /openapi.json HTTP/1.1",
                b"Host: x",
                b"API-Version: 2",
                b"Connection: close",
            ]),
        )
        .unwrap(),
    );
    assert_eq!(ok.status, 200);
    assert!(ok.headers.contains("api-version: v2"), "{}", ok.headers);

    signal(&child, "TERM");
    assert!(
        wait_exit(&mut child, Duration::from_secs(30))
            .unwrap()
            .success()
    );
}
