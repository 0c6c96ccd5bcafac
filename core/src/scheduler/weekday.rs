//! Day-of-week translation from classic cron numbering (0 or 7 = Sunday, 1 = Monday) to the
//! `cron` crate's (1 = Sunday, 7 = Saturday).
//!
//! The field is expanded into the set of days it names (lists, ranges, steps, names) and
//! written back as an explicit list, which sidesteps every difference in how the two number
//! ranges and steps.

use crate::{Error, Result};

const NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// Rewrites a classic day-of-week field for the `cron` crate; `*` and `?` become `*`.
///
/// # Errors
/// [`Error::Invalid`] with field `expression` naming the bad part of the field.
pub(super) fn translate_day_of_week(field: &str) -> Result<String> {
    if field == "*" || field == "?" {
        return Ok("*".to_owned());
    }
    let mut days = [false; 7];
    for part in field.split(',') {
        for day in expand(part)? {
            days[day % 7] = true;
        }
    }
    if days.iter().all(|d| *d) {
        return Ok("*".to_owned());
    }
    let crate_numbers: Vec<String> = (0..7)
        .filter(|d| days[*d])
        .map(|d| (d + 1).to_string())
        .collect();
    Ok(crate_numbers.join(","))
}

fn bad(part: &str, why: &str) -> Error {
    Error::invalid("expression", format!("day-of-week `{part}`: {why}"))
}

/// The classic day numbers (0..=7) one comma-separated part names.
fn expand(part: &str) -> Result<Vec<usize>> {
    let (range, step) = match part.split_once('/') {
        Some((range, step)) => {
            let step: usize = step
                .parse()
                .map_err(|_| bad(part, "step is not a number"))?;
            if step == 0 {
                return Err(bad(part, "step must be at least 1"));
            }
            (range, step)
        }
        None => (part, 1),
    };
    let (first, last) = if range == "*" || range == "?" {
        (0, 6)
    } else if let Some((a, b)) = range.split_once('-') {
        (day(a, part)?, day(b, part)?)
    } else {
        let only = day(range, part)?;
        // `5/2` means "from Friday, every second day" in robfig/cron.
        (only, if step > 1 { 6.max(only) } else { only })
    };
    if first > last {
        return Err(bad(part, "range runs backwards"));
    }
    Ok((first..=last).step_by(step).collect())
}

fn day(token: &str, part: &str) -> Result<usize> {
    if let Some(index) = NAMES.iter().position(|n| n.eq_ignore_ascii_case(token)) {
        return Ok(index);
    }
    match token.parse::<usize>() {
        Ok(n) if n <= 7 => Ok(n),
        Ok(_) => Err(bad(part, "days run from 0 to 7 (0 and 7 are Sunday)")),
        Err(_) => Err(bad(part, "expected a number 0-7 or a name SUN-SAT")),
    }
}
