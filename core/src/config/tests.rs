//! The loader as a user meets it: every problem at once, each blamed on its source.

use super::{Config, ConfigLoader};

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The problems a load reports; none when it loads.
fn found(result: Result<Config, super::ConfigError>) -> Vec<String> {
    match result {
        Ok(_) => Vec::new(),
        Err(e) => e.problems().iter().map(ToString::to_string).collect(),
    }
}

fn problems(result: Result<Config, super::ConfigError>) -> Vec<String> {
    result
        .unwrap_err()
        .problems()
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn every_type_error_of_a_document_is_reported() {
    let found = problems(Config::from_yaml_str(
        "log:\n  format: xml\nserver:\n  port: abc\nworkers:\n  count: 0\n",
    ));
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(
        found[0].starts_with("log.format: `xml` is not one of: text, json"),
        "{found:?}"
    );
    assert!(
        found[1].starts_with("server.port: expected u16"),
        "{found:?}"
    );
    assert_eq!(found[2], "workers.count: must be between 1 and 1000");
}

#[test]
fn unknown_keys_are_named_with_plain_quoting() {
    let found = problems(Config::from_yaml_str("server:\n  prot: 80\n  hots: x\n"));
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.contains(
        &"server.prot: unknown key; the keys here are: host, port, shutdown_grace, header_read_timeout".to_owned()
    ), "{found:?}");
    assert!(
        found.iter().any(|p| p.starts_with("server.hots: ")),
        "{found:?}"
    );
}

#[test]
fn list_items_are_keyed_with_brackets() {
    let found = problems(Config::from_yaml_str(
        "api:\n  supported_versions: [v1, 7x]\n",
    ));
    assert!(
        found[0].starts_with("api.supported_versions[1]: "),
        "{found:?}"
    );
}

#[test]
fn duplicate_keys_are_refused() {
    let found = problems(Config::from_yaml_str("server:\n  port: 1\n  port: 2\n"));
    assert!(found[0].contains("duplicate"), "{found:?}");
}

#[test]
fn environment_values_take_the_type_of_their_key() {
    let config = ConfigLoader::new()
        .env_vars(vars(&[
            ("STACK__API__ADMIN_TOKEN", "1234567890123456"),
            ("STACK__CACHE__DEFAULT_TTL", "null"),
            ("STACK__SERVER__PORT", "9091"),
            ("STACK__CACHE__KEY_PREFIX", "007"),
            ("OTHER", "x"),
        ]))
        .load()
        .unwrap();
    assert_eq!(config.api.admin_token.as_deref(), Some("1234567890123456"));
    assert_eq!(config.cache.default_ttl, None);
    assert_eq!(config.server.port, 9091);
    assert_eq!(config.cache.key_prefix, "007");
}

#[test]
fn a_problem_from_a_variable_names_the_variable() {
    let found = problems(
        ConfigLoader::new()
            .env_vars(vars(&[
                ("STACK__SERVER__PORT", "abc"),
                ("STACK__WORKERS__COUNT", "0"),
                ("STACK__NOPE", "1"),
            ]))
            .load(),
    );
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("nope (from STACK__NOPE): unknown key")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("server.port (from STACK__SERVER__PORT): expected u16")),
        "{found:?}"
    );
    assert!(
        found.contains(
            &"workers.count (from STACK__WORKERS__COUNT): must be between 1 and 1000".to_owned()
        ),
        "{found:?}"
    );
}

#[test]
fn log_levels_are_checked_by_the_logger_s_own_parser() {
    for good in [
        "info",
        "INFO",
        "info,stack_server",
        "info,stack_server=debug",
        "off",
    ] {
        assert!(
            Config::from_yaml_str(&format!("log:\n  level: \"{good}\"\n")).is_ok(),
            "{good}"
        );
    }
    for bad in ["info,==", "=debug", "", "loud"] {
        let found = problems(Config::from_yaml_str(&format!(
            "log:\n  level: \"{bad}\"\n"
        )));
        assert!(found[0].starts_with("log.level: "), "{bad}: {found:?}");
    }
}

#[test]
fn a_file_that_is_not_a_regular_file_says_what_it_is() {
    let dir = std::env::temp_dir();
    let found = problems(ConfigLoader::new().env_vars([]).file(Some(&dir)).load());
    assert!(found[0].contains("is a directory"), "{found:?}");
    let found = problems(
        ConfigLoader::new()
            .env_vars([])
            .file(Some(std::path::Path::new("/dev/null")))
            .load(),
    );
    assert!(found[0].contains("is not a regular file"), "{found:?}");
}

