//! What `deploy/` ships: the Prometheus alert rules pass `promtool check rules` and their
//! own unit tests (`promtool test rules`), and the rules, the Grafana dashboard and
//! docs/operations.md name only series the server exports (and the docs name every one).
//!
//! promtool comes from `STACK_TEST_PROMTOOL_BIN` (scripts/services.sh installs Debian's
//! `prometheus` package and exports it) or `promtool` on the `PATH`; without it the test
//! fails, it never skips.

#![allow(clippy::unwrap_used, reason = "a failed call must fail the test")]

use std::path::{Path, PathBuf};
use std::process::Command;

use stack_core::metrics::{Kind, SERIES};

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

fn promtool(args: &[&str]) -> String {
    let bin = std::env::var("STACK_TEST_PROMTOOL_BIN").unwrap_or_else(|_| "promtool".into());
    let out = Command::new(&bin)
        .args(args)
        .current_dir(deploy().join("prometheus"))
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "promtool is required by this test and was not found ({bin}: {e}).\n\
                 Run scripts/services.sh (it installs Debian's `prometheus` package) or set \
                 STACK_TEST_PROMTOOL_BIN."
            )
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

/// Every `stack_...` name in `text`.
fn names(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("stack_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        found.push(tail[..end].to_owned());
        rest = &tail[end..];
    }
    found
}

/// Whether the server exports `name` (a histogram as its `_bucket`, `_sum` and `_count`).
fn exported(name: &str) -> bool {
    SERIES.iter().any(|s| match s.kind {
        Kind::Histogram => ["_bucket", "_sum", "_count"]
            .iter()
            .any(|suffix| name == format!("{}{suffix}", s.name)),
        _ => name == s.name,
    })
}

#[test]
fn the_alert_rules_pass_promtool_check_and_their_unit_tests() {
    let checked = promtool(&["check", "rules", "stack-alerts.yml"]);
    assert!(checked.contains("SUCCESS: 7 rules found"), "{checked}");
    let tested = promtool(&["test", "rules", "rules_test.yml"]);
    assert!(tested.contains("SUCCESS"), "{tested}");
}

#[test]
fn the_rules_and_the_dashboard_query_only_exported_series() {
    let rules = std::fs::read_to_string(deploy().join("prometheus/stack-alerts.yml")).unwrap();
    let dashboard = std::fs::read_to_string(deploy().join("grafana/stack-dashboard.json")).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
    let panels = parsed["panels"].as_array().unwrap();
    assert!(!panels.is_empty());
    let mut queried = names(&rules);
    for panel in panels {
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{panel}");
        for target in targets {
            queried.extend(names(target["expr"].as_str().unwrap()));
        }
    }
    assert!(queried.len() > 20, "{queried:?}");
    for name in &queried {
        assert!(
            exported(name),
            "{name} is queried but the server exports no such series"
        );
    }
    // The seed's monitoring list is on the dashboard.
    for needed in [
        "stack_db_statement_seconds_bucket",
        "stack_cache_hits_total",
        "stack_queue_ready_jobs",
        "stack_queue_dead_letters",
        "stack_db_pool_max_connections",
        "stack_http_request_seconds_bucket",
    ] {
        assert!(
            queried.iter().any(|n| n == needed),
            "the dashboard lacks {needed}"
        );
    }
}

#[test]
fn operations_md_lists_every_series_and_no_other() {
    let docs = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/operations.md"),
    )
    .unwrap();
    for series in SERIES {
        assert!(
            docs.contains(&format!("`{}`", series.name)),
            "docs/operations.md does not list {}",
            series.name
        );
    }
    let start = docs.find("\n## Metrics\n").unwrap();
    let section = &docs[start + 1..];
    let section = &section[..section.find("\n## Alerts").unwrap()];
    let crates = ["stack_core", "stack_backends", "stack_server"];
    let catalogued = |name: &str| exported(name) || SERIES.iter().any(|s| s.name == name);
    for name in names(section)
        .into_iter()
        .filter(|n| !crates.contains(&n.as_str()))
    {
        assert!(
            catalogued(&name),
            "docs/operations.md names {name}, which the server does not export"
        );
    }
}
