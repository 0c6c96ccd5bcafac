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
//!    - a local time repeated by a fall-back fold fires once, at its first occurrence;
//!    - a tick is never earlier than, or equal to, the one before it.
//!
//! Descriptors are accepted too: `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`,
//! `@midnight`, `@hourly`, and `@every <duration>` (e.g. `@every 90s`, `@every 1h30m`).

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use super::weekday::translate_day_of_week;
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
    /// One schedule, or two whose union is the schedule (day-of-month OR day-of-week).
    Calendar(Vec<cron::Schedule>),
    /// A fixed interval from the previous tick.
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
                let step = chrono::Duration::from_std(*interval).ok()?;
                after.checked_add_signed(step)
            }
            Rule::Calendar(schedules) => {
                let mut local = after.with_timezone(&tz).naive_local();
                for _ in 0..MAX_SKIPPED {
                    local = next_local(schedules, local)?;
                    // In a fold's second pass, early candidates map before `after`: skip them.
                    if let Some(instant) = place_on_timeline(tz, local) {
                        if instant > after {
                            return Some(instant);
                        }
                    }
                }
                None
            }
        }
    }
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

/// Splits, normalizes and compiles the fields into one or two `cron` schedules.
fn parse_fields(source: &str) -> Result<Vec<cron::Schedule>> {
    let mut fields: Vec<&str> = source.split_whitespace().collect();
    match fields.len() {
        5 => fields.insert(0, "0"),
        6 => {}
        n => {
            return Err(invalid(format!(
                "expected 5 fields (min hour dom month dow) or 6 (sec min hour dom month dow), got {n}"
            )));
        }
    }
    let [sec, min, hour, dom, month, dow] = [
        fields[0], fields[1], fields[2], fields[3], fields[4], fields[5],
    ];
    // Only a bare `*` or `?` leaves a day field unrestricted (as robfig/cron decides it):
    // `*/2` restricts the day of month to odd days and takes part in the OR.
    let unrestricted = |field: &str| field == "*" || field == "?";
    let dow_translated = translate_day_of_week(dow)?;
    let dom = if unrestricted(dom) { "*" } else { dom };

    let expressions = if !unrestricted(dom) && !unrestricted(dow) {
        // Classic cron ORs the two day fields: the union of two schedules.
        vec![
            format!("{sec} {min} {hour} {dom} {month} *"),
            format!("{sec} {min} {hour} * {month} {dow_translated}"),
        ]
    } else {
        vec![format!("{sec} {min} {hour} {dom} {month} {dow_translated}")]
    };
    expressions
        .iter()
        .map(|e| cron::Schedule::from_str(e).map_err(|err| invalid(format!("`{source}`: {err}"))))
        .collect()
}

/// The earliest wall-clock time after `local` that any of `schedules` matches.
fn next_local(schedules: &[cron::Schedule], local: NaiveDateTime) -> Option<NaiveDateTime> {
    // The crate is only ever asked about UTC, where wall clock and time line agree.
    let as_utc = Utc.from_utc_datetime(&local);
    schedules
        .iter()
        .filter_map(|s| s.after(&as_utc).next())
        .min()
        .map(|t| t.naive_utc())
}

/// The instant at which wall-clock time `local` in `tz` fires: its only instant, the first
/// of two in a fold, or the end of the gap that skipped it.
fn place_on_timeline(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    if let Some(instant) = tz.from_local_datetime(&local).earliest() {
        return Some(instant.with_timezone(&Utc));
    }
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
