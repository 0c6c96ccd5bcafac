//! The `stack` binary's operator commands.

#![allow(
    clippy::unwrap_used,
    reason = "helpers of tests: a failed call must fail the test"
)]

use std::process::Command;

fn stack() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stack"));
    // Keep the caller's STACK__ overrides out of these checks.
    for (key, _) in std::env::vars() {
        if key.starts_with("STACK__") {
            command.env_remove(key);
        }
    }
    command
}

fn write(name: &str, yaml: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("stack-cli-{}-{name}.yaml", std::process::id()));
    std::fs::write(&path, yaml).unwrap();
    path
}

#[test]
fn config_check_accepts_the_shipped_configuration() {
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/../configs/config.yaml");
    let out = stack().args(["config", "check", shipped]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).ends_with(": ok\n"));
}

#[test]
fn config_check_names_every_bad_key() {
    let path = write(
        "bad",
        "database:\n  max_open_conns: 0\nserver:\n  prot: 80\n",
    );
    let out = stack()
        .args(["config", "check"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("prot"), "{stderr}");

    let path = write(
        "range",
        "database:\n  max_open_conns: 0\nworkers:\n  count: 5000\n",
    );
    let out = stack()
        .args(["config", "check"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("database.max_open_conns: must be at least 1"),
        "{stderr}"
    );
    assert!(stderr.contains("workers.count"), "{stderr}");
}

#[test]
fn config_check_applies_environment_overrides() {
    let path = write("env", "workers:\n  count: 4\n");
    let out = stack()
        .args(["config", "check"])
        .arg(&path)
        .env("STACK__DATABASE__URL", "mysql://nope")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("database.url"));
}

#[test]
fn config_check_reports_a_missing_file() {
    let out = stack()
        .args(["config", "check", "/no/such/file.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
}