#[test]
fn flags_override_everything_and_are_validated() {
    let config = ConfigLoader::new()
        .env_vars(vars(&[("STACK__SERVER__PORT", "9091")]))
        .set("server.port", 9092, "--port")
        .load()
        .unwrap();
    assert_eq!(config.server.port, 9092);
    let found = problems(
        ConfigLoader::new()
            .env_vars([])
            .set("server.port", 0, "--port")
            .load(),
    );
    assert_eq!(
        found,
        ["server.port (from --port): must be between 1 and 65535"]
    );
}

#[test]
fn extra_checks_join_the_same_report() {
    let found = problems(
        ConfigLoader::new()
            .env_vars(vars(&[("STACK__WORKERS__COUNT", "0")]))
            .check(|_| {
                vec![super::ConfigProblem::new(
                    "queue.backend",
                    "not compiled in",
                )]
            })
            .load(),
    );
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[1], "queue.backend: not compiled in");
}

#[test]
fn a_process_local_cache_under_the_caching_store_needs_the_embedded_mode() {
    let shared = |pairs: &[(&str, &str)]| {
        let mut all = vec![("STACK__CACHE__STORE_TTL", "30s")];
        all.extend_from_slice(pairs);
        found(ConfigLoader::new().env_vars(vars(&all)).load())
    };
    assert!(shared(&[]).is_empty(), "embedded: one process writes");
    let found = shared(&[("STACK__QUEUE__BACKEND", "redis://")]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("cache.store_ttl"), "{found:?}");
    let found = shared(&[("STACK__DATABASE__URL", "postgres://a@b/c")]);
    assert_eq!(found.len(), 1, "{found:?}");
    let redis = shared(&[
        ("STACK__DATABASE__URL", "postgres://a@b/c"),
        ("STACK__CACHE__BACKEND", "redis://"),
    ]);
    assert!(redis.is_empty(), "{redis:?}");
}

#[test]
fn read_your_writes_covers_the_replica_lag() {
    let with = |pairs: &[(&str, &str)]| {
        let mut all = vec![
            ("STACK__DATABASE__URL", "postgres://a@b/c"),
            ("STACK__DATABASE__READ_REPLICAS", "[postgres://a@r/c]"),
        ];
        all.extend_from_slice(pairs);
        found(ConfigLoader::new().env_vars(vars(&all)).load())
    };
    assert!(with(&[]).is_empty(), "{:?}", with(&[]));
    let found = with(&[("STACK__DATABASE__READ_YOUR_WRITES", "2500ms")]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("database.read_your_writes"),
        "{found:?}"
    );
    let found = with(&[("STACK__DATABASE__REPLICA_MAX_LAG", "10s")]);
    assert_eq!(found.len(), 1, "{found:?}");
}

#[test]
fn deprecations_can_be_set_from_the_environment() {
    let config = ConfigLoader::new()
        .env_vars(vars(&[(
            "STACK__API__DEPRECATIONS",
            "[{version=v1,deprecated_at=\"2026-01-01T00:00:00Z\",link=\"https://example.com/v1\"}]",
        )]))
        .load()
        .unwrap();
    let deprecation = &config.api.deprecations[0];
    assert_eq!(deprecation.version.to_string(), "v1");
    assert_eq!(deprecation.deprecated_at.timestamp(), 1_767_225_600);
    assert_eq!(deprecation.link.as_deref(), Some("https://example.com/v1"));
}

#[test]
fn idempotency_windows_default_and_must_be_positive() {
    let config = Config::default();
    assert_eq!(
        config.api.idempotency_ttl,
        std::time::Duration::from_secs(86_400)
    );
    assert_eq!(
        config.api.idempotency_lock,
        std::time::Duration::from_secs(60)
    );
    let found = problems(Config::from_yaml_str(
        "api:\n  idempotency_ttl: 0s\n  idempotency_lock: 0s\n",
    ));
    assert!(
        found.iter().any(|p| p.starts_with("api.idempotency_ttl: ")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("api.idempotency_lock: ")),
        "{found:?}"
    );
}

