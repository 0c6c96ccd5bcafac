//! A PostgreSQL hot standby as a [`Replica`] for the core [`ReplicaRouter`](stack_core::datapath::ReplicaRouter).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sea_orm::{ConnectionTrait, Statement};
use stack_core::datapath::Replica;
use stack_core::store::Store;
use stack_core::{Error, Result};

use super::error::db_error;
use super::{SqlOptions, SqlStore, open};

/// Whether the server is a standby; whether its WAL receiver runs, and its state
/// (`streaming` while connected to the primary; NULL to a user without `pg_read_all_stats`);
/// and how far it has replayed what it received: 0 when all of it, else the age of the last
/// replayed transaction. (The age alone would grow while the primary is idle, and take an
/// up-to-date standby out of rotation; received = replayed alone is also what a standby cut
/// off its primary shows forever, hence the receiver's state.)
const REPLAY_LAG: &str = "SELECT pg_is_in_recovery() AS standby, \
     r.pid IS NOT NULL AS receiver, r.status AS status, \
     CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 \
     ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) \
     END::float8 AS replay \
     FROM (SELECT 1) AS one LEFT JOIN pg_stat_wal_receiver AS r ON true";

/// A read replica: a pool of its own on a PostgreSQL hot standby.
///
/// Its lag is how far it has replayed what it received while its WAL receiver streams from
/// the primary; once the receiver is not streaming (cut off, the primary gone, a changed
/// `primary_conninfo`), the time since a check last saw it streaming, so a standby that has
/// not heard from its primary within `replica_max_lag` leaves the rotation. A standby never
/// seen streaming is not in rotation. The replica's user needs `pg_read_all_stats` (or
/// `pg_monitor`) to see the receiver's state. A link that goes silent without closing is seen
/// once the standby's `wal_receiver_timeout` closes it: keep that at or below
/// `replica_max_lag`.
#[derive(Debug, Clone)]
pub struct SqlReplica {
    store: SqlStore,
    label: String,
    /// When a check last saw the WAL receiver streaming.
    streaming_at: Arc<Mutex<Option<Instant>>>,
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
        Ok(Self {
            store: open(url, options).await?,
            label: label(url),
            streaming_at: Arc::default(),
        })
    }
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

    fn store(&self) -> Arc<dyn Store> {
        Arc::new(self.store.clone())
    }

    async fn replay_lag(&self) -> Result<Duration> {
        let db = self.store.connection();
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                REPLAY_LAG,
            ))
            .await
            .map_err(|e| db_error("replay lag", e))?
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
        if standby != Some(true) {
            return Err(Error::conflict(format!(
                "{} is not a standby (pg_is_in_recovery() is false)",
                self.label
            )));
        }
        let replay = Duration::from_secs_f64(replay.unwrap_or(0.0).max(0.0));
        let mut streaming_at = self.streaming_at.lock().unwrap_or_else(|p| p.into_inner());
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
