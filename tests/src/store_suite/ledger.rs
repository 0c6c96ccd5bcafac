//! Deposits, confirmation, debits: money moves exactly once and exactly.

use stack_core::ErrorKind;
use stack_core::page::PageRequest;
use stack_core::store::{AuditFilter, DepositStatus, EntryFilter, NewDebit, Recorded};
use uuid::Uuid;

use super::{StoreFactory, assert_ledger_matches, dec, new_deposit, recorded, user};

/// Recording the same (chain, tx_hash) twice returns the first deposit; the same hash with
/// other details is a Conflict; an unknown user is NotFound.
pub async fn recording_a_deposit_is_idempotent(factory: StoreFactory) {
    let store = factory().await;
    let someone = user(store.as_ref()).await;
    let deposit = new_deposit(someone.id, "10.5");
    let first = store.record_deposit(deposit.clone()).await.unwrap();
    assert!(matches!(first, Recorded::Created(_)));
    let again = store.record_deposit(deposit.clone()).await.unwrap();
    assert_eq!(again, Recorded::Existing(first.deposit().clone()));
    let mut other = deposit.clone();
    other.amount = dec("11");
    assert_eq!(
        store.record_deposit(other).await.unwrap_err().kind(),
        ErrorKind::Conflict
    );
    let nobody = store
        .record_deposit(new_deposit(Uuid::now_v7(), "1"))
        .await
        .unwrap_err();
    assert_eq!(nobody.kind(), ErrorKind::NotFound, "{nobody}");
    assert!(
        store.balances(someone.id).await.unwrap().is_empty(),
        "recording credits nothing"
    );
}

/// Confirming credits the balance, writes one credit entry and one audit log; confirming
/// again changes nothing.
pub async fn confirming_credits_once_with_ledger_and_audit(factory: StoreFactory) {
    let store = factory().await;
    let someone = user(store.as_ref()).await;
    let recorded = store
        .record_deposit(new_deposit(someone.id, "25.75"))
        .await
        .unwrap();
    let id = recorded.deposit().id;
    for _ in 0..3 {
        let confirmed = store.confirm_deposit(id).await.unwrap();
        assert_eq!(confirmed.status, DepositStatus::Confirmed);
        assert!(confirmed.confirmed_at.is_some());
    }
    let balances = store.balances(someone.id).await.unwrap();
    assert_eq!(balances.len(), 1);
    assert_eq!(balances[0].available, dec("25.75"));
    let entries = store
        .list_entries(
            &EntryFilter {
                user_id: Some(someone.id),
                ..EntryFilter::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(entries.total_items, 1);
    assert_eq!(entries.items[0].reference, id.to_string());
    let audit = store
        .list_audit_logs(
            &AuditFilter {
                user_id: Some(someone.id),
                action: Some("deposit.confirmed".into()),
                ..AuditFilter::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(audit.total_items, 1);
    assert_eq!(
        store
            .confirm_deposit(Uuid::now_v7())
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    assert_ledger_matches(store.as_ref(), someone.id).await;
}

/// 50 confirms of one deposit racing each other credit it once.
pub async fn concurrent_confirms_credit_exactly_once(factory: StoreFactory) {
    let store = factory().await;
    let someone = user(store.as_ref()).await;
    let id = recorded(store.as_ref(), someone.id, "100").await;
    let racers: Vec<_> = (0..50)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.confirm_deposit(id).await })
        })
        .collect();
    for racer in racers {
        let confirmed = racer.await.unwrap().unwrap();
        assert_eq!(confirmed.status, DepositStatus::Confirmed);
    }
    assert_eq!(
        store.balances(someone.id).await.unwrap()[0].available,
        dec("100")
    );
    let entries = store
        .list_entries(
            &EntryFilter {
                user_id: Some(someone.id),
                ..EntryFilter::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        entries.total_items, 1,
        "credited {} times",
        entries.total_items
    );
    assert_ledger_matches(store.as_ref(), someone.id).await;
}

/// A debit larger than the balance fails naming the amount and changes nothing; a debit
/// retried with the same reference is taken once.
pub async fn debits_never_overdraw_and_are_idempotent(factory: StoreFactory) {
    let store = factory().await;
    let someone = user(store.as_ref()).await;
    let id = recorded(store.as_ref(), someone.id, "10").await;
    store.confirm_deposit(id).await.unwrap();
    let debit = |amount: &str, reference: &str| NewDebit {
        user_id: someone.id,
        asset: "usdc".into(),
        amount: dec(amount),
        reference: reference.into(),
    };
    let err = store
        .debit(debit("10.000000000000000001", "too-much"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, stack_core::Error::Invalid { field, .. } if field == "amount"),
        "{err}"
    );
    assert_eq!(
        store.balances(someone.id).await.unwrap()[0].available,
        dec("10")
    );
    let first = store.debit(debit("4", "order-1")).await.unwrap();
    let retried = store.debit(debit("4", "order-1")).await.unwrap();
    assert_eq!(first, retried);
    assert_eq!(
        store.balances(someone.id).await.unwrap()[0].available,
        dec("6")
    );
    let none = store.debit(debit("1", "zzz")).await;
    assert!(none.is_ok());
    let broke = store
        .debit(NewDebit {
            asset: "BTC".into(),
            ..debit("1", "btc")
        })
        .await
        .unwrap_err();
    assert_eq!(broke.kind(), ErrorKind::Invalid);
    assert!(
        store
            .balances(someone.id)
            .await
            .unwrap()
            .iter()
            .all(|b| b.asset != "BTC" || b.available.is_zero())
    );
    assert_ledger_matches(store.as_ref(), someone.id).await;
}

/// Amounts are exact to 18 places: 0.1 + 0.2 is 0.3, and tiny and huge values survive.
pub async fn amounts_are_exact(factory: StoreFactory) {
    let store = factory().await;
    let someone = user(store.as_ref()).await;
    for amount in [
        "0.1",
        "0.2",
        "0.000000000000000001",
        "12345678901234567890.5",
    ] {
        let id = recorded(store.as_ref(), someone.id, amount).await;
        assert_eq!(store.deposit(id).await.unwrap().amount, dec(amount));
        store.confirm_deposit(id).await.unwrap();
    }
    let balance = store.balances(someone.id).await.unwrap()[0].available;
    assert_eq!(balance, dec("12345678901234567890.800000000000000001"));
    assert_ledger_matches(store.as_ref(), someone.id).await;
}
