//! The signals that stop the server: the first starts a graceful shutdown, a second one
//! cuts it short.

use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

/// SIGINT and SIGTERM, listened to from the moment this is made, so a signal that arrives
/// during start-up is not lost.
#[derive(Debug)]
pub struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    /// Starts listening.
    ///
    /// # Errors
    /// When the signal handlers cannot be installed.
    #[cfg(unix)]
    pub fn listen() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// Starts listening.
    ///
    /// # Errors
    /// Never on this platform.
    #[cfg(not(unix))]
    pub fn listen() -> std::io::Result<Self> {
        Ok(Self {})
    }

    /// Waits for the next signal; its name.
    #[cfg(unix)]
    pub async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }

    /// Waits for the next Ctrl-C; its name.
    #[cfg(not(unix))]
    pub async fn next(&mut self) -> &'static str {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        "SIGINT"
    }
}

/// The signals of [`Signals`], watched by a task of their own so that several parts of one
/// process (the HTTP server and the worker pool of `stack serve`) hear the same first and
/// second signal. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Shutdown {
    first: CancellationToken,
    second: CancellationToken,
    names: Arc<Mutex<Vec<&'static str>>>,
}

impl Shutdown {
    /// Watches `signals` from now on.
    pub fn watch(mut signals: Signals) -> Self {
        let shutdown = Self {
            first: CancellationToken::new(),
            second: CancellationToken::new(),
            names: Arc::default(),
        };
        let watcher = shutdown.clone();
        tokio::spawn(async move {
            for token in [&watcher.first, &watcher.second] {
                let name = signals.next().await;
                watcher.lock().push(name);
                token.cancel();
            }
        });
        shutdown
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<&'static str>> {
        // A list of names: a panic elsewhere cannot leave it half-written.
        self.names.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for the first signal; its name.
    pub async fn first(&self) -> &'static str {
        self.first.cancelled().await;
        self.lock().first().copied().unwrap_or("signal")
    }

    /// Waits for the second signal; its name.
    pub async fn second(&self) -> &'static str {
        self.second.cancelled().await;
        self.lock().get(1).copied().unwrap_or("signal")
    }
}
