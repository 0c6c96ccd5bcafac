use std::time::Duration;

use super::{Config, ConfigError, ConfigProblem, url_scheme};

/// Collects problems, each under its dotted key.
#[derive(Default)]
struct Problems(Vec<ConfigProblem>);

impl Problems {
    fn check(&mut self, ok: bool, key: &str, reason: impl Into<String>) {
        if !ok {
            self.0.push(ConfigProblem::new(key, reason));
        }
    }

    /// A URL with a scheme; which schemes a backend serves is the registry's to say.
    fn url(&mut self, key: &str, url: &str) {
        self.check(
            url_scheme(url).is_some(),
            key,
            format!("`{url}` is not a URL of the form scheme://..."),
        );
    }

    fn positive(&mut self, key: &str, value: Duration) {
        self.check(!value.is_zero(), key, "must be longer than zero");
    }

    /// A grace a process waits for at shutdown: at most [`MAX_SHUTDOWN_GRACE`], so a bound
    /// computed from it (grace + margin) cannot overflow and a stop cannot hang for ever.
    fn grace(&mut self, key: &str, value: Duration) {
        self.check(
            value <= MAX_SHUTDOWN_GRACE,
            key,
            "must be at most 1h (a stop waits this long)",
        );
    }
}

/// The longest `server.shutdown_grace` and `workers.shutdown_grace` accepted.
const MAX_SHUTDOWN_GRACE: Duration = Duration::from_secs(3600);

impl Config {
    /// Checks every value; the error lists each bad key.
    ///
    /// # Errors
    /// A [`ConfigError`] with one problem per bad value.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut p = Problems::default();

        p.check(
            !self.server.host.trim().is_empty(),
            "server.host",
            "must not be empty",
        );
        p.check(
            self.server.port != 0,
            "server.port",
            "must be between 1 and 65535",
        );
        p.grace("server.shutdown_grace", self.server.shutdown_grace);
        p.grace("workers.shutdown_grace", self.workers.shutdown_grace);
        if let Err(error) = log_filter(&self.log.level) {
            p.check(false, "log.level", error);
        }

        p.positive(
            "server.header_read_timeout",
            self.server.header_read_timeout,
        );

        let db = &self.database;
        p.url("database.url", &db.url);
        p.check(
            db.max_open_conns >= 1,
            "database.max_open_conns",
            "must be at least 1",
        );
        p.check(
            db.max_idle_conns <= db.max_open_conns,
            "database.max_idle_conns",
            format!(
                "must not exceed database.max_open_conns ({})",
                db.max_open_conns
            ),
        );
        p.positive("database.conn_max_lifetime", db.conn_max_lifetime);
        p.positive("database.conn_max_idle_time", db.conn_max_idle_time);
        p.positive("database.replica_max_lag", db.replica_max_lag);
        p.positive("database.acquire_timeout", db.acquire_timeout);
        p.check(
            db.statement_cache_capacity <= 10_000,
            "database.statement_cache_capacity",
            "must be at most 10000",
        );
        p.positive("database.breaker_cooldown", db.breaker_cooldown);
        p.positive("database.breaker_probe_timeout", db.breaker_probe_timeout);
        p.positive("database.statement_timeout", db.statement_timeout);
        p.check(
            db.call_timeout >= db.statement_timeout,
            "database.call_timeout",
            "must be at least database.statement_timeout (the server would cancel a statement the client still waits for)",
        );
        p.check(
            (1..=1000).contains(&db.breaker_threshold),
            "database.breaker_threshold",
            "must be between 1 and 1000",
        );
        p.positive("database.replica_check_interval", db.replica_check_interval);
        p.check(
            db.read_replicas.is_empty()
                || db.read_your_writes >= db.replica_max_lag + db.replica_check_interval,
            "database.read_your_writes",
            "must be at least database.replica_max_lag + database.replica_check_interval when \
             read_replicas are set: a standby may be that far behind before a check removes it",
        );
        for (i, replica) in db.read_replicas.iter().enumerate() {
            p.url(&format!("database.read_replicas[{i}]"), replica);
        }

        let redis = &self.redis;
        if redis.cluster_mode {
            p.check(
                !redis.cluster_addrs.is_empty(),
                "redis.cluster_addrs",
                "must list at least one node when redis.cluster_mode is true",
            );
        } else {
            p.url("redis.url", &redis.url);
        }
        for (i, node) in redis.cluster_addrs.iter().enumerate() {
            p.url(&format!("redis.cluster_addrs[{i}]"), node);
        }

