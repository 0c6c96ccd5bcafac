//! The data path's layers over SQLite: read-your-writes after bulk writes, through a replica
//! that is behind.

use std::sync::Arc;
use std::time::Duration;

use stack_core::bulk::BulkOutcome;
use stack_core::datapath::Layered;
use stack_core::store::{DepositFilter, MoneyStore, NewUser, UserStore};
use stack_tests::stale_reads::{router_behind, sqlite};
use stack_tests::store_suite::{new_deposit, user};

/// Bulk writes pin what they wrote, as single writes do: users made by `create_users` and
/// the deposits of `record_deposits` are read back from the primary at once.
#[tokio::test]
async fn bulk_writes_pin_read_your_writes() {
    let primary = sqlite().await;
    let store = Layered::new(router_behind(Arc::clone(&primary), Duration::from_secs(30)).await);
    let users: Vec<NewUser> = (0..3)
        .map(|i| NewUser {
            email: format!("{}-{i}@example.com", stack_tests::unique("bulk")),
            phone: None,
            full_name: "Bulk User".into(),
        })
        .collect();
    let created = store.create_users(users).await.unwrap();
    assert_eq!(created.len(), 3);
    for item in &created {
        let BulkOutcome::Ok(id) = item.outcome else {
            panic!("user {} not created: {:?}", item.index, item.outcome);
        };
        assert_eq!(
            store.user(id).await.unwrap().id,
            id,
            "read from the primary"
        );
    }

    // A user the router never saw written (made on the primary directly): nothing pins it.
    let other = user(&*primary).await.id;
    let recorded = store
        .record_deposits(vec![new_deposit(other, "1"), new_deposit(other, "2")])
        .await
        .unwrap();
    assert!(recorded.iter().all(|item| item.outcome.is_ok()));
    let listed = store
        .list_deposits(
            &DepositFilter {
                user_id: Some(other),
                ..DepositFilter::default()
            },
            Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 2, "read from the primary");
    for item in &recorded {
        let BulkOutcome::Ok(id) = item.outcome else {
            unreachable!()
        };
        assert_eq!(store.deposit(id).await.unwrap().id, id);
    }
}
