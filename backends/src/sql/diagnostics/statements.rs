//! Every statement a pool runs: a slow-query log (a warning, and the most recent ones kept
//! for the admin API) and metrics, through SeaORM's metric callback (so nothing in the Store
//! has to remember to call them).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use sea_orm::metric::Info;
use serde::Serialize;

/// How many slow statements a pool keeps for [`SlowQueries::recent`].
pub const SLOW_QUERIES_KEPT: usize = 100;

/// One statement slower than the threshold, as the slow-query log saw it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlowQuery {
    /// When it finished.
    pub at: DateTime<Utc>,
    /// Its short name ([`statement_name`]).
    pub statement: String,
    /// Its SQL, with placeholders: parameter values are never kept (they hold personal data).
    pub sql: String,
    /// How many parameters it had.
    pub parameters: usize,
    /// How long it took, in milliseconds.
    pub duration_ms: f64,
    /// Whether it failed.
    pub failed: bool,
}

/// The most recent slow statements of one pool, at most [`SLOW_QUERIES_KEPT`]; clones share
/// them.
#[derive(Debug, Clone, Default)]
pub struct SlowQueries {
    kept: Arc<Mutex<VecDeque<SlowQuery>>>,
}

impl SlowQueries {
    /// The slow statements kept, newest first.
    pub fn recent(&self) -> Vec<SlowQuery> {
        self.lock().iter().rev().cloned().collect()
    }

    fn push(&self, query: SlowQuery) {
        let mut kept = self.lock();
        if kept.len() == SLOW_QUERIES_KEPT {
            kept.pop_front();
        }
        kept.push_back(query);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<SlowQuery>> {
        // Plain data, pushed whole: a panic elsewhere cannot leave it half-written.
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What to log and record of each statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatementLog {
    /// A statement slower than this is logged as a warning. Default 200 ms.
    pub slow_threshold: Duration,
}

impl Default for StatementLog {
    fn default() -> Self {
        Self {
            slow_threshold: Duration::from_millis(200),
        }
    }
}

/// A short, stable name of a SQL statement for metrics: its verb and first table
/// (`select deposits`, `insert audit_logs`, `update balances`); `other` when neither is found.
pub fn statement_name(sql: &str) -> String {
    let words: Vec<&str> = sql.split_whitespace().take(64).collect();
    let Some(verb) = words.first().map(|w| w.to_ascii_lowercase()) else {
        return "other".into();
    };
    let after = match verb.as_str() {
        "select" | "delete" => "from",
        "insert" => "into",
        "update" => "update",
        "with" => return "with".into(),
        _ => return verb,
    };
    let table = words
        .iter()
        .position(|w| w.eq_ignore_ascii_case(after))
        .and_then(|i| words.get(i + 1))
        .map(|t| t.trim_matches(|c: char| c == '"' || c == '`' || c == '(' || c == ','))
        .filter(|t| !t.is_empty());
    match table {
        Some(table) => format!("{verb} {table}"),
        None => verb,
    }
}

/// Logs every statement of `db` slower than `log.slow_threshold` as a warning (the SQL,
/// the number of its parameters and its duration; never the parameters' values, which may be
/// personal data) and keeps the most recent ones in the answer, and records
/// `stack_db_statements_total{statement, outcome}` and
/// `stack_db_statement_seconds{statement}` (and `stack_db_slow_queries_total{statement}` for
/// the slow ones) through the `metrics` crate.
pub fn instrument(db: &mut DatabaseConnection, log: StatementLog) -> SlowQueries {
    let slow = SlowQueries::default();
    let kept = slow.clone();
    db.set_metric_callback(move |info: &Info<'_>| {
        let name = statement_name(&info.statement.sql);
        let outcome = if info.failed { "error" } else { "ok" };
        metrics::counter!("stack_db_statements_total", "statement" => name.clone(), "outcome" => outcome)
            .increment(1);
        metrics::histogram!("stack_db_statement_seconds", "statement" => name.clone())
            .record(info.elapsed.as_secs_f64());
        if info.elapsed >= log.slow_threshold {
            metrics::counter!("stack_db_slow_queries_total", "statement" => name.clone()).increment(1);
            let parameters = info.statement.values.as_ref().map_or(0, |v| v.0.len());
            let duration_ms = info.elapsed.as_secs_f64() * 1000.0;
            tracing::warn!(
                statement = %name,
                sql = %info.statement.sql,
                parameters,
                duration_ms,
                failed = info.failed,
                "slow query"
            );
            kept.push(SlowQuery {
                at: Utc::now(),
                statement: name,
                sql: info.statement.sql.clone(),
                parameters,
                duration_ms,
                failed: info.failed,
            });
        }
    });
    slow
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_queries_keep_the_newest_within_the_bound() {
        let slow = SlowQueries::default();
        for n in 0..SLOW_QUERIES_KEPT + 5 {
            slow.push(SlowQuery {
                at: Utc::now(),
                statement: format!("select t{n}"),
                sql: String::new(),
                parameters: 0,
                duration_ms: 1.0,
                failed: false,
            });
        }
        let recent = slow.recent();
        assert_eq!(recent.len(), SLOW_QUERIES_KEPT);
        assert_eq!(
            recent[0].statement,
            format!("select t{}", SLOW_QUERIES_KEPT + 4)
        );
        assert_eq!(recent[SLOW_QUERIES_KEPT - 1].statement, "select t5");
    }

    #[test]
    fn statements_are_named_by_verb_and_table() {
        assert_eq!(
            statement_name(r#"SELECT * FROM "deposits" WHERE "user_id" = $1"#),
            "select deposits"
        );
        assert_eq!(
            statement_name(r#"INSERT INTO "audit_logs" ("id") VALUES ($1)"#),
            "insert audit_logs"
        );
        assert_eq!(
            statement_name("update balances set x = 1"),
            "update balances"
        );
        assert_eq!(statement_name("BEGIN"), "begin");
        assert_eq!(statement_name(""), "other");
    }
}
