//! Typed jobs: one definition (a payload type and its job type name) that serves both
//! enqueueing ([`NewJob::of`], [`QueueExt`]) and running
//! ([`Handlers::register_job_fn`](crate::worker::Handlers::register_job_fn)), so the type
//! string is written once and a producer cannot name a type its handler does not know.

use std::future::Future;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Enqueued, NewJob, Queue};
use crate::{Error, Result};

/// A job's definition: the payload type and the job type name it travels under.
///
/// Enqueue it with [`NewJob::of`] or [`QueueExt::enqueue_job`], run it with
/// [`Handlers::register_job_fn`](crate::worker::Handlers::register_job_fn) (the handler
/// takes the payload type itself), schedule it with
/// [`ScheduleSpec::of`](crate::scheduler::ScheduleSpec::of): each reads the name from
/// [`TypedJob::TYPE`].
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use stack_core::queue::{NewJob, Priority, TypedJob};
/// use stack_core::worker::{Handlers, JobContext};
///
/// /// Sends the receipt of a deposit.
/// #[derive(Serialize, Deserialize)]
/// struct SendReceipt {
///     deposit: u64,
/// }
///
/// impl TypedJob for SendReceipt {
///     const TYPE: &'static str = "send_receipt";
/// }
///
/// // The producer: the type name comes from the definition.
/// let job = NewJob::of(&SendReceipt { deposit: 7 })?.priority(Priority::High);
/// assert_eq!(job.job_type, "send_receipt");
/// assert_eq!(job.payload, serde_json::json!({ "deposit": 7 }));
///
/// // The consumer: the handler takes a `SendReceipt`, registered under the same name.
/// let handlers = Handlers::new().register_job_fn(|receipt: SendReceipt, _: JobContext| async move {
///     println!("receipt for deposit {}", receipt.deposit);
///     Ok(())
/// });
/// assert_eq!(handlers.types().collect::<Vec<_>>(), ["send_receipt"]);
/// # Ok::<(), stack_core::Error>(())
/// ```
pub trait TypedJob: Serialize + DeserializeOwned + Send + 'static {
    /// The job type name, as stored in [`NewJob::job_type`](super::NewJob) and matched to
    /// a handler. Must pass [`validate_job_type`](super::validate_job_type).
    const TYPE: &'static str;
}

impl NewJob {
    /// A Normal-priority job of type `J::TYPE` carrying `payload`, that may run now; the
    /// builder methods ([`priority`](NewJob::priority), [`delay`](NewJob::delay),
    /// [`unique_key`](NewJob::unique_key)...) apply as to [`NewJob::new`].
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `payload` when `payload` does not serialize to JSON (a map
    /// whose keys are not strings, a `Serialize` impl that fails).
    pub fn of<J: TypedJob>(payload: &J) -> Result<Self> {
        let value = serde_json::to_value(payload).map_err(|e| {
            Error::invalid(
                "payload",
                format!("the payload of a `{}` job does not serialize: {e}", J::TYPE),
            )
            .with_source(e)
        })?;
        Ok(Self::new(J::TYPE, value))
    }
}

/// Enqueues [typed jobs](TypedJob) on any queue: `Arc<dyn Queue>`, `&dyn Queue` or a
/// concrete backend.
pub trait QueueExt: Queue {
    /// Enqueues `payload` as a job of type `J::TYPE` with the default settings.
    ///
    /// # Errors
    /// As [`NewJob::of`] (nothing is enqueued) and [`Queue::enqueue`].
    fn enqueue_job<J: TypedJob>(
        &self,
        payload: &J,
    ) -> impl Future<Output = Result<Enqueued>> + Send + '_ {
        self.enqueue_job_with(payload, |job| job)
    }

    /// Enqueues `payload` as a job of type `J::TYPE`, with the settings `configure` makes of
    /// it: `queue.enqueue_job_with(&payload, |job| job.priority(Priority::High))`.
    ///
    /// # Errors
    /// As [`QueueExt::enqueue_job`].
    fn enqueue_job_with<J: TypedJob>(
        &self,
        payload: &J,
        configure: impl FnOnce(NewJob) -> NewJob,
    ) -> impl Future<Output = Result<Enqueued>> + Send + '_ {
        // Serialized before the future starts, so the future does not borrow the payload.
        let job = NewJob::of(payload).map(configure);
        async move { self.enqueue(job?).await }
    }
}

impl<Q: Queue + ?Sized> QueueExt for Q {}
