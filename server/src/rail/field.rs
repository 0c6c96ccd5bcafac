//! Body fields that parse leniently, so that one request can be answered with every bad
//! field at once: poem-openapi stops at the first field it cannot parse, while a [`Field`]
//! keeps the flaw and lets [`Checks`] collect it beside the domain checks' findings.

#![allow(
    clippy::result_large_err,
    reason = "these helpers answer with ApiError, the type every operation returns so that its document lists the problem answers"
)]

use std::borrow::Cow;
use std::marker::PhantomData;

use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::{ParseFromJSON, ParseResult, ToJSON, Type};
use serde_json::Value;

use super::rules::{Any, Rule};
use crate::http::api_error::{ApiError, ApiResult};
use crate::http::problem::FieldError;

/// What was wrong with a field's JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flaw {
    /// The field is required and was absent or null.
    Missing,
    /// The field could not be read as its type: what was found (`a number`) and why.
    Found(&'static str, String),
}

/// A body field of type `T` documented as `T` narrowed by the rule `R` (the bounds its
/// domain check enforces, see [`super::rules`]), whose parse failure is kept rather than
/// failing the whole body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field<T, R = Any>(pub Result<T, Flaw>, pub PhantomData<R>);

impl<T, R> Field<T, R> {
    /// A field holding `value`.
    pub fn new(value: Result<T, Flaw>) -> Self {
        Self(value, PhantomData)
    }
}

fn found(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl<T: Type, R: Rule> Type for Field<T, R> {
    const IS_REQUIRED: bool = T::IS_REQUIRED;
    type RawValueType = T::RawValueType;
    type RawElementValueType = T::RawElementValueType;

    fn name() -> Cow<'static, str> {
        T::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        match T::schema_ref() {
            MetaSchemaRef::Inline(mut schema) => {
                R::narrow(&mut schema);
                MetaSchemaRef::Inline(schema)
            }
            reference => reference,
        }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        self.0.as_ref().ok().and_then(T::as_raw_value)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        match &self.0 {
            Ok(value) => value.raw_element_iter(),
            Err(_) => Box::new(std::iter::empty()),
        }
    }
}

/// Whether `value` has the JSON kind the schema `ty` names. poem-openapi reads a number or
/// a boolean as a string (`12.5` becomes `"12.5"`); an amount sent as a JSON number must be
/// refused, not read, so the kind is checked first.
fn kind_matches(ty: &str, value: &Value) -> bool {
    match ty {
        "string" => value.is_string(),
        "integer" | "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        _ => true,
    }
}

impl<T: ParseFromJSON, R: Rule> ParseFromJSON for Field<T, R> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        let seen = value.as_ref().filter(|v| !v.is_null()).map(found);
        if let (MetaSchemaRef::Inline(schema), Some(value)) = (T::schema_ref(), &value) {
            if !value.is_null() && !kind_matches(schema.ty, value) {
                let reason = format!("expected {}", schema.ty);
                return Ok(Self::new(Err(Flaw::Found(found(value), reason))));
            }
        }
        Ok(Self::new(T::parse_from_json(value).map_err(
            |e| match seen {
                Some(kind) => Flaw::Found(kind, e.into_message()),
                None => Flaw::Missing,
            },
        )))
    }
}

impl<T: ToJSON, R: Rule> ToJSON for Field<T, R> {
    fn to_json(&self) -> Option<Value> {
        self.0.as_ref().ok().and_then(T::to_json)
    }
}

/// The bad fields of one input, each with its JSON Pointer, gathered from the parse and the
/// domain checks; a field flagged once is not flagged again.
#[derive(Debug, Default)]
pub struct Checks {
    base: String,
    errors: Vec<FieldError>,
    /// The flagged fields whose JSON is not of the documented type (or is missing).
    flaws: Vec<FieldError>,
}

impl Checks {
    /// Checks of a whole body.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks of the part of a body at `base` (`/3` for the fourth item of a bulk body).
    pub fn under(base: impl Into<String>) -> Self {
        Self {
            base: base.into(),
            ..Self::default()
        }
    }

