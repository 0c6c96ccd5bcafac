//! The one way the server reads its configuration, shared by `stack serve` and
//! `stack config check`, so that "ok" means "it starts".

use std::path::Path;

use stack_core::config::{Config, ConfigLoader, ConfigProblem, log_filter};

/// The loader of the file at `path` (when given) with every check the server makes: the
/// configuration's own, the backends this build can open, an OTLP endpoint only when this
/// build can export, and `RUST_LOG` when it is set (it overrides `log.level`).
pub fn loader(path: Option<&Path>) -> ConfigLoader {
    ConfigLoader::new()
        .file(path)
        .check(stack_backends::registry::check_config)
        .check(check_otlp_built)
        .check(|_| check_rust_log(std::env::var("RUST_LOG").ok().as_deref()))
}

/// A `tracing.otlp_endpoint` in a binary built without feature `otlp` is refused, never
/// silently ignored.
fn check_otlp_built(config: &Config) -> Vec<ConfigProblem> {
    if cfg!(feature = "otlp") || config.tracing.endpoint().is_none() {
        return Vec::new();
    }
    vec![ConfigProblem::new(
        "tracing.otlp_endpoint",
        "this stack binary was built without feature `otlp`: rebuild with \
         `--features otlp`, or set null",
    )]
}

/// `RUST_LOG`'s problem, blamed on `RUST_LOG` (not on `log.level`).
fn check_rust_log(value: Option<&str>) -> Vec<ConfigProblem> {
    match value {
        Some(directives) if !directives.is_empty() => match log_filter(directives) {
            Ok(_) => Vec::new(),
            Err(reason) => {
                let mut problem = ConfigProblem::new("", reason);
                problem.source = Some("RUST_LOG".into());
                vec![problem]
            }
        },
        _ => Vec::new(),
    }
}
