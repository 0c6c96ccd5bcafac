//! `/admin/dashboard`: the page and its assets (served without the token, with a strict
//! Content-Security-Policy; absent without an admin token), one job by id, and the page in
//! headless Chromium: signing in, a dead letter with its error history, replaying it, a
//! purge behind a typed confirmation, running and scheduled jobs, a job by id and a
//! schedule's "trigger now"; the listing of jobs by state.

use std::time::Duration;

use poem::http::StatusCode;
use poem::test::TestClient;
use serde_json::json;
use stack_core::config::Config;
use stack_core::queue::{Failure, JobId, JobState, NewJob, Priority, Queue};
use stack_core::scheduler::{ScheduleSpec, Scheduler};
use stack_server::admin::dashboard::CONTENT_SECURITY_POLICY;
use stack_server::http::server::{ServeOptions, serve};
use stack_server::http::shutdown::{Shutdown, ShutdownTrigger};

use super::chromium::Chromium;
use super::{TOKEN, admin, app, config, open, send};

/// Enqueues a job of `job_type` and fails it twice (its two attempts): a dead letter with two
/// errors in its history.
async fn dead_letter(queue: &dyn Queue, job_type: &str) -> JobId {
    let job = NewJob::new(job_type, json!({ "to": "ops@example.com" })).max_attempts(2);
    let id = queue.enqueue(job).await.unwrap().id();
    for attempt in 1..=2 {
        let leases = queue.reserve(1, Duration::from_secs(30)).await.unwrap();
        assert_eq!(leases.len(), 1, "attempt {attempt}: the job is ready");
        let message = format!("smtp refused (attempt {attempt})");
        // The first failure is retried at once, the second one spends the last attempt.
        let failure = Failure::retry_after(message, Duration::ZERO);
        queue.fail(&leases[0].token, failure).await.unwrap();
    }
    assert_eq!(queue.get(id).await.unwrap().unwrap().state, JobState::Dead);
    id
}

