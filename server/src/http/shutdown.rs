//! What stops the server: the first stop starts a graceful shutdown, a second one cuts it
//! short. The `stack` binary stops on OS signals ([`Shutdown::watch`]); a host stops from
//! code ([`Shutdown::manual`], [`Shutdown::on`], [`Shutdown::from_token`]).

use std::future::Future;
use std::sync::{Arc, Mutex};

/// The token [`Shutdown::from_token`] takes, re-exported so a host need not match
/// `tokio-util`'s version.
pub use tokio_util::sync::CancellationToken;

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

/// When to stop: a first stop (graceful) and a second (cut short), heard alike by every
/// clone, so that several parts of one process (the HTTP server and the worker pool of
/// `stack serve`) stop together. Made from OS signals ([`Shutdown::watch`]) or from code
/// ([`Shutdown::manual`], [`Shutdown::on`], [`Shutdown::from_token`]). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Shutdown {
    first: CancellationToken,
    second: CancellationToken,
    names: Arc<Mutex<Vec<&'static str>>>,
}

impl Shutdown {
    fn new(first: CancellationToken) -> Self {
        Self {
            first,
            second: CancellationToken::new(),
            names: Arc::default(),
        }
    }

    /// A shutdown stopped from code by the returned [`ShutdownTrigger`] (the first
    /// [`stop`](ShutdownTrigger::stop) drains, a second cuts the drain short).
    pub fn manual() -> (Self, ShutdownTrigger) {
        let shutdown = Self::new(CancellationToken::new());
        let trigger = ShutdownTrigger {
            shutdown: shutdown.clone(),
        };
        (shutdown, trigger)
    }

    /// A shutdown that starts when `token` is cancelled (a host's own cancellation token,
    /// or a child of it); nothing cuts its drain short but the grace.
    pub fn from_token(token: CancellationToken) -> Self {
        Self::new(token)
    }

    /// A shutdown that starts when `stop` completes (a host's own signal, a channel, a
    /// timer), or panics (a server nobody can stop any more is worse than one that stops);
    /// spawned on the current Tokio runtime, which this must be called in.
    pub fn on(stop: impl Future<Output = ()> + Send + 'static) -> Self {
        let (shutdown, trigger) = Self::manual();
        let waiting = tokio::spawn(stop);
        tokio::spawn(async move {
            if let Err(error) = waiting.await {
                tracing::error!(%error, "the future that stops the server failed; stopping");
            }
            trigger.stop();
        });
        shutdown
    }

    /// Watches `signals` from now on.
    pub fn watch(mut signals: Signals) -> Self {
        let shutdown = Self::new(CancellationToken::new());
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

/// Stops a [`Shutdown`] made by [`Shutdown::manual`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ShutdownTrigger {
    shutdown: Shutdown,
}

impl ShutdownTrigger {
    /// Stops: the first call starts the graceful shutdown, the next one cuts it short
    /// (logged as `stop requested`); later calls do nothing.
    pub fn stop(&self) {
        let shutdown = &self.shutdown;
        let mut names = shutdown.lock();
        let token = if shutdown.first.is_cancelled() {
            &shutdown.second
        } else {
            &shutdown.first
        };
        if !token.is_cancelled() {
            names.push("stop requested");
            token.cancel();
        }
    }
}