#[test]
fn a_queue_key_prefix_is_read_and_one_with_a_brace_is_refused() {
    let config = Config::from_yaml_str("queue:\n  key_prefix: \"app:\"\n").unwrap();
    assert_eq!(config.queue.key_prefix, "app:");
    assert_eq!(Config::default().queue.key_prefix, "stack:");
    for prefix in ["\"{app}:\"", "\"app}\""] {
        let found = problems(Config::from_yaml_str(&format!(
            "queue:\n  key_prefix: {prefix}\n"
        )));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("queue.key_prefix: must not contain"),
            "{found:?}"
        );
    }
}

#[test]
fn on_one_redis_the_cache_prefix_may_not_cover_the_queue_s_keys() {
    let both = |cache: &str, queue: &str| {
        format!(
            "cache:\n  backend: redis://\n  key_prefix: \"{cache}\"\nqueue:\n  backend: redis://\n  key_prefix: \"{queue}\"\n"
        )
    };
    // The defaults, and prefixes of their own: fine.
    assert!(Config::from_yaml_str(&both("stack:cache:", "stack:")).is_ok());
    assert!(Config::from_yaml_str(&both("a:", "b:")).is_ok());
    assert_eq!(Config::default().cache.key_prefix, "stack:cache:");
    // The cache's prefix holding the queue's keys, or the other way round: refused.
    for (cache, queue) in [
        ("stack:", "stack:"),
        ("", "x:"),
        ("x:queue:", "x:"),
        ("x:queue:c:", "x:"),
    ] {
        let err = Config::from_yaml_str(&both(cache, queue)).unwrap_err();
        let found: Vec<String> = err.problems().iter().map(ToString::to_string).collect();
        assert!(
            found
                .iter()
                .any(|p| p.starts_with("cache.key_prefix: ") && p.contains("overlaps")),
            "{cache:?} / {queue:?}: {found:?}"
        );
    }
    // A memory cache beside a Redis queue shares nothing.
    let apart = "cache:\n  key_prefix: \"stack:\"\nqueue:\n  backend: redis://\n";
    assert!(Config::from_yaml_str(apart).is_ok());
}

#[test]
fn autoscaling_is_off_by_default_and_read_with_defaults_for_what_is_left_out() {
    assert_eq!(Config::from_yaml_str("{}").unwrap().workers.autoscale, None);
    let yaml = "workers:\n  autoscale:\n    min: 2\n    max: 8\n    cooldown: 1m\n";
    let rules = Config::from_yaml_str(yaml)
        .unwrap()
        .workers
        .autoscale
        .unwrap();
    assert_eq!((rules.min, rules.max, rules.step), (2, 8, 1));
    assert_eq!(rules.cooldown, std::time::Duration::from_secs(60));
    assert_eq!(rules.check_interval, std::time::Duration::from_secs(5));
    let config = ConfigLoader::new()
        .env_vars(vars(&[
            ("STACK__WORKERS__AUTOSCALE__MAX", "20"),
            ("STACK__WORKERS__AUTOSCALE__IDLE_FOR", "2m"),
        ]))
        .load()
        .unwrap();
    let rules = config.workers.autoscale.unwrap();
    assert_eq!((rules.min, rules.max), (1, 20));
    assert_eq!(rules.idle_for, std::time::Duration::from_secs(120));
}

#[test]
fn every_bad_autoscaling_rule_is_named() {
    let yaml = "workers:\n  lease: 100ms\n  autoscale:\n    min: 5\n    max: 3\n    step: 0\n    idle_for: 0s\n    cooldown: 500000000000y\n    check_interval: 25h\n";
    assert_eq!(
        found(Config::from_yaml_str(yaml)),
        [
            "workers.lease: must be at least 300ms (heartbeats renew it every third)",
            "workers.autoscale.max: must be at least min (5)",
            "workers.autoscale.step: must be between 1 and 1000",
            "workers.autoscale.idle_for: must be longer than zero and at most 24h",
            "workers.autoscale.cooldown: must be longer than zero and at most 24h",
            "workers.autoscale.check_interval: must be longer than zero and at most 24h",
        ]
    );
    let unknown = found(Config::from_yaml_str(
        "workers:\n  autoscale:\n    maxx: 3\n",
    ));
    assert!(
        unknown[0].starts_with("workers.autoscale.maxx: unknown key"),
        "{unknown:?}"
    );
}
