//! The Store on PostgreSQL under load (a bench binary, not a test):
//!
//! 1. bulk insert: `record_deposits` through the Store against PostgreSQL's own `COPY` of the
//!    same rows, three rounds each, one after the other (min / median / max);
//! 2. 1,000,000 deposits over 10,000 users (one "whale" user holds 100,000, so page 500
//!    exists), then list-by-user latencies (p50 / p99) for page 1 and page 500, offset and
//!    keyset, with the index migration applied and rolled back, each with its plan's top
//!    node and the index it uses.
//!
//! `cargo bench -p stack-tests --bench store` (needs `STACK_TEST_POSTGRES_URL`, as
//! `scripts/services.sh` exports). `STACK_BENCH_DEPOSITS` and `STACK_BENCH_ROUND` scale it.

#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    reason = "a bench binary: a failure must stop it"
)]

use std::time::{Duration, Instant};

use rand::Rng;
use rust_decimal::Decimal;
use sea_orm::sqlx::postgres::PgPoolCopyExt;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use stack_backends::sql::{self, SqlOptions, SqlStore};
use stack_core::bulk::BulkOutcome;
use stack_core::page::PageRequest;
use stack_core::store::{CursorRequest, DepositFilter, MoneyStore, NewDeposit, NewUser, UserStore};
use uuid::Uuid;

fn deposit(user: Uuid, n: usize) -> NewDeposit {
    NewDeposit {
        user_id: user,
        chain: "ethereum".into(),
        tx_hash: format!("0x{}{n:08}", Uuid::new_v4().simple()),
        output_index: 0,
        asset: "USDC".into(),
        amount: Decimal::new(rand::rng().random_range(1..1_000_000), 2),
    }
}

/// COPYs `rows` deposits of `users` (uniformly) into `table`; `whale` takes `whale_rows` of them.
async fn copy_deposits(
    db: &DatabaseConnection,
    table: &str,
    users: &[Uuid],
    rows: usize,
    whale_rows: usize,
) -> Duration {
    let mut rng = rand::rng();
    let now = chrono::Utc::now();
    let mut csv = String::with_capacity(rows * 160);
    for n in 0..rows {
        let user = if n < whale_rows {
            users[0]
        } else {
            users[rng.random_range(0..users.len())]
        };
        let created = now - chrono::Duration::seconds(rng.random_range(0..31_536_000));
        let amount = Decimal::new(rng.random_range(1..1_000_000), 2);
        csv.push_str(&format!(
            "{},{user},ethereum,0x{}{n:08},0,USDC,{amount},pending,{}\n",
            Uuid::now_v7(),
            Uuid::new_v4().simple(),
            created.to_rfc3339()
        ));
    }
    let started = Instant::now();
    let pool = db.get_postgres_connection_pool();
    let statement = format!(
        "COPY {table} (id, user_id, chain, tx_hash, output_index, asset, amount, status, created_at) FROM STDIN (FORMAT csv)"
    );
    let mut copy = pool.copy_in_raw(&statement).await.unwrap();
    copy.send(csv.into_bytes()).await.unwrap();
    copy.finish().await.unwrap();
    started.elapsed()
}

fn stats(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    (
        values[0],
        values[values.len() / 2],
        values[values.len() - 1],
    )
}

fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p99 = samples[((samples.len() as f64 * 0.99).ceil() as usize).saturating_sub(1)];
    (ms(samples[samples.len() / 2]), ms(p99))
}

/// The plan's top node and the first index it uses (or its scan when it uses none).
async fn plan(db: &DatabaseConnection, sql: &str) -> String {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("EXPLAIN (FORMAT JSON) {sql}"),
        ))
        .await
        .unwrap()
        .unwrap();
    let json: serde_json::Value = row.try_get_by_index(0).unwrap();
    let top = &json[0]["Plan"];
    fn find(node: &serde_json::Value) -> Option<String> {
        if let Some(index) = node["Index Name"].as_str() {
            return Some(format!(
                "{} on {index}",
                node["Node Type"].as_str().unwrap_or("?")
            ));
        }
        node["Plans"].as_array()?.iter().find_map(find)
    }
    fn deepest(node: &serde_json::Value) -> String {
        match node["Plans"].as_array().and_then(|p| p.first()) {
            Some(child) => deepest(child),
            None => node["Node Type"].as_str().unwrap_or("?").to_owned(),
        }
    }
    let uses = find(top).unwrap_or_else(|| deepest(top));
    format!("{} / {uses}", top["Node Type"].as_str().unwrap_or("?"))
}

