//! A Redis server of a test's own, on a free loopback port with its data in a temp dir and an
//! append-only file, so a test can stop it and start it again with its keys (the shared
//! server must never go down under other tests). Stopped and removed when dropped.

use std::path::PathBuf;
use std::process::Command;

/// A throwaway Redis server.
#[derive(Debug)]
pub struct OwnRedis {
    dir: PathBuf,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl OwnRedis {
    /// Starts a new server.
    ///
    /// # Panics
    /// When `redis-server` cannot start (scripts/services.sh installs it).
    pub fn start() -> Self {
        let dir = std::env::temp_dir().join(crate::unique("stack-own-redis"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let server = Self { dir, port };
        server.up();
        server
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn ping(&self) -> bool {
        Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "ping"])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("PONG"))
    }

    /// Starts it (again, with the keys it had), waiting until it answers.
    ///
    /// # Panics
    /// When it does not start.
    pub fn up(&self) {
        let status = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--daemonize", "yes", "--logfile"])
            .arg(self.dir.join("log"))
            .status()
            .expect("run redis-server");
        assert!(status.success(), "redis-server did not start");
        for _ in 0..200 {
            if self.ping() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        panic!("redis-server on port {} did not answer", self.port);
    }

    /// Stops it (its keys are kept in the append-only file).
    ///
    /// # Panics
    /// When it is still answering afterwards.
    pub fn down(&self) {
        let _ = Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "shutdown"])
            .output();
        for _ in 0..200 {
            if !self.ping() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        panic!("redis-server on port {} did not stop", self.port);
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "shutdown", "nosave"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
