//! Query diagnostics: plans of any statement ([`explain`]), and for every statement a pool
//! runs, a slow-query log and metrics ([`instrument`]).

mod explain;
mod statements;

pub use explain::{PlanSummary, explain};
pub use statements::{
    SLOW_QUERIES_KEPT, SlowQueries, SlowQuery, StatementLog, instrument, statement_name,
};
