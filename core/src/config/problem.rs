use std::fmt;
use std::path::PathBuf;

/// One thing wrong with a configuration, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The key in one style, `database.max_open_conns` or `api.supported_versions[1]`; empty
    /// for the document as a whole.
    pub key: String,
    /// What is wrong and, where it helps, what is accepted.
    pub reason: String,
    /// Where the value came from when it was not the file: an environment variable
    /// (`STACK__SERVER__PORT`) or a command-line flag (`--port`).
    pub source: Option<String>,
}

impl ConfigProblem {
    /// A problem with `key`, from the file (or the defaults).
    pub fn new(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            reason: reason.into(),
            source: None,
        }
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.key.is_empty(), &self.source) {
            (true, None) => f.write_str(&self.reason),
            (true, Some(source)) => write!(f, "{source}: {}", self.reason),
            (false, None) => write!(f, "{}: {}", self.key, self.reason),
            (false, Some(source)) => write!(f, "{} (from {source}): {}", self.key, self.reason),
        }
    }
}

/// Everything wrong with a configuration; never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    file: Option<PathBuf>,
    problems: Vec<ConfigProblem>,
}

impl ConfigError {
    pub(super) fn new(file: Option<PathBuf>, problems: Vec<ConfigProblem>) -> Self {
        Self { file, problems }
    }

    /// An error listing `problems`, found by a check of an already loaded configuration
    /// (such as the backends a build can open); `None` when there are none.
    pub fn from_problems(problems: Vec<ConfigProblem>) -> Option<Self> {
        (!problems.is_empty()).then(|| Self::new(None, problems))
    }

    /// The problems, in the order they were found.
    pub fn problems(&self) -> &[ConfigProblem] {
        &self.problems
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}: ", file.display())?;
        }
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

/// `api.supported_versions[1]` from the path segments `api`, `supported_versions`, `1`.
pub(super) fn key_of<S: AsRef<str>>(path: &[S]) -> String {
    let mut key = String::new();
    for segment in path {
        let segment = segment.as_ref();
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            key.push('[');
            key.push_str(segment);
            key.push(']');
        } else {
            if !key.is_empty() {
                key.push('.');
            }
            key.push_str(segment);
        }
    }
    key
}

/// The path segments of a key written by [`key_of`].
pub(super) fn path_of(key: &str) -> Vec<String> {
    key.replace('[', ".")
        .replace(']', "")
        .split('.')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A reason in words for one of figment's (serde's) errors, with no nested backticks.
pub(super) fn reason_of(kind: &figment::error::Kind) -> String {
    use figment::error::Kind;
    match kind {
        Kind::Message(message) => message.clone(),
        Kind::InvalidType(actual, expected) | Kind::InvalidValue(actual, expected) => {
            format!(
                "expected {}, found {}",
                plain(expected),
                plain(&actual.to_string())
            )
        }
        Kind::InvalidLength(len, expected) => {
            format!("expected {}, found {len} items", plain(expected))
        }
        Kind::UnknownVariant(found, expected) => {
            format!("`{found}` is not one of: {}", expected.join(", "))
        }
        Kind::UnknownField(_, expected) => {
            format!("unknown key; the keys here are: {}", expected.join(", "))
        }
        Kind::MissingField(name) => format!("missing key {name}"),
        Kind::DuplicateField(name) => format!("{name} is given twice"),
        other => plain(&other.to_string()),
    }
}

/// serde's texts quote with backticks and nest them (`` `one of `a`, `b`` ``); keep words.
fn plain(text: &str) -> String {
    text.replace('`', "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_use_one_style() {
        assert_eq!(
            key_of(&["api", "supported_versions", "1"]),
            "api.supported_versions[1]"
        );
        assert_eq!(
            path_of("database.read_replicas[0]"),
            ["database", "read_replicas", "0"]
        );
        assert_eq!(key_of(&path_of("a.b[2].c")), "a.b[2].c");
    }
}
