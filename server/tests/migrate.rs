//! `stack migrate` and the schema checks of `stack serve`, on SQLite through the binary and
//! on a PostgreSQL database of the test's own.

#![allow(clippy::unwrap_used, reason = "a failed call must fail the test")]

mod common;

use common::stack;
use sea_orm::{ConnectionTrait, Database, Statement};
use stack_core::config::Config;
use stack_server::backends::Backends;

fn migrate(url: &str, args: &[&str]) -> (bool, String, String) {
    let out = stack()
        .arg("migrate")
        .args(args)
        .env("STACK__DATABASE__URL", url)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn migrate_up_down_status_fresh_on_sqlite() {
    let dir = std::env::temp_dir().join(stack_tests::unique("stack-migrate"));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("m.db").display());
    let names = [
        "m0001_rail_tables",
        "m0002_list_indexes",
        "m0003_deposit_output_index",
        "m0004_idempotency_keys",
        "m0005_operator_audit",
        "m0006_jobs",
        "m0007_job_trace_context",
        "m0008_job_workers",
    ];
    // The status lines with the first `applied` migrations applied and the rest pending.
    let status = |applied: usize| -> String {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let state = if i < applied { "applied" } else { "pending" };
                format!("{state}  {n}\n")
            })
            .collect()
    };
    let (ok, out, err) = migrate(&url, &["status"]);
    assert!(ok, "{err}");
    assert_eq!(out, status(0));
    let (ok, out, err) = migrate(&url, &["up"]);
    assert!(ok, "{err}");
    assert_eq!(out, status(names.len()));
    let (ok, out, _) = migrate(&url, &["down"]);
    assert!(ok);
    assert_eq!(out, status(names.len() - 1));
    let (ok, out, _) = migrate(&url, &["down", "7"]);
    assert!(ok);
    assert_eq!(out, status(0));
    let (ok, out, _) = migrate(&url, &["fresh"]);
    assert!(ok);
    assert_eq!(out, status(names.len()));
    // A bad configuration is refused before anything is touched.
    let (ok, _, err) = migrate("mysql://nope", &["up"]);
    assert!(!ok);
    assert!(
        err.contains("database.url (from STACK__DATABASE__URL)"),
        "{err}"
    );
}

async fn index_names(url: &str) -> Vec<String> {
    let db = Database::connect(url).await.unwrap();
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get::<String>("", "indexname").unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_schema_behind_is_refused_and_down_2_removes_the_indexes() {
    let url = stack_tests::services::fresh_postgres_database().await;
    let mut config = Config::default();
    config.database.url = url.clone();
    let refused = Backends::open(&config).await.unwrap_err().to_string();
    assert!(refused.contains("run `stack migrate up`"), "{refused}");
    assert!(refused.contains("m0001_rail_tables"), "{refused}");

    let (ok, _, err) = migrate(&url, &["up"]);
    assert!(ok, "{err}");
    let all = index_names(&url).await;
    assert_eq!(
        all.iter().filter(|n| n.starts_with("ix_")).count(),
        15,
        "{all:?}"
    );
    Backends::open(&config)
        .await
        .expect("a migrated schema opens");

    // Migrations 3 (the deposit key), 4 (idempotency keys), 5 (operator audit logs), 6 (the
    // jobs table), 7 (the jobs' trace context) and 8 (the worker registry) came after the
    // indexes: seven steps down remove the indexes too.
    let (ok, _, err) = migrate(&url, &["down", "7"]);
    assert!(ok, "{err}");
    let left = index_names(&url).await;
    assert!(!left.iter().any(|n| n.starts_with("ix_")), "{left:?}");
    // The constraints correctness depends on stay with the tables.
    assert!(
        left.contains(&"ux_deposits_chain_tx".to_owned()),
        "{left:?}"
    );
    let behind = Backends::open(&config).await.unwrap_err().to_string();
    assert!(behind.contains("m0002_list_indexes"), "{behind}");
}
