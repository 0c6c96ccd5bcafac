//! [`Instrumented`]: every Store call counted and timed by name.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;

use super::{Call, Op, StorePolicy};
use crate::Result;
use crate::store::Store;

/// Records `stack_store_calls_total{call, outcome}` (outcome `ok` or the error kind, such as
/// `not_found`, `unavailable`, `circuit_open`) and `stack_store_call_seconds{call}` through the
/// `metrics` crate for every call of the store beneath; the host installs the recorder (the
/// server a Prometheus one). Each SQL statement is measured as well, one level down
/// (`backends::sql::diagnostics`).
#[derive(Debug, Clone)]
pub struct Instrumented {
    store: Arc<dyn Store>,
}

impl Instrumented {
    /// Instruments `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }
}

#[async_trait]
impl StorePolicy for Instrumented {
    async fn run<T: Send + 'static>(&self, call: Call, op: &Op<T>) -> Result<T> {
        let started = Instant::now();
        let answer = op(Arc::clone(&self.store)).await;
        let outcome = match &answer {
            Ok(_) => "ok",
            Err(e) => e.kind().as_str(),
        };
        metrics::counter!("stack_store_calls_total", "call" => call.name, "outcome" => outcome)
            .increment(1);
        metrics::histogram!("stack_store_call_seconds", "call" => call.name)
            .record(started.elapsed().as_secs_f64());
        answer
    }

    fn engine(&self) -> &'static str {
        self.store.name()
    }

    async fn health(&self) -> Result<()> {
        self.store.health().await
    }
}
