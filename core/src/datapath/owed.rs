//! The invalidations a [`CachingStore`](super::CachingStore) owes: bounded, looked up per
//! user in O(1).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

/// Invalidations that failed (or whose write's outcome is unknown), by user, and a time until
/// which the whole cache is bypassed.
///
/// At most `limit` users are remembered. An invalidation that cannot be remembered (one more
/// user past the limit, or a write whose user is not known) bypasses the cache for every read
/// for `bypass_for`: long enough that every entry the lost invalidation should have removed
/// has expired.
#[derive(Debug)]
pub(super) struct Owed {
    state: Mutex<State>,
    limit: usize,
    bypass_for: Duration,
}

#[derive(Debug, Default)]
struct State {
    users: HashMap<Uuid, Vec<&'static str>>,
    bypass_until: Option<Instant>,
}

impl Owed {
    /// Remembers at most `limit` users; past that, bypasses the cache for `bypass_for`.
    pub(super) fn new(limit: usize, bypass_for: Duration) -> Self {
        Self {
            state: Mutex::default(),
            limit,
            bypass_for,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remembers that `scope` of `user` must be invalidated before the user's next cached read.
    pub(super) fn owe(&self, user: Uuid, scope: &'static str) {
        let mut state = self.lock();
        if let Some(scopes) = state.users.get_mut(&user) {
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
            return;
        }
        if state.users.len() < self.limit {
            state.users.insert(user, vec![scope]);
        } else {
            tracing::warn!(
                limit = self.limit,
                "too many owed cache invalidations; the cache is bypassed until what was missed expires"
            );
            self.bypass(&mut state);
        }
    }

    /// An invalidation that cannot be named (the write's user is not known): bypass the cache.
    pub(super) fn owe_unknown(&self) {
        let mut state = self.lock();
        self.bypass(&mut state);
    }

    fn bypass(&self, state: &mut State) {
        let until = Instant::now() + self.bypass_for;
        state.bypass_until = Some(state.bypass_until.map_or(until, |at| at.max(until)));
    }

    /// The scopes owed for `user`.
    pub(super) fn of(&self, user: Uuid) -> Vec<&'static str> {
        self.lock().users.get(&user).cloned().unwrap_or_default()
    }

    /// `scope` of `user` was invalidated.
    pub(super) fn paid(&self, user: Uuid, scope: &'static str) {
        let mut state = self.lock();
        if let Some(scopes) = state.users.get_mut(&user) {
            scopes.retain(|s| *s != scope);
            if scopes.is_empty() {
                state.users.remove(&user);
            }
        }
    }

    /// Whether every read bypasses the cache now.
    pub(super) fn bypass_all(&self) -> bool {
        let mut state = self.lock();
        match state.bypass_until {
            Some(until) if until > Instant::now() => true,
            Some(_) => {
                state.bypass_until = None;
                false
            }
            None => false,
        }
    }

    /// How many users have invalidations owed.
    pub(super) fn users(&self) -> usize {
        self.lock().users.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_limit_the_cache_is_bypassed_and_nothing_more_is_kept() {
        let owed = Owed::new(2, Duration::from_secs(60));
        let users: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
        owed.owe(users[0], "balances");
        owed.owe(users[0], "deposits");
        owed.owe(users[1], "balances");
        assert!(!owed.bypass_all());
        owed.owe(users[2], "balances");
        assert_eq!(owed.users(), 2);
        assert!(owed.bypass_all());
        assert_eq!(owed.of(users[0]), vec!["balances", "deposits"]);
        owed.paid(users[0], "balances");
        owed.paid(users[0], "deposits");
        assert_eq!(owed.users(), 1);
    }

    #[test]
    fn the_bypass_ends() {
        let owed = Owed::new(1, Duration::ZERO);
        owed.owe_unknown();
        assert!(!owed.bypass_all());
    }
}
