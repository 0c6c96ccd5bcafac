//! `api.deprecations`: which API versions are deprecated, since when, until when they are
//! served, and where their migration guide lives.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ApiConfig, ConfigProblem};
use crate::version::ApiVersion;

/// A deprecated API version. Every response it serves says so: `Deprecation` (RFC 9745),
/// `Sunset` (RFC 8594) and `Link: <link>; rel="deprecation"`.
///
/// ```
/// use stack_core::config::Config;
/// let yaml = "api:\n  deprecations:\n    - version: v1\n      deprecated_at: 2026-01-01T00:00:00Z\n      sunset_at: 2026-07-01T00:00:00Z\n      link: https://example.com/migrate\n";
/// let config = Config::from_yaml_str(yaml).unwrap();
/// assert_eq!(config.api.deprecations[0].version.to_string(), "v1");
///
/// let early = yaml.replace("2026-07-01", "2025-07-01");
/// let err = Config::from_yaml_str(&early).unwrap_err();
/// assert_eq!(err.problems()[0].key, "api.deprecations[0].sunset_at");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deprecation {
    /// The deprecated version; one of `api.supported_versions`.
    pub version: ApiVersion,
    /// When it was (or will be) deprecated, RFC 3339 (`2026-01-01T00:00:00Z`).
    pub deprecated_at: DateTime<Utc>,
    /// When it stops being served, RFC 3339; never before `deprecated_at`. Optional.
    #[serde(default)]
    pub sunset_at: Option<DateTime<Utc>>,
    /// An `http(s)://` URL documenting the deprecation (a migration guide). Optional.
    #[serde(default)]
    pub link: Option<String>,
}

/// The problems of `api.deprecations`, each under its key.
pub(super) fn check(api: &ApiConfig) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    for (i, deprecation) in api.deprecations.iter().enumerate() {
        let key = |field: &str| format!("api.deprecations[{i}].{field}");
        if !api.supported_versions.contains(&deprecation.version) {
            problems.push(ConfigProblem::new(
                key("version"),
                format!(
                    "{} is not among api.supported_versions",
                    deprecation.version
                ),
            ));
        }
        let repeated = api.deprecations[..i]
            .iter()
            .any(|earlier| earlier.version == deprecation.version);
        if repeated {
            problems.push(ConfigProblem::new(
                key("version"),
                format!("{} is deprecated twice", deprecation.version),
            ));
        }
        if let Some(sunset) = deprecation.sunset_at {
            if sunset < deprecation.deprecated_at {
                problems.push(ConfigProblem::new(
                    key("sunset_at"),
                    format!(
                        "{} is before deprecated_at ({}): a version cannot be retired before it is deprecated",
                        sunset.to_rfc3339(),
                        deprecation.deprecated_at.to_rfc3339()
                    ),
                ));
            }
        }
        if let Some(link) = &deprecation.link {
            if !is_link(link) {
                problems.push(ConfigProblem::new(
                    key("link"),
                    format!("`{link}` is not an http:// or https:// URL"),
                ));
            }
        }
    }
    problems
}

/// An absolute `http(s)` URL that fits in a `Link` header as it is: visible ASCII without
/// spaces, quotes or angle brackets.
fn is_link(link: &str) -> bool {
    let lower = link.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    rest.is_some_and(|host| !host.is_empty())
        && link
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'"'))
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn keys(yaml: &str) -> Vec<String> {
        Config::from_yaml_str(yaml)
            .map(|_| Vec::new())
            .unwrap_or_else(|e| e.problems().iter().map(|p| p.key.clone()).collect())
    }

    #[test]
    fn a_deprecation_names_a_supported_version_once_and_a_sunset_after_it() {
        let yaml = "api:\n  supported_versions: [v1, v2]\n  deprecations:\n    - version: v3\n      deprecated_at: 2026-01-01T00:00:00Z\n    - version: v1\n      deprecated_at: 2026-01-01T00:00:00Z\n      sunset_at: 2025-12-31T23:59:59Z\n      link: ftp://example.com\n    - version: v1\n      deprecated_at: 2026-01-01T00:00:00Z\n";
        assert_eq!(
            keys(yaml),
            [
                "api.deprecations[0].version",
                "api.deprecations[1].sunset_at",
                "api.deprecations[1].link",
                "api.deprecations[2].version",
            ]
        );
        let fine = "api:\n  deprecations:\n    - version: v1\n      deprecated_at: 2026-01-01T00:00:00Z\n      sunset_at: 2026-01-01T00:00:00Z\n      link: https://example.com/v1?x=1\n";
        assert!(keys(fine).is_empty());
    }

    #[test]
    fn bad_dates_and_links_are_refused() {
        let bad_date = "api:\n  deprecations:\n    - version: v1\n      deprecated_at: yesterday\n";
        assert!(!keys(bad_date).is_empty());
        let unknown = "api:\n  deprecations:\n    - version: v1\n      deprecated_at: 2026-01-01T00:00:00Z\n      sunset: 2026-01-01T00:00:00Z\n";
        assert!(!keys(unknown).is_empty());
        for link in ["https://", "https://a b", "https://a>b", "/relative"] {
            let yaml = format!(
                "api:\n  deprecations:\n    - version: v1\n      deprecated_at: 2026-01-01T00:00:00Z\n      link: \"{link}\"\n"
            );
            assert_eq!(keys(&yaml), ["api.deprecations[0].link"], "{link}");
        }
    }
}
