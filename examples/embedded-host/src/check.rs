//! `--self-check`: the host, serving on a free port, checks itself as a real HTTP client,
//! each check polled against a deadline (never a sleep taken for an answer). The first
//! failure ends the check with a message naming what was expected and what came.

mod client;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use stack_core::cache::Cache;
use stack_core::queue::{Queue, QueueExt};

use crate::host::VISITS;
use crate::jobs::{Greet, Seen};
use client::Client;

/// How long any one thing may take to happen (a job to run, a cron tick to fire).
const DEADLINE: Duration = Duration::from_secs(20);

/// What the self-check talks to, and what it expects.
pub(crate) struct Target {
    /// `http://127.0.0.1:<port>`.
    pub(crate) base: String,
    /// The host's bearer token.
    pub(crate) token: String,
    /// The backends the host opened, by name: `/stack/health/ready` must report these.
    pub(crate) store: &'static str,
    /// As `store`.
    pub(crate) cache: &'static str,
    /// The host's queue handle: a job enqueued here must reach the host's workers.
    pub(crate) queue: Arc<dyn Queue>,
    /// What the host's handlers ran.
    pub(crate) seen: Seen,
}

/// What passed.
#[derive(Debug, Default)]
pub(crate) struct Report {
    /// How many checks passed.
    pub(crate) checks: u32,
}

