//! The connection loop: hyper serving the poem app, with a deadline for request headers,
//! problem+json for hyper's own error answers, and a graceful shutdown that says what it did.
//!
//! poem's `Server` offers neither a header-read timeout nor a way to cut a shutdown short,
//! so the loop is ours; the app is still a poem `Endpoint`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use poem::endpoint::BoxEndpoint;
use poem::http::uri::Scheme;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Endpoint, EndpointExt, Response};
use stack_core::config::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::problem_io::ProblemIo;
use super::shutdown::Shutdown;

/// How connections are served and stopped.
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    /// A connection must send a request's headers within this (also while idle between
    /// requests), else it is closed.
    pub header_read_timeout: Duration,
    /// After the first signal, how long open connections may finish their requests.
    pub shutdown_grace: Duration,
}

impl ServeOptions {
    /// The options `server` configures (`server.header_read_timeout`,
    /// `server.shutdown_grace`).
    pub fn from_config(server: &ServerConfig) -> Self {
        Self {
            header_read_timeout: server.header_read_timeout,
            shutdown_grace: server.shutdown_grace,
        }
    }
}

type App = Arc<BoxEndpoint<'static, Response>>;

/// Serves `app` on `listener` until `shutdown`'s first stop, then shuts down: stops
/// accepting, lets open connections finish within the grace, and closes the rest when the
/// grace runs out or a second stop arrives (each logged, with the number of connections
/// cut); returns when every connection is closed.
///
/// This is the loop for a host too (poem's `Server` has neither the header deadline nor
/// problem+json for hyper's own errors):
///
/// ```no_run
/// # async fn run(app: impl stack_server::poem::Endpoint + 'static, config: stack_core::config::Config) -> std::io::Result<()> {
/// use stack_server::http::server::{ServeOptions, serve};
/// use stack_server::http::shutdown::Shutdown;
///
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let (shutdown, trigger) = Shutdown::manual();
/// let server = tokio::spawn({
///     let shutdown = shutdown.clone();
///     async move { serve(listener, app, ServeOptions::from_config(&config.server), &shutdown).await }
/// });
/// // ... later, from the host's own code:
/// trigger.stop();
/// server.await?;
/// # Ok(())
/// # }
/// ```
pub async fn serve(
    listener: TcpListener,
    app: impl Endpoint + 'static,
    options: ServeOptions,
    shutdown: &Shutdown,
) {
    let app: App = Arc::new(app.map_to_response().boxed());
    let stopping = CancellationToken::new();
    let mut connections = JoinSet::new();
    let signal = loop {
        tokio::select! {
            signal = shutdown.first() => break signal,
            accepted = listener.accept() => match accepted {
                Ok((stream, remote)) => {
                    connections.spawn(connection(stream, remote, Arc::clone(&app), options, stopping.clone()));
                }
                Err(error) => {
                    // Out of file descriptors, most often: back off instead of spinning.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    };
    drop(listener);
    stopping.cancel();
    tracing::info!(
        signal,
        open_connections = connections.len(),
        grace = ?options.shutdown_grace,
        "{signal} received; shutting down"
    );
    let grace = tokio::time::sleep(options.shutdown_grace);
    tokio::pin!(grace);
    loop {
        tokio::select! {
            joined = connections.join_next() => if joined.is_none() { break },
            () = &mut grace => {
                tracing::warn!(
                    connections_cut = connections.len(),
                    "shutdown grace ran out; closing the connections still open"
                );
                break;
            }
            signal = shutdown.second() => {
                tracing::warn!(
                    signal,
                    connections_cut = connections.len(),
                    "second signal; closing the connections still open now"
                );
                break;
            }
        }
    }
    connections.shutdown().await;
}

/// Serves one connection until it ends or the server stops; a stop lets the request in
/// progress finish and closes the connection after it.
async fn connection(
    stream: TcpStream,
    remote: SocketAddr,
    app: App,
    options: ServeOptions,
    stopping: CancellationToken,
) {
    let local = stream.local_addr().unwrap_or(remote);
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let app = Arc::clone(&app);
        async move {
            let request = poem::Request::from((
                request,
                LocalAddr(local.into()),
                RemoteAddr(remote.into()),
                Scheme::HTTP,
            ));
            let response: hyper::Response<_> = app.get_response(request).await.into();
            Ok::<_, Infallible>(response)
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout);
    let conn =
        builder.serve_connection_with_upgrades(TokioIo::new(ProblemIo::new(stream)), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        () = stopping.cancelled() => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}
