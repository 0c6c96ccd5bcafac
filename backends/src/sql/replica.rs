//! A PostgreSQL hot standby as a [`Replica`] for the core [`ReplicaRouter`](stack_core::datapath::ReplicaRouter).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sea_orm::{ConnectionTrait, Statement};
use stack_core::datapath::Replica;
use stack_core::store::Store;
use stack_core::{Error, Result};

use super::error::db_error;
use super::{SqlOptions, SqlStore, open};

/// How far a standby is behind: 0 when it has replayed all it received, else the age of the
/// last replayed transaction; NULL when the server is not a standby at all. (The age alone
/// would grow while the primary is idle, and take an up-to-date standby out of rotation.)
const REPLAY_LAG: &str = "SELECT CASE \
     WHEN NOT pg_is_in_recovery() THEN NULL \
     WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 \
     ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) \
     END::float8 AS lag";

/// A read replica: a pool of its own on a PostgreSQL hot standby.
#[derive(Debug, Clone)]
pub struct SqlReplica {
    store: SqlStore,
    label: String,
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
        let lag: Option<f64> = row
            .try_get("", "lag")
            .map_err(|e| db_error("replay lag", e))?;
        let Some(lag) = lag else {
            return Err(Error::conflict(format!(
                "{} is not a standby (pg_is_in_recovery() is false)",
                self.label
            )));
        };
        Ok(Duration::from_secs_f64(lag.max(0.0)))
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
