//! Runs the `stack` binary as an operator would and talks to it over raw TCP, so that what
//! hyper does before the app (parsing, timeouts) is tested too.

#![allow(
    dead_code,
    clippy::unwrap_used,
    reason = "helpers of tests, each test file uses some: a failed call must fail the test"
)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port nothing listens on (yet).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `stack` with none of the caller's `STACK*` or `RUST_LOG` variables.
pub(crate) fn stack() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stack"));
    for (key, _) in std::env::vars() {
        if key.starts_with("STACK") || key == "RUST_LOG" || key == "NO_COLOR" {
            command.env_remove(key);
        }
    }
    command
}

/// The shipped configuration file.
pub(crate) const SHIPPED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../configs/config.yaml");

/// `stack serve` on `port` with JSON logs, stdout and stderr piped, and `env` set; killed
/// when dropped.
pub(crate) fn serve(port: u16, env: &[(&str, &str)]) -> Spawned {
    let mut command = stack();
    command
        .args(["serve", "--log-format", "json", "--port", &port.to_string()])
        .arg("--config")
        .arg(SHIPPED)
        // A database of its own, in memory: no file left in the tree.
        .env("STACK__DATABASE__URL", "sqlite::memory:")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    Spawned::new(command.spawn().unwrap())
}

/// Sends `request` as it is and reads until the server closes or 10 s pass.
pub(crate) fn raw(port: u16, request: &[u8]) -> Option<Vec<u8>> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    stream.write_all(request).ok()?;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    Some(response)
}

/// A GET with `Connection: close`; the whole response as text, `None` while nothing listens.
pub(crate) fn get(port: u16, path: &str) -> Option<String> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    raw(port, request.as_bytes()).map(|r| String::from_utf8_lossy(&r).into_owned())
}

/// Polls until the server answers `/health/live`; the status line.
pub(crate) fn wait_until_serving(port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some(response) = get(port, "/health/live").filter(|r| !r.is_empty()) {
            return response.lines().next().unwrap_or_default().to_owned();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("stack serve never answered on port {port}");
}

/// Sends `signal` (`TERM`, `INT`) to `child`.
pub(crate) fn signal(child: &Child, signal: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// Waits up to `limit` for `child` to exit; its exit status, or `None` (and the child
/// killed) when it did not.
pub(crate) fn wait_exit(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Reads a child's stdout in the background, line by line, so a test can wait for a line.
pub(crate) struct LogTail {
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl LogTail {
    /// Starts reading `child`'s stdout.
    pub(crate) fn new(child: &mut Child) -> Self {
        use std::io::BufRead;
        let stdout = child.stdout.take().unwrap();
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = std::sync::Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                sink.lock().unwrap().push(line);
            }
        });
        Self { lines }
    }

    /// Waits up to 30 s for a line containing `text`.
    pub(crate) fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(line) = self.lines.lock().unwrap().iter().find(|l| l.contains(text)) {
                return line.clone();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("no log line with {text:?}; logs:\n{}", self.all());
    }

    /// Every line read so far.
    pub(crate) fn all(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }
}

/// A spawned `stack` process, killed (and reaped) when dropped, so that a test that fails
/// midway leaves no child running (a leaked `stack serve` or `stack worker` keeps its port,
/// queue and inherited descriptors, such as the shared cargo lock). It is the [`Child`]
/// through `Deref`. The kill goes through the handle, so a process already waited for is
/// never signalled again (its pid may belong to another process by then).
pub(crate) struct Spawned(Child);

impl Spawned {
    /// Guards `child`.
    pub(crate) fn new(child: Child) -> Self {
        Self(child)
    }

    /// Waits as [`wait_exit`] does, reading its piped stderr meanwhile; the exit status and
    /// everything it wrote there.
    pub(crate) fn wait_with_stderr(
        &mut self,
        limit: Duration,
    ) -> (Option<std::process::ExitStatus>, Vec<u8>) {
        let mut stderr = self.0.stderr.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = stderr.read_to_end(&mut bytes);
            bytes
        });
        let status = wait_exit(&mut self.0, limit);
        (status, reader.join().unwrap())
    }
}

impl std::ops::Deref for Spawned {
    type Target = Child;

    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Spawned {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
