//! Listings: filters, totals, keyset slices, bulk inserts.

use stack_core::bulk::BulkOutcome;
use stack_core::page::PageRequest;
use stack_core::store::{
    AuditFilter, Cursor, CursorPage, CursorRequest, DepositFilter, DepositStatus, EntryFilter,
    NewDebit, NewDeposit, UserFilter,
};
use stack_core::{ErrorKind, Result};

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

/// Every slice of a keyset walk, from the newest, `size` rows at a time.
async fn walk<T, F, Fut>(size: u32, mut scan: F) -> Vec<T>
where
    F: FnMut(CursorRequest) -> Fut,
    Fut: std::future::Future<Output = Result<CursorPage<T>>>,
{
    let mut all = Vec::new();
    let mut after: Option<Cursor> = None;
    loop {
        let slice = scan(CursorRequest::new(after, size).unwrap())
            .await
            .unwrap();
        all.extend(slice.items);
        match slice.next {
            Some(next) => after = Some(next),
            None => return all,
        }
    }
}

/// Users, ledger entries and audit logs walk by cursor too, newest first, each row once;
/// an onboarding flow is found by its own id.
pub async fn users_entries_and_audit_logs_scan_by_cursor(factory: StoreFactory) {
    let store = factory().await;
    let s = store.as_ref();
    let mine = [user(s).await.id, user(s).await.id, user(s).await.id];
    let users = walk(2, |r| async move {
        s.scan_users(&UserFilter::default(), r).await
    })
    .await;
    let found: Vec<_> = users
        .iter()
        .map(|u| u.id)
        .filter(|id| mine.contains(id))
        .collect();
    assert_eq!(found, [mine[2], mine[1], mine[0]]);
    let someone = mine[0];
    for _ in 0..3 {
        let id = recorded(s, someone, "2").await;
        s.confirm_deposit(id).await.unwrap();
    }
    let debit = NewDebit {
        user_id: someone,
        asset: "USDC".into(),
        amount: dec("1"),
        reference: "walk".into(),
    };
    let taken = s.debit(debit).await.unwrap();
    let filter = EntryFilter {
        user_id: Some(someone),
        ..EntryFilter::default()
    };
    let entries = walk(2, |r| {
        let filter = filter.clone();
        async move { s.scan_entries(&filter, r).await }
    })
    .await;
    assert_eq!(entries.len(), 4);
    assert_eq!(entries[0].id, taken.id, "newest first");
    let filter = AuditFilter {
        user_id: Some(someone),
        action: Some("deposit.confirmed".into()),
        ..AuditFilter::default()
    };
    let logs = walk(2, |r| {
        let filter = filter.clone();
        async move { s.scan_audit_logs(&filter, r).await }
    })
    .await;
    assert_eq!(logs.len(), 3);
    let flow = s.start_onboarding(someone).await.unwrap();
    assert_eq!(s.onboarding_flow(flow.id).await.unwrap(), flow);
    let missing = s.onboarding_flow(uuid::Uuid::now_v7()).await.unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound);
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

/// Time filters far outside the stored years (before year 1, after 9999) select exactly what
/// they say: every row or none, never an error from the database, never a text comparison
/// that reads year 10000 as earlier than today.
pub async fn time_filters_at_the_edges_of_the_calendar(factory: StoreFactory) {
    let store = factory().await;
    let a = user(store.as_ref()).await;
    for _ in 0..3 {
        store.record_deposit(new_deposit(a.id, "1")).await.unwrap();
    }
    let year = |y: i32| {
        chrono::NaiveDate::from_ymd_opt(y, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc())
            .unwrap()
    };
    let count = |from, to| {
        let filter = DepositFilter {
            user_id: Some(a.id),
            created_from: from,
            created_to: to,
            ..DepositFilter::default()
        };
        let store = &store;
        async move {
            let page = store
                .list_deposits(&filter, PageRequest::default())
                .await
                .unwrap();
            let slice = store
                .scan_deposits(&filter, CursorRequest::new(None, 100).unwrap())
                .await
                .unwrap();
            assert_eq!(page.total_items, slice.items.len() as u64);
            page.total_items
        }
    };
    for (from, to, expected) in [
        (Some(year(-5000)), None, 3),
        (Some(year(1)), Some(year(10_000)), 3),
        (None, Some(year(20_000)), 3),
        (Some(year(10_000)), None, 0),
        (None, Some(year(-5000)), 0),
        (None, Some(year(1)), 0),
        (Some(year(1969)), Some(year(1970)), 0),
    ] {
        assert_eq!(count(from, to).await, expected, "from {from:?} to {to:?}");
    }
    // Cursors at the calendar's edges: nothing before year 1, everything before year 10000.
    let mine = DepositFilter {
        user_id: Some(a.id),
        ..DepositFilter::default()
    };
    let nil = uuid::Uuid::nil().simple();
    for (micros, expected) in [("-8000000000000000000", 0), ("8000000000000000000", 3)] {
        let cursor = Cursor::decode(&format!("{micros}.{nil}")).unwrap();
        let request = CursorRequest::new(Some(cursor), 100).unwrap();
        let slice = store.scan_deposits(&mine, request).await.unwrap();
        assert_eq!(slice.items.len(), expected, "after {micros}");
    }
}
