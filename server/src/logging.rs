//! Logs through `tracing`: human-readable by default, JSON lines with `log.format: json`,
//! written to stdout by a writer that never fails the server.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use stack_core::config::{LogConfig, LogFormat, log_filter};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{Layer, Registry};

/// A layer installed beside the log lines (the OTLP exporter's), with a filter of its own.
pub type ExtraLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// Installs the global subscriber: log lines, and `extra` when given. `RUST_LOG`, when set,
/// overrides `log.level` for the log lines. `extra` keeps every span and event at `info` and
/// above whatever the log level, so that a quieter log (`warn`) neither breaks the traces
/// that jobs carry nor empties the export. Text logs are coloured only on a terminal and
/// never when `NO_COLOR` is set.
///
/// # Errors
/// When the filter is refused (naming `RUST_LOG` or `log.level`, whichever gave it) or a
/// subscriber is already installed.
pub fn init(config: &LogConfig, extra: Option<ExtraLayer>) -> Result<(), String> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.is_empty() => {
            log_filter(&directives).map_err(|e| format!("RUST_LOG: {e}"))
        }
        _ => log_filter(&config.level).map_err(|e| format!("log.level: {e}")),
    }?;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let ansi = std::io::stdout().is_terminal() && !no_color;
    let lines = tracing_subscriber::fmt::layer()
        .with_target(true)
        .with_ansi(ansi)
        .with_writer(LogOutput::default())
        .log_internal_errors(false);
    let lines: ExtraLayer = match config.format {
        LogFormat::Text => lines.with_filter(filter).boxed(),
        LogFormat::Json => lines.json().flatten_event(true).with_filter(filter).boxed(),
    };
    let extra = extra.map(|layer| {
        layer
            .with_filter(tracing_subscriber::filter::LevelFilter::INFO)
            .boxed()
    });
    let layers: Vec<ExtraLayer> = std::iter::once(lines).chain(extra).collect();
    tracing_subscriber::registry()
        .with(layers)
        .try_init()
        .map_err(|e| e.to_string())
}

/// Standard output for log lines. A write that fails (the reader went away: `| head`, a
/// closed pipe) is dropped, and after the first failure nothing more is tried: losing logs
/// must not take the server down, nor flood stderr with complaints.
#[derive(Debug, Default)]
pub struct LogOutput {
    closed: AtomicBool,
}

impl<'a> MakeWriter<'a> for LogOutput {
    type Writer = LogLine<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LogLine {
            closed: &self.closed,
        }
    }
}

/// One log event on its way to stdout; see [`LogOutput`].
#[derive(Debug)]
pub struct LogLine<'a> {
    closed: &'a AtomicBool,
}

impl Write for LogLine<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if !self.closed.load(Ordering::Relaxed) {
            let mut stdout = std::io::stdout().lock();
            if stdout.write_all(buf).and_then(|()| stdout.flush()).is_err() {
                self.closed.store(true, Ordering::Relaxed);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
