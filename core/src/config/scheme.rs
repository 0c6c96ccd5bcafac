//! The scheme of a backend URL, which picks the backend that opens it.

/// The scheme of a backend URL, lowercased (`postgres` for `postgres://...`); a
/// comma-separated list of Redis nodes reads as `redis+cluster`, while a multi-host
/// PostgreSQL URL (`postgres://h1,h2/db`) stays `postgres`.
///
/// ```
/// use stack_core::config::url_scheme;
/// assert_eq!(url_scheme("Redis://127.0.0.1:6379").as_deref(), Some("redis"));
/// assert_eq!(url_scheme("sqlite::memory:").as_deref(), Some("sqlite"));
/// assert_eq!(url_scheme("redis://a:1,redis://b:2").as_deref(), Some("redis+cluster"));
/// assert_eq!(url_scheme("postgres://h1:5432,h2:5432/db").as_deref(), Some("postgres"));
/// assert_eq!(url_scheme("nonsense"), None);
/// ```
pub fn url_scheme(url: &str) -> Option<String> {
    let url = url.trim();
    let redis_list = url.contains(',') && url.to_ascii_lowercase().starts_with("redis://");
    if redis_list {
        return Some("redis+cluster".into());
    }
    // `sqlite::memory:` and `sqlite:stack.db` have no `//`.
    let scheme = match url.split_once("://") {
        Some((scheme, _)) => scheme,
        None => url
            .split_once(':')
            .map(|(s, _)| s)
            .filter(|s| s.eq_ignore_ascii_case("sqlite"))?,
    };
    let valid = !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    valid.then(|| scheme.to_ascii_lowercase())
}
