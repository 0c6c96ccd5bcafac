//! The request bodies that are the same in both versions, and their checks: each turns a
//! body into the Store's input or flags every bad field.

use poem_openapi::Object;
use rust_decimal::Decimal;
use stack_core::store::{NewUser, NewWallet};
use uuid::Uuid;

use super::field::{Checks, Field};
use super::rules::{Chain, Email, Name, Phone, Visible};
use super::states::OnboardingStatus;
use crate::http::api_error::pointer;

/// What the field check of an amount expects.
const AMOUNT_TEXT: &str = "a decimal string such as \"12.5\" (JSON numbers are refused: \
     they cannot carry every amount exactly)";

/// A new user.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct CreateUser {
    /// An email address (`name@example.com`), at most 254 characters; unique, compared
    /// without case.
    pub email: Field<String, Email>,
    /// An E.164 phone number (`+14155550100`), or null.
    pub phone: Field<Option<String>, Phone>,
    /// The user's name, 1 to 200 characters.
    pub full_name: Field<String, Name>,
}

impl CreateUser {
    /// The Store's input, or `None` with every bad field flagged in `checks`.
    pub fn check(self, checks: &mut Checks) -> Option<NewUser> {
        let email = checks.take("/email", self.email, "a string");
        let phone = checks.take("/phone", self.phone, "a string or null");
        let full_name = checks.take("/full_name", self.full_name, "a string");
        let user = NewUser {
            email: email.unwrap_or_default(),
            phone: phone.flatten(),
            full_name: full_name.unwrap_or_default(),
        };
        checks.domain(user.checked_all(), pointer)
    }
}

/// A new deposit address of a user.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct CreateWallet {
    /// The chain (`ethereum`, `bitcoin`): 1 to 32 letters, digits or `-`.
    pub chain: Field<String, Chain>,
    /// The address on that chain: 1 to 128 visible ASCII characters (on an EVM chain
    /// `0x` and 40 hex digits); unique per chain.
    pub address: Field<String, Visible>,
}

impl CreateWallet {
    /// The Store's input for `user_id`, or `None` with every bad field flagged.
    pub fn check(self, user_id: Uuid, checks: &mut Checks) -> Option<NewWallet> {
        let chain = checks.take("/chain", self.chain, "a string");
        let address = checks.take("/address", self.address, "a string");
        let wallet = NewWallet {
            user_id,
            chain: chain.unwrap_or_default(),
            address: address.unwrap_or_default(),
        };
        checks.domain(wallet.checked_all(), pointer)
    }
}

/// A move of an onboarding flow.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct Transition {
    /// The state to move to; only the documented transitions are allowed.
    pub status: OnboardingStatus,
}

/// The exact decimal in `text`, or `None` after flagging `relative`: only plain decimal
/// notation (`12.5`, no exponent, sign or spaces) that a `Decimal` holds without rounding.
pub fn amount<R>(checks: &mut Checks, relative: &str, field: Field<String, R>) -> Option<Decimal> {
    let text = checks.take(relative, field, AMOUNT_TEXT)?;
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let whole_digits = whole.strip_prefix('-').unwrap_or(whole);
    if !digits(whole_digits) || !digits(fraction) {
        checks.flag(
            relative,
            "must be a plain decimal number such as \"12.5\" (no exponent, `+` or spaces)",
        );
        return None;
    }
    match Decimal::from_str_exact(&text) {
        Ok(value) => Some(value),
        Err(_) => {
            checks.flag(
                relative,
                "cannot be held exactly: at most 20 integer digits, 18 decimal places and \
                 28 significant digits",
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Field<String> {
        Field::new(Ok(s.to_owned()))
    }

    #[test]
    fn amounts_are_plain_exact_decimals() {
        let mut checks = Checks::new();
        assert_eq!(
            amount(&mut checks, "/amount", text("12.50")),
            Some(Decimal::new(1250, 2))
        );
        for bad in [
            "1e5",
            "+1",
            " 1",
            "1.",
            ".5",
            "",
            "12345678901234567890123456789012345678",
        ] {
            let mut checks = Checks::new();
            assert_eq!(amount(&mut checks, "/amount", text(bad)), None, "{bad}");
            assert_eq!(checks.into_errors()[0].pointer, "/amount");
        }
    }
}
