//! `stack`: the STACK reference server and its operator commands.

use std::process::ExitCode;

#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn main() -> ExitCode {
    use clap::Parser;
    use stack_server::cli::{Cli, Command, ConfigCommand};

    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => stack_server::serve::run(args),
        Command::Worker(args) => stack_server::worker::run(&args),
        Command::Migrate(args) => stack_server::migrate::run(&args),
        Command::Config {
            command: ConfigCommand::Check { file },
        } => stack_server::cli::check_config(&file),
    }
}

/// The binary needs an SQL backend (`sqlite` or `postgres` feature) for its Store.
#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
fn main() -> ExitCode {
    eprintln!("stack was built without an SQL backend: enable the `sqlite` or `postgres` feature");
    ExitCode::from(2)
}
