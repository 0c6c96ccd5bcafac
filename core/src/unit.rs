//! Units of work: writes on the Store, on a queue that shares its database and on the
//! idempotency records, that commit or roll back together.
//!
//! A [`Unit`] holds one open database [`Transaction`]. While a future runs inside
//! [`Unit::run`] (or [`atomically`]), every backend that can joins it: a SQL Store's writes
//! become savepoints of the unit's transaction and its reads see them, a SQL queue's
//! [`Queue::enqueue_in`](crate::queue::Queue::enqueue_in) stores its job in it ([`enqueue`]
//! picks that path by itself), and effects that must not be seen before the commit (a
//! cache invalidation) wait in [`after_commit`] until [`Unit::commit`] has made the writes
//! durable. Nothing is written if the unit rolls back or is dropped while open.
//!
//! The unit is the task's (a `tokio` task-local): tasks spawned from inside do not join it.
//! Work inside one unit runs one call at a time (one connection carries it): do not run two
//! Store calls of the same unit concurrently (`join!`).
//!
//! ```no_run
//! # async fn demo(
//! #     store: std::sync::Arc<dyn stack_core::store::Store>,
//! #     queue: std::sync::Arc<dyn stack_core::queue::Queue>,
//! #     source: std::sync::Arc<dyn stack_core::unit::TransactionSource>,
//! #     id: uuid::Uuid,
//! # ) -> stack_core::Result<()> {
//! use stack_core::queue::TypedJob;
//! use stack_core::unit;
//!
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Notify {
//!     deposit: uuid::Uuid,
//! }
//! impl TypedJob for Notify {
//!     const TYPE: &'static str = "notify";
//! }
//!
//! // The deposit is credited and its notification stored together, or neither is.
//! unit::atomically(&*source, async {
//!     let deposit = store.confirm_deposit(id).await?;
//!     unit::enqueue_job(queue.clone(), &Notify { deposit: deposit.id }).await?;
//!     Ok(())
//! })
//! .await
//! # }
//! ```

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use futures::future::BoxFuture;

use crate::queue::{Enqueued, NewJob, Queue, TypedJob};
use crate::{Error, ErrorKind, Result};

/// An open database transaction. Core names no database type: a backend downcasts
/// [`Transaction::as_any`] to its own transaction type and refuses any other.
#[async_trait]
pub trait Transaction: Send + Sync {
    /// The transaction, for the backend to downcast.
    fn as_any(&self) -> &dyn Any;

    /// Makes the transaction's writes durable.
    ///
    /// # Errors
    /// The database's: the writes may or may not have committed when the reply was lost.
    async fn commit(self: Box<Self>) -> Result<()>;

    /// Undoes the transaction's writes.
    ///
    /// # Errors
    /// The database's (the server rolls back an abandoned transaction by itself).
    async fn rollback(self: Box<Self>) -> Result<()>;
}

/// Opens transactions: implemented by the SQL Store over its primary.
#[async_trait]
pub trait TransactionSource: Send + Sync + fmt::Debug {
    /// A new transaction (on SQLite it takes the write lock at once).
    ///
    /// # Errors
    /// `Unavailable` or `Backend` when the database cannot be reached.
    async fn begin(&self) -> Result<Box<dyn Transaction>>;
}

/// What a unit holds: its transaction until it ends (lent to one call at a time), and the
/// effects owed after its commit.
struct State {
    transaction: Arc<tokio::sync::Mutex<Option<Box<dyn Transaction>>>>,
    after_commit: Mutex<Vec<BoxFuture<'static, ()>>>,
    /// Set when a block that joined the unit ([`atomically`] inside a unit) failed: its
    /// writes cannot be undone alone, so the whole unit must roll back.
    rollback_only: std::sync::atomic::AtomicBool,
}

tokio::task_local! {
    /// The unit the current task runs in.
    static CURRENT: Arc<State>;
}

/// One open unit of work; see the [module](self) documentation. Dropped while open, it
/// rolls back.
pub struct Unit {
    state: Arc<State>,
}

impl fmt::Debug for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unit").finish_non_exhaustive()
    }
}

