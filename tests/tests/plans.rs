//! Query plans on PostgreSQL: every named list query of the Store reads its index once the
//! index migration is applied, and scans its table sequentially once it is rolled back.
//!
//! With the indexes applied, plans are taken with `enable_seqscan = off`: on a test-sized
//! table the planner may rightly prefer a scan, and the question here is whether the query
//! can use its index at all (its shape matches the index). `docs/benchmarks.md` shows the
//! planner choosing these indexes on its own at 1,000,000 rows.

use stack_backends::sql::diagnostics::explain;
use stack_backends::sql::{ListQuery, SqlOptions};
use stack_core::page::PageRequest;
use stack_core::store::{
    AuditFilter, CursorRequest, DepositFilter, EntryFilter, MoneyStore, UserFilter, WalletFilter,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_queries_use_their_index_and_scan_without_it() {
    let url = stack_tests::services::fresh_postgres_database().await;
    let store = stack_backends::sql::open(&url, &SqlOptions::default())
        .await
        .unwrap();
    let db = store.connection();
    stack_backends::sql::migrate_up(db, None).await.unwrap();
    let mut users = Vec::new();
    for _ in 0..20 {
        let user = stack_tests::store_suite::user(&store).await;
        for n in 0..5 {
            let deposit = stack_tests::store_suite::recorded(&store, user.id, "1.5").await;
            if n < 2 {
                store.confirm_deposit(deposit).await.unwrap();
            }
        }
        users.push(user.id);
    }
    use sea_orm::ConnectionTrait;
    db.execute_unprepared("ANALYZE").await.unwrap();

    let user = Some(users[7]);
    let queries = [
        (
            ListQuery::Users(UserFilter::default()),
            "users",
            "ix_users_created",
        ),
        (
            ListQuery::Wallets(WalletFilter {
                user_id: user,
                ..Default::default()
            }),
            "wallets",
            "ix_wallets_user",
        ),
        (
            ListQuery::Deposits(DepositFilter {
                user_id: user,
                ..Default::default()
            }),
            "deposits",
            "ix_deposits_user_created",
        ),
        (
            ListQuery::ScanDeposits(
                DepositFilter {
                    user_id: user,
                    ..Default::default()
                },
                CursorRequest {
                    after: None,
                    limit: 20,
                },
            ),
            "deposits",
            "ix_deposits_user_created",
        ),
        (
            ListQuery::Entries(EntryFilter {
                user_id: user,
                ..Default::default()
            }),
            "transactions",
            "ix_transactions_user_created",
        ),
        (
            ListQuery::AuditLogs(AuditFilter {
                user_id: user,
                ..Default::default()
            }),
            "audit_logs",
            "ix_audit_user_created",
        ),
    ];
    let page = PageRequest::default();
    for (query, _, index) in &queries {
        let plan = explain(db, &query.statement(page), &["enable_seqscan = off"])
            .await
            .unwrap();
        assert!(
            plan.uses_index(index),
            "{} should read {index} with the indexes applied: {plan:?}",
            query.name()
        );
        assert!(plan.execution_ms.is_some(), "ANALYZE ran: {plan:?}");
    }

    stack_migrations::drop_list_indexes(db).await.unwrap();
    db.execute_unprepared("ANALYZE").await.unwrap();
    for (query, table, index) in &queries {
        let plan = explain(db, &query.statement(page), &[]).await.unwrap();
        assert!(!plan.uses_index(index), "{index} is gone: {plan:?}");
        assert!(
            plan.seq_scans.iter().any(|t| t == table),
            "{} should scan {table} without its index: {plan:?}",
            query.name()
        );
    }
}
