//! A PostgreSQL hot standby as a [`Replica`] for the core [`ReplicaRouter`](stack_core::datapath::ReplicaRouter).

mod history;
mod node;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sea_orm::{ConnectionTrait, Statement};
use stack_core::datapath::{Layered, Replica};
use stack_core::store::Store;
use stack_core::{Error, Result};

use self::history::WalHistory;
use self::node::OnNode;
use super::error::{db_error, on_node};
use super::{SqlOptions, SqlStore, open};

/// Whether the server is a standby; whether its WAL receiver runs, and its state
/// (`streaming` while connected to the primary; NULL to a user without `pg_read_all_stats`);
/// the WAL position it has replayed, in bytes; and, for a replica with no primary to compare
/// with, how far it has replayed what it received: 0 when all of it, else the age of the last
/// replayed transaction by the standby's clock against the primary's commit time.
const REPLAY_LAG: &str = "SELECT pg_is_in_recovery() AS standby, \
     r.pid IS NOT NULL AS receiver, r.status AS status, \
     pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::bigint AS replayed, \
     CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 \
     ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) \
     END::float8 AS replay \
     FROM (SELECT 1) AS one LEFT JOIN pg_stat_wal_receiver AS r ON true";

/// The longest a check waits for the primary's WAL position before measuring the standby
/// alone: well inside the router's deadline for a whole check (at least 500 ms), so a primary
/// that hangs does not take its replicas out of the rotation with it.
const PRIMARY_WAIT: Duration = Duration::from_millis(200);

/// The primary's current WAL position, in bytes.
const PRIMARY_LSN: &str = "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint AS lsn";

/// A read replica: a pool of its own on a PostgreSQL hot standby.
///
/// With its primary known ([`SqlReplica::with_primary`], as the server opens it), its lag is
/// measured on the WAL: each check asks the primary for `pg_current_wal_lsn()`, then the
/// standby for `pg_last_wal_replay_lsn()`, and the lag is the time since the primary was last
/// seen at or before what the standby has replayed (by this process's clock alone, so no
/// skew between servers shrinks it), with the bytes still to replay in
/// [`SqlReplica::bytes_behind`]. A standby that streams but receives late (a slow link, a
/// stalled sender) is seen as behind. When the primary does not answer (within 200 ms), or
/// with no primary known, the lag is how far the standby has replayed what it received (0 when all of it).
///
/// Besides, once its WAL receiver is not streaming (cut off, the primary gone, a changed
/// `primary_conninfo`), the lag is at least the time since a check last saw it streaming, so
/// a standby that has not heard from its primary within `replica_max_lag` leaves the rotation
/// even while the primary writes nothing. A standby never seen streaming is not in rotation.
/// The replica's user needs `pg_read_all_stats` (or `pg_monitor`) to see the receiver's
/// state. Without a primary to compare with, a link that goes silent without closing is seen
/// only once the standby's `wal_receiver_timeout` closes it: keep that at or below
/// `replica_max_lag`.
#[derive(Debug, Clone)]
pub struct SqlReplica {
    store: SqlStore,
    /// `store` as the router serves it: each call on this replica's node.
    serving: Arc<dyn Store>,
    label: String,
    /// When a check last saw the WAL receiver streaming.
    streaming_at: Arc<Mutex<Option<Instant>>>,
    /// The primary, to compare WAL positions with.
    primary: Option<SqlStore>,
    /// The primary's WAL positions seen by the checks.
    history: Arc<Mutex<WalHistory>>,
    /// The WAL bytes the standby had not replayed at the last check that could tell.
    bytes_behind: Arc<Mutex<Option<u64>>>,
}

