//! Invalidations a [`TieredCache`](super::TieredCache) could not publish: owed, and sent
//! before its next call.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Most messages kept; past it, they are replaced by one that clears every first tier.
const MOST: usize = 64;

/// The message that makes every other instance clear its whole first tier.
pub(super) const CLEAR_ALL: &str = "c";

/// The messages owed, bounded: many owed messages become one [`CLEAR_ALL`].
#[derive(Debug, Default)]
pub(super) struct Owed {
    /// How many messages are owed: read without the lock on every call.
    count: AtomicUsize,
    messages: Mutex<Vec<String>>,
}

impl Owed {
    /// Whether any message is owed.
    pub(super) fn any(&self) -> bool {
        self.count.load(Ordering::Acquire) > 0
    }

    /// Owes `what` (`k <key>`, `p <pattern>` or [`CLEAR_ALL`]).
    pub(super) fn add(&self, what: &str) {
        let mut messages = self.messages.lock().unwrap_or_else(|p| p.into_inner());
        if messages.first().is_some_and(|m| m == CLEAR_ALL) {
            // Already owes clearing everything, which covers `what`.
        } else if messages.len() >= MOST || what == CLEAR_ALL {
            *messages = vec![CLEAR_ALL.to_owned()];
        } else {
            messages.push(what.to_owned());
        }
        self.count.store(messages.len(), Ordering::Release);
    }

    /// Takes every owed message; whatever fails to go out must be added back.
    pub(super) fn take(&self) -> Vec<String> {
        let mut messages = self.messages.lock().unwrap_or_else(|p| p.into_inner());
        self.count.store(0, Ordering::Release);
        std::mem::take(&mut *messages)
    }
}
