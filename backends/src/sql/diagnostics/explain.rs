//! `EXPLAIN` of a sea-query statement, summarised.

use sea_orm::{ConnectionTrait, DbBackend, StatementBuilder, TransactionSession, TransactionTrait};
use serde::Serialize;
use stack_core::{Error, Result};

use crate::sql::error::db_error;

/// What a plan says, in brief.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PlanSummary {
    /// Every plan node, top first (`Limit`, `Index Scan`; on SQLite, each line of
    /// `EXPLAIN QUERY PLAN`, such as `SEARCH deposits USING INDEX ...`).
    pub nodes: Vec<String>,
    /// The indexes the plan reads.
    pub indexes: Vec<String>,
    /// Tables read by a sequential (full) scan.
    pub seq_scans: Vec<String>,
    /// The planner's row estimate for the top node (PostgreSQL).
    pub estimated_rows: Option<f64>,
    /// The rows the top node returned (PostgreSQL).
    pub actual_rows: Option<f64>,
    /// Execution time in milliseconds (PostgreSQL).
    pub execution_ms: Option<f64>,
}

impl PlanSummary {
    /// Whether the plan reads `index`.
    pub fn uses_index(&self, index: &str) -> bool {
        self.indexes.iter().any(|i| i == index)
    }
}

/// Plans `statement` on `db`: `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)` on PostgreSQL,
/// `EXPLAIN QUERY PLAN` on SQLite. ANALYZE runs the statement, so it runs inside a
/// transaction that is rolled back: explaining a write changes nothing. `settings` are
/// `SET LOCAL` lines applied first (`enable_seqscan = off`), PostgreSQL only.
///
/// # Errors
/// What the database answers.
pub async fn explain<S, C>(db: &C, statement: &S, settings: &[&str]) -> Result<PlanSummary>
where
    S: StatementBuilder,
    C: ConnectionTrait + TransactionTrait,
{
    let backend = db.get_database_backend();
    let built = backend.build(statement);
    let tx = db.begin().await.map_err(|e| db_error("explain", e))?;
    let summary = match backend {
        DbBackend::Postgres => {
            for setting in settings {
                tx.execute_unprepared(&format!("SET LOCAL {setting}"))
                    .await
                    .map_err(|e| db_error("explain", e))?;
            }
            let mut plan = built.clone();
            plan.sql = format!("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {}", built.sql);
            let row = tx
                .query_one_raw(plan)
                .await
                .map_err(|e| db_error("explain", e))?
                .ok_or_else(|| Error::backend("explain: no plan"))?;
            let plan: serde_json::Value = row
                .try_get("", "QUERY PLAN")
                .map_err(|e| db_error("explain", e))?;
            postgres_summary(&plan)
        }
        _ => {
            let mut plan = built.clone();
            plan.sql = format!("EXPLAIN QUERY PLAN {}", built.sql);
            let rows = tx
                .query_all_raw(plan)
                .await
                .map_err(|e| db_error("explain", e))?;
            let details = rows
                .iter()
                .filter_map(|r| r.try_get::<String>("", "detail").ok())
                .collect();
            sqlite_summary(details)
        }
    };
    tx.rollback().await.map_err(|e| db_error("explain", e))?;
    Ok(summary)
}

fn postgres_summary(plan: &serde_json::Value) -> PlanSummary {
    let root = &plan[0];
    let top = &root["Plan"];
    let mut summary = PlanSummary {
        estimated_rows: top["Plan Rows"].as_f64(),
        actual_rows: top["Actual Rows"].as_f64(),
        execution_ms: root["Execution Time"].as_f64(),
        ..PlanSummary::default()
    };
    walk(top, &mut summary);
    summary
}

fn walk(node: &serde_json::Value, summary: &mut PlanSummary) {
    let kind = node["Node Type"].as_str().unwrap_or("?").to_owned();
    if let Some(index) = node["Index Name"].as_str() {
        summary.indexes.push(index.to_owned());
    }
    if kind == "Seq Scan" {
        if let Some(table) = node["Relation Name"].as_str() {
            summary.seq_scans.push(table.to_owned());
        }
    }
    summary.nodes.push(kind);
    for child in node["Plans"].as_array().into_iter().flatten() {
        walk(child, summary);
    }
}

fn sqlite_summary(details: Vec<String>) -> PlanSummary {
    let mut summary = PlanSummary::default();
    for detail in &details {
        let words: Vec<&str> = detail.split_whitespace().collect();
        if let Some(at) = words.iter().position(|w| *w == "INDEX") {
            if let Some(index) = words.get(at + 1) {
                summary.indexes.push((*index).to_owned());
            }
        }
        if words.first() == Some(&"SCAN") && !detail.contains("INDEX") {
            if let Some(table) = words.get(1) {
                summary.seq_scans.push((*table).to_owned());
            }
        }
    }
    summary.nodes = details;
    summary
}