impl SqlReplica {
    /// Opens a pool on the standby at `url` with `options`.
    ///
    /// # Errors
    /// `Invalid` for a URL that is not `postgres://`; `Unavailable` when it cannot be reached.
    pub async fn open(url: &str, options: &SqlOptions) -> Result<Self> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(Error::invalid(
                "database.read_replicas",
                "replicas are PostgreSQL hot standbys (postgres://...)",
            ));
        }
        let store = open(url, options).await?.outside_units();
        let label = label(url);
        Ok(Self {
            serving: Arc::new(Layered::new(OnNode::new(store.clone(), &label))),
            store,
            label,
            streaming_at: Arc::default(),
            primary: None,
            history: Arc::default(),
            bytes_behind: Arc::default(),
        })
    }

    /// Measures the lag against `primary`'s WAL position (see [`SqlReplica`]).
    #[must_use]
    pub fn with_primary(mut self, primary: SqlStore) -> Self {
        self.primary = Some(primary);
        self
    }

    /// The replica's own pool, for its figures ([`SqlStore::pool_stats`],
    /// [`SqlStore::probe_acquire`]). Serve reads through [`Replica::store`] instead: an
    /// acquire timeout of a call made on this one directly is counted as the primary's.
    pub fn database(&self) -> &SqlStore {
        &self.store
    }

    /// The WAL bytes the standby had not replayed at the last check that compared it with
    /// its primary; `None` before one did.
    pub fn bytes_behind(&self) -> Option<u64> {
        *lock(&self.bytes_behind)
    }

    /// The primary's WAL position now, recorded with the time it was asked; `None` when there
    /// is no primary or it does not answer (logged).
    async fn primary_position(&self) -> Option<()> {
        let primary = self.primary.as_ref()?;
        let db = primary.connection();
        let asked_at = Instant::now();
        let statement = Statement::from_string(db.get_database_backend(), PRIMARY_LSN);
        let lsn = match tokio::time::timeout(PRIMARY_WAIT, db.query_one_raw(statement)).await {
            Ok(Ok(Some(row))) => row.try_get::<i64>("", "lsn").ok(),
            Ok(Ok(None)) => None,
            Ok(Err(error)) => {
                tracing::debug!(replica = %self.label, %error, "primary WAL position unknown");
                None
            }
            Err(_) => {
                tracing::debug!(replica = %self.label, "primary WAL position not read in time");
                None
            }
        }?;
        lock(&self.history).record(u64::try_from(lsn).ok()?, asked_at);
        Some(())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// `host:port/database` of a URL, without credentials.
fn label(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    rest.split('?').next().unwrap_or(rest).to_owned()
}

#[async_trait]
impl Replica for SqlReplica {
    fn label(&self) -> String {
        self.label.clone()
    }

    /// The replica's pool, each call counted under this replica's label (its acquire
    /// timeouts in `stack_db_acquire_timeouts_total`).
    fn store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.serving)
    }

    async fn replay_lag(&self) -> Result<Duration> {
        // The primary first: the standby is then compared with a position the primary had
        // before the standby was asked.
        let compared = self.primary_position().await.is_some();
        let db = self.store.connection();
        let statement = Statement::from_string(db.get_database_backend(), REPLAY_LAG);
        let asked = async {
            db.query_one_raw(statement)
                .await
                .map_err(|e| db_error("replay lag", e))
        };
        let row = on_node(Arc::from(self.label.as_str()), asked)
            .await?
            .ok_or_else(|| Error::backend("replay lag: no row"))?;
        let get = |column: &str| row.try_get::<Option<bool>>("", column);
        let standby = get("standby").map_err(|e| db_error("replay lag", e))?;
        let receiver = get("receiver").map_err(|e| db_error("replay lag", e))?;
        let status: Option<String> = row
            .try_get("", "status")
            .map_err(|e| db_error("replay lag", e))?;
        let replay: Option<f64> = row
            .try_get("", "replay")
            .map_err(|e| db_error("replay lag", e))?;
        let replayed: Option<i64> = row
            .try_get("", "replayed")
            .map_err(|e| db_error("replay lag", e))?;
        if standby != Some(true) {
            return Err(Error::conflict(format!(
                "{} is not a standby (pg_is_in_recovery() is false)",
                self.label
            )));
        }
        let behind = match replayed.and_then(|lsn| u64::try_from(lsn).ok()) {
            Some(replayed) if compared => lock(&self.history).behind(replayed, Instant::now()),
            _ => None,
        };
        *lock(&self.bytes_behind) = behind.map(|b| b.bytes);
        let replay = match behind {
            Some(behind) => behind.time,
            None => Duration::from_secs_f64(replay.unwrap_or(0.0).max(0.0)),
        };
        let mut streaming_at = lock(&self.streaming_at);
        match (receiver, status.as_deref()) {
            (Some(true), None) => Err(Error::backend(format!(
                "{}: the replica's user cannot see pg_stat_wal_receiver; grant it pg_read_all_stats",
                self.label
            ))),
            (Some(true), Some("streaming")) => {
                *streaming_at = Some(Instant::now());
                Ok(replay)
            }
            (_, status) => match *streaming_at {
                Some(at) => Ok(at.elapsed().max(replay)),
                None => Err(Error::backend(format!(
                    "{} is not streaming from its primary (WAL receiver {})",
                    self.label,
                    status.unwrap_or("not running")
                ))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn labels_never_carry_credentials() {
        assert_eq!(
            super::label("postgres://u:secret@10.0.0.2:5433/rail?sslmode=disable"),
            "10.0.0.2:5433/rail"
        );
    }
}
