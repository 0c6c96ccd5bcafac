//! The `metrics` section: whether the `stack` binary exports Prometheus metrics, where, and
//! how often it samples the gauges that are read rather than counted.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Config, ConfigProblem};

/// Prometheus metrics of the `stack` binary (a host that embeds the library installs its own
/// recorder and reads none of this but `sample_interval`, if it runs the sampler).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Install the Prometheus recorder and serve `/metrics`. Default `true`.
    pub enabled: bool,
    /// `null` serves `/metrics` on the API's own port (`stack serve`); an address
    /// (`127.0.0.1:9464`) serves it on a listener of its own instead, the only way
    /// `stack worker` serves it. Default `null`.
    pub listen: Option<String>,
    /// How often one task per process samples the queue, the pools, the breaker and the
    /// replicas into gauges (never on each scrape). Default `5s`; from `100ms` to `1h`.
    #[serde(with = "humantime_serde")]
    pub sample_interval: Duration,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: None,
            sample_interval: Duration::from_secs(5),
        }
    }
}

impl MetricsConfig {
    /// The address of `listen`, when it is set and parses.
    pub fn listen_addr(&self) -> Option<SocketAddr> {
        self.listen.as_deref().and_then(|a| a.parse().ok())
    }
}

/// The problems of the `metrics` section.
pub(super) fn check(config: &Config) -> Vec<ConfigProblem> {
    let metrics = &config.metrics;
    let mut found = Vec::new();
    if let Some(listen) = metrics.listen.as_deref() {
        match listen.parse::<SocketAddr>() {
            Err(_) => found.push(ConfigProblem::new(
                "metrics.listen",
                format!("`{listen}` is not an address of the form ip:port (`127.0.0.1:9464`, `[::1]:9464`), or null for the API's port"),
            )),
            Ok(addr) if addr.port() == config.server.port && addr.port() != 0 => {
                found.push(ConfigProblem::new(
                    "metrics.listen",
                    format!("port {} is server.port: set null to serve /metrics on the API's port", addr.port()),
                ));
            }
            Ok(_) => {}
        }
    }
    let interval = metrics.sample_interval;
    if interval < Duration::from_millis(100) || interval > Duration::from_secs(3600) {
        found.push(ConfigProblem::new(
            "metrics.sample_interval",
            "must be between 100ms and 1h",
        ));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::super::Config;

    fn keys(yaml: &str) -> Vec<String> {
        match Config::from_yaml_str(yaml) {
            Ok(_) => Vec::new(),
            Err(e) => e.problems().iter().map(|p| p.key.clone()).collect(),
        }
    }

    #[test]
    fn defaults_and_valid_values_pass() {
        let c = Config::default();
        assert!(c.metrics.enabled && c.metrics.listen.is_none());
        assert!(
            keys(
                "metrics:\n  enabled: false\n  listen: 127.0.0.1:9464\n  sample_interval: 100ms\n"
            )
            .is_empty()
        );
        assert!(keys("metrics:\n  listen: \"[::1]:0\"\n  sample_interval: 1h\n").is_empty());
    }

    #[test]
    fn bad_values_are_refused_with_their_key() {
        assert_eq!(keys("metrics:\n  listen: localhost\n"), ["metrics.listen"]);
        assert_eq!(
            keys("metrics:\n  listen: 127.0.0.1:8080\n"),
            ["metrics.listen"]
        );
        assert_eq!(
            keys("metrics:\n  sample_interval: 10ms\n"),
            ["metrics.sample_interval"]
        );
        assert_eq!(
            keys("metrics:\n  sample_interval: 2h\n"),
            ["metrics.sample_interval"]
        );
        assert_eq!(keys("metrics:\n  enabled: maybe\n"), ["metrics.enabled"]);
        assert_eq!(keys("metrics:\n  listn: 1.2.3.4:5\n"), ["metrics.listn"]);
    }
}
