//! The traps of the `cron` crate this module wraps, one test each, plus the time-zone policy.

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::*;
use crate::ErrorKind;

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

fn next(expr: &str, after: DateTime<Utc>) -> DateTime<Utc> {
    CronExpr::parse(expr)
        .unwrap()
        .next_after(after, chrono_tz::UTC)
        .unwrap()
}

fn ticks(expr: &str, tz: Tz, from: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
    let expr = CronExpr::parse(expr).unwrap();
    let mut out = Vec::new();
    let mut at = from;
    for _ in 0..n {
        at = expr.next_after(at, tz).unwrap();
        out.push(at);
    }
    out
}

// 2026-11-25 is a Wednesday.
const WED: (i32, u32, u32) = (2026, 11, 25);

#[test]
fn five_fields_are_accepted_with_seconds_zero() {
    assert_eq!(
        next("*/15 * * * *", utc(2026, 11, 25, 10, 7, 30)),
        utc(2026, 11, 25, 10, 15, 0)
    );
    // Six fields put seconds first, as robfig/cron with seconds does.
    assert_eq!(
        next("30 */15 * * * *", utc(2026, 11, 25, 10, 7, 30)),
        utc(2026, 11, 25, 10, 15, 30)
    );
}

#[test]
fn sunday_is_zero_or_seven_and_monday_is_one() {
    let wed = utc(WED.0, WED.1, WED.2, 12, 0, 0);
    assert_eq!(next("0 0 * * 0", wed), utc(2026, 11, 29, 0, 0, 0));
    assert_eq!(next("0 0 * * 7", wed), utc(2026, 11, 29, 0, 0, 0));
    assert_eq!(next("0 0 * * 1", wed), utc(2026, 11, 30, 0, 0, 0));
    assert_eq!(next("0 0 * * 6", wed), utc(2026, 11, 28, 0, 0, 0));
    // Names pass through with their own meaning.
    assert_eq!(next("0 0 * * sun", wed), utc(2026, 11, 29, 0, 0, 0));
    assert_eq!(next("0 0 * * MON", wed), utc(2026, 11, 30, 0, 0, 0));
    // Ranges and steps in classic numbering: 5-7 is Friday to Sunday.
    assert_eq!(
        ticks("0 0 * * 5-7", chrono_tz::UTC, wed, 3),
        vec![
            utc(2026, 11, 27, 0, 0, 0),
            utc(2026, 11, 28, 0, 0, 0),
            utc(2026, 11, 29, 0, 0, 0)
        ]
    );
    assert_eq!(
        ticks("0 0 * * MON-FRI", chrono_tz::UTC, wed, 3),
        vec![
            utc(2026, 11, 26, 0, 0, 0),
            utc(2026, 11, 27, 0, 0, 0),
            utc(2026, 11, 30, 0, 0, 0)
        ]
    );
    // */2 is Sun, Tue, Thu, Sat.
    assert_eq!(
        ticks("0 0 * * */2", chrono_tz::UTC, wed, 3),
        vec![
            utc(2026, 11, 26, 0, 0, 0),
            utc(2026, 11, 28, 0, 0, 0),
            utc(2026, 11, 29, 0, 0, 0)
        ]
    );
}

#[test]
fn day_of_month_or_day_of_week_when_both_are_restricted() {
    // The 1st of the month OR any Monday.
    let got = ticks("0 0 1 * 1", chrono_tz::UTC, utc(2026, 11, 25, 12, 0, 0), 3);
    assert_eq!(
        got,
        vec![
            utc(2026, 11, 30, 0, 0, 0),
            utc(2026, 12, 1, 0, 0, 0),
            utc(2026, 12, 7, 0, 0, 0)
        ]
    );
    // With one field unrestricted, the other alone decides.
    assert_eq!(
        next("0 0 1 * *", utc(2026, 11, 25, 0, 0, 0)),
        utc(2026, 12, 1, 0, 0, 0)
    );
    assert_eq!(
        next("0 0 ? * 1", utc(2026, 11, 25, 0, 0, 0)),
        utc(2026, 11, 30, 0, 0, 0)
    );
}

