//! The range of times, delays and leases every queue backend accepts, and the names it
//! refuses. Checked once, in core, before any backend stores anything.
//!
//! Times are kept as milliseconds since the Unix epoch. The Redis queue computes with them in
//! Lua numbers (doubles), which hold every integer up to 2^53 exactly, and the latest time
//! accepted, 9999-12-31T23:59:59.999Z (253 402 300 799 999 ms), is well inside that. A time
//! before the epoch is refused: a job that should run at once needs no time from 1969, and
//! a negative time is where a stored job stops being readable.
//!
//! A delay and a lease are at most [`MAX_DELAY`] (100 years of 365.25 days): added to any
//! clock before the year 9899 they stay inside the range, and the arithmetic is checked
//! anyway, so no delay can overflow.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::NewJob;
use crate::{Error, Result};

/// The earliest run time a job may name, in milliseconds since the epoch: the epoch itself.
pub const EARLIEST_RUN_AT_MS: i64 = 0;

/// The latest run time a job may name, in milliseconds since the epoch:
/// 9999-12-31T23:59:59.999Z, exactly representable in a double.
pub const LATEST_RUN_AT_MS: i64 = 253_402_300_799_999;

/// The longest delay, retry delay or lease: 100 years of 365.25 days.
pub const MAX_DELAY: Duration = Duration::from_secs(36_525 * 24 * 3600);

/// The longest [`completed_retention`](super::QueueOptions::completed_retention): 10 years
/// of 365.25 days. Longer would keep keys for no purpose, and it bounds the retention's
/// arithmetic in milliseconds (the Redis scripts', SQL's) far from any overflow.
pub const MAX_RETENTION: Duration = Duration::from_secs(315_576_000);

/// The longest queue name or job type, in bytes.
const MAX_NAME_BYTES: usize = 200;

/// [`LATEST_RUN_AT_MS`] as a time.
pub fn latest_run_at() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(LATEST_RUN_AT_MS).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `span` after `now`, at millisecond precision, never later than [`latest_run_at`]: a retry
/// delay or lease that would pass the bound ends at it rather than overflowing.
pub fn run_time_after(now: DateTime<Utc>, span: Duration) -> DateTime<Utc> {
    let at = chrono::Duration::from_std(span)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .map_or_else(latest_run_at, |at| at.min(latest_run_at()));
    super::to_millis(at)
}

/// Checks a job's run time.
///
/// # Errors
/// [`Error::Invalid`] naming `run_at` before 1970-01-01T00:00:00Z or after
/// 9999-12-31T23:59:59.999Z.
pub fn validate_run_at(at: DateTime<Utc>) -> Result<()> {
    let ms = at.timestamp_millis();
    if ms < EARLIEST_RUN_AT_MS {
        return Err(Error::invalid(
            "run_at",
            format!("{at} is before 1970-01-01T00:00:00Z, the earliest run time a queue keeps"),
        ));
    }
    if ms > LATEST_RUN_AT_MS {
        return Err(Error::invalid(
            "run_at",
            format!("{at} is after 9999-12-31T23:59:59.999Z, the latest run time a queue keeps"),
        ));
    }
    Ok(())
}

/// Checks a job's delay.
///
/// # Errors
/// [`Error::Invalid`] naming `delay` when it is longer than [`MAX_DELAY`].
pub fn validate_delay(delay: Duration) -> Result<()> {
    if delay > MAX_DELAY {
        return Err(Error::invalid(
            "delay",
            format!("{delay:?} is longer than the longest delay, 100 years"),
        ));
    }
    Ok(())
}

/// Checks a lease's length, for `reserve` and `extend`.
///
/// # Errors
/// [`Error::Invalid`] naming `lease_for` when it is under 1 ms or longer than [`MAX_DELAY`].
pub fn validate_lease(lease_for: Duration) -> Result<()> {
    // Every backend keeps times in whole milliseconds: a shorter lease would be 0 there.
    if lease_for < Duration::from_millis(1) {
        return Err(Error::invalid("lease_for", "must be at least 1 ms"));
    }
    if lease_for > MAX_DELAY {
        return Err(Error::invalid(
            "lease_for",
            format!("{lease_for:?} is longer than the longest lease, 100 years"),
        ));
    }
    Ok(())
}

/// Checks how long completed jobs are remembered.
///
/// # Errors
/// [`Error::Invalid`] naming `completed_retention` when it is longer than [`MAX_RETENTION`].
pub fn validate_retention(retention: Duration) -> Result<()> {
    if retention > MAX_RETENTION {
        return Err(Error::invalid(
            "completed_retention",
            format!("{retention:?} is longer than the longest retention, 10 years"),
        ));
    }
    Ok(())
}

