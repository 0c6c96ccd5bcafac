//! Waking idle workers. Every handle of one queue name in this process shares a [`Wake`];
//! an enqueue, a retry or a release here notifies it at once. On PostgreSQL a listener task
//! (`LISTEN stack_jobs` on a connection of its own, which sqlx's `PgListener` reconnects by
//! itself) notifies it for work enqueued by any instance; the enqueue's own statement sends
//! the `NOTIFY`, so a job enqueued in a caller's transaction wakes workers when it commits.
//! A jittered poll of at most a second stays as the fallback (a notification sent while the
//! listener was reconnecting is lost; so is any write to an SQLite file by another process).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use chrono::Utc;
use sea_orm::sqlx::postgres::{PgListener, PgPoolOptions};
use stack_core::Result;
use tokio::sync::Notify;

use super::SqlQueue;
use super::rows::{get, time};

/// The channel every SQL queue notifies, with the queue's name as the payload.
pub(super) const CHANNEL: &str = "stack_jobs";

/// The wake-up of one queue name in this process.
#[derive(Debug, Default)]
pub(super) struct Wake {
    notify: Notify,
}

impl Wake {
    /// The wake-up every handle of queue `name` in this process shares.
    pub(super) fn for_queue(name: &str) -> Arc<Self> {
        static ALL: OnceLock<Mutex<HashMap<String, Weak<Wake>>>> = OnceLock::new();
        let mut all = ALL
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(wake) = all.get(name).and_then(Weak::upgrade) {
            return wake;
        }
        all.retain(|_, w| w.strong_count() > 0);
        let wake = Arc::new(Self::default());
        all.insert(name.to_owned(), Arc::downgrade(&wake));
        wake
    }

    /// Wakes every idle worker of this queue in this process.
    pub(super) fn notify(&self) {
        self.notify.notify_waiters();
    }
}

