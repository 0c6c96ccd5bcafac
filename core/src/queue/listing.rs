//! Listing the jobs of one state, by page: what the job dashboard shows as running and
//! scheduled work (see [`Queue::list_jobs`](super::Queue::list_jobs)).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Job, JobId, validate_type_filter};
use crate::{Error, Result};

/// The most jobs one [`JobListing`] may ask for.
pub const MAX_LIST_LIMIT: usize = 1000;

/// Which jobs a listing holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListedState {
    /// Leased to a worker; ordered by lease expiry, then id.
    Running,
    /// Pending with a run time still ahead (delayed, or waiting out a retry's backoff);
    /// ordered by run time, then id.
    Scheduled,
    /// Pending with a run time that has passed, waiting for a worker; ordered by run time,
    /// then id (not by priority).
    Ready,
}

impl FromStr for ListedState {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "running" => Ok(Self::Running),
            "scheduled" => Ok(Self::Scheduled),
            "ready" => Ok(Self::Ready),
            _ => Err(Error::invalid(
                "state",
                format!("`{s}` is not one of running, scheduled, ready"),
            )),
        }
    }
}

/// A place in a listing: the sort time (lease expiry or run time) and id of the last job
/// seen. Written `<milliseconds since the epoch>:<id>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobCursor {
    /// The last job's sort time, at millisecond precision.
    pub at: DateTime<Utc>,
    /// The last job's id.
    pub id: JobId,
}

impl fmt::Display for JobCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.at.timestamp_millis(), self.id)
    }
}

impl FromStr for JobCursor {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::invalid(
                "after",
                "must be a cursor `<milliseconds>:<job id>` from a listing's `next`",
            )
        };
        let (ms, id) = s.split_once(':').ok_or_else(bad)?;
        let at = ms
            .parse::<i64>()
            .ok()
            .and_then(DateTime::from_timestamp_millis)
            .ok_or_else(bad)?;
        Ok(Self {
            at,
            id: id.parse().map_err(|_| bad())?,
        })
    }
}

/// What to list: one state, optionally one job type, after a cursor, at most `limit` jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobListing {
    /// Which jobs.
    pub state: ListedState,
    /// Only jobs of this type.
    pub job_type: Option<String>,
    /// Only jobs after this place (a previous page's [`JobList::next`]).
    pub after: Option<JobCursor>,
    /// The most jobs in the page, 1 to [`MAX_LIST_LIMIT`].
    pub limit: usize,
}

impl JobListing {
    /// The first page of jobs in `state`, at most `limit` of them, of every type.
    pub fn new(state: ListedState, limit: usize) -> Self {
        Self {
            state,
            job_type: None,
            after: None,
            limit,
        }
    }

    /// Checks the listing the way every backend does.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `limit` when it is 0 or over [`MAX_LIST_LIMIT`], or `type`
    /// for an empty job type.
    pub fn validate(&self) -> Result<()> {
        if self.limit == 0 || self.limit > MAX_LIST_LIMIT {
            return Err(Error::invalid(
                "limit",
                format!("must be between 1 and {MAX_LIST_LIMIT}"),
            ));
        }
        validate_type_filter(self.job_type.as_deref())
    }

    /// Whether a job at (`at`, `id`) comes after the cursor.
    pub fn is_after_cursor(&self, at: DateTime<Utc>, id: JobId) -> bool {
        self.after.is_none_or(|c| (at, id) > (c.at, c.id))
    }
}

/// One listed job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListedJob {
    /// The job as the queue holds it.
    pub job: Job,
    /// When its lease lapses, for a running job.
    pub lease_expires_at: Option<DateTime<Utc>>,
}

impl ListedJob {
    /// Its place in a listing: lease expiry (running) or run time, then id.
    pub fn cursor(&self) -> JobCursor {
        JobCursor {
            at: self.lease_expires_at.unwrap_or(self.job.run_at),
            id: self.job.id,
        }
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JobList {
    /// The jobs, in the listing's order.
    pub jobs: Vec<ListedJob>,
    /// Where the next page starts; `None` when the listing has nothing after this page. A
    /// page may hold fewer than `limit` jobs while `next` is set (a backend that bounds the
    /// entries one call examines, such as Redis under a type filter): keep asking until it
    /// is `None`.
    pub next: Option<JobCursor>,
}

impl JobList {
    /// A page of `jobs` (in order) for a listing of `limit`: `next` is the last job's place
    /// when the page is full.
    pub fn full_or_last(jobs: Vec<ListedJob>, limit: usize) -> Self {
        let next = (jobs.len() >= limit)
            .then(|| jobs.last().map(ListedJob::cursor))
            .flatten();
        Self { jobs, next }
    }
}
