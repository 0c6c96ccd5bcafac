//! Cron expressions with the meaning classic cron (and robfig/cron) gives them, evaluated on
//! top of the `cron` crate, whose own meaning differs in four ways this module corrects:
//!
//! 1. **Five fields are accepted** (minute precision); seconds are then 0. Six fields put
//!    seconds first, as robfig/cron's `WithSeconds` does.
//! 2. **Day-of-week numbers are classic**: 0 and 7 are Sunday, 1 is Monday, 6 is Saturday.
//!    (The crate counts Sunday as 1.) Names (`SUN`..`SAT`) mean what they say.
//! 3. **Day-of-month OR day-of-week**: when both fields are restricted, a day matches if
//!    either matches (`0 0 1 * MON` fires on the 1st and on every Monday). The crate ANDs them.
//! 4. **Time zones and daylight saving** are handled here, not by the crate (whose released
//!    versions can step backwards across a fall-back). Local wall-clock times are generated
//!    first, then placed on the time line:
//!    - a local time skipped by a spring-forward gap fires at the first instant after the gap
//!      (02:30 on a night that jumps 02:00 -> 03:00 fires at 03:00);
//!    - a local time repeated by a fall-back fold fires once, at its first occurrence, when
//!      the hour field is fixed (`30 1 * * *`); when the hour field is a wildcard or a step
//!      (`*/15 * * * *`, `@hourly`) the schedule is interval-like and fires in both passes,
//!      as Vixie cron does;
//!    - a tick is never earlier than, or equal to, the one before it.
//! 5. **Day rules the crate lacks**: `L` in day-of-month (the last day of the month), `5L`
//!    (the last Friday) and `FRI#2` (the second Friday) in day-of-week.
//!
//! Descriptors are accepted too: `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`,
//! `@midnight`, `@hourly`, and `@every <duration>` (e.g. `@every 90s`, `@every 1h30m`).
//! `@every` ticks are aligned to the Unix epoch (`@every 90s` fires at multiples of 90 s
//! since 1970-01-01T00:00:00Z, to the millisecond), so every instance computes the same
//! ticks, whenever it started, and ticks never drift.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use super::fields::{Fields, next_local, parse_fields};
use crate::{Error, Result};

/// How many generated local times may be skipped (inside a fold or a gap) before giving up.
const MAX_SKIPPED: usize = 100_000;

/// A parsed, validated schedule expression.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use stack_core::scheduler::CronExpr;
/// let expr = CronExpr::parse("0 9 * * 1").unwrap(); // 09:00 every Monday (classic numbering)
/// let after = Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap(); // a Wednesday
/// let next = expr.next_after(after, chrono_tz::UTC).unwrap();
/// assert_eq!(next, Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap());
/// ```
#[derive(Debug, Clone)]
pub struct CronExpr {
    source: String,
    rule: Rule,
}

#[derive(Debug, Clone)]
enum Rule {
    /// Calendar fields.
    Calendar(Fields),
    /// A fixed interval, aligned to the Unix epoch.
    Every(Duration),
}

impl CronExpr {
    /// Parses `expression`.
    ///
    /// # Errors
    /// [`Error::Invalid`] with field `expression` and what is wrong with it.
    pub fn parse(expression: &str) -> Result<Self> {
        let source = expression.trim().to_owned();
        let rule = match source.strip_prefix('@') {
            Some(descriptor) => parse_descriptor(descriptor)?,
            None => Rule::Calendar(parse_fields(&source)?),
        };
        Ok(Self { source, rule })
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The first tick strictly after `after`, with wall-clock fields read in `tz`; `None` when
    /// the schedule never fires again.
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        match &self.rule {
            Rule::Every(interval) => {
                let step = i64::try_from(interval.as_millis()).ok()?;
                let next = (after.timestamp_millis().div_euclid(step) + 1).checked_mul(step)?;
                Utc.timestamp_millis_opt(next).single()
            }
            Rule::Calendar(fields) => {
                let next = next_calendar(fields, after, tz)?;
                if !fields.interval_hours {
                    return Some(next);
                }
                // An interval-like schedule also fires in a fold's second pass, whose wall
                // clock restarts below the time `after` reads.
                match second_pass(fields, after, next, tz) {
                    Some(earlier) if earlier < next => Some(earlier),
                    _ => Some(next),
                }
            }
        }
    }
}