        let cache = &self.cache;
        p.url("cache.backend", &cache.backend);
        if let Some(ttl) = cache.store_ttl {
            p.positive("cache.store_ttl", ttl);
            // A process-local cache is invalidated only by its own process: another writer
            // (a worker process, a second instance) leaves it serving old values for the
            // whole TTL. Only the embedded mode (SQLite, its jobs run in this process) has
            // one writer; a `stack worker` process beside it on the same file is not allowed
            // then (docs/configuration.md).
            let local_cache = cache.backend.starts_with("memory:");
            let in_process_jobs = self.queue.backend.starts_with("memory:")
                || (self.queue.backend.starts_with("database:") && self.workers.in_serve);
            let embedded = self.database.url.starts_with("sqlite:") && in_process_jobs;
            p.check(
                !local_cache || embedded,
                "cache.store_ttl",
                "needs a shared cache (cache.backend: redis://) unless every writer is in this \
                 process (database sqlite://, and queue memory://, or database:// with \
                 workers.in_serve): with memory:// another process's writes would not \
                 invalidate this one's cached reads",
            );
        }
        if let Some(ttl) = cache.first_tier_ttl {
            p.positive("cache.first_tier_ttl", ttl);
        }
        if let Some(ttl) = cache.default_ttl {
            p.positive("cache.default_ttl", ttl);
        }
        p.check(
            cache.max_entries >= 1,
            "cache.max_entries",
            "must be at least 1",
        );

        let queue = &self.queue;
        p.url("queue.backend", &queue.backend);
        if let Err(crate::Error::Invalid { reason, .. }) =
            crate::queue::validate_queue_name(&queue.name)
        {
            p.check(false, "queue.name", reason);
        }
        p.check(
            !queue.key_prefix.contains(['{', '}']),
            "queue.key_prefix",
            "must not contain `{` or `}`: the queue's keys carry the hash tag `{<queue name>}`, and a brace in the prefix would move it",
        );
        // On one Redis (the `redis` section serves both), neither namespace may hold the
        // other: a cache pattern delete of `*` would delete queued jobs, and a cache key could
        // overwrite a queue's.
        let on_redis = |url: &str| url_scheme(url).is_some_and(|s| s.starts_with("redis"));
        if on_redis(&self.cache.backend) && on_redis(&queue.backend) {
            let jobs = format!("{}queue:", queue.key_prefix);
            let cache = self.cache.key_prefix.as_str();
            p.check(
                !jobs.starts_with(cache) && !cache.starts_with(jobs.as_str()),
                "cache.key_prefix",
                format!(
                    "`{cache}` overlaps the queue's keys (`{jobs}...`) on the same Redis: a cache pattern delete would delete queued jobs; give the cache a prefix of its own (the default is `stack:cache:`)"
                ),
            );
        }
        p.positive("queue.backoff_base", queue.backoff_base);
        p.check(
            queue.backoff_cap >= queue.backoff_base,
            "queue.backoff_cap",
            "must be at least queue.backoff_base",
        );

        p.check(
            (1..=1000).contains(&self.workers.count),
            "workers.count",
            "must be between 1 and 1000",
        );
        p.check(
            self.workers.prefetch <= 1000,
            "workers.prefetch",
            "must be at most 1000",
        );
        // The pool's own check, so `config check`, `serve`, `worker` and library users agree.
        let pool = crate::worker::WorkerOptions::from_config(&self.workers).validate();
        if let Err(crate::Error::Invalid { field, reason, .. }) = pool {
            if field != "concurrency" && !field.starts_with("autoscale.") {
                p.check(false, &format!("workers.{field}"), reason);
            }
        }
        let autoscale = self.workers.autoscale.as_ref();
        for (field, reason) in autoscale.map(|a| a.problems()).unwrap_or_default() {
            p.check(false, &format!("workers.autoscale.{field}"), reason);
        }

        let api = &self.api;
        p.check(
            !api.supported_versions.is_empty(),
            "api.supported_versions",
            "must name at least one version",
        );
        p.check(
            api.supported_versions.contains(&api.default_version),
            "api.default_version",
            format!(
                "{} is not among api.supported_versions",
                api.default_version
            ),
        );
        if let Some(token) = &api.admin_token {
            p.check(
                token.len() >= 16,
                "api.admin_token",
                "must be at least 16 characters (or null to disable the admin API)",
            );
        }
        p.check(
            !api.idempotency_ttl.is_zero(),
            "api.idempotency_ttl",
            "must be more than 0s",
        );
        p.check(
            !api.idempotency_lock.is_zero(),
            "api.idempotency_lock",
            "must be more than 0s",
        );

