//! The layers above the file: environment variables and command-line flags, as figment
//! providers whose metadata names the variable or flag a value came from.

use std::collections::BTreeMap;

use figment::value::{Dict, Empty, Map, Tag, Value};
use figment::{Error, Metadata, Profile, Provider};

use super::host::APP_KEY;

/// The metadata name of values set by environment variables.
pub(super) const ENV_SOURCE: &str = "environment variable";
/// The metadata name of values set on the command line.
pub(super) const FLAG_SOURCE: &str = "command line";

/// `STACK__SECTION__KEY` variables, each coerced to the type of the key it sets: a key that
/// holds text (or nothing by default) takes the variable's text as it is, so a token of
/// digits stays a string; other keys parse it (`8080`, `true`, `[v1, v2]`). `null` or `~`
/// clears a key that may be empty. Keys of the host's section, `STACK__APP__...`, have no
/// type STACK knows: see [`host_value`].
pub(super) struct EnvOverrides {
    dict: Dict,
    /// The variable each key came from, by its lowercased path.
    names: BTreeMap<Vec<String>, String>,
}

impl EnvOverrides {
    /// The overrides among `vars` that start with `prefix`, shaped after `defaults`.
    pub(super) fn new(prefix: &str, vars: &[(String, String)], defaults: &Dict) -> Self {
        let mut dict = Dict::new();
        let mut names = BTreeMap::new();
        for (name, raw) in vars {
            let Some(rest) = name.strip_prefix(prefix) else {
                continue;
            };
            let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
            if path.iter().any(String::is_empty) {
                continue;
            }
            let value = if path[0] == APP_KEY {
                host_value(raw)
            } else {
                coerce(raw, lookup(defaults, &path))
            };
            insert(&mut dict, &path, value);
            names.insert(path, name.clone());
        }
        Self { dict, names }
    }
}

impl Provider for EnvOverrides {
    fn metadata(&self) -> Metadata {
        let names = self.names.clone();
        Metadata::named(ENV_SOURCE).interpolater(move |_: &Profile, keys: &[&str]| {
            let path: Vec<String> = keys.iter().map(|k| k.to_ascii_lowercase()).collect();
            names.get(&path).cloned().unwrap_or_else(|| {
                let upper: Vec<String> = path.iter().map(|k| k.to_ascii_uppercase()).collect();
                format!("STACK__{}", upper.join("__"))
            })
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, Error> {
        Ok(Profile::Default.collect(self.dict.clone()))
    }
}

/// One key set from the command line (`--port` sets `server.port`).
pub(super) struct FlagOverride {
    pub(super) path: Vec<String>,
    pub(super) value: Value,
    pub(super) flag: String,
}

impl Provider for FlagOverride {
    fn metadata(&self) -> Metadata {
        let flag = self.flag.clone();
        Metadata::named(FLAG_SOURCE).interpolater(move |_: &Profile, _: &[&str]| flag.clone())
    }

    fn data(&self) -> Result<Map<Profile, Dict>, Error> {
        let mut dict = Dict::new();
        insert(&mut dict, &self.path, self.value.clone());
        Ok(Profile::Default.collect(dict))
    }
}

fn coerce(raw: &str, default: Option<&Value>) -> Value {
    let trimmed = raw.trim();
    if trimmed == "null" || trimmed == "~" {
        return Value::Empty(Tag::Default, Empty::None);
    }
    match default {
        Some(Value::String(..) | Value::Empty(..)) => Value::from(raw.to_owned()),
        _ => raw.parse().unwrap_or_else(|never| match never {}),
    }
}

/// A variable of the host's section, whose type STACK does not know: text as it is (the
/// host's type reads numbers and booleans from text), a `[list]` or `{map}` parsed, and
/// `null` or `~` nothing.
fn host_value(raw: &str) -> Value {
    let trimmed = raw.trim();
    if trimmed.starts_with('[') || trimmed.starts_with('{') || trimmed == "null" || trimmed == "~" {
        coerce(raw, None)
    } else {
        Value::from(raw.to_owned())
    }
}

/// The value at `path` in `dict`.
pub(super) fn lookup<'a>(dict: &'a Dict, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let value = dict.get(first)?;
    if rest.is_empty() {
        return Some(value);
    }
    match value {
        Value::Dict(_, inner) => lookup(inner, rest),
        _ => None,
    }
}

/// Sets `path` in `dict` to `value`, creating the dictionaries on the way.
fn insert(dict: &mut Dict, path: &[String], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        dict.insert(first.clone(), value);
        return;
    }
    let entry = dict
        .entry(first.clone())
        .or_insert_with(|| Value::from(Dict::new()));
    if !matches!(entry, Value::Dict(..)) {
        *entry = Value::from(Dict::new());
    }
    if let Value::Dict(_, inner) = entry {
        insert(inner, rest, value);
    }
}

/// Removes `path` from `dict` (an item of a list removes the list); whether it was there.
pub(super) fn remove(dict: &mut Dict, path: &[String]) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    match dict.get_mut(first) {
        None => false,
        Some(Value::Dict(_, inner)) if !rest.is_empty() => remove(inner, rest),
        Some(_) => dict.remove(first).is_some(),
    }
}
