//! `/admin/diagnostics`: the slow-query log, `EXPLAIN` of the Store's named list queries,
//! and the data path's status (pool, circuit breaker, replicas).

use chrono::{DateTime, Utc};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};
use stack_backends::sql::diagnostics::explain;
use stack_backends::sql::{ListQuery, SqlStore};
use stack_core::page::{DEFAULT_LIMIT, PageRequest};
use stack_core::store::{
    AuditFilter, CursorRequest, DepositFilter, EntryFilter, Store, UserFilter, WalletFilter,
};
use uuid::Uuid;

use super::Tag;
use super::auth::AdminAuth;
use crate::api::health::{self, NodeCheck, PoolCheck};
use crate::backends::Backends;
use crate::http::api_error::{ApiError, ApiResult};

/// A statement slower than `database.slow_query_threshold`.
#[derive(Debug, Object)]
pub struct SlowQueryView {
    /// When it finished.
    pub at: DateTime<Utc>,
    /// Its short name (`select deposits`).
    pub statement: String,
    /// Its SQL with placeholders (parameter values are never kept).
    pub sql: String,
    /// How many parameters it had.
    pub parameters: u64,
    /// How long it took, in milliseconds.
    pub duration_ms: f64,
    /// Whether it failed.
    pub failed: bool,
}

/// A list query of the Store, by the name of the method that runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum NamedQuery {
    /// Users, newest first.
    ListUsers,
    /// A user's wallets.
    ListWallets,
    /// Deposits by page.
    ListDeposits,
    /// Deposits by keyset cursor.
    ScanDeposits,
    /// Ledger entries.
    ListEntries,
    /// Audit logs.
    ListAuditLogs,
}

impl NamedQuery {
    /// The Store's query, its filter on `user` where it has one, first page.
    fn query(self, user: Option<Uuid>) -> ListQuery {
        match self {
            Self::ListUsers => ListQuery::Users(UserFilter::default()),
            Self::ListWallets => ListQuery::Wallets(WalletFilter {
                user_id: user,
                ..WalletFilter::default()
            }),
            Self::ListDeposits => ListQuery::Deposits(DepositFilter {
                user_id: user,
                ..DepositFilter::default()
            }),
            Self::ScanDeposits => ListQuery::ScanDeposits(
                DepositFilter {
                    user_id: user,
                    ..DepositFilter::default()
                },
                CursorRequest {
                    after: None,
                    limit: DEFAULT_LIMIT,
                },
            ),
            Self::ListEntries => ListQuery::Entries(EntryFilter {
                user_id: user,
                ..EntryFilter::default()
            }),
            Self::ListAuditLogs => ListQuery::AuditLogs(AuditFilter {
                user_id: user,
                ..AuditFilter::default()
            }),
        }
    }
}

/// A query's plan, in brief.
#[derive(Debug, Object)]
pub struct PlanView {
    /// The Store method (`list_deposits`).
    pub query: String,
    /// The database engine (`sqlite`, `postgres`).
    pub engine: String,
    /// Every plan node, top first.
    pub nodes: Vec<String>,
    /// The indexes the plan reads.
    pub indexes: Vec<String>,
    /// Tables read by a full scan.
    pub seq_scans: Vec<String>,
    /// The planner's row estimate for the top node (PostgreSQL).
    pub estimated_rows: Option<f64>,
    /// The rows the top node returned (PostgreSQL, which runs the query in a transaction
    /// it rolls back).
    pub actual_rows: Option<f64>,
    /// Execution time in milliseconds (PostgreSQL).
    pub execution_ms: Option<f64>,
}

/// The data path now.
#[derive(Debug, Object)]
pub struct DataPathStatus {
    /// The Store's engine.
    pub store: String,
    /// The cache backend.
    pub cache: String,
    /// The queue backend.
    pub queue: String,
    /// The primary's connection pool; absent when the backends have no SQL database.
    #[oai(skip_serializing_if_is_none)]
    pub pool: Option<PoolCheck>,
    /// The circuit breaker around the primary: `closed`, `open` or `half_open`; absent when
    /// the backends have no breaker.
    #[oai(skip_serializing_if_is_none)]
    pub circuit: Option<String>,
    /// The database nodes behind the replica router (empty without replicas).
    pub replicas: Vec<NodeCheck>,
}

/// The diagnostics' admin operations.
#[derive(Debug)]
pub struct DiagnosticsApi {
    backends: Backends,
}

impl DiagnosticsApi {
    /// The operations over `backends`.
    pub fn new(backends: Backends) -> Self {
        Self { backends }
    }
}

#[OpenApi(tag = "Tag::Diagnostics")]
impl DiagnosticsApi {
    /// The most recent statements of the primary's pool slower than
    /// `database.slow_query_threshold`, newest first (at most 100).
    #[oai(path = "/diagnostics/slow-queries", method = "get")]
    async fn slow_queries(&self, _auth: AdminAuth) -> Json<Vec<SlowQueryView>> {
        let recent = self
            .backends
            .database
            .as_ref()
            .map(SqlStore::slow_queries)
            .unwrap_or_default();
        Json(
            recent
                .into_iter()
                .map(|q| SlowQueryView {
                    at: q.at,
                    statement: q.statement,
                    sql: q.sql,
                    parameters: u64::try_from(q.parameters).unwrap_or(u64::MAX),
                    duration_ms: q.duration_ms,
                    failed: q.failed,
                })
                .collect(),
        )
    }

    /// The plan of one of the Store's list queries (first page, default size), on the
    /// primary: `EXPLAIN (ANALYZE, BUFFERS)` on PostgreSQL, inside a transaction that is
    /// rolled back; `EXPLAIN QUERY PLAN` on SQLite.
    #[oai(path = "/diagnostics/explain/:query", method = "get")]
    async fn explain(
        &self,
        _auth: AdminAuth,
        /// The Store method whose query to plan.
        query: Path<NamedQuery>,
        /// Filter on this user, for the queries that take one.
        user_id: Query<Option<Uuid>>,
    ) -> ApiResult<Json<PlanView>> {
        let named = query.0.query(user_id.0);
        let statement = named.statement(PageRequest::default());
        let Some(database) = &self.backends.database else {
            return Err(ApiError::not_found(
                "these backends have no SQL database to plan a query on",
            ));
        };
        let plan = explain(database.connection(), &statement, &[]).await?;
        Ok(Json(PlanView {
            query: named.name().to_owned(),
            engine: database.name().to_owned(),
            nodes: plan.nodes,
            indexes: plan.indexes,
            seq_scans: plan.seq_scans,
            estimated_rows: plan.estimated_rows,
            actual_rows: plan.actual_rows,
            execution_ms: plan.execution_ms,
        }))
    }

    /// The data path now: the backends, the primary's pool, the circuit breaker and the
    /// replicas (health, lag, reads served).
    #[oai(path = "/diagnostics/status", method = "get")]
    async fn status(&self, _auth: AdminAuth) -> Json<DataPathStatus> {
        let b = &self.backends;
        Json(DataPathStatus {
            store: b.store.name().to_owned(),
            cache: b.cache.name().to_owned(),
            queue: b.queue.name().to_owned(),
            pool: health::database_pool(b),
            circuit: health::database_circuit(b),
            replicas: health::database_nodes(b),
        })
    }
}