async fn measure(store: &SqlStore, users: &[Uuid], label: &str, iterations: usize) {
    let db = store.connection();
    let (whale, typical) = (users[0], users[users.len() / 2]);
    for (who, user, page) in [
        ("whale", whale, 1),
        ("whale", whale, 500),
        ("typical", typical, 1),
    ] {
        let filter = DepositFilter {
            user_id: Some(user),
            ..DepositFilter::default()
        };
        let request = PageRequest::new(page, 20).unwrap();
        let mut samples = Vec::new();
        for _ in 0..iterations {
            let started = Instant::now();
            let listed = store.list_deposits(&filter, request).await.unwrap();
            samples.push(started.elapsed());
            assert_eq!(listed.items.len(), 20);
        }
        let (p50, p99) = percentiles(samples);
        let sql = format!(
            "SELECT * FROM deposits WHERE user_id = '{user}' ORDER BY created_at DESC, id DESC LIMIT 20 OFFSET {}",
            (page - 1) * 20
        );
        println!(
            "| {label} | offset (page + count) | {who} | {page} | {p50:.2} | {p99:.2} | {} |",
            plan(db, &sql).await
        );
        if page == 500 {
            // The same slice by keyset: the cursor of the row just before it.
            let before = store
                .list_deposits(&filter, PageRequest::new(499, 20).unwrap())
                .await
                .unwrap();
            let last = before.items.last().unwrap();
            let cursor = stack_core::store::Cursor::new(last.created_at, last.id);
            let mut samples = Vec::new();
            for _ in 0..iterations {
                let started = Instant::now();
                let slice = store
                    .scan_deposits(&filter, CursorRequest::new(Some(cursor), 20).unwrap())
                    .await
                    .unwrap();
                samples.push(started.elapsed());
                assert_eq!(slice.items.len(), 20);
            }
            let (p50, p99) = percentiles(samples);
            let sql = format!(
                "SELECT * FROM deposits WHERE user_id = '{user}' AND (created_at, id) < ('{}', '{}') ORDER BY created_at DESC, id DESC LIMIT 21",
                cursor.created_at.to_rfc3339(),
                cursor.id
            );
            println!(
                "| {label} | keyset | {who} | {page} | {p50:.2} | {p99:.2} | {} |",
                plan(db, &sql).await
            );
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let total = stack_tests::bench_setting("STACK_BENCH_DEPOSITS", 1_000_000);
    let round = stack_tests::bench_setting("STACK_BENCH_ROUND", 100_000);
    let user_count = 10_000;
    let url = stack_tests::services::fresh_postgres_database().await;
    let store = sql::open(&url, &SqlOptions::default()).await.unwrap();
    sql::migrate_up(store.connection(), None).await.unwrap();
    let db = store.connection().clone();
    println!("database: {url}");

    let mut users = Vec::with_capacity(user_count);
    for chunk in 0..user_count / 5_000 {
        let batch: Vec<NewUser> = (0..5_000)
            .map(|i| NewUser {
                email: format!("u{chunk}-{i}@bench.example"),
                phone: None,
                full_name: "Bench".into(),
            })
            .collect();
        for item in store.create_users(batch).await.unwrap() {
            if let BulkOutcome::Ok(id) = item.outcome {
                users.push(id);
            }
        }
    }
    db.execute_unprepared("CREATE TABLE deposits_copy (LIKE deposits INCLUDING ALL)")
        .await
        .unwrap();

    println!("\n## Bulk insert: {round} deposits per round, 3 rounds each\n");
    let (mut through_store, mut through_copy) = (Vec::new(), Vec::new());
    for r in 0..3 {
        let batch: Vec<NewDeposit> = (0..round)
            .map(|n| {
                deposit(
                    users[rand::rng().random_range(0..users.len())],
                    r * round + n,
                )
            })
            .collect();
        let started = Instant::now();
        for chunk in batch.chunks(10_000) {
            let results = store.record_deposits(chunk.to_vec()).await.unwrap();
            assert!(results.iter().all(|i| i.outcome.is_ok()));
        }
        through_store.push(round as f64 / started.elapsed().as_secs_f64());
        let took = copy_deposits(&db, "deposits_copy", &users, round, 0).await;
        through_copy.push(round as f64 / took.as_secs_f64());
    }
    let (s_min, s_med, s_max) = stats(through_store);
    let (c_min, c_med, c_max) = stats(through_copy);
    println!("| path | rows/s min | median | max |\n|---|---|---|---|");
    println!(
        "| Store `record_deposits` (chunks of 10,000; writes an audit row per deposit) | {s_min:.0} | {s_med:.0} | {s_max:.0} |"
    );
    println!(
        "| PostgreSQL `COPY` of the same rows into a table with the same indexes, checks and foreign key (no audit rows) | {c_min:.0} | {c_med:.0} | {c_max:.0} |"
    );
    println!("\nratio Store / COPY (medians): {:.2}", s_med / c_med);

    let loaded = 3 * round;
    let rest = total.saturating_sub(loaded);
    let whale_rows = total / 10;
    let took = copy_deposits(&db, "deposits", &users, rest, whale_rows.min(rest)).await;
    println!(
        "\nloaded {rest} more deposits by COPY in {:.1}s ({total} in all; the whale holds {})",
        took.as_secs_f64(),
        whale_rows.min(rest)
    );
    db.execute_unprepared("VACUUM ANALYZE").await.unwrap();

    println!("\n## List by user (20 per page)\n");
    println!(
        "| indexes | query | user | page | p50 ms | p99 ms | plan: top node / index |\n|---|---|---|---|---|---|---|"
    );
    measure(&store, &users, "applied", 200).await;
    stack_migrations::drop_list_indexes(store.connection())
        .await
        .unwrap();
    db.execute_unprepared("VACUUM ANALYZE").await.unwrap();
    measure(&store, &users, "rolled back", 20).await;
    stack_migrations::create_list_indexes(store.connection())
        .await
        .unwrap();
    let _ = db
        .execute_unprepared(&format!(
            "SELECT 1 /* {url} kept for inspection; dropped by the next run after an hour */"
        ))
        .await;
}
