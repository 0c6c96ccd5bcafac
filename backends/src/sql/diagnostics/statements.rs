//! Every statement a pool runs: a slow-query log and metrics, through SeaORM's metric
//! callback (so nothing in the Store has to remember to call them).

use std::time::Duration;

use sea_orm::DatabaseConnection;
use sea_orm::metric::Info;

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
/// personal data), and records `stack_db_statements_total{statement, outcome}` and
/// `stack_db_statement_seconds{statement}` through the `metrics` crate.
pub fn instrument(db: &mut DatabaseConnection, log: StatementLog) {
    db.set_metric_callback(move |info: &Info<'_>| {
        let name = statement_name(&info.statement.sql);
        let outcome = if info.failed { "error" } else { "ok" };
        metrics::counter!("stack_db_statements_total", "statement" => name.clone(), "outcome" => outcome)
            .increment(1);
        metrics::histogram!("stack_db_statement_seconds", "statement" => name.clone())
            .record(info.elapsed.as_secs_f64());
        if info.elapsed >= log.slow_threshold {
            let parameters = info.statement.values.as_ref().map_or(0, |v| v.0.len());
            tracing::warn!(
                statement = %name,
                sql = %info.statement.sql,
                parameters,
                duration_ms = info.elapsed.as_secs_f64() * 1000.0,
                failed = info.failed,
                "slow query"
            );
        }
    });
}

#[cfg(test)]
mod tests {
    use super::statement_name;

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
