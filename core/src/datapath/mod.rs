//! The production data path: layers around the [`Store`], each a policy that decides how a
//! call reaches the database, never an `if` inside a backend.
//!
//! A layer is a [`StorePolicy`] wrapped in [`Layered`], which implements [`Store`] by handing
//! every method to the policy as a [`Call`] (its name, whether it writes or reads, and
//! whether a stale read is acceptable) and a closure that runs it on a store. So a host picks
//! the layers it wants and stacks them: `Layered<ReplicaRouter>` sends reads that may go
//! stale to a healthy replica.

mod breaker;
mod caching;
mod instrumented;
mod layered;
mod owed;
mod replicas;

use std::sync::Arc;

use async_trait::async_trait;
use futures::future::BoxFuture;
use uuid::Uuid;

pub use breaker::{BreakerOptions, BreakerState, CircuitBreaker};
pub use caching::{CachingStore, OWED_USERS};
pub use instrumented::Instrumented;
pub use layered::Layered;
pub use replicas::{NodeStatus, Replica, ReplicaOptions, ReplicaRouter};

use crate::Result;
use crate::store::Store;

tokio::task_local! {
    /// Set while a task runs inside [`read_fresh`].
    static FRESH: ();
}

/// Runs `work` with every read it makes through a [`ReplicaRouter`] served by the primary,
/// as if each were [`Access::FreshRead`]: for a value that is about to be cached, which must
/// be at least as fresh as the generation it is cached under (a standby may still be behind a
/// write another process made). Reads made by tasks that `work` spawns are not covered.
pub async fn read_fresh<F: std::future::Future>(work: F) -> F::Output {
    FRESH.scope((), work).await
}

/// Whether the current task runs inside [`read_fresh`], or inside a
/// [unit of work](crate::unit), whose reads must see its own writes on the primary.
pub fn reading_fresh() -> bool {
    FRESH.try_with(|()| ()).is_ok() || crate::unit::active()
}

/// How a call touches the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Changes data: always the primary.
    Write,
    /// Reads data that may be a moment old (a replica may serve it).
    Read,
    /// Reads data that must be current, or that is read in order to write (balances): the
    /// primary.
    FreshRead,
}

/// One call of the Store, as layers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    /// The Store method (`list_deposits`), for logs and metrics.
    pub name: &'static str,
    /// How it touches the data.
    pub access: Access,
    /// The user or record it is about, when one is known: a read about something this
    /// process just wrote goes to the primary (read-your-writes).
    pub about: Option<Uuid>,
}

impl Call {
    /// A write about `about`.
    pub fn write(name: &'static str, about: Option<Uuid>) -> Self {
        Self {
            name,
            access: Access::Write,
            about,
        }
    }

    /// A read that may be served a moment old.
    pub fn read(name: &'static str, about: Option<Uuid>) -> Self {
        Self {
            name,
            access: Access::Read,
            about,
        }
    }

    /// A read that must be current.
    pub fn fresh(name: &'static str, about: Option<Uuid>) -> Self {
        Self {
            name,
            access: Access::FreshRead,
            about,
        }
    }
}

/// The work of one call, runnable on whichever store a policy picks (and again on another,
/// when a policy falls back).
pub type Op<T> = dyn Fn(Arc<dyn Store>) -> BoxFuture<'static, Result<T>> + Send + Sync;

/// Decides how each call of a [`Layered`] store runs.
#[async_trait]
pub trait StorePolicy: Send + Sync + std::fmt::Debug + 'static {
    /// Runs `op` for `call` on the store (or stores) this policy picks.
    ///
    /// # Errors
    /// What the store answers, or the policy's own refusal.
    async fn run<T: Send + 'static>(&self, call: Call, op: &Op<T>) -> Result<T>;

    /// Told after a successful write of `key` (a new user, wallet or deposit id, or the user
    /// whose money changed).
    fn wrote(&self, key: Uuid) {
        let _ = key;
    }

    /// The engine underneath (`postgres`).
    fn engine(&self) -> &'static str;

    /// Whether the data path can serve: the primary answers.
    ///
    /// # Errors
    /// `Unavailable` when it does not.
    async fn health(&self) -> Result<()>;
}
