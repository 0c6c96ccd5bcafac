//! `stack serve` on its defaults runs the jobs it enqueues: a deposit confirmed through the
//! API has its `rail.deposit_confirmed` notification run by the workers inside `serve`
//! (`workers.in_serve`), which stop with the server on SIGTERM; and the default queue (in
//! the SQLite database) keeps a job across a restart.

#![allow(clippy::unwrap_used, reason = "a failed call must fail the test")]

mod common;

use std::time::{Duration, Instant};

use common::{LogTail, Spawned, free_port, raw, serve, signal, wait_exit, wait_until_serving};
use serde_json::{Value, json};

/// Sends `method path` with a JSON `body` to the server on `port`; the status and the
/// response body as JSON (`Null` when it is empty).
fn call(port: u16, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let body = body.map(Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let response = raw(port, request.as_bytes()).expect("the server answers");
    let text = String::from_utf8(response).unwrap();
    let (head, payload) = text.split_once("\r\n\r\n").expect("a complete response");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{head}"
    );
    let json = if payload.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(payload).unwrap()
    };
    (status, json)
}

/// `deposit.notified` audit logs about `user` that the running server lists.
fn notices(port: u16, user: &str) -> Vec<Value> {
    let path = format!("/api/v2/audit-logs?user_id={user}&action=deposit.notified");
    let (status, slice) = call(port, "GET", &path, None);
    assert_eq!(status, 200, "{slice}");
    slice["items"].as_array().unwrap().clone()
}

#[test]
fn a_deposit_confirmed_through_serve_on_its_defaults_has_its_notification_run() {
    let port = free_port();
    let mut child: Spawned = serve(port, &[]);
    let logs = LogTail::new(&mut child);
    wait_until_serving(port);
    logs.wait_for("workers running in serve");

    let (status, user) = call(
        port,
        "POST",
        "/api/v1/users",
        Some(&json!({ "email": "ana@example.com", "phone": "+14155550100", "full_name": "Ana" })),
    );
    assert_eq!(status, 201, "{user}");
    let user = user["id"].as_str().unwrap().to_owned();
    let deposit = json!({
        "user_id": user, "chain": "ethereum", "tx_hash": "0xab01",
        "output_index": 0, "asset": "USDC", "amount": "12.50",
    });
    let (status, deposit) = call(port, "POST", "/api/v1/deposits", Some(&deposit));
    assert_eq!(status, 201, "{deposit}");
    let deposit = deposit["id"].as_str().unwrap().to_owned();
    assert!(
        notices(port, &user).is_empty(),
        "no notice before the confirm"
    );
    for _ in 0..3 {
        let confirm = format!("/api/v1/deposits/{deposit}/confirm");
        let (status, body) = call(port, "POST", &confirm, None);
        assert_eq!(
            (status, &body["status"]),
            (200, &json!("confirmed")),
            "{body}"
        );
    }

    // The notification job runs in the server's own workers: its notice appears.
    let deadline = Instant::now() + Duration::from_secs(30);
    let found = loop {
        let found = notices(port, &user);
        if !found.is_empty() {
            break found;
        }
        assert!(
            Instant::now() < deadline,
            "no notice within 30 s; logs:\n{}",
            logs.all()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        found.len(),
        1,
        "one notice however many confirms: {found:?}"
    );
    assert_eq!(found[0]["subject_id"], json!(deposit));
    let detail: Value = serde_json::from_str(found[0]["detail"].as_str().unwrap()).unwrap();
    assert_eq!(
        detail,
        json!({ "asset": "USDC", "amount": "12.5", "channel": "log" })
    );
    logs.wait_for("deposit confirmed: owner notified");

    // The workers stop with the server, and say what they ran.
    signal(&child, "TERM");
    let status = wait_exit(&mut child, Duration::from_secs(30)).expect("serve exits");
    assert!(status.success(), "{status:?}\n{}", logs.all());
    let stopped: Value = serde_json::from_str(&logs.wait_for("workers stopped")).unwrap();
    // The job's unique key is kept past its completion: three confirms ran it once.
    assert_eq!(stopped["completed"], json!(1), "{stopped}");
    assert_eq!(
        (&stopped["dead"], &stopped["lost"]),
        (&json!(0), &json!(0)),
        "{stopped}"
    );
    logs.wait_for("STACK stopped");
}

#[test]
fn serve_runs_no_workers_when_in_serve_is_off() {
    let port = free_port();
    let mut child: Spawned = serve(port, &[("STACK__WORKERS__IN_SERVE", "false")]);
    let logs = LogTail::new(&mut child);
    wait_until_serving(port);
    logs.wait_for("STACK listening");
    signal(&child, "TERM");
    let status = wait_exit(&mut child, Duration::from_secs(30)).expect("serve exits");
    assert!(status.success(), "{status:?}\n{}", logs.all());
    logs.wait_for("STACK stopped");
    assert!(
        !logs.all().contains("workers running in serve"),
        "{}",
        logs.all()
    );
}

/// Creates a user and a confirmed deposit through the server on `port`; the user's id.
fn confirmed_deposit(port: u16) -> String {
    let (status, user) = call(
        port,
        "POST",
        "/api/v1/users",
        Some(&json!({ "email": "bo@example.com", "full_name": "Bo" })),
    );
    assert_eq!(status, 201, "{user}");
    let user = user["id"].as_str().unwrap().to_owned();
    let deposit = json!({
        "user_id": user, "chain": "ethereum", "tx_hash": "0xab02",
        "output_index": 0, "asset": "USDC", "amount": "3",
    });
    let (status, deposit) = call(port, "POST", "/api/v1/deposits", Some(&deposit));
    assert_eq!(status, 201, "{deposit}");
    let confirm = format!(
        "/api/v1/deposits/{}/confirm",
        deposit["id"].as_str().unwrap()
    );
    let (status, body) = call(port, "POST", &confirm, None);
    assert_eq!(status, 200, "{body}");
    user
}

#[test]
fn a_job_enqueued_before_a_restart_runs_after_it() {
    let dir = std::env::temp_dir().join(stack_tests::unique("stack-restart"));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("stack.db").display());

    // First run: no workers, so the notification waits in the database.
    let port = free_port();
    let env = [
        ("STACK__DATABASE__URL", url.as_str()),
        ("STACK__WORKERS__IN_SERVE", "false"),
    ];
    let mut first: Spawned = serve(port, &env);
    let logs = LogTail::new(&mut first);
    wait_until_serving(port);
    let user = confirmed_deposit(port);
    assert!(notices(port, &user).is_empty(), "nothing ran the job");
    signal(&first, "TERM");
    let status = wait_exit(&mut first, Duration::from_secs(30)).expect("serve exits");
    assert!(status.success(), "{status:?}\n{}", logs.all());

    // Second run, on the same file, with its workers: the job runs.
    let port = free_port();
    let mut second: Spawned = serve(port, &[("STACK__DATABASE__URL", url.as_str())]);
    let logs = LogTail::new(&mut second);
    wait_until_serving(port);
    let deadline = Instant::now() + Duration::from_secs(30);
    while notices(port, &user).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the job did not survive the restart; logs:\n{}",
            logs.all()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(notices(port, &user).len(), 1);
    signal(&second, "TERM");
    let status = wait_exit(&mut second, Duration::from_secs(30)).expect("serve exits");
    assert!(status.success(), "{status:?}\n{}", logs.all());
    let _ = std::fs::remove_dir_all(&dir);
}
