//! Key patterns with the syntax of Redis `MATCH` (and `KEYS`), so every backend reads a
//! pattern the same way: `*` any run, `?` one character, `[abc]` a class, `[a-z]` a range,
//! `[^a]` a negated class, and `\` to take the next character literally.
//!
//! Written here rather than taken from the `glob` crate, whose syntax differs (`[!a]` for
//! negation, no `\` escapes): this is Redis's `stringmatchlen`, byte for byte, so the memory
//! cache deletes exactly what a Redis `SCAN MATCH` would.

use crate::{Error, Result};

/// A checked pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPattern {
    pattern: String,
}

impl KeyPattern {
    /// Checks `pattern`: not empty, and every `[` class closed.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `pattern`.
    pub fn parse(pattern: &str) -> Result<Self> {
        if pattern.is_empty() {
            return Err(Error::invalid("pattern", "must not be empty"));
        }
        let bytes = pattern.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => i += 2,
                b'[' => {
                    let Some(end) = class_end(bytes, i) else {
                        return Err(Error::invalid(
                            "pattern",
                            format!("`{pattern}`: the class at {i} is not closed with `]`"),
                        ));
                    };
                    i = end;
                }
                _ => i += 1,
            }
        }
        Ok(Self {
            pattern: pattern.to_owned(),
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Whether `key` matches.
    pub fn matches(&self, key: &str) -> bool {
        matches(self.pattern.as_bytes(), key.as_bytes())
    }

    /// The pattern for keys stored under `prefix`: the prefix escaped, so its own `*` or `[`
    /// match only themselves.
    pub fn under_prefix(&self, prefix: &str) -> String {
        format!("{}{}", escape(prefix), self.pattern)
    }
}

/// `literal` with every special character escaped, so it matches only itself.
pub fn escape(literal: &str) -> String {
    let mut out = String::with_capacity(literal.len());
    for c in literal.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The index after the `]` closing the class that opens at `open`.
fn class_end(p: &[u8], open: usize) -> Option<usize> {
    let mut i = open + 1;
    while i < p.len() {
        match p[i] {
            b'\\' => i += 2,
            b']' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Whether byte `c` is in the class opening at `open`; and the index after the class.
fn in_class(p: &[u8], open: usize, c: u8) -> (bool, usize) {
    let mut i = open + 1;
    let negated = p.get(i) == Some(&b'^');
    if negated {
        i += 1;
    }
    let mut found = false;
    while i < p.len() {
        match p[i] {
            b']' => {
                i += 1;
                break;
            }
            b'\\' if i + 1 < p.len() => {
                found |= p[i + 1] == c;
                i += 2;
            }
            lo if p.get(i + 1) == Some(&b'-') && i + 2 < p.len() => {
                let hi = p[i + 2];
                let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
                found |= (lo..=hi).contains(&c);
                i += 3;
            }
            other => {
                found |= other == c;
                i += 1;
            }
        }
    }
    (found != negated, i)
}

fn matches(p: &[u8], t: &[u8]) -> bool {
    let (mut pi, mut ti) = (0, 0);
    // Where the last `*` was, and how much of the text it has taken so far.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        let step = match p.get(pi) {
            Some(b'*') => {
                while p.get(pi) == Some(&b'*') {
                    pi += 1;
                }
                if pi == p.len() {
                    return true;
                }
                star = Some((pi, ti));
                continue;
            }
            Some(b'?') => Some(pi + 1),
            Some(b'[') => match in_class(p, pi, t[ti]) {
                (true, next) => Some(next),
                (false, _) => None,
            },
            Some(b'\\') if pi + 1 < p.len() => (p[pi + 1] == t[ti]).then_some(pi + 2),
            Some(&c) => (c == t[ti]).then_some(pi + 1),
            None => None,
        };
        match (step, star) {
            (Some(next), _) => {
                pi = next;
                ti += 1;
            }
            (None, Some((star_p, star_t))) => {
                star = Some((star_p, star_t + 1));
                pi = star_p;
                ti = star_t + 1;
            }
            (None, None) => return false,
        }
    }
    while p.get(pi) == Some(&b'*') {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, key: &str) -> bool {
        KeyPattern::parse(pattern).unwrap().matches(key)
    }

    #[test]
    fn redis_match_syntax() {
        assert!(m("user:*", "user:1:wallets"));
        assert!(m("user:?:wallets", "user:1:wallets"));
        assert!(!m("user:?:wallets", "user:12:wallets"));
        assert!(m("h[ae]llo", "hallo") && !m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo") && !m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo") && !m("h[a-b]llo", "hcllo"));
        assert!(m("h[b-a]llo", "hallo"), "reversed ranges, as Redis");
        assert!(m("a\\*b", "a*b") && !m("a\\*b", "axb"));
        assert!(m("a[\\]]b", "a]b"));
        assert!(m("*", "") && m("**x", "x") && m("*a*b", "xxaxxb") && !m("*a*b", "xxaxx"));
        assert!(!m("abc", "ab") && !m("ab", "abc"));
    }

    #[test]
    fn malformed_patterns_are_refused() {
        assert!(KeyPattern::parse("").is_err());
        assert!(KeyPattern::parse("[unclosed").is_err());
        assert!(
            KeyPattern::parse("a\\[").is_ok(),
            "an escaped [ opens no class"
        );
    }

    #[test]
    fn a_prefix_matches_only_itself() {
        let p = KeyPattern::parse("k*").unwrap();
        let under = KeyPattern::parse(&p.under_prefix("app[1]*:")).unwrap();
        assert!(under.matches("app[1]*:k1"));
        assert!(!under.matches("app1x:k1"));
    }
}
