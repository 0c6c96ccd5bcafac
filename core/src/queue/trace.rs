//! The W3C trace context a job carries from the request that enqueued it to every attempt
//! of its handler.
//!
//! A [`TraceContext`] is a `traceparent` (version `00`: a trace id, the id of the span it
//! continues, the trace flags) and an optional `tracestate`, as the W3C Trace Context
//! recommendation defines them. It is always valid: [`TraceContext::parse`] answers `None`
//! for a malformed `traceparent` (and drops a malformed `tracestate` alone), never an error,
//! since a trace header must never fail the work it rides on.
//!
//! At enqueue ([`NewJob::traced`](super::NewJob::traced), which every backend calls) a job
//! without a context takes the current `tracing` span's OpenTelemetry context (through
//! `tracing-opentelemetry`); with no OpenTelemetry layer installed there is none, and nothing
//! is stored. The worker opens each attempt's span as a child of the stored context.

use std::fmt;
use std::str::FromStr;

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The longest `tracestate` kept (the W3C recommendation asks vendors to propagate at least
/// 512 characters and lets them drop longer ones).
pub const MAX_TRACESTATE: usize = 512;

/// A valid W3C trace context: see the [module documentation](self).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TraceContext {
    /// `00-<trace id>-<parent id>-<flags>`, lowercase hex.
    traceparent: String,
    tracestate: Option<String>,
}

impl TraceContext {
    /// The context of `traceparent` and `tracestate` (HTTP header values), or `None` when
    /// `traceparent` is malformed: not `<version>-<32 hex>-<16 hex>-<2 hex>`, uppercase hex,
    /// version `ff`, an all-zero trace or parent id, or a version `00` header with anything
    /// after the flags. A later version is read as version `00` (its extra fields dropped),
    /// as the recommendation says. A malformed `tracestate`, or one longer than
    /// [`MAX_TRACESTATE`], is dropped and the `traceparent` kept.
    pub fn parse(traceparent: &str, tracestate: Option<&str>) -> Option<Self> {
        let header = traceparent.trim_matches([' ', '\t']);
        let bytes = header.as_bytes();
        if bytes.len() < 55 {
            return None;
        }
        let version = header.get(0..2)?;
        if !is_lower_hex(version) || version == "ff" {
            return None;
        }
        if version == "00" && bytes.len() != 55 {
            return None;
        }
        if bytes.len() > 55 && bytes[55] != b'-' {
            return None;
        }
        if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
            return None;
        }
        let (trace_id, parent_id, flags) =
            (header.get(3..35)?, header.get(36..52)?, header.get(53..55)?);
        let valid = [trace_id, parent_id, flags].iter().all(|f| is_lower_hex(f))
            && trace_id.bytes().any(|b| b != b'0')
            && parent_id.bytes().any(|b| b != b'0');
        if !valid {
            return None;
        }
        let tracestate = tracestate
            .filter(|s| s.len() <= MAX_TRACESTATE)
            .and_then(valid_tracestate);
        Some(Self {
            traceparent: format!("00-{trace_id}-{parent_id}-{flags}"),
            tracestate,
        })
    }

    /// The `traceparent` header value (always version `00`).
    pub fn traceparent(&self) -> &str {
        &self.traceparent
    }

    /// The `tracestate` header value, if any.
    pub fn tracestate(&self) -> Option<&str> {
        self.tracestate.as_deref()
    }

    /// The trace id, 32 lowercase hex digits.
    pub fn trace_id(&self) -> &str {
        &self.traceparent[3..35]
    }

    /// The id of the span this context continues, 16 lowercase hex digits.
    pub fn parent_id(&self) -> &str {
        &self.traceparent[36..52]
    }

    /// The context of the current `tracing` span, when an OpenTelemetry layer gives it one.
    pub fn current() -> Option<Self> {
        Self::of_span(&tracing::Span::current())
    }

    /// The context of `span`, when an OpenTelemetry layer gives it one; `None` without such a
    /// layer, or for a disabled span.
    pub fn of_span(span: &tracing::Span) -> Option<Self> {
        Self::from_otel(&span.context())
    }

    /// The context of the span `cx` holds; `None` when it holds no valid one.
    pub fn from_otel(cx: &opentelemetry::Context) -> Option<Self> {
        let span = cx.span();
        let sc = span.span_context();
        if !sc.is_valid() {
            return None;
        }
        let state = sc.trace_state().header();
        Some(Self {
            traceparent: format!(
                "00-{}-{}-{:02x}",
                sc.trace_id(),
                sc.span_id(),
                sc.trace_flags().to_u8()
            ),
            tracestate: (!state.is_empty()).then_some(state),
        })
    }

    /// An OpenTelemetry context holding this one as a remote parent: what a span continues
    /// (`tracing_opentelemetry::OpenTelemetrySpanExt::set_parent`).
    pub fn to_otel(&self) -> opentelemetry::Context {
        let id = |hex: &str| u128::from_str_radix(hex, 16).unwrap_or_default();
        let flags = u8::from_str_radix(&self.traceparent[53..55], 16).unwrap_or_default();
        let state = self
            .tracestate
            .as_deref()
            .and_then(|s| TraceState::from_str(s).ok())
            .unwrap_or_default();
        let sc = SpanContext::new(
            TraceId::from(id(self.trace_id())),
            SpanId::from(u64::try_from(id(self.parent_id())).unwrap_or_default()),
            TraceFlags::new(flags),
            true,
            state,
        );
        opentelemetry::Context::new().with_remote_span_context(sc)
    }

    /// One line to store (an SQL column, a Redis hash field): the `traceparent`, then a space
    /// and the `tracestate` when there is one. A `traceparent` holds no space.
    pub fn to_stored(&self) -> String {
        match &self.tracestate {
            Some(state) => format!("{} {state}", self.traceparent),
            None => self.traceparent.clone(),
        }
    }

    /// The context [`to_stored`](Self::to_stored) wrote, or `None` when `stored` is not
    /// valid (as [`parse`](Self::parse)).
    pub fn from_stored(stored: &str) -> Option<Self> {
        match stored.split_once(' ') {
            Some((parent, state)) => Self::parse(parent, Some(state)),
            None => Self::parse(stored, None),
        }
    }
}

