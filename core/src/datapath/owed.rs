//! The invalidations a [`CachingStore`](super::CachingStore) owes: bounded, looked up per
//! user in O(1), and paid by a background task as soon as the cache answers again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::cache::UserKeys;

/// The first pause of the task that pays owed invalidations; it doubles after each round
/// that leaves something owed, up to [`RETRY_MOST`].
const RETRY_FIRST: Duration = Duration::from_millis(50);

/// The longest pause between two rounds of the task that pays owed invalidations.
const RETRY_MOST: Duration = Duration::from_secs(2);

/// Invalidations that failed (or whose write's outcome is unknown), by user, and a bump of
/// the shared epoch (see [`UserKeys::bump_epoch`]) owed when one cannot be named.
///
/// At most `limit` users are remembered. An invalidation that cannot be remembered (one more
/// user past the limit, or a write whose user is not known) owes an epoch bump instead, which
/// makes every user-scoped entry unreachable in every process that shares the cache; until it
/// is paid, this process bypasses the cache for every read. An epoch bump still owed after
/// `epoch_for` (long enough that every entry it should have hidden has expired) is dropped.
///
/// Whatever is owed is paid by [`Owed::pay_in_background`], and a user's scopes also
/// before that user's next read.
/// One owed scope: which, and when it was last owed.
pub(super) type Owing = (&'static str, u64);

#[derive(Debug)]
pub(super) struct Owed {
    state: Mutex<State>,
    limit: usize,
    epoch_for: Duration,
}

#[derive(Debug, Default)]
struct State {
    /// The scopes owed per user, each with the number of the last time it was owed: a
    /// payment clears a scope only if it was not owed again while the bump ran.
    users: HashMap<Uuid, Vec<Owing>>,
    /// The number the next owed scope gets.
    next: u64,
    /// An epoch bump is owed until it succeeds or this time passes.
    epoch_until: Option<Instant>,
    /// A task paying what is owed runs.
    paying: bool,
}

impl State {
    /// Whether the epoch bump is owed now (one past its time is dropped).
    fn epoch_owed(&mut self) -> bool {
        match self.epoch_until {
            Some(until) if until > Instant::now() => true,
            Some(_) => {
                self.epoch_until = None;
                false
            }
            None => false,
        }
    }

    /// Whether a paying task must be started now (and marks it started).
    fn start_paying(&mut self) -> bool {
        !std::mem::replace(&mut self.paying, true)
    }
}

impl Owed {
    /// Remembers at most `limit` users; past that, owes an epoch bump for `epoch_for`.
    pub(super) fn new(limit: usize, epoch_for: Duration) -> Self {
        Self {
            state: Mutex::default(),
            limit,
            epoch_for,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remembers that `scope` of `user` must be invalidated; answers whether a paying task
    /// must be started.
    pub(super) fn owe(&self, user: Uuid, scope: &'static str) -> bool {
        let mut state = self.lock();
        state.next += 1;
        let number = state.next;
        let full = state.users.len() >= self.limit;
        if let Some(scopes) = state.users.get_mut(&user) {
            match scopes.iter_mut().find(|(s, _)| *s == scope) {
                Some(owing) => owing.1 = number,
                None => scopes.push((scope, number)),
            }
        } else if !full {
            state.users.insert(user, vec![(scope, number)]);
        } else {
            tracing::warn!(
                limit = self.limit,
                "too many owed cache invalidations; the cache epoch is bumped instead"
            );
            self.owe_epoch(&mut state);
        }
        state.start_paying()
    }

    /// An invalidation that cannot be named (the write's user is not known): owes an epoch
    /// bump; answers whether a paying task must be started.
    pub(super) fn owe_unknown(&self) -> bool {
        let mut state = self.lock();
        self.owe_epoch(&mut state);
        state.start_paying()
    }

    fn owe_epoch(&self, state: &mut State) {
        let until = Instant::now() + self.epoch_for;
        state.epoch_until = Some(state.epoch_until.map_or(until, |at| at.max(until)));
    }

    /// The scopes owed for `user`.
    pub(super) fn of(&self, user: Uuid) -> Vec<Owing> {
        self.lock().users.get(&user).cloned().unwrap_or_default()
    }

    /// `owing` of `user` was invalidated: it is cleared unless it was owed again since.
    pub(super) fn paid(&self, user: Uuid, owing: Owing) {
        let mut state = self.lock();
        if let Some(scopes) = state.users.get_mut(&user) {
            scopes.retain(|s| *s != owing);
            if scopes.is_empty() {
                state.users.remove(&user);
            }
        }
    }

    /// Whether every read bypasses the cache now: an epoch bump is owed.
    pub(super) fn bypass_all(&self) -> bool {
        self.lock().epoch_owed()
    }

    /// How many users have invalidations owed.
    pub(super) fn users(&self) -> usize {
        self.lock().users.len()
    }

    /// Pays what is owed once: the epoch bump first (it covers every user), then each
    /// user's scopes, stopping at the first failure. Answers whether everything is paid; when
    /// it is, the paying task is marked ended under the same lock, so an invalidation owed
    /// later starts a new one.
    async fn pay_once(&self, keys: &UserKeys) -> bool {
        let epoch = {
            let mut state = self.lock();
            state.epoch_owed().then_some(state.epoch_until)
        };
        if let Some(owed_until) = epoch {
            if keys.bump_epoch().await.is_err() {
                return false;
            }
            let mut state = self.lock();
            // An epoch owed again while this bump ran is owed still.
            if state.epoch_until == owed_until {
                state.epoch_until = None;
            }
        }
        let owed: Vec<(Uuid, Vec<Owing>)> = self
            .lock()
            .users
            .iter()
            .map(|(user, scopes)| (*user, scopes.clone()))
            .collect();
        for (user, scopes) in owed {
            for owing in scopes {
                if keys.bump_scope(user, owing.0).await.is_err() {
                    return false;
                }
                self.paid(user, owing);
            }
        }
        let mut state = self.lock();
        let done = state.users.is_empty() && !state.epoch_owed();
        if done {
            state.paying = false;
        }
        done
    }

    /// Starts a task that pays what `owed` owes, retrying with a growing pause until
    /// everything is paid, or `owed` is dropped (its Store is gone). Needs a Tokio runtime;
    /// without one, what is owed is paid before each user's next read only.
    pub(super) fn pay_in_background(owed: &Arc<Self>, keys: UserKeys) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            owed.lock().paying = false;
            return;
        };
        let owed: Weak<Self> = Arc::downgrade(owed);
        runtime.spawn(async move {
            let mut pause = RETRY_FIRST;
            loop {
                tokio::time::sleep(pause).await;
                let Some(owed) = owed.upgrade() else { return };
                if owed.pay_once(&keys).await {
                    return;
                }
                pause = pause.saturating_mul(2).min(RETRY_MOST);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_limit_the_epoch_is_owed_and_nothing_more_is_kept() {
        let owed = Owed::new(2, Duration::from_secs(60));
        let users: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
        assert!(
            owed.owe(users[0], "balances"),
            "the first owed starts a task"
        );
        assert!(!owed.owe(users[0], "deposits"), "one task at a time");
        owed.owe(users[1], "balances");
        assert!(!owed.bypass_all());
        owed.owe(users[2], "balances");
        assert_eq!(owed.users(), 2);
        assert!(owed.bypass_all());
        let of = owed.of(users[0]);
        let scopes: Vec<&str> = of.iter().map(|o| o.0).collect();
        assert_eq!(scopes, ["balances", "deposits"]);
        for owing in of {
            owed.paid(users[0], owing);
        }
        assert_eq!(owed.users(), 1);
    }

    #[test]
    fn a_scope_owed_again_while_its_bump_ran_stays_owed() {
        let owed = Owed::new(10, Duration::from_secs(60));
        let user = Uuid::new_v4();
        owed.owe(user, "balances");
        let before = owed.of(user);
        // The bump of `before` runs; meanwhile another write's bump fails.
        owed.owe(user, "balances");
        owed.paid(user, before[0]);
        assert_eq!(
            owed.users(),
            1,
            "the second write's invalidation is still owed"
        );
        let again = owed.of(user);
        owed.paid(user, again[0]);
        assert_eq!(owed.users(), 0);
    }

    #[test]
    fn an_owed_epoch_ends() {
        let owed = Owed::new(1, Duration::ZERO);
        owed.owe_unknown();
        assert!(!owed.bypass_all());
    }
}
