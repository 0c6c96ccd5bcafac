//! The `stack` binary's operator commands.

#![allow(
    clippy::unwrap_used,
    reason = "helpers of tests: a failed call must fail the test"
)]

mod common;

use common::stack;

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

/// `stack config check PATH` with `env`: the exit code and stderr.
fn check_file(path: &std::path::Path, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let out = stack()
        .args(["config", "check"])
        .arg(path)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `stack config check` of a file holding `yaml`.
fn check(yaml: &str, name: &str, env: &[(&str, &str)]) -> (Option<i32>, String) {
    check_file(&write(name, yaml), env)
}

#[test]
fn config_check_names_every_bad_key() {
    let (code, stderr) = check(
        "database:\n  max_open_conns: 0\nserver:\n  prot: 80\n",
        "bad",
        &[],
    );
    assert_eq!(code, Some(1));
    assert!(stderr.contains("prot"), "{stderr}");

    let (_, stderr) = check(
        "database:\n  max_open_conns: 0\nworkers:\n  count: 5000\n",
        "range",
        &[],
    );
    assert!(
        stderr.contains("database.max_open_conns: must be at least 1"),
        "{stderr}"
    );
    assert!(stderr.contains("workers.count"), "{stderr}");
}

#[test]
fn config_check_names_every_bad_autoscaling_rule() {
    let (code, stderr) = check(
        "workers:\n  autoscale: { min: 4, max: 2, cooldown: 0s, idle_for: 100000000000y }\n",
        "autoscale",
        &[("STACK__WORKERS__AUTOSCALE__STEP", "0")],
    );
    assert_eq!(code, Some(1));
    for problem in [
        "workers.autoscale.max: must be at least min (4)",
        "workers.autoscale.step (from STACK__WORKERS__AUTOSCALE__STEP): must be between 1 and 1000",
        "workers.autoscale.idle_for: must be longer than zero and at most 24h",
        "workers.autoscale.cooldown: must be longer than zero and at most 24h",
    ] {
        assert!(stderr.contains(problem), "{problem} in {stderr}");
    }
}

#[test]
fn config_check_applies_environment_overrides() {
    let (code, stderr) = check(
        "workers:\n  count: 4\n",
        "env",
        &[("STACK__DATABASE__URL", "mysql://nope")],
    );
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("database.url (from STACK__DATABASE__URL)"),
        "{stderr}"
    );
}

#[test]
fn config_check_reports_every_type_error_of_a_file() {
    let (code, stderr) = check(
        "log:\n  format: xml\nserver:\n  port: abc\nworkers:\n  count: 0\n",
        "types",
        &[],
    );
    assert_eq!(code, Some(1));
    for key in ["log.format:", "server.port:", "workers.count:"] {
        assert!(stderr.contains(key), "{key} missing: {stderr}");
    }
    assert_eq!(stderr.matches("\n  - ").count(), 3, "{stderr}");
}

#[test]
fn config_check_refuses_what_serve_refuses() {
    for (yaml, key) in [
        (
            "queue:\n  backend: postgres://127.0.0.1:5432/q\n",
            "queue.backend",
        ),
        ("log:\n  level: \"info,==\"\n", "log.level"),
        ("log:\n  level: \"=debug\"\n", "log.level"),
        (
            "cache:\n  backend: rediss://127.0.0.1:6380\n",
            "cache.backend",
        ),
        ("redis:\n  url: rediss://127.0.0.1:6380\n", "redis.url"),
    ] {
        let (code, stderr) = check(yaml, "refused", &[]);
        assert_eq!(code, Some(1), "{yaml}");
        assert!(stderr.contains(key), "{yaml}: {stderr}");
        // serve refuses it too, before binding anything.
        let path = write("refused-serve", yaml);
        let out = stack()
            .args(["serve", "--port", "1", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{yaml}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (code, stderr) = check("log:\n  level: \"info,stack_server\"\n", "filter", &[]);
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn environment_overrides_take_their_key_s_type_and_are_named() {
    let env = [
        ("STACK__API__ADMIN_TOKEN", "1234567890123456"),
        ("STACK__CACHE__DEFAULT_TTL", "null"),
    ];
    let (code, stderr) = check("{}\n", "env-ok", &env);
    assert_eq!(code, Some(0), "{stderr}");

    let (code, stderr) = check(
        "{}\n",
        "env-bad",
        &[
            ("STACK__SERVER__PORT", "abc"),
            ("STACK__WORKERS__COUNT", "0"),
        ],
    );
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("server.port (from STACK__SERVER__PORT): expected u16"),
        "{stderr}"
    );
    assert!(
        stderr.contains("workers.count (from STACK__WORKERS__COUNT)"),
        "{stderr}"
    );
}

#[test]
fn config_check_small_things_are_right() {
    // RUST_LOG is blamed on RUST_LOG.
    let (code, stderr) = check("{}\n", "rustlog", &[("RUST_LOG", "info,==")]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("RUST_LOG:"), "{stderr}");
    assert!(!stderr.contains("log.level"), "{stderr}");
    // Unknown keys: plain quoting, no nested backticks.
    let (_, stderr) = check("server:\n  prot: 80\n", "backticks", &[]);
    assert!(stderr.contains("server.prot: unknown key"), "{stderr}");
    assert!(!stderr.contains("``") && !stderr.contains("`h"), "{stderr}");
    // List items are keyed with brackets.
    let (_, stderr) = check("api:\n  supported_versions: [v1, x]\n", "brackets", &[]);
    assert!(stderr.contains("api.supported_versions[1]"), "{stderr}");
    // Duplicate keys are refused.
    let (code, stderr) = check("workers:\n  count: 2\n  count: 3\n", "dup", &[]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("duplicate"), "{stderr}");
    // A directory or a device is not a configuration file.
    for (path, says) in [
        (std::env::temp_dir(), "is a directory"),
        ("/dev/null".into(), "not a regular file"),
    ] {
        let (code, stderr) = check_file(&path, &[]);
        assert_eq!(code, Some(1));
        assert!(stderr.contains(says), "{stderr}");
    }
}

#[test]
fn config_check_reports_a_missing_file() {
    let (code, stderr) = check_file(std::path::Path::new("/no/such/file.yaml"), &[]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("does not exist"), "{stderr}");
}

/// The `stack` binary ships every backend by default, so that `STACK__DATABASE__URL=postgres://...
/// stack migrate up` and `redis://` queues work from a plain `cargo run` / `cargo install`.
#[test]
fn the_binary_ships_every_backend_by_default() {
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .expect("server/Cargo.toml");
    let default = manifest
        .lines()
        .find(|l| l.trim_start().starts_with("default ="))
        .expect("a default feature list");
    for backend in ["memory", "sqlite", "postgres", "redis"] {
        assert!(
            default.contains(&format!("\"{backend}\"")),
            "{backend} missing from {default}"
        );
    }
}