/// Forwards the notifications of queue `name` to `wake` until the queue is dropped.
async fn forward(mut listener: PgListener, name: String, wake: Weak<Wake>) {
    loop {
        let received = listener.try_recv().await;
        let Some(wake) = wake.upgrade() else {
            return;
        };
        match received {
            Ok(Some(notification)) => {
                if notification.payload() == name {
                    wake.notify();
                }
            }
            // The connection was lost and is being replaced: notifications sent meanwhile
            // are lost, so every waiter looks for work now.
            Ok(None) => wake.notify(),
            Err(error) => {
                tracing::warn!(%error, queue = %name, "SQL queue: LISTEN failed; retrying in a second");
                wake.notify();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// The database's clock, the earliest pending run time, the earliest lease lapse.
pub(super) type NextTimes = (
    chrono::DateTime<Utc>,
    Option<chrono::DateTime<Utc>>,
    Option<chrono::DateTime<Utc>>,
);

impl SqlQueue {
    /// Starts the listener of this handle once (PostgreSQL); a failure is logged and the
    /// poll stands in for it until the next wait tries again.
    async fn ensure_listener(&self) {
        let mut slot = self.listener.lock().await;
        if slot.as_ref().is_some_and(|task| !task.is_finished()) {
            return;
        }
        // A pool of one connection of its own, with the Store pool's settings: the listener
        // holds its connection for good, and must not take one of the Store's.
        let options = (*self.db.get_postgres_connection_pool().connect_options()).clone();
        let own = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .connect_lazy_with(options);
        let listening = async {
            let mut listener = PgListener::connect_with(&own).await?;
            listener.listen(CHANNEL).await?;
            Ok::<_, sea_orm::sqlx::Error>(listener)
        };
        match listening.await {
            Ok(listener) => {
                let task = forward(
                    listener,
                    self.options.name.clone(),
                    Arc::downgrade(&self.wake),
                );
                *slot = Some(tokio::spawn(task));
            }
            Err(error) => {
                tracing::warn!(%error, queue = %self.options.name, "SQL queue: cannot LISTEN; polling");
            }
        }
    }

    /// Sends this queue's notification (PostgreSQL) or wakes this process's workers
    /// (SQLite), after work became ready otherwise than by an enqueue. A failure to notify
    /// is logged: waiters still find the work by their poll.
    pub(super) async fn announce(&self) {
        self.wake.notify();
        if self.dialect.is_postgres() {
            let sql = format!("SELECT pg_notify('{CHANNEL}', $1)");
            let values = vec![self.options.name.clone().into()];
            if let Err(error) = self.rows(&self.db, "notify", sql, values).await {
                tracing::warn!(%error, "SQL queue: NOTIFY failed");
            }
        }
    }

    /// The database's clock, the earliest time a pending job may run, and the earliest time a
    /// lease lapses.
    pub(super) async fn next_times(&self) -> Result<NextTimes> {
        let now = self.dialect.now();
        // One index probe per priority and one for the leases, rather than a scan of every
        // pending job.
        let mut probes: Vec<String> = (0..4)
            .map(|rank| {
                format!(
                    "(SELECT MIN(run_at) FROM stack_jobs WHERE queue = $1 AND state = 'pending' \
                     AND priority = {rank})"
                )
            })
            .collect();
        probes.push(
            "(SELECT MIN(lease_expires_at) FROM stack_jobs WHERE queue = $1 AND state = 'running')"
                .to_owned(),
        );
        let sql = format!(
            "SELECT {now} AS now, {} AS a, {} AS b, {} AS c, {} AS d, {} AS e",
            probes[0], probes[1], probes[2], probes[3], probes[4]
        );
        let rows = self
            .rows(
                &self.db,
                "read the next run time",
                sql,
                vec![self.options.name.clone().into()],
            )
            .await?;
        let Some(row) = rows.first() else {
            return Err(stack_core::Error::backend("next run time: no row"));
        };
        let mut next: Option<i64> = None;
        for column in ["a", "b", "c", "d"] {
            if let Some(at) = get::<Option<i64>>(row, column)? {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        }
        let lease = get::<Option<i64>>(row, "e")?;
        Ok((
            time(get(row, "now")?)?,
            next.map(time).transpose()?,
            lease.map(time).transpose()?,
        ))
    }

    /// Waits until work may be ready, at most `max_wait` (see [`Queue::wait_for_work`]).
    ///
    /// [`Queue::wait_for_work`]: stack_core::queue::Queue::wait_for_work
    pub(super) async fn wait(&self, max_wait: Duration) -> Result<()> {
        let woken = self.wake.notify.notified();
        tokio::pin!(woken);
        // Registered before reading the table, so a job arriving in between still wakes us.
        woken.as_mut().enable();
        if self.dialect.is_postgres() {
            self.ensure_listener().await;
        }
        let (now, pending, lease) = self.next_times().await?;
        let mut until = stack_core::retry::poll_interval().min(max_wait);
        if let Some(at) = pending {
            if at <= now {
                return Ok(());
            }
            until = until.min((at - now).to_std().unwrap_or_default());
        }
        if let Some(at) = lease {
            // A lapsed lease is work only once this handle's next recovery is due (at most
            // one a second): until then, returning at once would spin.
            let wait = if at <= now {
                self.recovery_due_in()
            } else {
                (at - now).to_std().unwrap_or_default()
            };
            if wait.is_zero() {
                return Ok(());
            }
            until = until.min(wait);
        }
        tokio::select! {
            () = woken => {}
            () = tokio::time::sleep(until) => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use stack_core::queue::{NewJob, Queue, QueueOptions};

    use super::super::{SqlQueue, SqlQueueOptions};

    /// One enqueue on SQLite wakes this process's idle waiters at once (not at their
    /// fallback poll): a waiter registered before it is notified by the time it returns.
    #[tokio::test]
    async fn a_single_enqueue_on_sqlite_notifies_this_process_waiters() {
        let store = crate::sql::open("sqlite::memory:", &crate::sql::SqlOptions::default())
            .await
            .expect("open");
        crate::sql::migrate_up(store.connection(), None)
            .await
            .expect("migrate");
        let sql_options = SqlQueueOptions {
            sweep_every: None,
            ..SqlQueueOptions::default()
        };
        let name = format!("wake-{}", uuid::Uuid::new_v4().simple());
        let queue = SqlQueue::open(
            store.connection().clone(),
            QueueOptions::new(name),
            sql_options,
        )
        .expect("queue");
        let woken = queue.wake.notify.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        queue
            .enqueue(NewJob::new("w", serde_json::json!({})))
            .await
            .expect("enqueue");
        let notified = tokio::select! {
            biased;
            () = woken => true,
            () = std::future::ready(()) => false,
        };
        assert!(notified, "the enqueue did not wake this process's waiters");
    }
}
