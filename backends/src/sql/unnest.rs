//! Multi-row inserts on PostgreSQL as `INSERT ... SELECT * FROM UNNEST($1::type[], ...)`:
//! one array parameter per column instead of one parameter per cell, which PostgreSQL parses,
//! plans and binds far faster than a `VALUES` list of thousands of parameters (see
//! docs/benchmarks.md). Each array travels as the text of a PostgreSQL array literal; table
//! and column names are the schema's constants, values are only ever parameters.

use sea_orm::{DbBackend, Statement, Value};

/// A column of a bulk insert: its name and PostgreSQL type.
pub(super) struct Column {
    pub(super) name: &'static str,
    pub(super) pg_type: &'static str,
    /// The text of each row's value; `None` is NULL.
    pub(super) values: Vec<Option<String>>,
}

impl Column {
    pub(super) fn new(name: &'static str, pg_type: &'static str, capacity: usize) -> Self {
        Self {
            name,
            pg_type,
            values: Vec::with_capacity(capacity),
        }
    }

    pub(super) fn push(&mut self, value: impl ToString) {
        self.values.push(Some(value.to_string()));
    }
}

/// `{"a","b",NULL}`: every element quoted, with `\` and `"` escaped.
pub(in crate::sql) fn array_literal(values: &[Option<String>]) -> String {
    let mut out = String::with_capacity(values.len() * 40 + 2);
    out.push('{');
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match value {
            None => out.push_str("NULL"),
            Some(text) => {
                out.push('"');
                for c in text.chars() {
                    if c == '"' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push('"');
            }
        }
    }
    out.push('}');
    out
}

/// `INSERT INTO table (columns) SELECT * FROM UNNEST(...) <tail>`; `tail` is a constant
/// clause such as `ON CONFLICT (chain, tx_hash) DO NOTHING RETURNING id`.
pub(super) fn insert(table: &'static str, columns: &[Column], tail: &'static str) -> Statement {
    let names: Vec<String> = columns.iter().map(|c| format!("\"{}\"", c.name)).collect();
    let arrays: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("${}::text::{}[]", i + 1, c.pg_type))
        .collect();
    let sql = format!(
        "INSERT INTO \"{table}\" ({}) SELECT * FROM UNNEST({}) {tail}",
        names.join(", "),
        arrays.join(", ")
    );
    let values: Vec<Value> = columns
        .iter()
        .map(|c| Value::from(array_literal(&c.values)))
        .collect();
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

/// The `column` of the rows of `table` whose `column` is one of `column`'s values, as a join
/// with the unnested array (a cast in `= ANY(...)` would be evaluated for every row).
pub(super) fn select_in(table: &'static str, column: &Column) -> Statement {
    let sql = format!(
        "SELECT t.\"{0}\" FROM \"{table}\" t JOIN UNNEST($1::text::{1}[]) AS wanted(v) ON t.\"{0}\" = wanted.v",
        column.name, column.pg_type
    );
    let values = [Value::from(array_literal(&column.values))];
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_are_quoted_and_escaped() {
        let values = vec![Some("a\"b".to_owned()), None, Some("c\\,{}".to_owned())];
        assert_eq!(array_literal(&values), r#"{"a\"b",NULL,"c\\,{}"}"#);
    }
}
