//! A host application that embeds STACK: a crate of its own, built against STACK's crates by
//! path, owning its process. It
//!
//! 1. loads one configuration file (and `STACK__*` variables) holding STACK's sections and its
//!    own `app:` section, refusing a backend this build was not compiled with;
//! 2. opens the layered Store (migrating an SQLite database), the cache and the queue;
//! 3. runs its own worker pool (STACK's rail jobs and its own typed jobs) and a cron
//!    scheduler on that queue;
//! 4. builds STACK's app over those very handles, nests it under `/stack` beside its own
//!    `/hello`, behind its own bearer check, with STACK's problem+json for its own errors;
//! 5. serves it with STACK's connection loop and stops it from code: on SIGINT (Ctrl-C) or SIGTERM, or, with
//!    `--self-check`, once it has checked itself as an HTTP client (see `check.rs`).
//!
//! ```text
//! cd examples/embedded-host
//! cargo run -- --config config/sqlite.yaml
//! cargo run --features redis -- --config config/redis.yaml --self-check
//! ```

mod check;
mod host;
mod jobs;

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use stack_backends::context::BackendContext;
use stack_backends::datapath::open_layered;
use stack_backends::registry;
use stack_core::config::{Config, ConfigLoader};
use stack_core::scheduler::{CronScheduler, ScheduleSpec, Scheduler};
use stack_core::worker::{WorkerOptions, WorkerPool};
use stack_server::backends::Backends;
use stack_server::http::server::{ServeOptions, serve};
use stack_server::http::shutdown::{Shutdown, Signals};

use crate::host::HostSettings;

/// Any error of the host, with its message.
type BoxError = Box<dyn Error + Send + Sync>;

/// The command line: `[--config FILE] [--self-check]`.
#[derive(Debug, Default)]
struct Args {
    /// The configuration file; without it, defaults and `STACK__*` variables only.
    config: Option<PathBuf>,
    /// Serve on a free port, check everything as a client, stop, and exit.
    self_check: bool,
}

impl Args {
    /// Reads the process's arguments.
    fn parse() -> Result<Self, String> {
        let mut args = Self::default();
        let mut given = std::env::args().skip(1);
        while let Some(arg) = given.next() {
            match arg.as_str() {
                "--config" => {
                    let path = given.next().ok_or("--config needs a file")?;
                    args.config = Some(PathBuf::from(path));
                }
                "--self-check" => args.self_check = true,
                other => {
                    return Err(format!(
                        "unknown argument {other:?}; usage: embedded-host [--config FILE] [--self-check]"
                    ));
                }
            }
        }
        Ok(args)
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let outcome = match Args::parse() {
        Ok(args) => run(args).await,
        Err(usage) => Err(usage.into()),
    };
    match outcome {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("embedded-host: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the host until it is stopped; the summary line.
async fn run(args: Args) -> Result<String, BoxError> {
    // 1. One file for STACK and the host; a backend this build lacks is refused here.
    let (config, settings): (Config, HostSettings) = ConfigLoader::new()
        .file(args.config.as_deref())
        .check(registry::check_config)
        .load_with()?;

    // 2. The backends, once: the layered Store (an SQLite file is created and migrated), the
    //    cache, and the queue (on SQL backends it would share the Store's pool).
    let context = BackendContext::new(config.clone());
    let data = open_layered(&context).await?;
    let cache = Arc::clone(&data.cache);
    let queue = context.queue().await?;
    let store = Arc::clone(&data.store);

    // 3. The host's workers and cron, on that queue: STACK's rail jobs (the notification
    //    of a confirmed deposit) and the host's own typed jobs.
    let seen = jobs::Seen::default();
    let handlers = jobs::handlers(stack_server::jobs::handlers(Arc::clone(&store)), &seen);
    let options = WorkerOptions::from_config(&config.workers);
    let pool = WorkerPool::start(Arc::clone(&queue), handlers, options)?;
    let scheduler = CronScheduler::new(Arc::clone(&queue));
    scheduler
        .add(ScheduleSpec::of(
            "host.tick",
            "* * * * * *",
            &jobs::Tick::default(),
        )?)
        .await?;
    scheduler.start().await?;

    // 4. STACK's app over the same handles: /stack/health/ready reports the queue the
    //    workers above take jobs from, and the rail enqueues on it.
    let backends = Backends::builder(Arc::clone(&store), Arc::clone(&cache), Arc::clone(&queue))
        .data_path(data)
        .scheduler(scheduler.clone())
        .build()?;
    let app = host::app(backends, &config, &settings, Arc::clone(&cache))?;

    // 5. Serve with STACK's loop; the host decides when to stop.
    let address = if args.self_check {
        "127.0.0.1:0"
    } else {
        settings.listen.as_str()
    };
    // SIGINT and SIGTERM (what a service manager or `docker stop` sends), listened to from
    // here so a signal during start-up is not lost; the self-check stops from code alone.
    let signals = if args.self_check {
        None
    } else {
        Some(Signals::listen()?)
    };
    let listener = tokio::net::TcpListener::bind(address).await?;
    let local = listener.local_addr()?;
    let (shutdown, trigger) = Shutdown::manual();
    let serving = shutdown.clone();
    let server_options = ServeOptions::from_config(&config.server);
    let server = tokio::spawn(async move { serve(listener, app, server_options, &serving).await });
    let checked = if args.self_check {
        let target = check::Target {
            base: format!("http://{local}"),
            token: settings.token.clone(),
            store: store.name(),
            cache: cache.name(),
            queue: Arc::clone(&queue),
            seen: seen.clone(),
        };
        check::run(target).await
    } else {
        println!("serving on http://{local} (/hello, /stack/docs); Ctrl-C or SIGTERM stops");
        if let Some(mut signals) = signals {
            println!("{}: stopping", signals.next().await);
        }
        Ok(check::Report::default())
    };

    // 6. Stop from code: the server drains its requests, the scheduler stops, the workers
    //    finish their running jobs and release the rest.
    let stopping = Instant::now();
    trigger.stop();
    let bound = config
        .server
        .shutdown_grace
        .saturating_add(Duration::from_secs(5));
    tokio::time::timeout(bound, server)
        .await
        .map_err(|_| format!("the server did not stop within {bound:?}"))??;
    scheduler.stop().await?;
    let stats = tokio::time::timeout(
        config
            .workers
            .shutdown_grace
            .saturating_add(Duration::from_secs(5)),
        pool.stop(),
    )
    .await
    .map_err(|_| "the workers did not stop within their grace")?;
    let stopped_in = stopping.elapsed();
    let report = checked?;
    if args.self_check {
        check::after_stop(&format!("http://{local}"), &queue, &cache).await?;
    }
    Ok(format!(
        "embedded-host: {}: store={} cache={} queue={}; queue namespace {}; {} checks passed, {} cron ticks; stopped from code in {} ms; workers drained (completed {}, retried {}, dead {}, released {})",
        if args.self_check {
            "self-check passed"
        } else {
            "stopped"
        },
        store.name(),
        cache.name(),
        queue.name(),
        queue
            .location()
            .map_or_else(|| "unknown".to_owned(), |location| location.namespace),
        report.checks,
        seen.ticks(),
        stopped_in.as_millis(),
        stats.completed,
        stats.retried,
        stats.dead,
        stats.released,
    ))
}
