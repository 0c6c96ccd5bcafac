//! Input checks of the Store, applied once by every backend before anything is written; each
//! returns the normalized input (an email lowercased, a chain trimmed) or a typed error that
//! names the field.

use rust_decimal::Decimal;

use super::model::{NewAuditLog, NewDebit, NewDeposit, NewUser, NewWallet};
use crate::{Error, Result};

mod chains;

pub use chains::{
    ASSET_DECIMALS, BARE_HEX_CHAINS, BASE58_CHAINS, CHAIN_DECIMALS, EVM_CHAINS, address, decimals,
    fits, supported, supported_chains,
};

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
    let value = text("chain", value, 32)?;
    supported(&value)
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

/// A positive amount with at most [`MAX_SCALE`] decimal places and at most 20 integer
/// digits (the bound of [`exact`](super::exact)). A `Decimal` is exact by construction; text
/// from outside must be parsed with `Decimal::from_str_exact`, which refuses what would round.
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
    if !super::exact::in_bounds(value) {
        return Err(Error::invalid("amount", "must be below 10^20"));
    }
    Ok(value.normalize())
}

/// EVM chains: a transaction hash is `0x` and 64 hex digits; stored as `0x` and lowercase
/// hex whether it came with `0x`, `0X` or none.
pub const EVM_HASH_CHAINS: &[&str] = EVM_CHAINS;

/// Chains whose transaction ids are bare hex: stored lowercase without any `0x`.
pub const BARE_HEX_HASH_CHAINS: &[&str] = BARE_HEX_CHAINS;

/// Chains whose transaction hashes are in a case-sensitive encoding (base58): their case is
/// kept even when a hash happens to look like hex.
pub const CASE_SENSITIVE_HASH_CHAINS: &[&str] = BASE58_CHAINS;

/// The hex digits of `value` without a `0x`/`0X` prefix, when it is hex.
fn hex_digits(value: &str) -> Option<&str> {
    let digits = value
        .strip_prefix("0x")
        .or_else(|| value.strip_prefix("0X"))
        .unwrap_or(value);
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_hexdigit())).then_some(digits)
}

/// A transaction hash on `chain` (already normalized by the chain check), in the one spelling
/// each transaction has, so that a feed that changes case or drops the prefix cannot record
/// (and credit) one transaction twice:
/// - on [`EVM_HASH_CHAINS`]: `0x` and lowercase hex;
/// - on [`BARE_HEX_HASH_CHAINS`]: lowercase hex without `0x`;
/// - on [`CASE_SENSITIVE_HASH_CHAINS`]: as given;
/// - elsewhere: a hash made only of hex digits (after an optional `0x`) is lowercased, its
///   prefix kept as given; any other hash is kept as given (a base58 or base64 hash of useful
///   length is never all hex digits).
///
/// # Errors
/// [`Error::Invalid`] on `tx_hash`: empty, too long, not visible ASCII, or not hex on a hex
/// chain.
pub fn tx_hash(chain: &str, value: &str) -> Result<String> {
    let value = visible_ascii("tx_hash", value, 128)?;
    if CASE_SENSITIVE_HASH_CHAINS.contains(&chain) {
        return Ok(value);
    }
    let evm = EVM_HASH_CHAINS.contains(&chain);
    let bare = BARE_HEX_HASH_CHAINS.contains(&chain);
    match hex_digits(&value) {
        Some(digits) if evm => Ok(format!("0x{}", digits.to_ascii_lowercase())),
        Some(digits) if bare => Ok(digits.to_ascii_lowercase()),
        Some(_) => Ok(value.to_ascii_lowercase()),
        None if evm || bare => Err(Error::invalid("tx_hash", format!("must be hex on {chain}"))),
        None => Ok(value),
    }
}

/// An email address: trimmed, lowercased, `local@domain.tld`, at most 254 characters.
///
/// # Errors
/// [`Error::Invalid`] on `email`.
pub fn email(value: &str) -> Result<String> {
    let email = text("email", value, 254)?.to_lowercase();
    let valid = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.contains('@')
            && !email.contains(char::is_whitespace)
    });
    if valid {
        Ok(email)
    } else {
        Err(Error::invalid(
            "email",
            "must be an address like name@example.com",
        ))
    }
}

/// An E.164 phone number: `+` and 8 to 15 digits.
///
/// # Errors
/// [`Error::Invalid`] on `phone`.
pub fn phone(value: &str) -> Result<String> {
    let phone = value.trim();
    let digits = phone.strip_prefix('+').unwrap_or("");
    if (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(phone.to_owned())
    } else {
        Err(Error::invalid(
            "phone",
            "must be E.164: + and 8 to 15 digits",
        ))
    }
}

/// Keeps the value of `result`, or records its error in `errors`.
fn keep<T>(result: Result<T>, errors: &mut Vec<Error>) -> Option<T> {
    result.map_err(|e| errors.push(e)).ok()
}

/// The first of `errors` (the single-error form of a `checked_all`).
fn first(errors: Vec<Error>) -> Error {
    errors
        .into_iter()
        .next()
        .unwrap_or_else(|| Error::invalid("input", "is invalid"))
}

