//! What identifies a deposit: (chain, tx_hash, output_index), with the hash normalized per
//! chain.

use stack_core::ErrorKind;
use stack_core::bulk::BulkOutcome;
use stack_core::store::{DepositStatus, NewDeposit, Recorded};

use super::{StoreFactory, assert_ledger_matches, dec, new_deposit, user};

/// One transaction paying two of our addresses (outputs 0 and 1) is two deposits, both
/// credited; each output recorded again is the deposit it was.
pub async fn one_transaction_paying_twice_is_two_deposits(factory: StoreFactory) {
    let store = factory().await;
    let someone = user(store.as_ref()).await;
    let other = user(store.as_ref()).await;
    let first = new_deposit(someone.id, "1.5");
    let second = NewDeposit {
        user_id: other.id,
        output_index: 1,
        amount: dec("2"),
        ..first.clone()
    };
    let a = store.record_deposit(first.clone()).await.unwrap();
    let b = store.record_deposit(second.clone()).await.unwrap();
    assert!(matches!(a, Recorded::Created(_)) && matches!(b, Recorded::Created(_)));
    assert_ne!(a.deposit().id, b.deposit().id);
    assert_eq!(b.deposit().output_index, 1);
    for (new, was) in [(&first, &a), (&second, &b)] {
        let again = store.record_deposit(new.clone()).await.unwrap();
        assert_eq!(again, Recorded::Existing(was.deposit().clone()));
    }
    for recorded in [&a, &b] {
        let confirmed = store.confirm_deposit(recorded.deposit().id).await.unwrap();
        assert_eq!(confirmed.status, DepositStatus::Confirmed);
    }
    assert_eq!(
        store.balances(someone.id).await.unwrap()[0].available,
        dec("1.5")
    );
    assert_eq!(
        store.balances(other.id).await.unwrap()[0].available,
        dec("2")
    );
    let bulk = store
        .record_deposits(vec![first.clone(), second.clone()])
        .await
        .unwrap();
    for (item, was) in bulk.iter().zip([&a, &b]) {
        assert!(
            matches!(item.outcome, BulkOutcome::Ok(id) if id == was.deposit().id),
            "bulk item {}: {:?}",
            item.index,
            item.outcome
        );
    }
    assert_ledger_matches(&store, someone.id).await;
    assert_ledger_matches(&store, other.id).await;
}

/// A hex hash seen in upper and in lower case is one deposit, credited once; on a chain with
/// a case-sensitive encoding two spellings are two transactions; a non-hex hash on a hex
/// chain is refused.
pub async fn hashes_are_normalized_per_chain(factory: StoreFactory) {
    let store = factory().await;
    let someone = user(store.as_ref()).await;
    let lower = new_deposit(someone.id, "3");
    let upper = NewDeposit {
        tx_hash: lower.tx_hash.to_ascii_uppercase().replacen("0X", "0x", 1),
        ..lower.clone()
    };
    let first = store.record_deposit(upper).await.unwrap();
    assert_eq!(first.deposit().tx_hash, lower.tx_hash, "stored lowercased");
    let again = store.record_deposit(lower).await.unwrap();
    assert_eq!(again, Recorded::Existing(first.deposit().clone()));
    store.confirm_deposit(first.deposit().id).await.unwrap();
    store.confirm_deposit(again.deposit().id).await.unwrap();
    assert_eq!(
        store.balances(someone.id).await.unwrap()[0].available,
        dec("3")
    );

    let solana = |hash: &str| NewDeposit {
        chain: "solana".into(),
        tx_hash: hash.into(),
        asset: "SOL".into(),
        ..new_deposit(someone.id, "1")
    };
    let hash = format!("5Vr{}", uuid::Uuid::new_v4().simple());
    let one = store.record_deposit(solana(&hash)).await.unwrap();
    let two = store
        .record_deposit(solana(&hash.to_ascii_lowercase()))
        .await
        .unwrap();
    assert_eq!(one.deposit().tx_hash, hash, "case kept on solana");
    assert_ne!(one.deposit().id, two.deposit().id);

    let bad = NewDeposit {
        tx_hash: "not-a-hash".into(),
        ..new_deposit(someone.id, "1")
    };
    let err = store.record_deposit(bad).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert_ledger_matches(&store, someone.id).await;
}