#[test]
fn a_stepped_day_of_month_is_kept() {
    // Every other day of the month (1, 3, 5, ...), not every day.
    let got = ticks(
        "0 0 */2 * *",
        chrono_tz::UTC,
        utc(2026, 11, 25, 12, 0, 0),
        4,
    );
    assert_eq!(
        got,
        vec![
            utc(2026, 11, 27, 0, 0, 0),
            utc(2026, 11, 29, 0, 0, 0),
            utc(2026, 12, 1, 0, 0, 0),
            utc(2026, 12, 3, 0, 0, 0)
        ]
    );
    // Every fifth day (1, 6, 11, ...) OR any Monday: the stepped field joins the OR.
    let got = ticks(
        "0 0 */5 * MON",
        chrono_tz::UTC,
        utc(2026, 11, 25, 12, 0, 0),
        4,
    );
    assert_eq!(
        got,
        vec![
            utc(2026, 11, 26, 0, 0, 0),
            utc(2026, 11, 30, 0, 0, 0),
            utc(2026, 12, 1, 0, 0, 0),
            utc(2026, 12, 6, 0, 0, 0)
        ]
    );
}

#[test]
fn fall_back_fold_fires_a_fixed_hour_once_and_an_interval_in_both_passes() {
    let ny: Tz = "America/New_York".parse().unwrap();
    // 2026-11-01: 02:00 EDT becomes 01:00 EST; 01:30 happens twice. A fixed hour fires once.
    let got = ticks("0 30 1 * * *", ny, utc(2026, 11, 1, 0, 0, 0), 2);
    assert_eq!(
        got,
        vec![utc(2026, 11, 1, 5, 30, 0), utc(2026, 11, 2, 6, 30, 0)]
    );

    // Every 15 minutes (a stepped hour: interval-like) fires in both passes, in order.
    let got = ticks("0 */15 * * * *", ny, utc(2026, 11, 1, 4, 50, 0), 10);
    let want: Vec<_> = (0..9)
        .map(|i| utc(2026, 11, 1, 5, 0, 0) + chrono::Duration::minutes(15 * i))
        .collect();
    assert_eq!(
        got[..9],
        want[..],
        "05:00Z (01:00 EDT) .. 06:45Z (01:45 EST) .. 07:00Z (02:00 EST)"
    );
    assert!(got.windows(2).all(|w| w[0] < w[1]), "{got:?}");

    // Starting inside the second pass continues the second pass.
    assert_eq!(
        CronExpr::parse("0 */15 * * * *")
            .unwrap()
            .next_after(utc(2026, 11, 1, 6, 10, 0), ny),
        Some(utc(2026, 11, 1, 6, 15, 0))
    );
    // @hourly has a wildcard hour: 01:00 fires in both passes.
    let got = ticks("@hourly", ny, utc(2026, 11, 1, 4, 30, 0), 3);
    assert_eq!(
        got,
        vec![
            utc(2026, 11, 1, 5, 0, 0),
            utc(2026, 11, 1, 6, 0, 0),
            utc(2026, 11, 1, 7, 0, 0)
        ]
    );
}

#[test]
fn every_is_aligned_to_the_unix_epoch() {
    let expr = CronExpr::parse("@every 90s").unwrap();
    // Two instances started at different moments compute the same ticks.
    let a = expr
        .next_after(utc(2026, 11, 25, 10, 0, 7), chrono_tz::UTC)
        .unwrap();
    let b = expr
        .next_after(utc(2026, 11, 25, 10, 0, 59), chrono_tz::UTC)
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(a.timestamp() % 90, 0);
    // A tick exactly on a multiple moves to the next one: no drift, no repeat.
    let next = expr.next_after(a, chrono_tz::UTC).unwrap();
    assert_eq!(next - a, chrono::Duration::seconds(90));
}

