//! A replica's Store as the router serves it: every call runs on the replica's node (see
//! [`on_node`]), so what it counts (an acquire timeout) is counted under the replica's label.

use std::sync::Arc;

use async_trait::async_trait;
use stack_core::Result;
use stack_core::datapath::{Call, Op, StorePolicy};
use stack_core::store::Store;

use super::super::SqlStore;
use super::super::error::on_node;

/// Runs each call on `store` as a call on `node`.
#[derive(Debug)]
pub(super) struct OnNode {
    store: Arc<dyn Store>,
    node: Arc<str>,
}

impl OnNode {
    /// `store`'s calls on the node labelled `node`.
    pub(super) fn new(store: SqlStore, node: &str) -> Self {
        Self {
            store: Arc::new(store),
            node: Arc::from(node),
        }
    }
}

#[async_trait]
impl StorePolicy for OnNode {
    async fn run<T: Send + 'static>(&self, _call: Call, op: &Op<T>) -> Result<T> {
        on_node(Arc::clone(&self.node), op(Arc::clone(&self.store))).await
    }

    fn engine(&self) -> &'static str {
        self.store.name()
    }

    async fn health(&self) -> Result<()> {
        on_node(Arc::clone(&self.node), self.store.health()).await
    }
}
