use std::fmt;
use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Yaml};

use super::Config;

/// The prefix of environment overrides: `STACK__DATABASE__URL` sets `database.url`.
pub const ENV_PREFIX: &str = "STACK__";

/// One thing wrong with a configuration, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The dotted key (`database.max_open_conns`), or empty for the document as a whole.
    pub key: String,
    /// What is wrong and, where it helps, what is accepted.
    pub reason: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            f.write_str(&self.reason)
        } else {
            write!(f, "{}: {}", self.key, self.reason)
        }
    }
}

/// Everything wrong with a configuration; never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    problems: Vec<ConfigProblem>,
}

impl ConfigError {
    pub(super) fn new(problems: Vec<ConfigProblem>) -> Self {
        Self { problems }
    }

    /// The problems, in the order they were found.
    pub fn problems(&self) -> &[ConfigProblem] {
        &self.problems
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration:")?;
        for problem in &self.problems {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl From<ConfigError> for crate::Error {
    fn from(err: ConfigError) -> Self {
        let key = err
            .problems
            .first()
            .map(|p| p.key.clone())
            .unwrap_or_default();
        crate::Error::invalid(key, err.to_string())
    }
}

fn from_figment(error: figment::Error) -> ConfigError {
    ConfigError::new(
        error
            .into_iter()
            .map(|e| ConfigProblem {
                key: e.path.join("."),
                reason: e.kind.to_string(),
            })
            .collect(),
    )
}

impl Config {
    /// Defaults, overlaid with the YAML file at `path` (when given), overlaid with
    /// `STACK__` environment variables, then validated.
    ///
    /// # Errors
    /// A [`ConfigError`] listing every problem found: a missing or unreadable file, a key
    /// that does not exist, a value of the wrong type, or a value out of range.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = path {
            if !path.is_file() {
                return Err(ConfigError::new(vec![ConfigProblem {
                    key: String::new(),
                    reason: format!("configuration file {} does not exist", path.display()),
                }]));
            }
            figment = figment.merge(Yaml::file_exact(path));
        }
        figment = figment.merge(Env::prefixed(ENV_PREFIX).split("__"));
        Self::extract(&figment)
    }

    /// Defaults overlaid with a YAML document (no environment), then validated.
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn from_yaml_str(yaml: &str) -> Result<Self, ConfigError> {
        let figment =
            Figment::from(Serialized::defaults(Config::default())).merge(Yaml::string(yaml));
        Self::extract(&figment)
    }

    fn extract(figment: &Figment) -> Result<Self, ConfigError> {
        let config: Config = figment.extract().map_err(from_figment)?;
        config.validate()?;
        Ok(config)
    }
}