#[test]
fn last_day_and_nth_weekday_rules() {
    // L: month-end settlement, 28, 29, 30 or 31.
    let got = ticks("0 18 L * *", chrono_tz::UTC, utc(2028, 1, 15, 0, 0, 0), 4);
    assert_eq!(
        got,
        vec![
            utc(2028, 1, 31, 18, 0, 0),
            utc(2028, 2, 29, 18, 0, 0),
            utc(2028, 3, 31, 18, 0, 0),
            utc(2028, 4, 30, 18, 0, 0)
        ]
    );
    // 5L: the last Friday; FRI#2: the second Friday.
    assert_eq!(
        next("0 0 * * 5L", utc(2026, 11, 1, 0, 0, 0)),
        utc(2026, 11, 27, 0, 0, 0)
    );
    assert_eq!(
        next("0 0 * * FRI#2", utc(2026, 11, 1, 0, 0, 0)),
        utc(2026, 11, 13, 0, 0, 0)
    );
    // L OR Monday, since both day fields are restricted.
    let got = ticks(
        "0 0 L * MON",
        chrono_tz::UTC,
        utc(2026, 11, 25, 12, 0, 0),
        2,
    );
    assert_eq!(
        got,
        vec![utc(2026, 11, 30, 0, 0, 0), utc(2026, 12, 7, 0, 0, 0)]
    );
    for bad in [
        "0 0 L-2 * *",
        "0 0 * * 1,5L",
        "0 0 * * FRI#6",
        "0 0 * * 1-5#2",
    ] {
        assert!(CronExpr::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn spring_forward_gap_fires_at_the_end_of_the_gap() {
    let ny: Tz = "America/New_York".parse().unwrap();
    // 2026-03-08: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist.
    let got = ticks("0 30 2 * * *", ny, utc(2026, 3, 7, 12, 0, 0), 2);
    assert_eq!(
        got,
        vec![utc(2026, 3, 8, 7, 0, 0), utc(2026, 3, 9, 6, 30, 0)]
    );
    // Two skipped times in one gap fire once, at the gap's end.
    let got = ticks("0 15,45 2 * * *", ny, utc(2026, 3, 8, 6, 0, 0), 2);
    assert_eq!(
        got,
        vec![utc(2026, 3, 8, 7, 0, 0), utc(2026, 3, 9, 6, 15, 0)]
    );
}

#[test]
fn descriptors_and_every() {
    assert_eq!(
        next("@daily", utc(2026, 11, 25, 10, 0, 0)),
        utc(2026, 11, 26, 0, 0, 0)
    );
    assert_eq!(
        next("@weekly", utc(2026, 11, 25, 10, 0, 0)),
        utc(2026, 11, 29, 0, 0, 0)
    );
    assert_eq!(
        next("@hourly", utc(2026, 11, 25, 10, 0, 0)),
        utc(2026, 11, 25, 11, 0, 0)
    );
    // 10:00:00 is 1,795,600,800 s after the epoch, a multiple of 90: the next is 90 s on.
    assert_eq!(
        next("@every 90s", utc(2026, 11, 25, 10, 0, 0)),
        utc(2026, 11, 25, 10, 1, 30)
    );
}

#[test]
fn bad_expressions_are_invalid_and_say_why() {
    for bad in [
        "* * * *",
        "0 0 0 1 1 * 2030",
        "61 * * * *",
        "0 0 * * 8",
        "0 0 * * FUNDAY",
        "0 0 * * 5-2",
        "@every 0s",
        "@fortnightly",
        "0 0 * * */0",
    ] {
        let err = CronExpr::parse(bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{bad}: {err}");
        assert!(
            matches!(&err, crate::Error::Invalid { field, .. } if field == "expression"),
            "{bad}"
        );
    }
    let err = ScheduleSpec::new("x", "* * * * *", "t")
        .timezone("Mars/Olympus")
        .validate()
        .unwrap_err();
    assert!(
        matches!(&err, crate::Error::Invalid { field, .. } if field == "timezone"),
        "{err}"
    );
    let err = ScheduleSpec::new("bad name", "* * * * *", "t")
        .validate()
        .unwrap_err();
    assert!(
        matches!(&err, crate::Error::Invalid { field, .. } if field == "name"),
        "{err}"
    );
}