/// `header` as a `tracestate` list (W3C Trace Context: at most 32 `key=value` members,
/// empty members and the spaces around members dropped), or `None` when it is malformed or
/// empty.
fn valid_tracestate(header: &str) -> Option<String> {
    let members: Vec<&str> = header
        .split(',')
        .map(|m| m.trim_matches([' ', '\t']))
        .filter(|m| !m.is_empty())
        .collect();
    if members.is_empty() || members.len() > 32 {
        return None;
    }
    for member in &members {
        let (key, value) = member.split_once('=')?;
        if !valid_key(key) || !valid_value(value) {
            return None;
        }
    }
    Some(members.join(","))
}

/// A `tracestate` key: `simple-key` or `tenant-id@system-id`.
fn valid_key(key: &str) -> bool {
    let rest = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-*/".contains(&b))
    };
    match key.split_once('@') {
        None => {
            key.len() <= 256
                && key.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
                && rest(key)
        }
        Some((tenant, system)) => {
            tenant.len() <= 241
                && system.len() <= 14
                && tenant
                    .bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                && system
                    .bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_lowercase())
                && rest(tenant)
                && rest(system)
        }
    }
}

/// A `tracestate` value: up to 256 printable ASCII characters but `,` and `=`, not ending
/// in a space.
fn valid_value(value: &str) -> bool {
    let printable = |b: u8| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=';
    value.len() <= 256
        && value.bytes().last().is_some_and(|b| b != b' ')
        && value.bytes().all(printable)
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl fmt::Display for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.traceparent)
    }
}

/// The wire shape: `{"traceparent": "...", "tracestate": "..."}`.
#[derive(Serialize, Deserialize)]
struct Wire {
    traceparent: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tracestate: Option<String>,
}

