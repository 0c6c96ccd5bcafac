//! What `stack serve` and `stack worker` run for metrics: the recorder, the sampler, the
//! upkeep and, with `metrics.listen`, a listener of its own.

use stack_core::config::Config;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::PrometheusHandle;
use crate::backends::Backends;

/// The metrics tasks of one process, running until [`Exporter::stop`].
#[derive(Debug)]
pub struct Exporter {
    /// The handle the app serves at `/metrics` on the API's port: `Some` when
    /// `metrics.listen` is null.
    pub on_api_port: Option<PrometheusHandle>,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Exporter {
    /// With `metrics.enabled`: installs the recorder, starts the sampler of `backends` and
    /// the recorder's upkeep, and binds `metrics.listen` when it is set; `None` when disabled.
    ///
    /// # Errors
    /// Another recorder installed first, or `metrics.listen` that cannot be bound.
    pub async fn start(config: &Config, backends: &Backends) -> Result<Option<Self>, String> {
        let settings = &config.metrics;
        if !settings.enabled {
            return Ok(None);
        }
        let handle = super::install()?;
        let stop = CancellationToken::new();
        let every = settings.sample_interval;
        let mut tasks = vec![
            tokio::spawn(super::sample_every(
                backends.clone(),
                config.queue.name.clone(),
                every,
                stop.clone(),
            )),
            tokio::spawn(super::upkeep(handle.clone(), every, stop.clone())),
        ];
        let on_api_port = match settings.listen.as_deref() {
            None => Some(handle),
            Some(listen) => {
                let listener = tokio::net::TcpListener::bind(listen)
                    .await
                    .map_err(|e| format!("cannot listen on metrics.listen {listen}: {e}"))?;
                let stopped = stop.clone();
                tasks.push(tokio::spawn(async move {
                    if let Err(error) = super::serve_on(listener, handle, stopped).await {
                        tracing::error!(%error, "the metrics listener failed");
                    }
                }));
                None
            }
        };
        Ok(Some(Self {
            on_api_port,
            stop,
            tasks,
        }))
    }

    /// Stops every task and waits for them.
    pub async fn stop(self) {
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
