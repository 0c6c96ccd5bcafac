//! A PostgreSQL server of a test's own: made with `initdb` in a temp dir, on a free loopback
//! port, run as the `postgres` user, that the test may stop and start (the shared server
//! must never go down under other tests). Removed when dropped.

use std::path::PathBuf;
use std::process::Command;

/// A throwaway PostgreSQL server.
#[derive(Debug)]
pub struct OwnPostgres {
    bin: PathBuf,
    dir: PathBuf,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

fn pg_bin() -> PathBuf {
    if let Ok(bin) = std::env::var("STACK_TEST_PG_BIN") {
        return PathBuf::from(bin);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path().join("bin")))
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    versions.pop().expect(
        "PostgreSQL server binaries under /usr/lib/postgresql (scripts/services.sh installs them)",
    )
}

fn as_postgres(program: &PathBuf, args: &[&str]) -> bool {
    Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(program)
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

impl OwnPostgres {
    /// Makes and starts a new server.
    ///
    /// # Panics
    /// When `initdb` or the start fails.
    pub fn start() -> Self {
        let bin = pg_bin();
        let dir = std::env::temp_dir().join(crate::unique("stack-own-pg"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        assert!(
            Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&dir)
                .status()
                .is_ok_and(|s| s.success()),
            "chown the data dir to postgres"
        );
        let dir_text = dir.display().to_string();
        assert!(
            as_postgres(
                &bin.join("initdb"),
                &[
                    "-D",
                    &dir_text,
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "--no-sync"
                ]
            ),
            "initdb"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let server = Self { bin, dir, port };
        server.up();
        server
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts it (again), waiting until it accepts connections.
    ///
    /// # Panics
    /// When it does not start.
    pub fn up(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories=/tmp -c fsync=off",
            self.port
        );
        let dir = self.dir.display().to_string();
        let log = self.dir.join("log").display().to_string();
        assert!(
            as_postgres(
                &self.bin.join("pg_ctl"),
                &[
                    "-D", &dir, "-o", &options, "-l", &log, "-w", "-t", "60", "start"
                ]
            ),
            "pg_ctl start"
        );
    }

    /// Stops it at once, as a crash or a network cut would (`-m immediate`).
    ///
    /// # Panics
    /// When it does not stop.
    pub fn down(&self) {
        let dir = self.dir.display().to_string();
        assert!(
            as_postgres(
                &self.bin.join("pg_ctl"),
                &["-D", &dir, "-m", "immediate", "-w", "stop"]
            ),
            "pg_ctl stop"
        );
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let dir = self.dir.display().to_string();
        let _ = as_postgres(
            &self.bin.join("pg_ctl"),
            &["-D", &dir, "-m", "immediate", "stop"],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