/// The first tick after `after` reading wall-clock times forward from `after`'s.
fn next_calendar(fields: &Fields, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
    let mut local = after.with_timezone(&tz).naive_local();
    for _ in 0..MAX_SKIPPED {
        local = next_local(&fields.parts, local)?;
        // In a fold's second pass, early candidates map before `after`: skip them (or, for
        // an interval-like schedule, take their second instant).
        for instant in place_on_timeline(tz, local, fields.interval_hours) {
            if instant > after {
                return Some(instant);
            }
        }
    }
    None
}

/// When the clock falls back between `after` and `next`, the first tick of the repeated
/// wall-clock times, at their second instants.
fn second_pass(
    fields: &Fields,
    after: DateTime<Utc>,
    next: DateTime<Utc>,
    tz: Tz,
) -> Option<DateTime<Utc>> {
    let offset = |t: DateTime<Utc>| t.with_timezone(&tz).offset().fix().local_minus_utc();
    if offset(next) >= offset(after) {
        return None;
    }
    // Find the transition to the second: the first instant with the later offset.
    let (mut lo, mut hi) = (after, next);
    while hi - lo > chrono::Duration::seconds(1) {
        let mid = lo + (hi - lo) / 2;
        if offset(mid) == offset(after) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let restart = hi.with_timezone(&tz).naive_local() - chrono::Duration::seconds(1);
    let local = next_local(&fields.parts, restart)?;
    let instant = tz.from_local_datetime(&local).latest()?.with_timezone(&Utc);
    (instant > after).then_some(instant)
}

impl FromStr for CronExpr {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

fn invalid(reason: impl Into<String>) -> Error {
    Error::invalid("expression", reason)
}

fn parse_descriptor(descriptor: &str) -> Result<Rule> {
    let lower = descriptor.to_ascii_lowercase();
    if let Some(interval) = lower.strip_prefix("every") {
        let interval = humantime::parse_duration(interval.trim())
            .map_err(|e| invalid(format!("@every needs a duration like 90s or 1h30m: {e}")))?;
        if interval < Duration::from_secs(1) {
            return Err(invalid("@every needs an interval of at least 1s"));
        }
        return Ok(Rule::Every(interval));
    }
    let fields = match lower.as_str() {
        "yearly" | "annually" => "0 0 0 1 1 *",
        "monthly" => "0 0 0 1 * *",
        "weekly" => "0 0 0 * * 0",
        "daily" | "midnight" => "0 0 0 * * *",
        "hourly" => "0 0 * * * *",
        _ => return Err(invalid(format!("unknown descriptor @{descriptor}"))),
    };
    Ok(Rule::Calendar(parse_fields(fields)?))
}

/// The instants at which wall-clock time `local` in `tz` fires: its only instant; in a fold
/// the first of two, or both when `both_passes`; or the end of the gap that skipped it.
fn place_on_timeline(tz: Tz, local: NaiveDateTime, both_passes: bool) -> Vec<DateTime<Utc>> {
    let mapped = tz.from_local_datetime(&local);
    if let Some(first) = mapped.earliest() {
        let mut instants = vec![first.with_timezone(&Utc)];
        if let (true, Some(second)) = (both_passes, mapped.latest()) {
            if second != first {
                instants.push(second.with_timezone(&Utc));
            }
        }
        return instants;
    }
    gap_end(tz, local).into_iter().collect()
}

/// The first instant after the gap that skipped `local`.
fn gap_end(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    // Inside a gap: the first existing wall-clock minute after it is the instant the gap
    // ends. Real gaps start and end on whole minutes and last at most a day.
    let minute = local.with_second(0)?.with_nanosecond(0)?;
    (1..=24 * 60).find_map(|m| {
        let probe = minute + chrono::Duration::minutes(m);
        tz.from_local_datetime(&probe)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    })
}
