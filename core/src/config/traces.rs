//! The `tracing` section (a module named apart from the `tracing` crate): whether the
//! `stack` binary exports its spans over OTLP/HTTP, and under which service name.

use serde::{Deserialize, Serialize};

use super::ConfigProblem;

/// Span export of the `stack` binary (a host that embeds the library installs its own
/// `tracing` layer and reads none of this).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TracingConfig {
    /// The OTLP/HTTP collector's base URL (`http://127.0.0.1:4318`); spans are POSTed to
    /// `<endpoint>/v1/traces` as protobuf. `null` (the default) exports nothing. Needs the
    /// `stack` binary built with feature `otlp`, else it is refused at start. Empty is `null`.
    pub otlp_endpoint: Option<String>,
    /// The `service.name` resource attribute of every exported span. Default `stack`.
    pub service_name: String,
}

impl Default for TracingConfig {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            service_name: "stack".into(),
        }
    }
}

impl TracingConfig {
    /// The URL spans are POSTed to (`<otlp_endpoint>/v1/traces`), when an endpoint is set;
    /// an empty one (`STACK__TRACING__OTLP_ENDPOINT=`) is unset, as in the OpenTelemetry
    /// variables.
    ///
    /// # Errors
    /// Why the endpoint is refused.
    pub fn traces_url(&self) -> Option<Result<String, OtlpEndpointError>> {
        self.endpoint().map(traces_url)
    }

    /// The endpoint, unless unset or empty.
    pub fn endpoint(&self) -> Option<&str> {
        self.otlp_endpoint
            .as_deref()
            .filter(|endpoint| !endpoint.trim().is_empty())
    }
}

/// Why `tracing.otlp_endpoint` is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OtlpEndpointError {
    /// Not a URL at all.
    #[error("`{0}` is not a URL such as http://127.0.0.1:4318")]
    NotAUrl(String),
    /// A scheme other than `http` or `https`.
    #[error("`{0}` is not http:// or https:// (OTLP/HTTP; gRPC is not supported)")]
    Scheme(String),
    /// A query or fragment, which `/v1/traces` cannot follow.
    #[error("`{0}` has a query or fragment: give the collector's base URL")]
    QueryOrFragment(String),
}

/// `<endpoint>/v1/traces`, after checking that `endpoint` is an absolute http(s) URL with a
/// host and no query or fragment.
///
/// ```
/// use stack_core::config::{OtlpEndpointError, otlp_traces_url};
/// assert_eq!(otlp_traces_url("http://127.0.0.1:4318/").unwrap(), "http://127.0.0.1:4318/v1/traces");
/// assert!(matches!(otlp_traces_url("grpc://c:4317"), Err(OtlpEndpointError::Scheme(_))));
/// ```
///
/// # Errors
/// Why the endpoint is refused.
pub fn traces_url(endpoint: &str) -> Result<String, OtlpEndpointError> {
    let trimmed = endpoint.trim();
    let uri: http::Uri = trimmed
        .parse()
        .map_err(|_| OtlpEndpointError::NotAUrl(endpoint.to_owned()))?;
    let (Some(scheme), Some(_host)) = (uri.scheme_str(), uri.host()) else {
        return Err(OtlpEndpointError::NotAUrl(endpoint.to_owned()));
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(OtlpEndpointError::Scheme(endpoint.to_owned()));
    }
    if uri.query().is_some() || trimmed.contains('#') {
        return Err(OtlpEndpointError::QueryOrFragment(endpoint.to_owned()));
    }
    Ok(format!("{}/v1/traces", trimmed.trim_end_matches('/')))
}

/// The problems of the `tracing` section.
pub(super) fn check(tracing: &TracingConfig) -> Vec<ConfigProblem> {
    let mut found = Vec::new();
    if let Some(Err(error)) = tracing.traces_url() {
        found.push(ConfigProblem::new(
            "tracing.otlp_endpoint",
            error.to_string(),
        ));
    }
    if tracing.service_name.trim().is_empty() {
        found.push(ConfigProblem::new(
            "tracing.service_name",
            "must not be empty",
        ));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::{OtlpEndpointError, TracingConfig, check, traces_url};

    fn keys(yaml: &str) -> Vec<String> {
        match Config::from_yaml_str(yaml) {
            Ok(_) => Vec::new(),
            Err(e) => e.problems().iter().map(|p| p.key.clone()).collect(),
        }
    }

    #[test]
    fn defaults_export_nothing_and_valid_endpoints_pass() {
        let c = Config::default();
        assert!(c.tracing.otlp_endpoint.is_none() && c.tracing.traces_url().is_none());
        let empty = TracingConfig {
            otlp_endpoint: Some("  ".into()),
            ..TracingConfig::default()
        };
        assert!(
            empty.endpoint().is_none() && check(&empty).is_empty(),
            "empty is unset"
        );
        assert_eq!(c.tracing.service_name, "stack");
        assert!(keys("tracing:\n  otlp_endpoint: http://127.0.0.1:4318\n").is_empty());
        assert!(
            keys(
                "tracing:\n  otlp_endpoint: https://otel.example.com/base/\n  service_name: rail\n"
            )
            .is_empty()
        );
        assert_eq!(
            traces_url("https://otel.example.com/base/").as_deref(),
            Ok("https://otel.example.com/base/v1/traces")
        );
    }

    #[test]
    fn bad_values_are_refused_with_their_key() {
        for endpoint in [
            "grpc://c:4317",
            "127.0.0.1:4318",
            "/v1/traces",
            "http://c:4318/?a=b",
            "not a url",
        ] {
            let yaml = format!("tracing:\n  otlp_endpoint: \"{endpoint}\"\n");
            assert_eq!(keys(&yaml), ["tracing.otlp_endpoint"], "{endpoint}");
        }
        assert!(matches!(
            traces_url("ftp://c"),
            Err(OtlpEndpointError::Scheme(_))
        ));
        assert!(matches!(
            traces_url("http://c#x"),
            Err(OtlpEndpointError::QueryOrFragment(_))
        ));
        assert_eq!(
            keys("tracing:\n  service_name: \" \"\n"),
            ["tracing.service_name"]
        );
        assert_eq!(
            keys("tracing:\n  sample_ratio: 0.5\n"),
            ["tracing.sample_ratio"]
        );
    }
}