#[tokio::test]
async fn the_page_and_its_assets_need_no_token_and_carry_a_strict_policy() {
    let config = config();
    let client = TestClient::new(app(open(&config).await, &config));
    for (path, kind) in [
        ("/admin/dashboard", "text/html"),
        ("/admin/dashboard/app.js", "text/javascript"),
        ("/admin/dashboard/workers.js", "text/javascript"),
        ("/admin/dashboard/app.css", "text/css"),
    ] {
        let response = client.get(path).send().await;
        response.assert_status_is_ok();
        let headers = response.0.headers();
        let content_type = headers["content-type"].to_str().unwrap();
        assert!(content_type.starts_with(kind), "{path}: {content_type}");
        assert_eq!(headers["content-security-policy"], CONTENT_SECURITY_POLICY);
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["cache-control"], "no-store");
    }
    // Only the page's own URL: with a trailing slash its relative asset URLs would miss.
    let (status, _) = send(client.get("/admin/dashboard/")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The rest of /admin still needs the token.
    let (status, _) = send(client.get("/admin/queue/stats")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn without_an_admin_token_there_is_no_dashboard() {
    let mut config = config();
    config.api.admin_token = None;
    let client = TestClient::new(app(open(&config).await, &config));
    for path in ["/admin/dashboard", "/admin/dashboard/app.js"] {
        let (status, problem) = send(client.get(path)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {problem}");
    }
}

#[tokio::test]
async fn a_job_is_found_by_id_in_any_state_with_its_error_history() {
    let config = config();
    let backends = open(&config).await;
    let id = dead_letter(backends.queue.as_ref(), "email.send").await;
    let client = admin(app(backends, &config));
    let (status, job) = send(client.get(format!("/admin/queue/jobs/{id}"))).await;
    assert_eq!(status, StatusCode::OK, "{job}");
    assert_eq!(job["state"], "dead");
    assert_eq!(job["type"], "email.send");
    let errors = job["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{job}");
    assert_eq!(errors[1]["message"], "smtp refused (attempt 2)");
    let unknown = uuid::Uuid::now_v7();
    let (status, problem) = send(client.get(format!("/admin/queue/jobs/{unknown}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    let (status, _) = send(client.get("/admin/queue/jobs/not-a-uuid")).await;
    assert!(status.is_client_error(), "{status}");
}

/// A running job (leased for 10 minutes) and a job scheduled an hour ahead, of types no other
/// job of a test has; answers their ids.
async fn running_and_scheduled(queue: &dyn Queue) -> (JobId, JobId) {
    let urgent = NewJob::new("video.encode", json!({ "clip": 7 })).priority(Priority::Critical);
    let running = queue.enqueue(urgent).await.unwrap().id();
    let leases = queue.reserve(1, Duration::from_secs(600)).await.unwrap();
    assert_eq!(
        leases[0].job.id, running,
        "the critical job is leased first"
    );
    let later = NewJob::new("invoice.send", json!({ "n": 1 })).delay(Duration::from_secs(3600));
    let scheduled = queue.enqueue(later).await.unwrap().id();
    (running, scheduled)
}

#[tokio::test]
async fn running_and_scheduled_jobs_are_listed_and_bad_queries_are_problems() {
    let config = config();
    let backends = open(&config).await;
    let (running, scheduled) = running_and_scheduled(backends.queue.as_ref()).await;
    let client = admin(app(backends, &config));
    let list = |query: &[(&str, &str)]| {
        let mut request = client.get("/admin/queue/jobs");
        for (name, value) in query {
            request = request.query(*name, value);
        }
        request
    };
    let (status, page) = send(list(&[("state", "running")])).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["items"][0]["id"], running.to_string(), "{page}");
    assert_eq!(page["items"][0]["type"], "video.encode");
    assert_eq!(page["items"][0]["attempts"], 1);
    assert!(page["items"][0]["lease_expires_at"].is_string(), "{page}");
    assert!(page["next"].is_null(), "{page}");
    let (_, page) = send(list(&[("state", "scheduled"), ("type", "invoice.send")])).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page["items"][0]["id"], scheduled.to_string());
    assert!(page["items"][0]["lease_expires_at"].is_null(), "{page}");
    // A full page names where the next one starts; that page holds the rest.
    let (_, page) = send(list(&[("state", "running"), ("limit", "1")])).await;
    let next = page["next"]
        .as_str()
        .expect("a full page has a next")
        .to_owned();
    let (_, rest) = send(list(&[("state", "running"), ("after", &next)])).await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 0, "{rest}");

    for (name, query) in [
        ("state", vec![("state", "dead")]),
        ("limit", vec![("state", "running"), ("limit", "0")]),
        ("limit", vec![("state", "running"), ("limit", "1001")]),
        ("after", vec![("state", "running"), ("after", "yesterday")]),
        ("type", vec![("state", "running"), ("type", "")]),
    ] {
        let (status, problem) = send(list(&query)).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query:?}: {problem}"
        );
        assert_eq!(problem["errors"][0]["pointer"], format!("#/query/{name}"));
    }
}

/// The app of `config` served on a loopback port until the returned trigger stops it.
async fn served(config: &Config, backends: stack_server::backends::Backends) -> (u16, StopOnDrop) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (shutdown, trigger) = Shutdown::manual();
    let endpoint = app(backends, config);
    let options = ServeOptions::from_config(&config.server);
    tokio::spawn(async move { serve(listener, endpoint, options, &shutdown).await });
    (port, StopOnDrop(Some(trigger)))
}