/// Checks a queue name. The Redis queue puts it in a hash tag (`{name}`), so a brace would
/// move keys to other slots of a Cluster; every backend refuses the same names.
///
/// # Errors
/// [`Error::Invalid`] naming `queue.name` when it is empty, longer than 200 bytes, or
/// contains `{`, `}` or a control character.
pub fn validate_queue_name(name: &str) -> Result<()> {
    const FIELD: &str = "queue.name";
    if name.is_empty() {
        return Err(Error::invalid(FIELD, "must not be empty"));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(Error::invalid(FIELD, "must be at most 200 bytes"));
    }
    if name.contains(['{', '}']) {
        return Err(Error::invalid(
            FIELD,
            "must not contain `{` or `}` (the Redis queue keeps a queue's keys under the hash tag `{name}`)",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid(FIELD, "must not contain control characters"));
    }
    Ok(())
}

/// Checks a job type, of a new job (`field` = `type`) or of an admin call that selects
/// jobs by type (`field` = `job_type`): an empty type is refused rather than read as "all
/// types" or "none".
///
/// # Errors
/// [`Error::Invalid`] naming `field` when the type is blank, longer than 200 bytes or holds
/// a control character.
pub fn validate_job_type(field: &str, job_type: &str) -> Result<()> {
    if job_type.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if job_type.chars().any(char::is_control) {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    if job_type.len() > MAX_NAME_BYTES {
        return Err(Error::invalid(field, "must be at most 200 bytes"));
    }
    Ok(())
}

/// Checks an optional job type of an admin call (`None` is every type).
///
/// # Errors
/// As [`validate_job_type`], naming `job_type`.
pub fn validate_type_filter(job_type: Option<&str>) -> Result<()> {
    job_type.map_or(Ok(()), |t| validate_job_type("job_type", t))
}

/// Checks `reserve`'s arguments the way every backend must.
///
/// # Errors
/// [`Error::Invalid`](Error::Invalid) naming `max` or `lease_for` (as
/// [`validate_lease`]).
pub fn validate_reserve(max: usize, lease_for: Duration) -> Result<()> {
    if max == 0 {
        return Err(Error::invalid("max", "must be at least 1"));
    }
    validate_lease(lease_for)
}

/// Checks every job of a batch; the error names the index of the first bad one.
///
/// # Errors
/// [`Error::Invalid`](Error::Invalid) with field `jobs[i].<field>`.
pub fn validate_batch(jobs: &[NewJob]) -> Result<()> {
    for (index, job) in jobs.iter().enumerate() {
        if let Err(Error::Invalid { field, reason, .. }) = job.validate() {
            return Err(Error::invalid(format!("jobs[{index}].{field}"), reason));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn the_latest_time_is_exact_in_a_double() {
        const { assert!(LATEST_RUN_AT_MS < 1 << 53) };
        assert_eq!(
            latest_run_at(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap()
                + chrono::Duration::milliseconds(999)
        );
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
        let round_trip = (LATEST_RUN_AT_MS as f64) as i64;
        assert_eq!(round_trip, LATEST_RUN_AT_MS);
    }

    #[test]
    fn times_outside_the_range_are_refused() {
        let epoch = DateTime::<Utc>::UNIX_EPOCH;
        assert!(validate_run_at(epoch).is_ok());
        assert!(validate_run_at(epoch - chrono::Duration::milliseconds(1)).is_err());
        assert!(validate_run_at(latest_run_at()).is_ok());
        assert!(validate_run_at(latest_run_at() + chrono::Duration::milliseconds(1)).is_err());
        assert!(validate_run_at(DateTime::<Utc>::MIN_UTC).is_err());
        assert!(validate_run_at(DateTime::<Utc>::MAX_UTC).is_err());
    }

    #[test]
    fn delays_and_leases_are_bounded_and_never_overflow() {
        assert!(validate_delay(MAX_DELAY).is_ok());
        assert!(validate_delay(MAX_DELAY + Duration::from_millis(1)).is_err());
        assert!(validate_delay(Duration::MAX).is_err());
        assert!(validate_lease(Duration::ZERO).is_err());
        assert!(
            validate_lease(Duration::from_micros(500)).is_err(),
            "0 ms once stored"
        );
        assert!(validate_lease(Duration::from_millis(1)).is_ok());
        assert!(validate_lease(Duration::MAX).is_err());
        let now = Utc.with_ymd_and_hms(9999, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(run_time_after(now, Duration::MAX), latest_run_at());
        assert_eq!(run_time_after(now, MAX_DELAY), latest_run_at());
    }

    #[test]
    fn a_retention_past_ten_years_is_refused_by_every_queue_s_options() {
        assert_eq!(
            MAX_RETENTION.as_secs(),
            3_652 * 86_400 + 43_200,
            "3652.5 days"
        );
        assert!(validate_retention(MAX_RETENTION).is_ok());
        assert!(validate_retention(Duration::ZERO).is_ok());
        for bad in [
            MAX_RETENTION + Duration::from_millis(1),
            Duration::from_secs(u64::MAX),
            Duration::MAX,
        ] {
            let mut options = super::super::QueueOptions::new("q");
            options.completed_retention = bad;
            match options.validate() {
                Err(Error::Invalid { field, .. }) => assert_eq!(field, "completed_retention"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn names_that_break_a_hash_tag_are_refused() {
        for bad in ["", "}x", "a{b", "a}", "x\n"] {
            assert!(validate_queue_name(bad).is_err(), "{bad:?}");
        }
        assert!(validate_queue_name("default").is_ok());
        assert!(validate_job_type("job_type", "").is_err());
        assert!(validate_type_filter(Some(" ")).is_err());
        assert!(validate_type_filter(None).is_ok());
    }
}
