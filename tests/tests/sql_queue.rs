//! The Queue and Worker suites on the SQL queue: PostgreSQL (a fresh database per test
//! process) and SQLite (a file per test process).

use stack_tests::sql_queue::{postgres, sqlite};

stack_tests::queue_conformance!(postgres_queue, postgres);
stack_tests::queue_conformance!(sqlite_queue, sqlite);
stack_tests::worker_conformance!(postgres_worker, postgres);
stack_tests::worker_conformance!(sqlite_worker, sqlite);
