//! Duplicate keys in a JSON body. RFC 8259 leaves `{"amount":"1","amount":"1000"}` to the
//! parser, and parsers disagree (serde keeps the last value, others the first): a proxy or
//! a signature check that reads one value while the API acts on the other is how such
//! bodies are abused. The API refuses them; [`duplicate_key`] finds the first.

use std::collections::HashSet;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// The JSON Pointer of the first key that appears twice in one object of `json`; `None`
/// when there is none, or when `json` is not JSON at all (the extractor says that).
///
/// ```
/// use stack_server::http::json_keys::duplicate_key;
/// assert_eq!(duplicate_key(br#"{"a":1,"b":{"c":2,"c":3}}"#), Some("/b/c".to_owned()));
/// assert_eq!(duplicate_key(br#"[{"a/b":1},{"a/b":1,"a/b":2}]"#), Some("/1/a~1b".to_owned()));
/// assert_eq!(duplicate_key(br#"{"a":1,"b":[1,1]}"#), None);
/// ```
pub fn duplicate_key(json: &[u8]) -> Option<String> {
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let mut found = None;
    let seed = Walk {
        path: String::new(),
        found: &mut found,
    };
    // A parse error is either the duplicate found (the walk stops there) or bad JSON.
    let _ = seed.deserialize(&mut deserializer);
    found
}

/// Walks one value at `path`, recording the first duplicate key in `found`.
struct Walk<'a> {
    path: String,
    found: &'a mut Option<String>,
}

/// Escapes a key as a JSON Pointer reference token (RFC 6901: `~` as `~0`, `/` as `~1`).
fn token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = format!("{}/{}", self.path, token(&key));
            if !seen.insert(key) {
                *self.found = Some(path);
                return Err(serde::de::Error::custom("duplicate key"));
            }
            map.next_value_seed(Walk {
                path,
                found: self.found,
            })?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0usize;
        loop {
            let walk = Walk {
                path: format!("{}/{index}", self.path),
                found: self.found,
            };
            if seq.next_element_seed(walk)?.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_i128<E>(self, _: i128) -> Result<(), E> {
        Ok(())
    }

    fn visit_u128<E>(self, _: u128) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}
