//! What the documents say of each body field: the bounds its domain check in
//! `stack_core::store::checks` enforces, as JSON Schema length, pattern and range, so that
//! a value the document allows is a value the check accepts. A [`super::field::Field`]
//! names its rule as a type (`Field<String, Email>`); the check stays the one that answers.
//!
//! The patterns are ECMA-262 and Python `re` alike, with no look-around. The rules that
//! depend on another field (an EVM chain's `0x` and 40 hex digits) are said in the fields'
//! descriptions.

use poem_openapi::registry::MetaSchema;

/// Characters the checks refuse everywhere: Unicode controls (`char::is_control`).
const CONTROLS: &str = r"\x00-\x1f\x7f-\x9f";

/// How a field's schema is narrowed.
pub trait Rule: Send + Sync + 'static {
    /// Adds the rule's bounds to the field type's own `schema`.
    fn narrow(schema: &mut MetaSchema);
}

/// No bound beyond the type's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Any;

impl Rule for Any {
    fn narrow(_: &mut MetaSchema) {}
}

fn text(schema: &mut MetaSchema, min: usize, max: usize, pattern: String) {
    schema.min_length = Some(min);
    schema.max_length = Some(max);
    schema.pattern = Some(pattern);
}

/// An email address: `local@domain` with a `.` in a domain that does not start with one,
/// no spaces or controls, at most 254 characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Email;

impl Rule for Email {
    fn narrow(schema: &mut MetaSchema) {
        let c = format!(r"[^@\s{CONTROLS}]");
        let first = format!(r"[^@\s.{CONTROLS}]");
        text(schema, 4, 254, format!(r"^{c}+@{first}{c}*\.{c}*$"));
    }
}

/// An E.164 phone number: `+` and 8 to 15 digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phone;

impl Rule for Phone {
    fn narrow(schema: &mut MetaSchema) {
        text(schema, 9, 16, r"^\+[0-9]{8,15}$".into());
    }
}

/// A name: 1 to 200 characters, no controls, not only spaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Name;

impl Rule for Name {
    fn narrow(schema: &mut MetaSchema) {
        let c = format!("[^{CONTROLS}]");
        text(schema, 1, 200, format!(r"^{c}*[^\s{CONTROLS}]{c}*$"));
    }
}

/// A supported chain (`stack_core::store::checks::supported_chains`), in any case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chain;

impl Rule for Chain {
    fn narrow(schema: &mut MetaSchema) {
        // JSON Schema patterns have no case-insensitive flag: each letter is a class.
        let names: Vec<String> = stack_core::store::checks::supported_chains()
            .map(|name| {
                name.chars()
                    .map(|c| match c {
                        'a'..='z' => format!("[{c}{}]", c.to_ascii_uppercase()),
                        other => other.to_string(),
                    })
                    .collect()
            })
            .collect();
        text(schema, 1, 32, format!("^(?:{})$", names.join("|")));
    }
}

/// An address, a transaction hash or a reference: 1 to 128 visible ASCII characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Visible;

impl Rule for Visible {
    fn narrow(schema: &mut MetaSchema) {
        text(schema, 1, 128, r"^[\x21-\x7e]{1,128}$".into());
    }
}

/// An asset: 2 to 12 ASCII letters or digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asset;

impl Rule for Asset {
    fn narrow(schema: &mut MetaSchema) {
        text(schema, 2, 12, "^[A-Za-z0-9]{2,12}$".into());
    }
}

/// An amount: a positive plain decimal below 10^20 with at most 18 decimal places and 28
/// digits in all (what a `Decimal` holds exactly), no leading zeros, no trailing zero
/// after the point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amount;

/// The pattern of [`Amount`]: for each count of integer digits, the decimal places the 28
/// digits leave (18 at most).
pub fn amount_pattern() -> String {
    let mut forms = vec![r"0\.[0-9]{0,17}[1-9]".to_owned()];
    for whole in 1..=20_usize {
        let places = (28 - whole).min(18);
        forms.push(format!(
            r"[1-9][0-9]{{{}}}(\.[0-9]{{0,{}}}[1-9])?",
            whole - 1,
            places - 1
        ));
    }
    format!("^({})$", forms.join("|"))
}

impl Rule for Amount {
    fn narrow(schema: &mut MetaSchema) {
        text(schema, 1, 40, amount_pattern());
    }
}

/// An integer from 0 to 4294967295 (an output index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Index;

impl Rule for Index {
    fn narrow(schema: &mut MetaSchema) {
        schema.minimum = Some(0.0);
        schema.maximum = Some(f64::from(u32::MAX));
    }
}
