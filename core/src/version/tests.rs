use http::{HeaderMap, HeaderValue};

use super::*;
use crate::ErrorKind;

fn chain() -> ResolverChain {
    ResolverChain::standard(
        vec![ApiVersion::new(1), ApiVersion::new(2)],
        ApiVersion::new(1),
    )
    .unwrap()
}

fn req<'a>(path: &'a str, query: Option<&'a str>, headers: &'a HeaderMap) -> VersionRequest<'a> {
    VersionRequest {
        path,
        query,
        headers,
    }
}

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(*name, HeaderValue::from_static(value));
    }
    map
}

#[test]
fn path_header_accept_and_query_are_read() {
    let none = HeaderMap::new();
    let c = chain();
    assert_eq!(
        c.resolve(&req("/api/v2/users", None, &none)).unwrap(),
        Some(ApiVersion::new(2))
    );
    let h = headers(&[("api-version", "2")]);
    assert_eq!(
        c.resolve(&req("/api/users", None, &h)).unwrap(),
        Some(ApiVersion::new(2))
    );
    let h = headers(&[("accept", "text/html, application/vnd.stack.v2+json;q=0.9")]);
    assert_eq!(
        c.resolve(&req("/api/users", None, &h)).unwrap(),
        Some(ApiVersion::new(2))
    );
    assert_eq!(
        c.resolve(&req("/api/users", Some("page=1&version=2"), &none))
            .unwrap(),
        Some(ApiVersion::new(2))
    );
}

#[test]
fn no_indication_gives_the_default() {
    let none = HeaderMap::new();
    let h = headers(&[("accept", "application/json")]);
    assert_eq!(
        chain()
            .resolve_or_default(&req("/api/users", None, &none))
            .unwrap(),
        ApiVersion::new(1)
    );
    assert_eq!(
        chain()
            .resolve_or_default(&req("/health", Some("a=b"), &h))
            .unwrap(),
        ApiVersion::new(1)
    );
}

#[test]
fn path_wins_over_header_and_header_over_query() {
    let h = headers(&[("api-version", "1")]);
    let c = chain();
    assert_eq!(
        c.resolve(&req("/api/v2/x", Some("version=1"), &h)).unwrap(),
        Some(ApiVersion::new(2))
    );
    assert_eq!(
        c.resolve(&req("/api/x", Some("version=2"), &h)).unwrap(),
        Some(ApiVersion::new(1))
    );
}

#[test]
fn unsupported_and_malformed_versions_are_invalid_and_name_where() {
    let c = chain();
    let none = HeaderMap::new();
    let err = c.resolve(&req("/api/v9/users", None, &none)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(err.to_string().contains("v9 is not supported"), "{err}");

    let h = headers(&[("api-version", "two")]);
    let err = c.resolve(&req("/api/users", None, &h)).unwrap_err();
    assert!(
        matches!(err, crate::Error::Invalid { ref field, .. } if field == "API-Version"),
        "{err}"
    );

    let err = c
        .resolve(&req("/api/users", Some("version=v0"), &none))
        .unwrap_err();
    assert!(
        matches!(err, crate::Error::Invalid { ref field, .. } if field == "version"),
        "{err}"
    );
}

#[test]
fn chain_refuses_a_default_outside_the_supported_set() {
    let err = ResolverChain::standard(vec![ApiVersion::new(1)], ApiVersion::new(2)).unwrap_err();
    assert!(matches!(err, crate::Error::Invalid { ref field, .. } if field == "default_version"));
    assert!(ResolverChain::standard(vec![], ApiVersion::new(1)).is_err());
}

#[test]
fn api_version_parses_and_displays() {
    assert_eq!("V3".parse::<ApiVersion>().unwrap(), ApiVersion::new(3));
    assert_eq!("3".parse::<ApiVersion>().unwrap().to_string(), "v3");
    for bad in ["", "v", "v-1", "0", "v1.5", "+1", "x1"] {
        assert!(bad.parse::<ApiVersion>().is_err(), "{bad}");
    }
}

#[test]
fn agreed_resolution_refuses_a_path_that_disagrees_with_a_header_or_query() {
    let c = chain();
    let h = headers(&[("api-version", "1")]);
    let err = c
        .resolve_agreed(&req("/api/v2/users", None, &h))
        .unwrap_err();
    assert!(
        matches!(err, crate::Error::Invalid { ref field, .. } if field == "version"),
        "{err}"
    );
    assert!(err.to_string().contains("the path"), "{err}");
    let none = HeaderMap::new();
    let err = c
        .resolve_agreed(&req("/api/v1/users", Some("version=2"), &none))
        .unwrap_err();
    assert!(err.to_string().contains("query parameter version"), "{err}");

    // Agreement, one indication, or none: the version (or the default).
    let h = headers(&[("api-version", "2")]);
    assert_eq!(
        c.resolve_agreed(&req("/api/v2/users", Some("version=v2"), &h))
            .unwrap(),
        ApiVersion::new(2)
    );
    assert_eq!(
        c.resolve_agreed(&req("/api/users", Some("version=2"), &none))
            .unwrap(),
        ApiVersion::new(2)
    );
    assert_eq!(
        c.resolve_agreed(&req("/api/users", None, &none)).unwrap(),
        ApiVersion::new(1)
    );
    // An unsupported version anywhere is refused, even beside a supported one.
    let h = headers(&[("api-version", "7")]);
    let err = c
        .resolve_agreed(&req("/api/v1/users", None, &h))
        .unwrap_err();
    assert!(err.to_string().contains("supported: v1, v2"), "{err}");
}
