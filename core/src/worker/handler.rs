//! Handlers: what a job of each type does, registered by type with a typed payload, or by
//! [`TypedJob`] definition so the type name is written once.

use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use crate::queue::{Failure, Job, TypedJob};

/// How a handler says a job failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobError {
    /// Worth another attempt (while attempts remain), after the queue's backoff or, when
    /// `after` is set, after that long.
    Retry {
        /// What went wrong.
        message: String,
        /// The handler's own delay before the next attempt.
        after: Option<Duration>,
    },
    /// No retry can fix it: the job goes to the dead-letter queue now.
    Permanent(String),
    /// Not a failure: the handler hands the job back unfinished. It is
    /// [released](crate::queue::Queue::release): ready again at once, its attempt not
    /// counted and no error recorded. What a handler returns when it stops early at
    /// [`JobContext::shutdown`]. Honoured only once the pool is shutting down: returned at
    /// any other time it is a retry after the backoff (a handler that kept releasing would
    /// otherwise hold the head of its priority for ever and never reach the dead letters).
    Release,
}

impl JobError {
    /// A failure to retry after the queue's backoff.
    pub fn retry(message: impl Into<String>) -> Self {
        Self::Retry {
            message: message.into(),
            after: None,
        }
    }

    /// A failure to retry after `delay`.
    pub fn retry_after(message: impl Into<String>, delay: Duration) -> Self {
        Self::Retry {
            message: message.into(),
            after: Some(delay),
        }
    }

    /// A failure that dead-letters the job at once.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self::Permanent(message.into())
    }

    /// Hands the job back unfinished, without using an attempt: see [`JobError::Release`].
    pub fn release() -> Self {
        Self::Release
    }

    /// The queue's view of this failure; `None` for [`JobError::Release`], which is not one.
    pub fn into_failure(self) -> Option<Failure> {
        match self {
            Self::Retry {
                message,
                after: Some(after),
            } => Some(Failure::retry_after(message, after)),
            Self::Retry { message, .. } => Some(Failure::retry(message)),
            Self::Permanent(message) => Some(Failure::permanent(message)),
            Self::Release => None,
        }
    }
}

impl From<crate::Error> for JobError {
    /// A temporary error (a backend that did not answer, a timeout) is retried; any other
    /// (bad input, not found, a conflict) is permanent.
    fn from(error: crate::Error) -> Self {
        if error.is_temporary() {
            Self::retry(error.to_string())
        } else {
            Self::permanent(error.to_string())
        }
    }
}

/// What a handler knows about the job it runs.
#[derive(Debug, Clone)]
pub struct JobContext {
    /// The job as it was reserved (`attempts` counts this attempt).
    pub job: Job,
    /// Cancelled when the pool starts shutting down. A long handler may stop early at a safe
    /// point and return `Err(JobError::release())`: its job is handed back for another
    /// worker at once, without using an attempt (any other result is reported as usual). A
    /// handler still running when the shutdown grace ends is stopped and its job released
    /// the same way.
    pub shutdown: CancellationToken,
}

/// Runs jobs of one type, with their payload parsed as `Self::Payload`.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    /// The payload type; a payload that does not parse is a permanent failure.
    type Payload: DeserializeOwned + Send + 'static;

    /// Does the job.
    ///
    /// # Errors
    /// A [`JobError`] saying whether to retry.
    async fn handle(&self, payload: Self::Payload, context: JobContext) -> Result<(), JobError>;
}

/// A handler made from an async function.
pub struct FnHandler<F, P> {
    run: F,
    _payload: PhantomData<fn() -> P>,
}

#[async_trait]
impl<F, P, Fut> Handler for FnHandler<F, P>
where
    F: Fn(P, JobContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), JobError>> + Send + 'static,
    P: DeserializeOwned + Send + 'static,
{
    type Payload = P;

    async fn handle(&self, payload: P, context: JobContext) -> Result<(), JobError> {
        (self.run)(payload, context).await
    }
}

/// A handler with its payload type erased, as the pool stores it.
trait ErasedHandler: Send + Sync {
    fn run(&self, context: JobContext) -> BoxFuture<'static, Result<(), JobError>>;
}

struct Erased<H>(Arc<H>);

impl<H: Handler> ErasedHandler for Erased<H> {
    fn run(&self, context: JobContext) -> BoxFuture<'static, Result<(), JobError>> {
        let handler = Arc::clone(&self.0);
        Box::pin(async move {
            let payload = serde_json::from_value::<H::Payload>(context.job.payload.clone())
                .map_err(|e| {
                    JobError::permanent(format!(
                        "the payload of a `{}` job does not parse: {e}",
                        context.job.job_type
                    ))
                })?;
            handler.handle(payload, context).await
        })
    }
}

/// The handlers of a pool, by job type.
#[derive(Clone, Default)]
pub struct Handlers {
    by_type: HashMap<String, Arc<dyn ErasedHandler>>,
}

impl std::fmt::Debug for Handlers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut types: Vec<&String> = self.by_type.keys().collect();
        types.sort();
        f.debug_struct("Handlers").field("types", &types).finish()
    }
}

impl Handlers {
    /// No handlers yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs jobs of `job_type` with `handler` (replacing any earlier one for that type).
    #[must_use]
    pub fn register<H: Handler>(mut self, job_type: impl Into<String>, handler: H) -> Self {
        self.by_type
            .insert(job_type.into(), Arc::new(Erased(Arc::new(handler))));
        self
    }

    /// Runs jobs of `job_type` with the async function `run(payload, context)`.
    #[must_use]
    pub fn register_fn<F, P, Fut>(self, job_type: impl Into<String>, run: F) -> Self
    where
        F: Fn(P, JobContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), JobError>> + Send + 'static,
        P: DeserializeOwned + Send + 'static,
    {
        self.register(
            job_type,
            FnHandler {
                run,
                _payload: PhantomData,
            },
        )
    }

    /// Runs jobs of the [typed job](TypedJob) `H::Payload` with `handler`, under the type
    /// name [`TypedJob::TYPE`] (replacing any earlier handler for that type).
    #[must_use]
    pub fn register_job<H>(self, handler: H) -> Self
    where
        H: Handler,
        H::Payload: TypedJob,
    {
        self.register(<H::Payload as TypedJob>::TYPE, handler)
    }

    /// Runs jobs of the [typed job](TypedJob) `J` with the async function
    /// `run(payload, context)`, under the type name `J::TYPE`: see [`TypedJob`].
    #[must_use]
    pub fn register_job_fn<J, F, Fut>(self, run: F) -> Self
    where
        J: TypedJob,
        F: Fn(J, JobContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), JobError>> + Send + 'static,
    {
        self.register_fn(J::TYPE, run)
    }

    /// The job types with a handler.
    pub fn types(&self) -> impl Iterator<Item = &str> {
        self.by_type.keys().map(String::as_str)
    }

    /// Runs `context.job` with its type's handler; a type with none is a permanent failure.
    pub(super) fn run(&self, context: JobContext) -> BoxFuture<'static, Result<(), JobError>> {
        match self.by_type.get(&context.job.job_type) {
            Some(handler) => handler.run(context),
            None => {
                let message = format!("no handler for job type `{}`", context.job.job_type);
                Box::pin(async move { Err(JobError::permanent(message)) })
            }
        }
    }
}