/// `amount` when it fits `asset`'s decimal places on `chain` ([`fits`]); a problem
/// otherwise (both already checked, `None` when either was bad).
fn fitting(
    chain: Option<&str>,
    asset: Option<&str>,
    amount: Option<Decimal>,
    bad: &mut Vec<Error>,
) -> Option<Decimal> {
    match (asset, amount) {
        (Some(asset), Some(amount)) => keep(fits(chain, asset, amount).map(|()| amount), bad),
        (_, amount) => amount,
    }
}

impl NewUser {
    /// The user to store: email trimmed and lowercased, phone in E.164, name 1-200
    /// characters; or every problem of the input, one error per bad field.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `email`, `phone` or `full_name`, one per bad field.
    pub fn checked_all(&self) -> std::result::Result<Self, Vec<Error>> {
        let mut bad = Vec::new();
        let email = keep(email(&self.email), &mut bad);
        let phone = match &self.phone {
            None => Some(None),
            Some(value) => keep(phone(value), &mut bad).map(Some),
        };
        let full_name = keep(text("full_name", &self.full_name, 200), &mut bad);
        match (email, phone, full_name) {
            (Some(email), Some(phone), Some(full_name)) => Ok(Self {
                email,
                phone,
                full_name,
            }),
            _ => Err(bad),
        }
    }

    /// As [`NewUser::checked_all`], with the first problem only.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `email`, `phone` or `full_name`.
    pub fn checked(&self) -> Result<Self> {
        self.checked_all().map_err(first)
    }
}

impl NewWallet {
    /// The wallet to store: chain lowercased, address checked per chain ([`address`]); or
    /// every problem.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `chain` or `address`, one per bad field.
    pub fn checked_all(&self) -> std::result::Result<Self, Vec<Error>> {
        let mut bad = Vec::new();
        let chain = keep(chain(&self.chain), &mut bad);
        let address_chain = chain
            .clone()
            .unwrap_or_else(|| self.chain.trim().to_ascii_lowercase());
        let address = keep(address(&address_chain, &self.address), &mut bad);
        match (chain, address) {
            (Some(chain), Some(address)) => Ok(Self {
                user_id: self.user_id,
                chain,
                address,
            }),
            _ => Err(bad),
        }
    }

    /// As [`NewWallet::checked_all`], with the first problem only.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `chain` or `address`.
    pub fn checked(&self) -> Result<Self> {
        self.checked_all().map_err(first)
    }
}

impl NewDeposit {
    /// The deposit to store; or every problem of the input (the hash is checked against
    /// the chain as given, lowercased, when the chain itself is bad).
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `chain`, `tx_hash`, `asset` or `amount`, one per bad field.
    pub fn checked_all(&self) -> std::result::Result<Self, Vec<Error>> {
        let mut bad = Vec::new();
        let chain = keep(chain(&self.chain), &mut bad);
        let hash_chain = chain
            .clone()
            .unwrap_or_else(|| self.chain.trim().to_ascii_lowercase());
        let tx_hash = keep(tx_hash(&hash_chain, &self.tx_hash), &mut bad);
        let asset = keep(asset(&self.asset), &mut bad);
        let amount = keep(amount(self.amount), &mut bad);
        let amount = match &chain {
            Some(on) => fitting(Some(on), asset.as_deref(), amount, &mut bad),
            None => amount,
        };
        match (chain, tx_hash, asset, amount) {
            (Some(chain), Some(tx_hash), Some(asset), Some(amount)) => Ok(Self {
                user_id: self.user_id,
                chain,
                tx_hash,
                output_index: self.output_index,
                asset,
                amount,
            }),
            _ => Err(bad),
        }
    }

    /// As [`NewDeposit::checked_all`], with the first problem only.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `chain`, `tx_hash`, `asset` or `amount`.
    pub fn checked(&self) -> Result<Self> {
        self.checked_all().map_err(first)
    }
}

impl NewAuditLog {
    /// The entry to store: `action` as [`NewAuditLog::action`] says.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `action`.
    pub fn checked(&self) -> Result<Self> {
        let valid = (1..=64).contains(&self.action.len())
            && self
                .action
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'_');
        if !valid {
            return Err(Error::invalid(
                "action",
                "must be 1-64 characters of lowercase letters, digits, '.' and '_'",
            ));
        }
        Ok(self.clone())
    }
}

impl NewDebit {
    /// The debit to apply; or every problem of the input.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `asset`, `amount` or `reference`, one per bad field.
    pub fn checked_all(&self) -> std::result::Result<Self, Vec<Error>> {
        let mut bad = Vec::new();
        let asset = keep(asset(&self.asset), &mut bad);
        let amount = keep(amount(self.amount), &mut bad);
        let amount = fitting(None, asset.as_deref(), amount, &mut bad);
        let reference = keep(visible_ascii("reference", &self.reference, 128), &mut bad);
        match (asset, amount, reference) {
            (Some(asset), Some(amount), Some(reference)) => Ok(Self {
                user_id: self.user_id,
                asset,
                amount,
                reference,
            }),
            _ => Err(bad),
        }
    }

    /// As [`NewDebit::checked_all`], with the first problem only.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `asset`, `amount` or `reference`.
    pub fn checked(&self) -> Result<Self> {
        self.checked_all().map_err(first)
    }
}

#[cfg(test)]
mod tests;
