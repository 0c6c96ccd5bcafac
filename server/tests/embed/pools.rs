//! `BackendsBuilder::build` refuses a SQL queue on another pool than the database: a job
//! enqueued in a unit of work (a deposit's confirmation) could never join its transaction.

use stack_backends::context::BackendContext;
use stack_backends::datapath::open_layered;
use stack_core::config::Config;
use stack_server::backends::{Backends, BuildError};

/// A configuration over one SQLite file of this test, with the SQL queue on the database.
fn config(name: &str) -> Config {
    let path = std::env::temp_dir().join(format!("stack-pools-{name}-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let mut config = Config::default();
    config.database.url = format!("sqlite://{}?mode=rwc", path.display());
    config.queue.backend = "database://".into();
    config
}

#[tokio::test]
async fn a_sql_queue_of_another_context_is_refused_and_one_of_the_same_is_served() {
    let config = config("refused");
    let one = BackendContext::new(config.clone());
    let data = open_layered(&one).await.unwrap();
    let cache = data.cache.clone();
    let store = data.store.clone();

    // The same database file, but another context: another pool.
    let other = BackendContext::new(config);
    let foreign = other.queue().await.unwrap();
    let refused = Backends::builder(store.clone(), cache.clone(), foreign)
        .data_path(data)
        .build()
        .unwrap_err();
    assert!(
        matches!(
            refused,
            BuildError::QueueOnAnotherPool {
                queue: "sqlite",
                ..
            }
        ),
        "{refused:?}"
    );
    assert!(refused.to_string().contains("stack_jobs"), "{refused}");

    // The queue of the store's own context: served.
    let data = open_layered(&one).await.unwrap();
    let own = one.queue().await.unwrap();
    let backends = Backends::builder(store, cache, own)
        .data_path(data)
        .build()
        .unwrap();
    assert_eq!(backends.queue.name(), "sqlite");
}
