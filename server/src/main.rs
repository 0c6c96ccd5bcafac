//! `stack`: the STACK reference server and its operator commands.

use std::process::ExitCode;

use clap::Parser;
use stack_server::cli::{Cli, Command, ConfigCommand};

fn main() -> ExitCode {
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
