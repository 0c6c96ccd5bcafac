//! The one error type of STACK.
//!
//! Every backend maps its client's failures into an [`Error`] whose [`ErrorKind`] a caller
//! can match on: a unique violation is [`ErrorKind::Conflict`], a refused connection is
//! [`ErrorKind::Unavailable`] and temporary. No variant depends on a Cargo feature, and the
//! client's own error stays reachable through [`std::error::Error::source`].

use std::time::Duration;

/// A boxed error from a lower layer, kept as the source of an [`Error`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, as a caller needs to know it to decide what to do next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The thing asked for does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for, e.g. `job 0190...` or `schedule nightly`.
        what: String,
        /// The backend's error, when it gave one.
        #[source]
        source: Option<BoxError>,
    },
    /// The request clashes with the current state (a duplicate key, a lost lease).
    #[error("conflict: {reason}")]
    Conflict {
        /// Why the request conflicts.
        reason: String,
        /// The backend's error (a unique violation), when it gave one.
        #[source]
        source: Option<BoxError>,
    },
    /// An input is malformed or out of range; nothing was changed.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The name of the bad input, as the caller wrote it (`limit`, `database.url`).
        field: String,
        /// What is wrong with it and, where it helps, what is accepted.
        reason: String,
        /// The backend's error (a check violation), when it gave one.
        #[source]
        source: Option<BoxError>,
    },
    /// A backend cannot be reached right now; worth a retry.
    #[error("unavailable: {reason}")]
    Unavailable {
        /// What could not be reached.
        reason: String,
        /// The client's error.
        #[source]
        source: Option<BoxError>,
    },
    /// An operation did not finish in time; worth a retry.
    #[error("{operation} timed out after {after:?}")]
    Timeout {
        /// The operation that timed out.
        operation: String,
        /// How long it was given.
        after: Duration,
    },
    /// A circuit breaker is open; the call was not attempted.
    #[error("circuit open; retry after {retry_after:?}")]
    CircuitOpen {
        /// When the breaker will let a probe through.
        retry_after: Duration,
    },
    /// The backend cannot do this, or was not compiled in.
    #[error("unsupported: {what}")]
    Unsupported {
        /// What is not supported and, where it helps, how to get it (a Cargo feature).
        what: String,
    },
    /// Any other backend failure.
    #[error("backend error: {message}")]
    Backend {
        /// What the backend was doing.
        message: String,
        /// Whether the same call may succeed if retried.
        temporary: bool,
        /// The client's error.
        #[source]
        source: Option<BoxError>,
    },
}

/// The kind of an [`Error`], without its details: what callers match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// See [`Error::NotFound`].
    NotFound,
    /// See [`Error::Conflict`].
    Conflict,
    /// See [`Error::Invalid`].
    Invalid,
    /// See [`Error::Unavailable`].
    Unavailable,
    /// See [`Error::Timeout`].
    Timeout,
    /// See [`Error::CircuitOpen`].
    CircuitOpen,
    /// See [`Error::Unsupported`].
    Unsupported,
    /// See [`Error::Backend`].
    Backend,
}

impl ErrorKind {
    /// The kind in snake case (`not_found`, `circuit_open`), as metrics and logs label it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::Invalid => "invalid",
            Self::Unavailable => "unavailable",
            Self::Timeout => "timeout",
            Self::CircuitOpen => "circuit_open",
            Self::Unsupported => "unsupported",
            Self::Backend => "backend",
        }
    }
}

impl Error {
    /// A [`Error::NotFound`] for `what`.
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound {
            what: what.into(),
            source: None,
        }
    }

    /// A [`Error::Conflict`] with `reason`.
    pub fn conflict(reason: impl Into<String>) -> Self {
        Self::Conflict {
            reason: reason.into(),
            source: None,
        }
    }

    /// A [`Error::Invalid`] naming the bad `field` and what is wrong with it.
    ///
    /// ```
    /// use stack_core::{Error, ErrorKind};
    /// let err = Error::invalid("limit", "must be at least 1");
    /// assert_eq!(err.kind(), ErrorKind::Invalid);
    /// assert_eq!(err.to_string(), "invalid limit: must be at least 1");
    /// ```
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
            source: None,
        }
    }

    /// This error with `cause` as its source, for the kinds that can carry one (NotFound,
    /// Conflict, Invalid, Unavailable, Backend); others are returned unchanged.
    ///
    /// ```
    /// use std::error::Error as _;
    /// let err = stack_core::Error::conflict("email taken").with_source(std::io::Error::other("23505"));
    /// assert_eq!(err.source().unwrap().to_string(), "23505");
    /// ```
    #[must_use]
    pub fn with_source(mut self, cause: impl Into<BoxError>) -> Self {
        match &mut self {
            Self::NotFound { source, .. }
            | Self::Conflict { source, .. }
            | Self::Invalid { source, .. }
            | Self::Unavailable { source, .. }
            | Self::Backend { source, .. } => *source = Some(cause.into()),
            _ => {}
        }
        self
    }

    /// A [`Error::Unavailable`] caused by `source`.
    pub fn unavailable(reason: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::Unavailable {
            reason: reason.into(),
            source: Some(source.into()),
        }
    }

    /// A [`Error::Unsupported`] for `what`.
    pub fn unsupported(what: impl Into<String>) -> Self {
        Self::Unsupported { what: what.into() }
    }

    /// A permanent [`Error::Backend`] with no source.
    pub fn backend(message: impl Into<String>) -> Self {
        Self::Backend {
            message: message.into(),
            temporary: false,
            source: None,
        }
    }

    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::NotFound { .. } => ErrorKind::NotFound,
            Self::Conflict { .. } => ErrorKind::Conflict,
            Self::Invalid { .. } => ErrorKind::Invalid,
            Self::Unavailable { .. } => ErrorKind::Unavailable,
            Self::Timeout { .. } => ErrorKind::Timeout,
            Self::CircuitOpen { .. } => ErrorKind::CircuitOpen,
            Self::Unsupported { .. } => ErrorKind::Unsupported,
            Self::Backend { .. } => ErrorKind::Backend,
        }
    }

    /// Whether the same call may succeed if retried later.
    ///
    /// ```
    /// use std::time::Duration;
    /// use stack_core::Error;
    /// assert!(Error::Timeout { operation: "get".into(), after: Duration::from_secs(1) }.is_temporary());
    /// assert!(!Error::invalid("page", "must be at least 1").is_temporary());
    /// ```
    pub fn is_temporary(&self) -> bool {
        match self {
            Self::Unavailable { .. } | Self::Timeout { .. } | Self::CircuitOpen { .. } => true,
            Self::Backend { temporary, .. } => *temporary,
            _ => false,
        }
    }
}