/// Polls `probe` until it says yes, for at most [`DEADLINE`].
async fn eventually<F, Fut>(what: &str, mut probe: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool, String>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        if probe().await? {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!("{what}: not within {DEADLINE:?}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs every check against the serving host.
///
/// # Errors
/// The first check that fails, with what it expected and what it got.
pub(crate) async fn run(target: Target) -> Result<Report, String> {
    let client = Client::new(&target.base);
    let bearer = format!("Bearer {}", target.token);
    let auth = Some(bearer.as_str());
    let mut report = Report::default();
    let mut passed = |name: &str| {
        report.checks += 1;
        println!("ok {} - {name}", report.checks);
    };

    // The host's own route, its state in the cache the app shares.
    let first = client
        .call("GET", "/hello", None, None)
        .await?
        .expect("GET /hello", 200)?;
    let second = client
        .call("GET", "/hello", None, None)
        .await?
        .expect("GET /hello", 200)?;
    let (one, two) = (first["visits"].as_i64(), second["visits"].as_i64());
    if one.zip(two).is_none_or(|(one, two)| two != one + 1) {
        return Err(format!(
            "GET /hello: visits should count up in the cache: {first} then {second}"
        ));
    }
    passed("the host's own /hello answers, counting visits in the cache");

    // The host's auth in front of STACK.
    let refused = client.call("GET", "/stack/health/live", None, None).await?;
    if refused.status != 401 || refused.content_type != "application/problem+json" {
        return Err(format!(
            "GET /stack/health/live without the host's token: expected 401 problem+json, got {} ({})",
            refused.status, refused.content_type
        ));
    }
    passed("/stack without the host's token is refused (401 problem+json)");

    // Readiness names the backends the host opened (and its workers use).
    let ready = client
        .call("GET", "/stack/health/ready", auth, None)
        .await?;
    let ready = ready.expect("GET /stack/health/ready", 200)?;
    let queue_name = target.queue.name();
    for (role, expected) in [
        ("store", target.store),
        ("cache", target.cache),
        ("queue", queue_name),
    ] {
        let check = ready["checks"]
            .as_array()
            .and_then(|checks| checks.iter().find(|c| c["name"] == role))
            .ok_or_else(|| format!("/stack/health/ready lists no {role}: {ready}"))?;
        if check["backend"] != expected || check["status"] != "up" {
            return Err(format!(
                "/stack/health/ready: expected the {role} {expected} up, got {check}"
            ));
        }
    }
    // The same queue, not only the same kind: its namespace is the host's handle's.
    let namespace = target.queue.location().map(|location| location.namespace);
    let reported = ready["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["name"] == "queue"))
        .and_then(|check| check["namespace"].as_str());
    if reported != namespace.as_deref() {
        return Err(format!(
            "/stack/health/ready reports the queue namespace {reported:?}, the host's queue is {namespace:?}"
        ));
    }
    passed(&format!(
        "/stack/health/ready reports store {} cache {} queue {queue_name}, all up",
        target.store, target.cache
    ));

    // A typed job through the host's queue handle runs on the host's workers.
    target
        .queue
        .enqueue_job(&Greet {
            name: "self-check".into(),
        })
        .await
        .map_err(|e| format!("enqueueing a Greet job: {e}"))?;
    let seen = target.seen.clone();
    eventually(
        "the Greet job enqueued by the host runs on its workers",
        || {
            let done = seen.greeted("self-check");
            async move { Ok(done) }
        },
    )
    .await?;
    passed("a typed job enqueued on the host's queue ran on the host's workers");

    // The rail API under /stack: a user, a deposit, its confirmation; the notification the
    // rail enqueues (on the app's queue) runs on the host's workers: the same queue.
    // Unique to this run, so a second self-check on the same database file is not a 409.
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
        ^ u128::from(std::process::id());
    let user = client
        .call(
            "POST",
            "/stack/api/v1/users",
            auth,
            Some(json!({
                "email": format!("host-{run:x}@example.com"),
                "phone": format!("+1415{:07}", run % 10_000_000),
                "full_name": "Host User",
            })),
        )
        .await?
        .expect("POST /stack/api/v1/users", 201)?;
    let user = user["id"]
        .as_str()
        .ok_or("the created user has no id")?
        .to_owned();
    passed("a user created through /stack/api/v1/users");
    let deposit = client
        .call(
            "POST",
            "/stack/api/v1/deposits",
            auth,
            Some(json!({
                "user_id": user, "chain": "ethereum", "tx_hash": format!("0x{run:x}"),
                "output_index": 0, "asset": "USDC", "amount": "12.50",
            })),
        )
        .await?
        .expect("POST /stack/api/v1/deposits", 201)?;
    let deposit = deposit["id"]
        .as_str()
        .ok_or("the deposit has no id")?
        .to_owned();
    let confirm = format!("/stack/api/v1/deposits/{deposit}/confirm");
    let confirmed = client
        .call("POST", &confirm, auth, None)
        .await?
        .expect(&confirm, 200)?;
    if confirmed["status"] != "confirmed" {
        return Err(format!("{confirm}: not confirmed: {confirmed}"));
    }
    let notices = format!("/stack/api/v2/audit-logs?user_id={user}&action=deposit.notified");
    eventually(
        "the deposit's notification (enqueued by the rail) runs on the host's workers",
        || {
            let (client, notices) = (client.clone(), notices.clone());
            async move {
                let slice = client
                    .call("GET", &notices, auth, None)
                    .await?
                    .expect(&notices, 200)?;
                Ok(slice["items"]
                    .as_array()
                    .is_some_and(|items| !items.is_empty()))
            }
        },
    )
    .await?;
    passed("a deposit confirmed through the rail had its notification run by the host's workers");

    // The host's cron schedule fired.
    let seen = target.seen.clone();
    eventually("a tick of the host's cron schedule", || {
        let ticks = seen.ticks();
        async move { Ok(ticks > 0) }
    })
    .await?;
    passed("the host's cron schedule fired");

    // The documents name the prefix; the host's own 404 is problem+json.
    let document = "/stack/api/v1/openapi.json";
    let spec = client
        .call("GET", document, auth, None)
        .await?
        .expect(document, 200)?;
    if spec["servers"][0]["url"] != "/stack/api/v1" {
        return Err(format!(
            "{document}: servers should name /stack/api/v1: {}",
            spec["servers"]
        ));
    }
    passed("the rail's document names its server /stack/api/v1");
    let root = client
        .call("GET", "/stack/openapi.json", auth, None)
        .await?;
    let root = root.expect("GET /stack/openapi.json", 200)?;
    if root["info"]["title"] != "Embedded host" {
        return Err(format!(
            "/stack/openapi.json: expected the host's title: {}",
            root["info"]
        ));
    }
    passed("the root document has the host's title");
    let greeting = client
        .call("GET", "/stack/host/greeting", auth, None)
        .await?;
    let document = "/stack/host/openapi.json";
    let spec = client
        .call("GET", document, auth, None)
        .await?
        .expect(document, 200)?;
    if greeting.status != 200
        || greeting.body.is_empty()
        || spec["servers"][0]["url"] != "/stack/host"
    {
        return Err(format!(
            "the host's API: GET /stack/host/greeting answered {} {:?}; its document's servers: {}",
            greeting.status, greeting.body, spec["servers"]
        ));
    }
    passed("the host's own API answers at /stack/host, its document naming /stack/host");
    let missing = client.call("GET", "/no-such-page", None, None).await?;
    if missing.status != 404 || missing.content_type != "application/problem+json" {
        return Err(format!(
            "GET /no-such-page: expected the host's 404 as problem+json, got {} ({})",
            missing.status, missing.content_type
        ));
    }
    passed("the host's own 404 is problem+json");
    Ok(report)
}

/// After the stop: nothing answers any more; the host cleans up what the check left (its
/// queue dropped in bounded batches, its cache counter deleted), so a shared Redis keeps
/// nothing of this run.
///
/// # Errors
/// A server still answering, or a cleanup that fails.
pub(crate) async fn after_stop(
    base: &str,
    queue: &Arc<dyn Queue>,
    cache: &Arc<dyn Cache>,
) -> Result<(), String> {
    if Client::new(base)
        .call("GET", "/hello", None, None)
        .await
        .is_ok()
    {
        return Err("the server still answers after its stop".into());
    }
    for _ in 0..100 {
        let progress = queue
            .drop_queue(false, 1000)
            .await
            .map_err(|e| format!("dropping the queue: {e}"))?;
        if progress.remaining == 0 {
            cache
                .delete(VISITS)
                .await
                .map_err(|e| format!("deleting {VISITS}: {e}"))?;
            return Ok(());
        }
    }
    Err("the queue still holds jobs after 100 batches of 1000".into())
}