/// Stops a served app when dropped.
struct StopOnDrop(Option<ShutdownTrigger>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Some(trigger) = self.0.take() {
            trigger.stop();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_replays_a_dead_letter_in_chromium() {
    let config = config();
    let backends = open(&config).await;
    let queue = backends.queue.clone();
    let replayed = dead_letter(queue.as_ref(), "email.send").await;
    let purged = dead_letter(queue.as_ref(), "report.build").await;
    let (running, scheduled) = running_and_scheduled(queue.as_ref()).await;
    super::workers::report_holding(queue.as_ref(), "dash-host", vec![running]).await;
    let nightly = ScheduleSpec::new("nightly-report", "0 30 2 * * *", "report.build");
    backends.scheduler.add(nightly).await.unwrap();
    let (port, _server) = served(&config, backends).await;

    if std::env::var_os("STACK_DASHBOARD_SCREENSHOT").is_some() {
        tokio::spawn(traffic(queue.clone()));
    }
    let url = format!("http://127.0.0.1:{port}/admin/dashboard");
    let shot =
        tokio::task::spawn_blocking(move || drive(&url, replayed, purged, (running, scheduled)))
            .await
            .unwrap();
    assert_eq!(&shot[..8], b"\x89PNG\r\n\x1a\n", "a PNG screenshot");
    if let Some(path) = std::env::var_os("STACK_DASHBOARD_SCREENSHOT") {
        std::fs::write(path, &shot).unwrap();
    }

    // What the page did, as the queue tells it.
    let job = queue.get(replayed).await.unwrap().unwrap();
    assert_eq!(
        job.state,
        JobState::Pending,
        "the replayed job is pending again"
    );
    assert_eq!(job.attempts, 0, "with a fresh set of attempts");
    assert!(
        queue.get(purged).await.unwrap().is_none(),
        "the purged one is gone"
    );
}

/// Some work arriving and being taken, for the documentation's picture of the depth chart
/// (only when the test saves it): jobs of other types than the test's.
async fn traffic(queue: std::sync::Arc<dyn Queue>) {
    for step in 0..16u32 {
        for priority in Priority::URGENT_FIRST.iter().skip((step % 4) as usize) {
            let job = NewJob::new("picture.work", json!({ "step": step })).priority(*priority);
            let _ = queue.enqueue(job).await;
        }
        if step % 2 == 1 {
            let _ = queue.reserve(3, Duration::from_secs(600)).await;
        }
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
}

/// The browser's part: answers the screenshot taken with the dead letters listed.
fn drive(url: &str, replayed: JobId, purged: JobId, listed: (JobId, JobId)) -> Vec<u8> {
    let limit = Duration::from_secs(20);
    let mut browser = Chromium::start(1280, 1240);
    browser.navigate(url);
    browser.wait_until(
        "document.readyState === 'complete' && typeof refreshAll === 'function'",
        limit,
        "the page and its script load",
    );
    // A wrong token is refused and the panels stay hidden.
    let sign_in = |token: &str| {
        format!(
            "document.getElementById('token').value = {token:?}; \
             document.getElementById('token-form').requestSubmit(); true"
        )
    };
    browser.eval(&sign_in("not-the-token"));
    browser.wait_until(
        "document.getElementById('sign-in-error').textContent.includes('not the admin token') \
         && document.getElementById('panels').hidden",
        limit,
        "a wrong token is refused",
    );
    browser.eval(&sign_in(TOKEN));
    let row = format!("document.querySelector('tr[data-job-id=\"{replayed}\"]')");
    browser.wait_until(
        &format!("{row} !== null && {row}.textContent.includes('smtp refused (attempt 1)')"),
        limit,
        "the dead letter is listed with its error history",
    );
    let (running, scheduled) = listed;
    browser.wait_until(
        &format!(
            "(r => r !== null && r.textContent.includes('video.encode') \
             && r.textContent.includes('since enqueue') && r.textContent.includes(' (in ') \
             && r.textContent.includes('dash-host:4242'))\
             (document.querySelector('#running-table tr[data-job-id=\"{running}\"]'))"
        ),
        limit,
        "the running job is listed with its age, lease expiry and worker",
    );
    // Search by type: only that type's running jobs are listed.
    browser.eval(
        "document.getElementById('listed-type').value = 'no.such.type'; \
         document.getElementById('listed-filter').requestSubmit(); true",
    );
    browser.wait_until(
        &format!(
            "document.querySelector('#running-table tr[data-job-id=\"{running}\"]') === null \
             && document.querySelector('#running-table td.empty') !== null"
        ),
        limit,
        "a type filter hides the running jobs of other types",
    );
    browser.eval(
        "document.getElementById('listed-type').value = 'video.encode'; \
         document.getElementById('listed-filter').requestSubmit(); true",
    );
    browser.wait_until(
        &format!("document.querySelector('#running-table tr[data-job-id=\"{running}\"]') !== null"),
        limit,
        "its own type lists it again",
    );
    browser.eval(
        "document.getElementById('listed-type').value = ''; \
         document.getElementById('listed-filter').requestSubmit(); true",
    );
    browser.wait_until(
        "document.getElementById('workers-summary').textContent.startsWith('pools: 1, processes: 1, jobs that may run at once: 6,') \
         && document.querySelector('#workers-table tr[data-worker-id]').textContent.includes('6 of max 12')",
        limit,
        "the worker processes are listed with their counts",
    );
    browser.wait_until(
        &format!(
            "(r => r !== null && r.textContent.includes('invoice.send') && r.textContent.includes('(in 60 min)'))\
             (document.querySelector('#scheduled-table tr[data-job-id=\"{scheduled}\"]'))"
        ),
        limit,
        "the scheduled job is listed with its run time",
    );
    browser.wait_until(
        "document.querySelectorAll('#chart polyline').length === 7",
        limit,
        "the depth chart is drawn",
    );
    if std::env::var_os("STACK_DASHBOARD_SCREENSHOT").is_some() {
        // Samples on the chart for the documentation's picture.
        browser.wait_until("samples.length >= 6", limit, "six samples");
    }
    let shot = browser.screenshot();

    browser.eval(&format!(
        "document.querySelector('button[data-replay=\"{replayed}\"]').click(); true"
    ));
    browser.wait_until(
        &format!(
            "{row} === null && document.getElementById('status').textContent.includes('replayed')"
        ),
        limit,
        "the replayed dead letter leaves the list",
    );

    // Purge: the confirm button stays disabled until the phrase is typed exactly.
    browser.eval(
        "document.getElementById('dead-type').value = 'report.build'; \
         document.getElementById('purge').click(); true",
    );
    let typed = |text: &str| {
        format!(
            "(() => {{ const input = document.getElementById('confirm-input'); \
             input.value = {text:?}; input.dispatchEvent(new Event('input')); \
             return document.getElementById('confirm-go').disabled; }})()"
        )
    };
    browser.wait_until(
        "document.getElementById('confirm').open",
        limit,
        "the dialog opens",
    );
    assert_eq!(
        browser.eval(&typed("purge")),
        json!(true),
        "a partial phrase"
    );
    assert_eq!(browser.eval(&typed("purge report.build")), json!(false));
    browser.eval("document.getElementById('confirm-go').click(); true");
    let purged_row = format!("document.querySelector('tr[data-job-id=\"{purged}\"]')");
    browser.wait_until(
        &format!("{purged_row} === null && document.getElementById('status').textContent.includes('purged 1')"),
        limit,
        "the purged dead letter leaves the list",
    );

    // The replayed job by id: pending again, its history kept.
    browser.eval(&format!(
        "document.getElementById('job-id').value = '{replayed}'; \
         document.getElementById('job-form').requestSubmit(); true"
    ));
    browser.wait_until(
        "(t => t.includes('pending') && t.includes('smtp refused (attempt 2)'))\
         (document.getElementById('job-result').textContent)",
        limit,
        "the job found by id",
    );
    // Trigger now.
    browser.eval("document.querySelector('button[data-trigger=\"nightly-report\"]').click(); true");
    browser.wait_until(
        "document.getElementById('status').textContent.startsWith('triggered nightly-report: job ')",
        limit,
        "the schedule is triggered",
    );
    shot
}