        p.0.extend(super::deprecation::check(api));
        p.0.extend(super::metrics::check(self));
        p.0.extend(super::traces::check(&self.tracing));

        if p.0.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::new(None, p.0))
        }
    }
}

/// Parses a `tracing` filter (`info`, `info,stack_server=debug`): the one parser of both
/// validation and the logger, so a filter accepted here is one the server starts with.
///
/// # Errors
/// Why the filter is refused.
pub fn log_filter(filter: &str) -> Result<tracing_subscriber::EnvFilter, String> {
    if filter.trim().is_empty() {
        return Err(
            "must not be empty; a level (info) or a filter (info,stack_server=debug)".into(),
        );
    }
    let levels = ["trace", "debug", "info", "warn", "error", "off"];
    let lone_word = !filter.contains([',', '=', '[', ':']);
    if lone_word && !levels.contains(&filter.trim().to_ascii_lowercase().as_str()) {
        return Err(format!(
            "`{filter}` is not a level ({}); to log one target, write {filter}=debug",
            levels.join(", ")
        ));
    }
    tracing_subscriber::EnvFilter::builder()
        .with_regex(false)
        .parse(filter)
        .map_err(|e| format!("`{filter}` is not a level or a tracing filter: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(yaml: &str) -> Vec<String> {
        Config::from_yaml_str(yaml)
            .unwrap_err()
            .problems()
            .iter()
            .map(|p| p.key.clone())
            .collect()
    }

    #[test]
    fn defaults_are_valid_and_match_the_reference_service() {
        let c = Config::from_yaml_str("{}").unwrap();
        assert_eq!(c.database.max_open_conns, 25);
        assert_eq!(c.database.max_idle_conns, 5);
        assert_eq!(c.database.conn_max_lifetime, Duration::from_secs(300));
        assert_eq!(c.workers.count, 10);
        assert_eq!(c.workers.job_timeout, Duration::from_secs(300));
        assert_eq!(c.api.default_version.to_string(), "v1");
        assert!(!c.redis.cluster_mode);
    }

    #[test]
    fn a_shutdown_grace_beyond_an_hour_is_named() {
        let mut config = Config::default();
        config.server.shutdown_grace = Duration::MAX;
        config.workers.shutdown_grace = MAX_SHUTDOWN_GRACE + Duration::from_nanos(1);
        let error = config.validate().unwrap_err();
        let named: Vec<_> = error.problems().iter().map(|p| p.key.clone()).collect();
        assert_eq!(named, ["server.shutdown_grace", "workers.shutdown_grace"]);
        config.server.shutdown_grace = MAX_SHUTDOWN_GRACE;
        config.workers.shutdown_grace = MAX_SHUTDOWN_GRACE;
        config.validate().unwrap();
    }

    #[test]
    fn every_bad_key_is_named() {
        let yaml = "database:\n  url: nonsense\n  max_open_conns: 2\n  max_idle_conns: 3\nworkers:\n  count: 0\napi:\n  default_version: v3\n";
        assert_eq!(
            keys(yaml),
            [
                "database.url",
                "database.max_idle_conns",
                "workers.count",
                "api.default_version"
            ]
        );
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_named() {
        let err = Config::from_yaml_str("database:\n  urll: x\n").unwrap_err();
        assert!(err.to_string().contains("urll"), "{err}");
        assert_eq!(keys("workers:\n  count: many\n"), ["workers.count"]);
        // The worker pool's own rules, reported under the configuration's keys.
        assert_eq!(keys("workers:\n  lease: 100ms\n"), ["workers.lease"]);
        assert_eq!(
            keys("workers:\n  job_timeout: 0s\n"),
            ["workers.job_timeout"]
        );
        assert_eq!(
            keys("database:\n  conn_max_lifetime: soon\n"),
            ["database.conn_max_lifetime"]
        );
    }

    #[test]
    fn durations_read_humanly() {
        let c = Config::from_yaml_str(
            "database:\n  conn_max_lifetime: 10m\ncache:\n  default_ttl: null\n",
        )
        .unwrap();
        assert_eq!(c.database.conn_max_lifetime, Duration::from_secs(600));
        assert_eq!(c.cache.default_ttl, None);
    }
}
