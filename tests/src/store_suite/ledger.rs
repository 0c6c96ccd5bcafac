//! Deposits, confirmation, debits: money moves exactly once and exactly.

use rust_decimal::Decimal;
use stack_core::ErrorKind;
use stack_core::page::PageRequest;
use stack_core::store::{AuditFilter, DepositStatus, EntryFilter, NewDebit, NewDeposit, Recorded};
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
    assert_ledger_matches(&store, someone.id).await;
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
    assert_ledger_matches(&store, someone.id).await;
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
    assert_ledger_matches(&store, someone.id).await;
}

/// Amounts are exact: 0.1 + 0.2 is 0.3, a balance of 28 significant digits takes a credit of
/// 10^-18; a credit that a balance cannot hold exactly (it would need 39 digits, which
/// `Decimal` addition rounds away) is refused and changes nothing. The invariant is checked in
/// the database from the columns' text.
pub async fn amounts_are_exact(factory: StoreFactory) {
    let store = factory().await;
    let someone = user(store.as_ref()).await;
    // DAI carries 18 decimal places (USDC only 6: see `checks::fits`).
    for amount in ["0.1", "0.2", "1234567890.000000000000000001"] {
        let dai = NewDeposit {
            asset: "DAI".into(),
            ..new_deposit(someone.id, amount)
        };
        let id = store.record_deposit(dai).await.unwrap().deposit().id;
        assert_eq!(store.deposit(id).await.unwrap().amount, dec(amount));
        store.confirm_deposit(id).await.unwrap();
    }
    let balance = store.balances(someone.id).await.unwrap()[0].available;
    assert_eq!(balance, dec("1234567890.300000000000000001"));

    let eth = |amount: &str| NewDeposit {
        asset: "ETH".into(),
        ..new_deposit(someone.id, amount)
    };
    let big = store
        .record_deposit(eth("12345678901234567890.3"))
        .await
        .unwrap();
    store.confirm_deposit(big.deposit().id).await.unwrap();
    let tiny = store
        .record_deposit(eth("0.000000000000000001"))
        .await
        .unwrap();
    let refused = store.confirm_deposit(tiny.deposit().id).await;
    // The invariant first: with a rounding sum the ledger holds the credit and the balance
    // does not, which the database's own text shows.
    assert_ledger_matches(&store, someone.id).await;
    let err = refused.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert_eq!(
        store.deposit(tiny.deposit().id).await.unwrap().status,
        DepositStatus::Pending,
        "a refused credit changes nothing"
    );
    let eth_balance = store
        .balances(someone.id)
        .await
        .unwrap()
        .into_iter()
        .find(|b| b.asset == "ETH")
        .unwrap();
    assert_eq!(eth_balance.available, dec("12345678901234567890.3"));
    // A debit that would leave 39 digits is refused too.
    let err = store
        .debit(NewDebit {
            user_id: someone.id,
            asset: "ETH".into(),
            amount: dec("0.000000000000000001"),
            reference: "dust".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert_ledger_matches(&store, someone.id).await;
}

/// A debit retried with the same reference and the same asset and amount is the first debit;
/// the same reference asking for another asset or amount is a Conflict and changes nothing.
pub async fn a_reused_debit_reference_with_other_details_conflicts(factory: StoreFactory) {
    let store = factory().await;
    let someone = user(store.as_ref()).await;
    let id = recorded(store.as_ref(), someone.id, "500").await;
    store.confirm_deposit(id).await.unwrap();
    let debit = |asset: &str, amount: &str| NewDebit {
        user_id: someone.id,
        asset: asset.into(),
        amount: dec(amount),
        reference: "order-42".into(),
    };
    let first = store.debit(debit("USDC", "5")).await.unwrap();
    assert_eq!(store.debit(debit("usdc", "5.000")).await.unwrap(), first);
    for (asset, amount) in [("USDC", "100"), ("BTC", "5"), ("USDC", "5.000001")] {
        let err = store.debit(debit(asset, amount)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict, "{asset} {amount}: {err}");
    }
    assert_eq!(
        store.balances(someone.id).await.unwrap()[0].available,
        dec("495")
    );
    assert_ledger_matches(&store, someone.id).await;
}

/// 25 debits of 1 racing against a balance of 10, each with its own reference: exactly 10
/// are taken, the rest are refused on `amount`, and the balance ends at 0.
pub async fn concurrent_debits_never_overdraw(factory: StoreFactory) {
    let store = factory().await;
    let someone = user(store.as_ref()).await;
    let id = recorded(store.as_ref(), someone.id, "10").await;
    store.confirm_deposit(id).await.unwrap();
    let racers: Vec<_> = (0..25)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .debit(NewDebit {
                        user_id: someone.id,
                        asset: "USDC".into(),
                        amount: dec("1"),
                        reference: format!("race-{n}"),
                    })
                    .await
            })
        })
        .collect();
    let mut taken = 0;
    for racer in racers {
        match racer.await.unwrap() {
            Ok(_) => taken += 1,
            Err(e) => assert_eq!(e.kind(), ErrorKind::Invalid, "{e}"),
        }
    }
    assert_eq!(taken, 10);
    assert_eq!(
        store.balances(someone.id).await.unwrap()[0].available,
        Decimal::ZERO
    );
    assert_ledger_matches(&store, someone.id).await;
}
