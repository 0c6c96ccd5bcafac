//! Exact money arithmetic. `rust_decimal` holds 96 bits of digits (28 significant digits, 29
//! for small leading digits) and its `+`, `-`, `checked_add` and `from_str` round to fit
//! instead of failing: `12345678901234567890.3 + 0.000000000000000001` is
//! `12345678901234567890.3`. Money must never round, so every sum the Store takes goes through
//! [`add`] or [`sub`], which compute on the full 128-bit mantissa at the common scale and refuse
//! a result that cannot be held exactly.
//!
//! The bound, for every amount and every balance:
//! - at most [`MAX_SCALE`](super::checks::MAX_SCALE) (18) decimal places and fewer than
//!   [`MAX_INTEGER_DIGITS`] (20) integer digits (the columns are `NUMERIC(38, 18)`), and
//! - at most 28 significant digits in all (what a `Decimal` holds exactly): 20 integer digits
//!   leave 8 decimals, 10 integer digits leave 18.
//!
//! ```
//! use std::str::FromStr;
//! use rust_decimal::Decimal;
//! use stack_core::store::exact;
//!
//! let d = |s: &str| Decimal::from_str(s).unwrap();
//! assert_eq!(exact::add(d("0.1"), d("0.2")).unwrap(), d("0.3"));
//! // 39 significant digits: refused, where `+` would round the credit away.
//! assert!(exact::add(d("12345678901234567890.3"), d("0.000000000000000001")).is_err());
//! ```

use rust_decimal::Decimal;

use crate::{Error, Result};

/// Integer digits an amount or a balance may have (the columns are `NUMERIC(38, 18)`).
pub const MAX_INTEGER_DIGITS: u32 = 20;

/// `a + b`, exactly.
///
/// # Errors
/// [`Error::Invalid`] on `amount` when the sum cannot be held exactly (see the module docs).
pub fn add(a: Decimal, b: Decimal) -> Result<Decimal> {
    combine(a, b, false).ok_or_else(|| refused(a, b, '+'))
}

/// `a - b`, exactly.
///
/// # Errors
/// [`Error::Invalid`] on `amount` when the difference cannot be held exactly.
pub fn sub(a: Decimal, b: Decimal) -> Result<Decimal> {
    combine(a, b, true).ok_or_else(|| refused(a, b, '-'))
}

/// Whether `value` is within the bound: at most 18 places and at most 20 integer digits.
pub fn in_bounds(value: Decimal) -> bool {
    value.normalize().scale() <= super::checks::MAX_SCALE && value.abs().trunc() < limit()
}

fn limit() -> Decimal {
    // 10^20 is 67 bits: it fits the 96-bit mantissa.
    Decimal::from_i128_with_scale(10i128.pow(MAX_INTEGER_DIGITS), 0)
}

fn refused(a: Decimal, b: Decimal, op: char) -> Error {
    Error::invalid(
        "amount",
        format!(
            "{a} {op} {b} cannot be held exactly (at most 28 significant digits, \
             {} decimal places and {} integer digits)",
            super::checks::MAX_SCALE,
            MAX_INTEGER_DIGITS
        ),
    )
}

fn combine(a: Decimal, b: Decimal, negate: bool) -> Option<Decimal> {
    let scale = a.scale().max(b.scale());
    let (ma, mb) = (rescaled(a, scale)?, rescaled(b, scale)?);
    let m = if negate {
        ma.checked_sub(mb)?
    } else {
        ma.checked_add(mb)?
    };
    let value = from_parts(m, scale)?;
    in_bounds(value).then_some(value)
}

fn rescaled(d: Decimal, scale: u32) -> Option<i128> {
    let factor = 10i128.checked_pow(scale.checked_sub(d.scale())?)?;
    d.mantissa().checked_mul(factor)
}

/// The decimal `m * 10^-scale`, trailing zeros dropped first so that a value that fits once
/// normalized is accepted; `None` when it needs more than 96 bits.
fn from_parts(mut m: i128, mut scale: u32) -> Option<Decimal> {
    while scale > 0 && m % 10 == 0 {
        m /= 10;
        scale -= 1;
    }
    Decimal::try_from_i128_with_scale(m, scale).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    #[test]
    fn sums_that_fit_are_exact() {
        assert_eq!(add(d("0.1"), d("0.2")).unwrap(), d("0.3"));
        assert_eq!(
            add(
                d("1234567890.123456789012345678"),
                d("0.000000000000000001")
            )
            .unwrap(),
            d("1234567890.123456789012345679")
        );
        assert_eq!(sub(d("10"), d("10")).unwrap(), Decimal::ZERO);
        assert_eq!(sub(d("1"), d("3")).unwrap(), d("-2"));
        assert_eq!(
            add(d("99999999999999999999"), d("0")).unwrap(),
            d("99999999999999999999")
        );
    }

    #[test]
    fn sums_that_would_round_are_refused() {
        // `+` rounds this to the left operand.
        let (a, b) = (d("12345678901234567890.3"), d("0.000000000000000001"));
        assert_eq!(
            a + b,
            a,
            "rust_decimal rounds: the reason this module exists"
        );
        let err = add(a, b).unwrap_err();
        assert!(
            matches!(&err, Error::Invalid { field, .. } if field == "amount"),
            "{err}"
        );
        assert!(sub(a, b).is_err());
        // 19 decimal places.
        assert!(add(d("1234567890.1234567890123456789"), d("1")).is_err());
    }

    #[test]
    fn sums_past_twenty_integer_digits_are_refused() {
        assert!(add(d("99999999999999999999"), d("1")).is_err());
        assert!(sub(d("-99999999999999999999"), d("1")).is_err());
        assert!(add(Decimal::MAX, Decimal::MAX).is_err());
        assert!(sub(Decimal::MIN, Decimal::MAX).is_err());
    }
}
