//! Every statement is logged when slow (SQL, parameter count and duration, never values) and
//! measured through the `metrics` crate; every Store call is counted by name and outcome by
//! the `Instrumented` layer. Its own test binary: it installs a global logger and recorder.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use stack_backends::sql::SqlOptions;
use stack_core::datapath::{Instrumented, Layered};
use stack_core::store::{NewUser, Store, UserStore};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn slow_statements_are_logged_without_values_and_every_call_is_measured() {
    let logs = Captured::default();
    let sink = logs.clone();
    tracing_subscriber::fmt()
        .json()
        .with_writer(move || sink.clone())
        .with_max_level(tracing::Level::WARN)
        .init();
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().unwrap();

    // A threshold of zero: every statement is slow.
    let options = SqlOptions {
        slow_query: Duration::ZERO,
        ..SqlOptions::default()
    };
    let sql = stack_backends::sql::open("sqlite::memory:", &options)
        .await
        .unwrap();
    stack_backends::sql::migrate_up(sql.connection(), None)
        .await
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(sql);
    let store = Layered::new(Instrumented::new(store));
    let secret = "very-private-person@example.com";
    let user = store
        .create_user(NewUser {
            email: secret.into(),
            phone: None,
            full_name: "Private Person".into(),
        })
        .await
        .unwrap();
    store.user(user.id).await.unwrap();
    store.user(uuid::Uuid::now_v7()).await.unwrap_err();

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let insert = text
        .lines()
        .find(|l| l.contains("slow query") && l.contains("insert users"))
        .unwrap_or_else(|| panic!("no slow-query line for the insert:\n{text}"));
    assert!(insert.contains("\"parameters\":"), "{insert}");
    assert!(insert.contains("duration_ms"), "{insert}");
    assert!(
        insert.contains("INSERT INTO"),
        "the statement is logged: {insert}"
    );
    assert!(
        !text.contains(secret),
        "a parameter value leaked into the log:\n{text}"
    );
    assert!(
        !text.contains("Private Person"),
        "a parameter value leaked:\n{text}"
    );

    // One snapshot: taking one resets the recorder's counters.
    let snapshot = snapshotter.snapshot().into_vec();
    let counted = |name: &str, label: (&str, &str)| -> u64 {
        snapshot
            .iter()
            .filter(|(key, ..)| {
                key.key().name() == name
                    && key
                        .key()
                        .labels()
                        .any(|l| l.key() == label.0 && l.value() == label.1)
            })
            .map(|(.., value)| match value {
                DebugValue::Counter(n) => *n,
                _ => 0,
            })
            .sum()
    };
    assert!(counted("stack_db_statements_total", ("statement", "insert users")) >= 1);
    assert!(counted("stack_db_statements_total", ("statement", "select users")) >= 2);
    assert_eq!(
        counted("stack_store_calls_total", ("call", "create_user")),
        1
    );
    assert_eq!(
        counted("stack_store_calls_total", ("outcome", "not_found")),
        1
    );
    assert_eq!(counted("stack_store_calls_total", ("call", "user")), 2);
}
