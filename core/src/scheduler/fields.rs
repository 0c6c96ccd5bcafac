//! The five or six fields of a calendar expression, compiled into `cron` schedules plus the
//! day rules the crate lacks: `L` (last day of the month) in day-of-month, and `5L` (last
//! Friday) or `FRI#2` (second Friday) in day-of-week.

use std::str::FromStr;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};

use super::weekday::translate_day_of_week;
use crate::{Error, Result};

/// How many days a day rule may reject in a row before the schedule counts as never firing
/// (a rule always matches within a few months).
const MAX_REJECTED_DAYS: usize = 3_000;

/// A day rule the `cron` crate cannot express, applied to the days it generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DayRule {
    /// Every day the fields match.
    Any,
    /// The last day of the month (`L`).
    LastOfMonth,
    /// The last such weekday of the month (`5L`).
    LastWeekdayOfMonth,
    /// The n-th such weekday of the month (`FRI#2`), n in 1..=5.
    NthWeekdayOfMonth(u32),
}

impl DayRule {
    fn accepts(self, day: NaiveDate) -> bool {
        match self {
            Self::Any => true,
            Self::LastOfMonth => day
                .succ_opt()
                .is_none_or(|next| next.month() != day.month()),
            Self::LastWeekdayOfMonth => (day + Duration::days(7)).month() != day.month(),
            Self::NthWeekdayOfMonth(n) => (day.day() - 1) / 7 + 1 == n,
        }
    }
}

/// One `cron` schedule and the day rule its days must pass.
#[derive(Debug, Clone)]
pub(super) struct Part {
    schedule: cron::Schedule,
    rule: DayRule,
}

/// A compiled calendar expression: one part, or two whose union is the schedule
/// (day-of-month OR day-of-week), and whether its hour field is a wildcard or a step (such
/// schedules are interval-like and fire in both passes of a daylight-saving fold).
#[derive(Debug, Clone)]
pub(super) struct Fields {
    pub(super) parts: Vec<Part>,
    pub(super) interval_hours: bool,
}

fn invalid(reason: impl Into<String>) -> Error {
    Error::invalid("expression", reason)
}

/// Splits `L` off a day-of-month field.
fn day_of_month(dom: &str) -> Result<(&str, DayRule)> {
    if dom.eq_ignore_ascii_case("L") {
        return Ok(("28-31", DayRule::LastOfMonth));
    }
    if dom.contains(['L', 'l']) {
        return Err(invalid(format!(
            "day-of-month `{dom}`: `L` must stand alone"
        )));
    }
    Ok((dom, DayRule::Any))
}

/// Splits `5L` or `FRI#2` off a day-of-week field; the day must be a single value.
fn day_of_week(dow: &str) -> Result<(&str, DayRule)> {
    let single = |day: &str| !day.is_empty() && !day.contains([',', '-', '/', '*', '?']);
    if let Some((day, nth)) = dow.split_once('#') {
        let n: u32 = nth
            .parse()
            .map_err(|_| invalid(format!("day-of-week `{dow}`: # takes 1 to 5")))?;
        if !(1..=5).contains(&n) || !single(day) {
            return Err(invalid(format!(
                "day-of-week `{dow}`: write one day and # 1 to 5, like FRI#2"
            )));
        }
        return Ok((day, DayRule::NthWeekdayOfMonth(n)));
    }
    if let Some(day) = dow.strip_suffix(['L', 'l']) {
        if !single(day) {
            return Err(invalid(format!(
                "day-of-week `{dow}`: write one day before L, like 5L"
            )));
        }
        return Ok((day, DayRule::LastWeekdayOfMonth));
    }
    Ok((dow, DayRule::Any))
}

/// Compiles the fields of `source` (5 fields, or 6 with seconds first).
pub(super) fn parse_fields(source: &str) -> Result<Fields> {
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
    let (dom_field, dom_rule) = day_of_month(dom)?;
    let (dow_field, dow_rule) = day_of_week(dow)?;
    let dow_translated = translate_day_of_week(dow_field)?;
    let dom_field = if unrestricted(dom_field) {
        "*"
    } else {
        dom_field
    };
    let compile = |e: String, rule: DayRule| {
        cron::Schedule::from_str(&e)
            .map(|schedule| Part { schedule, rule })
            .map_err(|err| invalid(format!("`{source}`: {err}")))
    };
    let parts = if !unrestricted(dom) && !unrestricted(dow) {
        // Classic cron ORs the two day fields: the union of two schedules.
        vec![
            compile(
                format!("{sec} {min} {hour} {dom_field} {month} *"),
                dom_rule,
            )?,
            compile(
                format!("{sec} {min} {hour} * {month} {dow_translated}"),
                dow_rule,
            )?,
        ]
    } else {
        let rule = if dom_rule == DayRule::Any {
            dow_rule
        } else {
            dom_rule
        };
        vec![compile(
            format!("{sec} {min} {hour} {dom_field} {month} {dow_translated}"),
            rule,
        )?]
    };
    Ok(Fields {
        parts,
        interval_hours: hour.starts_with('*') || hour.contains('/'),
    })
}

/// The earliest wall-clock time after `local` that any part matches.
pub(super) fn next_local(parts: &[Part], local: NaiveDateTime) -> Option<NaiveDateTime> {
    parts.iter().filter_map(|part| next_of(part, local)).min()
}

fn next_of(part: &Part, local: NaiveDateTime) -> Option<NaiveDateTime> {
    // The crate is only ever asked about UTC, where wall clock and time line agree.
    let mut from = Utc.from_utc_datetime(&local);
    for _ in 0..MAX_REJECTED_DAYS {
        let candidate = part.schedule.after(&from).next()?;
        let day = candidate.date_naive();
        if part.rule.accepts(day) {
            return Some(candidate.naive_utc());
        }
        // The whole day is rejected: continue from its last second.
        let end_of_day = day.succ_opt()?.and_hms_opt(0, 0, 0)? - Duration::seconds(1);
        from = Utc.from_utc_datetime(&end_of_day);
    }
    None
}
