//! Bulk processing: many items, in batches, with bounded concurrency and cancellation.
//!
//! Items are cut into batches of `batch_size`; at most `concurrency` batches run at once, each
//! as its own tokio task. The batch function returns one result per item, so a bulk insert
//! can report that row 17 broke a constraint while the other rows went in. Results come back
//! in input order whatever order the batches finish in. Cancelling the token stops new batches
//! from starting; batches already running finish, and every item of a batch that never
//! started is reported as [`BulkOutcome::Cancelled`].

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::{Error, Result};

/// How to cut and run a bulk operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkOptions {
    batch_size: usize,
    concurrency: usize,
}

impl BulkOptions {
    /// Batches of `batch_size` items, at most `concurrency` batches at once.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `batch_size` or `concurrency` when either is zero.
    pub fn new(batch_size: usize, concurrency: usize) -> Result<Self> {
        if batch_size == 0 {
            return Err(Error::invalid("batch_size", "must be at least 1"));
        }
        if concurrency == 0 {
            return Err(Error::invalid("concurrency", "must be at least 1"));
        }
        Ok(Self {
            batch_size,
            concurrency,
        })
    }
}

/// What happened to one item.
#[derive(Debug)]
pub enum BulkOutcome<O> {
    /// The item was processed.
    Ok(O),
    /// Processing the item failed.
    Failed(Error),
    /// The item was never started because the operation was cancelled.
    Cancelled,
}

impl<O> BulkOutcome<O> {
    /// Whether the item was processed successfully.
    pub fn is_ok(&self) -> bool {
        matches!(self, Self::Ok(_))
    }
}

/// The result for the item at `index` of the input.
#[derive(Debug)]
pub struct BulkItem<O> {
    /// Position of the item in the input.
    pub index: usize,
    /// What happened to it.
    pub outcome: BulkOutcome<O>,
}

/// Runs `process` over `items` in batches; returns one [`BulkItem`] per input item, in input
/// order.
///
/// `process` receives a batch and must return one result per item of it, in the same order.
/// A batch that returns the wrong number of results, or whose task panics, fails every item
/// of that batch with [`Error::Backend`].
///
/// ```
/// use stack_core::bulk::{run_bulk, BulkOptions};
/// use tokio_util::sync::CancellationToken;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let opts = BulkOptions::new(2, 2).unwrap();
/// let results = run_bulk(vec![1, 2, 3], opts, CancellationToken::new(), |batch: Vec<i32>| async move {
///     batch.into_iter().map(|n| Ok(n * 10)).collect()
/// }).await;
/// assert_eq!(results.len(), 3);
/// assert!(results.iter().all(|r| r.outcome.is_ok()));
/// # });
/// ```
pub async fn run_bulk<T, O, F, Fut>(
    items: Vec<T>,
    opts: BulkOptions,
    cancel: CancellationToken,
    process: F,
) -> Vec<BulkItem<O>>
where
    T: Send + 'static,
    O: Send + 'static,
    F: Fn(Vec<T>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Vec<Result<O>>> + Send + 'static,
{
    let total = items.len();
    let process = Arc::new(process);
    let mut slots: Vec<Option<BulkOutcome<O>>> = (0..total).map(|_| None).collect();
    let mut batches = chunk(items, opts.batch_size).into_iter();
    let mut running = JoinSet::new();
    let mut ranges = HashMap::new();

    loop {
        while running.len() < opts.concurrency && !cancel.is_cancelled() {
            let Some((start, batch)) = batches.next() else {
                break;
            };
            let process = Arc::clone(&process);
            let len = batch.len();
            let handle = running.spawn(async move { process(batch).await });
            ranges.insert(handle.id(), (start, len));
        }
        let Some(joined) = running.join_next_with_id().await else {
            break;
        };
        match joined {
            Ok((id, results)) => {
                if let Some((start, len)) = ranges.remove(&id) {
                    record(&mut slots, start, len, results);
                }
            }
            Err(join_error) => {
                tracing::error!(error = %join_error, "bulk batch task failed");
                if let Some((start, len)) = ranges.remove(&join_error.id()) {
                    let reason = format!("the batch task failed: {join_error}");
                    fail_all(&mut slots[start..start + len], &reason);
                }
            }
        }
    }
    slots
        .into_iter()
        .enumerate()
        .map(|(index, slot)| BulkItem {
            index,
            outcome: slot.unwrap_or(BulkOutcome::Cancelled),
        })
        .collect()
}

/// Cuts `items` into batches, each tagged with the input index of its first item.
fn chunk<T>(items: Vec<T>, size: usize) -> Vec<(usize, Vec<T>)> {
    let mut batches = Vec::new();
    let mut current = Vec::with_capacity(size);
    let mut start = 0;
    for (index, item) in items.into_iter().enumerate() {
        if current.is_empty() {
            start = index;
        }
        current.push(item);
        if current.len() == size {
            batches.push((
                start,
                std::mem::replace(&mut current, Vec::with_capacity(size)),
            ));
        }
    }
    if !current.is_empty() {
        batches.push((start, current));
    }
    batches
}

fn record<O>(
    slots: &mut [Option<BulkOutcome<O>>],
    start: usize,
    len: usize,
    results: Vec<Result<O>>,
) {
    if results.len() != len {
        let reason = format!(
            "the batch returned {} results for {len} items",
            results.len()
        );
        fail_all(&mut slots[start..start + len], &reason);
        return;
    }
    for (slot, result) in slots[start..start + len].iter_mut().zip(results) {
        *slot = Some(match result {
            Ok(value) => BulkOutcome::Ok(value),
            Err(error) => BulkOutcome::Failed(error),
        });
    }
}

fn fail_all<O>(slots: &mut [Option<BulkOutcome<O>>], reason: &str) {
    for slot in slots {
        *slot = Some(BulkOutcome::Failed(Error::backend(reason)));
    }
}
