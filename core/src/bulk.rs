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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    fn outcomes(results: &[BulkItem<u32>]) -> Vec<String> {
        results
            .iter()
            .map(|r| match &r.outcome {
                BulkOutcome::Ok(v) => format!("ok {v}"),
                BulkOutcome::Failed(e) => format!("failed {:?}", e.kind()),
                BulkOutcome::Cancelled => "cancelled".to_owned(),
            })
            .collect()
    }

    #[test]
    fn options_refuse_zero() {
        assert!(BulkOptions::new(0, 1).is_err());
        assert!(BulkOptions::new(1, 0).is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn results_come_back_in_input_order_with_per_item_errors() {
        let opts = BulkOptions::new(3, 4).unwrap();
        let items: Vec<u32> = (0..20).collect();
        let results = run_bulk(
            items,
            opts,
            CancellationToken::new(),
            |batch: Vec<u32>| async move {
                // Later batches finish first, to prove the order is restored.
                let first = u64::from(batch[0]);
                tokio::time::sleep(Duration::from_millis(40 - first * 2)).await;
                batch
                    .into_iter()
                    .map(|n| {
                        if n % 7 == 3 {
                            Err(Error::invalid("n", "bad"))
                        } else {
                            Ok(n * 10)
                        }
                    })
                    .collect()
            },
        )
        .await;
        assert_eq!(results.len(), 20);
        for (i, result) in results.iter().enumerate() {
            assert_eq!(result.index, i);
        }
        let got = outcomes(&results);
        assert_eq!(got[2], "ok 20");
        assert_eq!(got[3], "failed Invalid");
        assert_eq!(got[10], "failed Invalid");
        assert_eq!(got[19], "ok 190");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrency_is_bounded() {
        let running = std::sync::Arc::new(AtomicUsize::new(0));
        let peak = std::sync::Arc::new(AtomicUsize::new(0));
        let (r, p) = (running.clone(), peak.clone());
        let opts = BulkOptions::new(2, 3).unwrap();
        let results = run_bulk(
            (0..40).collect::<Vec<u32>>(),
            opts,
            CancellationToken::new(),
            move |batch| {
                let (running, peak) = (r.clone(), p.clone());
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    batch.into_iter().map(Ok).collect()
                }
            },
        )
        .await;
        assert!(results.iter().all(|r| r.outcome.is_ok()));
        let peak = peak.load(Ordering::SeqCst);
        assert!((1..=3).contains(&peak), "peak concurrency {peak}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cancellation_stops_new_batches_and_reports_the_rest_cancelled() {
        let cancel = CancellationToken::new();
        let trigger = cancel.clone();
        let opts = BulkOptions::new(5, 1).unwrap();
        let results = run_bulk(
            (0..50).collect::<Vec<u32>>(),
            opts,
            cancel,
            move |batch: Vec<u32>| {
                let trigger = trigger.clone();
                async move {
                    if batch[0] == 5 {
                        trigger.cancel(); // cancelled while the second batch runs
                    }
                    batch.into_iter().map(Ok).collect()
                }
            },
        )
        .await;
        let got = outcomes(&results);
        assert!(got[..10].iter().all(|o| o.starts_with("ok")), "{got:?}");
        assert!(got[10..].iter().all(|o| o == "cancelled"), "{got:?}");
    }

    #[tokio::test]
    async fn a_wrong_result_count_or_a_panic_fails_only_that_batch() {
        let opts = BulkOptions::new(2, 2).unwrap();
        let results = run_bulk(
            (0..6).collect::<Vec<u32>>(),
            opts,
            CancellationToken::new(),
            |batch: Vec<u32>| async move {
                match batch[0] {
                    0 => vec![Ok(0)],
                    2 => panic!("handler bug"),
                    _ => batch.into_iter().map(Ok).collect(),
                }
            },
        )
        .await;
        let got = outcomes(&results);
        assert_eq!(
            got,
            [
                "failed Backend",
                "failed Backend",
                "failed Backend",
                "failed Backend",
                "ok 4",
                "ok 5"
            ]
        );
    }
}