impl Unit {
    /// Opens a unit on a new transaction of `source`.
    ///
    /// # Errors
    /// As [`TransactionSource::begin`].
    pub async fn begin(source: &dyn TransactionSource) -> Result<Self> {
        let transaction = source.begin().await?;
        Ok(Self {
            state: Arc::new(State {
                transaction: Arc::new(tokio::sync::Mutex::new(Some(transaction))),
                after_commit: Mutex::new(Vec::new()),
                rollback_only: std::sync::atomic::AtomicBool::new(false),
            }),
        })
    }

    /// Runs `work` inside this unit: the backends it calls join the unit's transaction.
    pub async fn run<F: Future>(&self, work: F) -> F::Output {
        CURRENT.scope(Arc::clone(&self.state), work).await
    }

    /// Whether a block that joined this unit failed, so that it can only roll back (its
    /// [`commit`](Unit::commit) would refuse).
    pub fn rollback_only(&self) -> bool {
        self.state
            .rollback_only
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Commits the transaction, then runs the effects [`after_commit`] deferred, in order, in
    /// a task of their own (awaited here, but not dropped with the caller: a client that goes
    /// away after the commit does not cancel an invalidation). They also run when the
    /// commit's reply was lost (`Unavailable`, `Timeout`, `Backend`: it may have committed),
    /// and are dropped when it surely did not.
    ///
    /// # Errors
    /// As [`Transaction::commit`]; `Conflict` (after rolling back) when the unit is
    /// [rollback-only](Unit::rollback_only); `Backend` when it was already ended.
    pub async fn commit(self) -> Result<()> {
        if self.rollback_only() {
            self.rollback().await?;
            return Err(Error::conflict(
                "a part of this unit of work failed, so none of it was committed",
            ));
        }
        let transaction = self.take().await?;
        let committed = transaction.commit().await;
        let deferred = std::mem::take(&mut *lock(&self.state.after_commit));
        let may_have_committed = match &committed {
            Ok(()) => true,
            Err(error) => matches!(
                error.kind(),
                ErrorKind::Unavailable | ErrorKind::Timeout | ErrorKind::Backend
            ),
        };
        if may_have_committed && !deferred.is_empty() {
            let effects = tokio::spawn(async move {
                for effect in deferred {
                    effect.await;
                }
            });
            if let Err(error) = effects.await {
                tracing::warn!(%error, "an effect after a commit failed");
            }
        }
        committed
    }

    /// Rolls the transaction back and drops the deferred effects.
    ///
    /// # Errors
    /// As [`Transaction::rollback`].
    pub async fn rollback(self) -> Result<()> {
        let transaction = self.take().await?;
        lock(&self.state.after_commit).clear();
        transaction.rollback().await
    }

    async fn take(&self) -> Result<Box<dyn Transaction>> {
        self.state
            .transaction
            .lock()
            .await
            .take()
            .ok_or_else(|| Error::backend("the unit of work has already ended"))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `work` in a unit of `source` and commits it when `work` returns `Ok`, rolls it
/// back otherwise. Inside a unit already, `work` joins that one, which commits or rolls back
/// with its owner; if `work` fails there, the owner's unit becomes
/// [rollback-only](Unit::rollback_only), so the block is never half-applied.
///
/// # Errors
/// `work`'s error (after the rollback); the commit's.
pub async fn atomically<T, F>(source: &dyn TransactionSource, work: F) -> Result<T>
where
    F: Future<Output = Result<T>>,
{
    if let Ok(state) = CURRENT.try_with(Arc::clone) {
        // Joined: the block's writes are the owner's now, and cannot be undone alone.
        let result = work.await;
        if result.is_err() {
            state
                .rollback_only
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
        return result;
    }
    let unit = Unit::begin(source).await?;
    match unit.run(work).await {
        Ok(value) => {
            unit.commit().await?;
            Ok(value)
        }
        Err(error) => {
            if let Err(rollback) = unit.rollback().await {
                tracing::warn!(error = %rollback, "rolling back a unit of work failed");
            }
            Err(error)
        }
    }
}

/// Whether the current task runs inside a unit.
pub fn active() -> bool {
    CURRENT.try_with(|_| ()).is_ok()
}

/// The current unit's transaction, lent until the value is dropped (other calls of the
/// unit wait for it meanwhile).
pub struct Lent(tokio::sync::OwnedMutexGuard<Option<Box<dyn Transaction>>>);

impl Lent {
    /// The transaction.
    pub fn transaction(&self) -> Option<&dyn Transaction> {
        self.0.as_deref()
    }
}

impl fmt::Debug for Lent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lent").finish_non_exhaustive()
    }
}

/// Borrows the current unit's transaction; `None` outside a unit or once it ended. Hold it
/// for one call and drop it: a second `lend` in the same task waits for the first.
pub async fn lend() -> Option<Lent> {
    let state = CURRENT.try_with(Arc::clone).ok()?;
    let guard = Arc::clone(&state.transaction).lock_owned().await;
    if guard.is_some() {
        Some(Lent(guard))
    } else {
        None
    }
}

/// Runs `effect` once the current unit has committed (dropped if it rolls back), or at once
/// outside a unit. An effect must be harmless if the commit did not happen after all: it
/// also runs when the commit's reply was lost (see [`Unit::commit`]).
pub async fn after_commit<F>(effect: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    match CURRENT.try_with(Arc::clone) {
        Ok(state) => lock(&state.after_commit).push(Box::pin(effect)),
        Err(_) => effect.await,
    }
}

/// Enqueues `job` on `queue` as part of the current unit:
/// - on a queue that can store it in the unit's transaction
///   ([`QueueCapabilities::transactional_enqueue`]), there: the job exists if and only if
///   the unit commits (`Some`);
/// - on another queue, after the unit commits (`None`), retried in the background for up to
///   [`DEFERRED_ENQUEUE_ATTEMPTS`] attempts; a job lost past those (or with the process) is
///   logged as an error. Never before the commit: a worker must not see work whose writes
///   may still roll back.
///
/// Outside a unit, enqueues at once (`Some`).
///
/// [`QueueCapabilities::transactional_enqueue`]: crate::queue::QueueCapabilities
///
/// # Errors
/// As [`Queue::enqueue`] and [`Queue::enqueue_in`] (never for a deferred enqueue).
pub async fn enqueue(queue: Arc<dyn Queue>, job: NewJob) -> Result<Option<Enqueued>> {
    if !active() {
        return queue.enqueue(job).await.map(Some);
    }
    if queue.capabilities().transactional_enqueue
        && let Some(lent) = lend().await
        && let Some(transaction) = lent.transaction()
    {
        return queue.enqueue_in(transaction, job).await.map(Some);
    }
    after_commit(async move {
        tokio::spawn(enqueue_with_retries(queue, job));
    })
    .await;
    Ok(None)
}

/// Enqueues the [typed job](TypedJob) `payload` (type `J::TYPE`) on `queue` as part of the
/// current unit, as [`enqueue`] does.
///
/// # Errors
/// As [`NewJob::of`] (nothing is enqueued, the unit is untouched) and [`enqueue`].
pub async fn enqueue_job<J: TypedJob>(
    queue: Arc<dyn Queue>,
    payload: &J,
) -> Result<Option<Enqueued>> {
    enqueue(queue, NewJob::of(payload)?).await
}

/// Enqueues the [typed job](TypedJob) `payload` with the settings `configure` makes of it
/// (`|job| job.id(id).unique_key(key)`) as part of the current unit, as [`enqueue`] does.
///
/// # Errors
/// As [`enqueue_job`].
pub async fn enqueue_job_with<J: TypedJob>(
    queue: Arc<dyn Queue>,
    payload: &J,
    configure: impl FnOnce(NewJob) -> NewJob,
) -> Result<Option<Enqueued>> {
    enqueue(queue, configure(NewJob::of(payload)?)).await
}

/// How many times a job deferred to after a commit is tried.
pub const DEFERRED_ENQUEUE_ATTEMPTS: u32 = 8;

async fn enqueue_with_retries(queue: Arc<dyn Queue>, job: NewJob) {
    let mut wait = std::time::Duration::from_millis(100);
    for attempt in 1..=DEFERRED_ENQUEUE_ATTEMPTS {
        match queue.enqueue(job.clone()).await {
            Ok(_) => return,
            Err(error) if attempt == DEFERRED_ENQUEUE_ATTEMPTS => {
                tracing::error!(%error, job_type = %job.job_type, "a job enqueued after a commit was lost");
            }
            Err(error) => {
                tracing::warn!(%error, attempt, "enqueueing after a commit failed; retrying");
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2);
            }
        }
    }
}