    /// Whether `at` or a field containing it is flagged.
    fn flagged(&self, at: &str) -> bool {
        self.errors.iter().any(|e| {
            at.strip_prefix(e.pointer.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
    }

    /// Flags the field at `relative` (a JSON Pointer below the base) with `detail`, unless
    /// it is flagged already.
    pub fn flag(&mut self, relative: &str, detail: impl Into<String>) {
        let at = format!("{}{relative}", self.base);
        if !self.flagged(&at) {
            self.errors.push(FieldError {
                pointer: at,
                detail: detail.into(),
            });
        }
    }

    /// The value of `field` at `relative`, or `None` after flagging it as a type flaw:
    /// missing, or not `expected` (`a string`).
    pub fn take<T, R>(&mut self, relative: &str, field: Field<T, R>, expected: &str) -> Option<T> {
        let detail = match field.0 {
            Ok(value) => return Some(value),
            Err(Flaw::Missing) => "is required".to_owned(),
            // A string or an object of the right kind whose content is wrong: say why.
            Err(Flaw::Found(kind @ ("a string" | "an object"), reason)) => {
                format!("must be {expected}, not {kind} ({reason})")
            }
            Err(Flaw::Found(kind, _)) => format!("must be {expected}, not {kind}"),
        };
        let before = self.errors.len();
        self.flag(relative, detail);
        self.flaws.extend(
            self.errors
                .get(before..)
                .unwrap_or_default()
                .iter()
                .cloned(),
        );
        None
    }

    /// The fields flagged because their JSON is missing or not of the documented type, as
    /// opposed to values of the right type that a domain check refused.
    pub fn flaws(&self) -> &[FieldError] {
        &self.flaws
    }

    /// The outcome of a domain check (`NewUser::checked_all`): its errors are flagged at the
    /// pointer `at` gives each field the library names, skipping fields already flagged
    /// (their placeholder values were checked too).
    pub fn domain<T>(
        &mut self,
        outcome: Result<T, Vec<stack_core::Error>>,
        at: impl Fn(&str) -> String,
    ) -> Option<T> {
        match outcome {
            Ok(value) => Some(value),
            Err(errors) => {
                for error in errors {
                    match error {
                        stack_core::Error::Invalid { field, reason, .. } => {
                            self.flag(&at(&field), reason);
                        }
                        other => self.flag("", other.to_string()),
                    }
                }
                None
            }
        }
    }

    /// The flagged fields.
    pub fn into_errors(self) -> Vec<FieldError> {
        self.errors
    }

    /// `value` when nothing was flagged; otherwise every flagged field (one item of a bulk
    /// request).
    ///
    /// # Errors
    /// The flagged fields.
    pub fn outcome<T>(mut self, value: Option<T>) -> Result<T, Vec<FieldError>> {
        match value {
            Some(value) if self.errors.is_empty() => Ok(value),
            _ => {
                if self.errors.is_empty() {
                    self.flag("", "is invalid");
                }
                Err(self.errors)
            }
        }
    }

    /// `value` when nothing was flagged; otherwise 422 listing every flagged field.
    ///
    /// # Errors
    /// [`ApiError::Unprocessable`] with every bad field.
    pub fn finish<T>(self, value: Option<T>) -> ApiResult<T> {
        self.outcome(value).map_err(ApiError::refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::api_error::pointer;

    #[test]
    fn flaws_are_kept_and_reported_with_pointers() {
        let missing = <Field<String>>::parse_from_json(None).unwrap();
        assert_eq!(missing.0, Err(Flaw::Missing));
        let number = <Field<String>>::parse_from_json(Some(serde_json::json!(5))).unwrap();
        assert!(matches!(number.0, Err(Flaw::Found("a number", _))));
        let text = <Field<u32>>::parse_from_json(Some(serde_json::json!("5"))).unwrap();
        assert!(matches!(text.0, Err(Flaw::Found("a string", _))));
        let phone = <Field<Option<String>>>::parse_from_json(Some(serde_json::json!(5))).unwrap();
        assert!(matches!(phone.0, Err(Flaw::Found("a number", _))));
        let mut checks = Checks::under("/2");
        assert_eq!(checks.take("/email", missing, "a string"), None);
        assert_eq!(checks.take("/phone", number, "a string"), None);
        let outcome: Result<(), _> = Err(vec![stack_core::Error::invalid("email", "bad")]);
        checks.domain(outcome, pointer);
        let flaws = checks.flaws().to_vec();
        let errors = checks.into_errors();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(errors[0].pointer, "/2/email");
        assert_eq!(errors[1].detail, "must be a string, not a number");
        assert_eq!(
            flaws.len(),
            2,
            "the domain refusal is no type flaw: {flaws:?}"
        );
    }
}