impl Serialize for TraceContext {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Wire {
            traceparent: self.traceparent.clone(),
            tracestate: self.tracestate.clone(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for TraceContext {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = Wire::deserialize(deserializer)?;
        Self::parse(&wire.traceparent, wire.tracestate.as_deref())
            .ok_or_else(|| serde::de::Error::custom("not a valid W3C traceparent"))
    }
}

/// Reads an optional trace context leniently: a malformed one is `None`, never an error (for
/// the `trace` field of jobs).
pub(super) fn lenient<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<TraceContext>, D::Error> {
    let wire = Option::<serde_json::Value>::deserialize(deserializer)?;
    Ok(wire
        .and_then(|v| serde_json::from_value::<Wire>(v).ok())
        .and_then(|w| TraceContext::parse(&w.traceparent, w.tracestate.as_deref())))
}

/// Opens the zero-length `queue.enqueue` span of a job of `job_type` under the current span
/// and answers its context: what the job's attempts continue. `None`, and no span, when the
/// current span has no OpenTelemetry context (no layer installed).
pub(super) fn enqueue_span(job_type: &str) -> Option<TraceContext> {
    TraceContext::current()?;
    let span = tracing::info_span!(
        target: "stack::queue",
        "queue.enqueue",
        otel.kind = "producer",
        job.r#type = job_type,
    );
    TraceContext::of_span(&span).or_else(TraceContext::current)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_traceparent_is_kept_and_its_parts_read() {
        let cx = TraceContext::parse(PARENT, Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"))
            .expect("valid");
        assert_eq!(cx.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(cx.parent_id(), "00f067aa0ba902b7");
        assert_eq!(
            cx.tracestate(),
            Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
        );
        assert_eq!(TraceContext::from_stored(&cx.to_stored()), Some(cx.clone()));
        assert_eq!(TraceContext::from_otel(&cx.to_otel()), Some(cx));
    }

    #[test]
    fn malformed_traceparents_are_dropped() {
        let bad = [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
            "0é-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ];
        for header in bad {
            assert_eq!(TraceContext::parse(header, None), None, "{header:?}");
        }
    }

    #[test]
    fn a_later_version_is_read_as_00_and_a_bad_tracestate_alone_is_dropped() {
        let later = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds";
        let cx = TraceContext::parse(later, Some("not a list member")).expect("valid");
        assert_eq!(cx.traceparent(), PARENT);
        assert_eq!(cx.tracestate(), None);
        let long = format!("k={}", "v".repeat(MAX_TRACESTATE));
        let tracestate = |s: &str| TraceContext::parse(PARENT, Some(s)).and_then(|c| c.tracestate);
        assert_eq!(tracestate(&long), None);
        for bad in [
            "=v", "K=v", "k=", "k=a,b", "k=v=w", "1k=v", "t@SYS=v", "k=\u{e9}",
        ] {
            assert_eq!(tracestate(bad), None, "{bad:?}");
        }
        let many = (0..33)
            .map(|i| format!("k{i}=v"))
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(tracestate(&many), None);
        assert_eq!(
            tracestate(" a=1 ,, t1@sys=x y ,"),
            Some("a=1,t1@sys=x y".to_owned())
        );
    }

    #[test]
    fn a_malformed_stored_context_reads_as_none() {
        #[derive(Deserialize)]
        struct Holder {
            #[serde(default, deserialize_with = "lenient")]
            trace: Option<TraceContext>,
        }
        let read = |json: &str| serde_json::from_str::<Holder>(json).map(|h| h.trace);
        assert!(
            read(r#"{"trace": {"traceparent": "nope"}}"#)
                .expect("lenient")
                .is_none()
        );
        assert!(read(r#"{"trace": 7}"#).expect("lenient").is_none());
        assert!(read("{}").expect("lenient").is_none());
        let ok = read(&format!(r#"{{"trace": {{"traceparent": "{PARENT}"}}}}"#));
        assert_eq!(
            ok.expect("valid").map(|c| c.to_stored()),
            Some(PARENT.to_owned())
        );
    }

    #[test]
    fn without_an_opentelemetry_layer_nothing_is_captured() {
        let span = tracing::info_span!("no layer");
        let _entered = span.enter();
        assert_eq!(TraceContext::current(), None);
        assert_eq!(enqueue_span("t"), None);
    }
}
