//! Input checks of the Store, applied once by every backend before anything is written; each
//! returns the normalized input (an email lowercased, a chain trimmed) or a typed error that
//! names the field.

use rust_decimal::Decimal;

use super::model::{NewDebit, NewDeposit, NewUser, NewWallet};
use crate::{Error, Result};

/// The most decimal places an amount may carry (the columns hold 18).
pub const MAX_SCALE: u32 = 18;

fn text(field: &str, value: &str, max: usize) -> Result<String> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max {
        return Err(Error::invalid(
            field,
            format!("must be 1 to {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(value.to_owned())
}

fn visible_ascii(field: &str, value: &str, max: usize) -> Result<String> {
    let value = text(field, value, max)?;
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::invalid(
            field,
            "must be visible ASCII without spaces",
        ));
    }
    Ok(value)
}

fn chain(value: &str) -> Result<String> {
    let value = text("chain", value, 32)?.to_ascii_lowercase();
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(Error::invalid("chain", "must be letters, digits or `-`"));
    }
    Ok(value)
}

/// An asset code: 2-12 uppercase letters or digits (`USDC`, `BTC`).
///
/// # Errors
/// [`Error::Invalid`] on `asset`.
pub fn asset(value: &str) -> Result<String> {
    let value = value.trim().to_ascii_uppercase();
    let ok = (2..=12).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(value)
    } else {
        Err(Error::invalid("asset", "must be 2 to 12 letters or digits"))
    }
}

/// A positive amount with at most [`MAX_SCALE`] decimal places and 20 integer digits.
///
/// # Errors
/// [`Error::Invalid`] on `amount`.
pub fn amount(value: Decimal) -> Result<Decimal> {
    if value <= Decimal::ZERO {
        return Err(Error::invalid("amount", "must be positive"));
    }
    if value.normalize().scale() > MAX_SCALE {
        return Err(Error::invalid(
            "amount",
            format!("must have at most {MAX_SCALE} decimal places"),
        ));
    }
    if value.trunc() >= Decimal::from(10u64.pow(19)) * Decimal::TEN {
        return Err(Error::invalid("amount", "must be below 10^20"));
    }
    Ok(value.normalize())
}

impl NewUser {
    /// The user to store: email trimmed and lowercased, phone in E.164, name 1-200
    /// characters.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `email`, `phone` or `full_name`.
    pub fn checked(&self) -> Result<Self> {
        let email = text("email", &self.email, 254)?.to_lowercase();
        let valid_email = email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !email.contains(' ')
        });
        if !valid_email {
            return Err(Error::invalid(
                "email",
                "must be an address like name@example.com",
            ));
        }
        let phone = match &self.phone {
            None => None,
            Some(phone) => {
                let phone = phone.trim();
                let digits = phone.strip_prefix('+').unwrap_or("");
                if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(Error::invalid(
                        "phone",
                        "must be E.164: + and 8 to 15 digits",
                    ));
                }
                Some(phone.to_owned())
            }
        };
        Ok(Self {
            email,
            phone,
            full_name: text("full_name", &self.full_name, 200)?,
        })
    }
}

impl NewWallet {
    /// The wallet to store: chain lowercased, address visible ASCII.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `chain` or `address`.
    pub fn checked(&self) -> Result<Self> {
        Ok(Self {
            user_id: self.user_id,
            chain: chain(&self.chain)?,
            address: visible_ascii("address", &self.address, 128)?,
        })
    }
}

impl NewDeposit {
    /// The deposit to store.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `chain`, `tx_hash`, `asset` or `amount`.
    pub fn checked(&self) -> Result<Self> {
        Ok(Self {
            user_id: self.user_id,
            chain: chain(&self.chain)?,
            tx_hash: visible_ascii("tx_hash", &self.tx_hash, 128)?,
            asset: asset(&self.asset)?,
            amount: amount(self.amount)?,
        })
    }
}

impl NewDebit {
    /// The debit to apply.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `asset`, `amount` or `reference`.
    pub fn checked(&self) -> Result<Self> {
        Ok(Self {
            user_id: self.user_id,
            asset: asset(&self.asset)?,
            amount: amount(self.amount)?,
            reference: visible_ascii("reference", &self.reference, 128)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn amounts_are_positive_exact_and_bounded() {
        assert_eq!(
            amount(Decimal::from_str("1.50").unwrap())
                .unwrap()
                .to_string(),
            "1.5"
        );
        assert!(amount(Decimal::ZERO).is_err());
        assert!(amount(Decimal::from_str("-1").unwrap()).is_err());
        assert!(amount(Decimal::from_str("0.0000000000000000001").unwrap()).is_err());
        assert!(amount(Decimal::from_str("100000000000000000000").unwrap()).is_err());
    }

    #[test]
    fn users_are_normalized_or_refused_by_field() {
        let user = NewUser {
            email: " Ana@Example.COM ".into(),
            phone: Some("+14155550100".into()),
            full_name: "Ana".into(),
        };
        assert_eq!(user.checked().unwrap().email, "ana@example.com");
        let bad = NewUser {
            email: "nope".into(),
            ..user.clone()
        };
        assert!(matches!(bad.checked(), Err(Error::Invalid { field, .. }) if field == "email"));
        let bad = NewUser {
            phone: Some("555".into()),
            ..user
        };
        assert!(matches!(bad.checked(), Err(Error::Invalid { field, .. }) if field == "phone"));
    }
}
