//! Listings: filters, totals, keyset slices, bulk inserts.

use stack_core::bulk::BulkOutcome;
use stack_core::page::PageRequest;
use stack_core::store::{CursorRequest, DepositFilter, DepositStatus, NewDeposit};

use super::{StoreFactory, dec, new_deposit, recorded, user};

/// Deposit listings filter by user, status and chain, count totals, and read newest first.
pub async fn listings_filter_and_count(factory: StoreFactory) {
    let store = factory().await;
    let (a, b) = (user(store.as_ref()).await, user(store.as_ref()).await);
    let mut ids = Vec::new();
    for i in 0..7 {
        let mut deposit = new_deposit(a.id, "1");
        if i % 2 == 0 {
            deposit.chain = "bitcoin".into();
        }
        ids.push(store.record_deposit(deposit).await.unwrap().deposit().id);
    }
    store.record_deposit(new_deposit(b.id, "1")).await.unwrap();
    store.confirm_deposit(ids[0]).await.unwrap();
    let mine = DepositFilter {
        user_id: Some(a.id),
        ..DepositFilter::default()
    };
    let page = store
        .list_deposits(&mine, PageRequest::new(1, 3).unwrap())
        .await
        .unwrap();
    assert_eq!(
        (page.total_items, page.total_pages, page.items.len()),
        (7, 3, 3)
    );
    assert_eq!(page.items[0].id, ids[6], "newest first");
    let last = store
        .list_deposits(&mine, PageRequest::new(3, 3).unwrap())
        .await
        .unwrap();
    assert_eq!(last.items.len(), 1);
    assert!(!last.has_next);
    let btc = DepositFilter {
        chain: Some("Bitcoin".into()),
        ..mine.clone()
    };
    assert_eq!(
        store
            .list_deposits(&btc, PageRequest::default())
            .await
            .unwrap()
            .total_items,
        4
    );
    let confirmed = DepositFilter {
        status: Some(DepositStatus::Confirmed),
        ..mine
    };
    let found = store
        .list_deposits(&confirmed, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(
        found.items.iter().map(|d| d.id).collect::<Vec<_>>(),
        [ids[0]]
    );
}

/// Walking deposits by cursor sees each row once, in order, even while new rows arrive.
pub async fn keyset_scan_is_stable_while_rows_arrive(factory: StoreFactory) {
    let store = factory().await;
    let someone = user(store.as_ref()).await;
    let mut ids = Vec::new();
    for _ in 0..10 {
        ids.push(recorded(store.as_ref(), someone.id, "1").await);
    }
    let filter = DepositFilter {
        user_id: Some(someone.id),
        ..DepositFilter::default()
    };
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let slice = store
            .scan_deposits(&filter, CursorRequest::new(after, 3).unwrap())
            .await
            .unwrap();
        seen.extend(slice.items.iter().map(|d| d.id));
        // A row inserted mid-walk is newer than the cursor: it must not shift the walk.
        store
            .record_deposit(new_deposit(someone.id, "1"))
            .await
            .unwrap();
        match slice.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids);
}

/// Bulk recording (more rows than one statement carries) gives one result per input, in input order: new ids, the existing id for
/// a repeated hash, and errors for bad or unknown-user items, which fail alone.
pub async fn bulk_records_report_per_item_in_input_order(factory: StoreFactory) {
    let store = factory().await;
    let someone = user(store.as_ref()).await;
    let earlier = store
        .record_deposit(new_deposit(someone.id, "2"))
        .await
        .unwrap()
        .deposit()
        .clone();
    let mut batch: Vec<NewDeposit> = (0..4500).map(|_| new_deposit(someone.id, "0.5")).collect();
    batch[3] = NewDeposit {
        amount: dec("-1"),
        ..new_deposit(someone.id, "1")
    };
    batch[7] = NewDeposit {
        user_id: uuid::Uuid::now_v7(),
        ..new_deposit(someone.id, "1")
    };
    batch[9] = NewDeposit {
        chain: earlier.chain.clone(),
        tx_hash: earlier.tx_hash.clone(),
        ..new_deposit(someone.id, "2")
    };
    let results = store.record_deposits(batch).await.unwrap();
    assert_eq!(results.len(), 4500);
    for (i, item) in results.iter().enumerate() {
        assert_eq!(item.index, i);
        match i {
            3 | 7 => assert!(matches!(item.outcome, BulkOutcome::Failed(_)), "{i}"),
            9 => assert!(
                matches!(item.outcome, BulkOutcome::Ok(id) if id == earlier.id),
                "{i}"
            ),
            _ => assert!(item.outcome.is_ok(), "{i}: {:?}", item.outcome),
        }
    }
    let filter = DepositFilter {
        user_id: Some(someone.id),
        ..DepositFilter::default()
    };
    assert_eq!(
        store
            .list_deposits(&filter, PageRequest::default())
            .await
            .unwrap()
            .total_items,
        1 + 4497
    );
}
