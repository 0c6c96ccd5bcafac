//! The one way the server reads its configuration, shared by `stack serve` and
//! `stack config check`, so that "ok" means "it starts".

use std::path::Path;

use stack_core::config::{ConfigLoader, ConfigProblem, log_filter};

/// The loader of the file at `path` (when given) with every check the server makes: the
/// configuration's own, the backends this build can open, and `RUST_LOG` when it is set
/// (it overrides `log.level`).
pub fn loader(path: Option<&Path>) -> ConfigLoader {
    ConfigLoader::new()
        .file(path)
        .check(stack_backends::registry::check_config)
        .check(|_| check_rust_log(std::env::var("RUST_LOG").ok().as_deref()))
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
