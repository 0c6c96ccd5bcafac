//! Faults made on the shared streaming standby of `scripts/services.sh` (and its primary),
//! each undone by a guard when dropped, even when the test that made it fails: other tests
//! read from this standby.

use std::process::Command;

/// The environment variable `name`, which `scripts/services.sh` exports.
///
/// # Panics
/// When it is not set.
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run scripts/test.sh (or `. scripts/services.sh`), which starts the standby")
    })
}

/// Runs `sql` on the standby with psql (`ALTER SYSTEM` cannot run in a transaction); its
/// output.
///
/// # Errors
/// psql's message when it fails.
pub fn on_standby(sql: &str) -> Result<String, String> {
    let out = Command::new("psql")
        .args([
            &env("STACK_TEST_POSTGRES_REPLICA_URL"),
            "-XtAq",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ])
        .output()
        .map_err(|e| format!("psql: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "psql -c {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The standby pointed at a dead port (its WAL receiver cannot reach the primary) until
/// dropped, which restores its `primary_conninfo` even when the test fails: other tests
/// read from this standby.
pub struct CutOff {
    original: String,
}

impl CutOff {
    /// Makes the fault.
    ///
    /// # Panics
    /// When it cannot be made.
    pub fn make() -> Self {
        let original = on_standby("SHOW primary_conninfo").expect("read primary_conninfo");
        assert!(!original.is_empty(), "the standby has a primary_conninfo");
        let cut = Self { original };
        on_standby("ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=1 user=postgres'")
            .expect("point the standby at a dead port");
        on_standby("SELECT pg_reload_conf()").expect("reload the standby");
        cut
    }
}

impl Drop for CutOff {
    fn drop(&mut self) {
        let quoted = self.original.replace('\'', "''");
        let restored = on_standby(&format!("ALTER SYSTEM SET primary_conninfo = '{quoted}'"))
            .and_then(|_| on_standby("SELECT pg_reload_conf()"));
        if let Err(e) = restored {
            eprintln!("could not restore the standby's primary_conninfo: {e}");
        }
    }
}

/// The primary's WAL senders stopped (SIGSTOP) until dropped, which lets them go on even
/// when the test fails: the standby's receiver still shows `streaming` (until its
/// `wal_receiver_timeout`, a minute), and receives nothing new.
pub struct StalledSenders {
    pids: Vec<String>,
}

impl StalledSenders {
    /// Makes the fault.
    ///
    /// # Panics
    /// When it cannot be made.
    pub fn make() -> Self {
        let out = Command::new("psql")
            .args([
                &env("STACK_TEST_POSTGRES_URL"),
                "-XtAq",
                "-c",
                "SELECT pid FROM pg_stat_replication",
            ])
            .output()
            .expect("psql");
        assert!(out.status.success(), "list the WAL senders");
        let pids: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        assert!(!pids.is_empty(), "the primary has a WAL sender");
        let stalled = Self { pids };
        stalled.signal("STOP");
        stalled
    }

    fn signal(&self, signal: &str) {
        for pid in &self.pids {
            let _ = Command::new("kill")
                .args([&format!("-{signal}"), pid.as_str()])
                .status();
        }
    }
}

impl Drop for StalledSenders {
    fn drop(&mut self) {
        self.signal("CONT");
    }
}
