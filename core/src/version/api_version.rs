use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

/// A major API version: `v1`, `v2`, ...
///
/// Parses from `v2`, `V2` or `2`; displays as `v2`.
///
/// ```
/// use stack_core::version::ApiVersion;
/// let v: ApiVersion = "v2".parse().unwrap();
/// assert_eq!(v, ApiVersion::new(2));
/// assert_eq!(v.to_string(), "v2");
/// assert!("v0".parse::<ApiVersion>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion(u16);

impl ApiVersion {
    /// Version `major`. Zero is not a version; parsing refuses it.
    pub const fn new(major: u16) -> Self {
        Self(major)
    }

    /// The major number.
    pub const fn major(self) -> u16 {
        self.0
    }

    /// The path segment of this version, e.g. `v2`.
    pub fn segment(self) -> String {
        self.to_string()
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

impl FromStr for ApiVersion {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        let digits = trimmed
            .strip_prefix('v')
            .or_else(|| trimmed.strip_prefix('V'))
            .unwrap_or(trimmed);
        match digits.parse::<u16>() {
            Ok(n) if n > 0 && digits.bytes().all(|b| b.is_ascii_digit()) => Ok(Self(n)),
            _ => Err(Error::invalid(
                "version",
                format!("`{s}` is not an API version (expected v1, v2, ... or 1, 2, ...)"),
            )),
        }
    }
}

impl Serialize for ApiVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ApiVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}
