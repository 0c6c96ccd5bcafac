//! `/admin/dashboard`: the job dashboard, a static page (HTML, two scripts, one style sheet)
//! compiled into the binary, with no CDN and no build step.
//!
//! The page is a shell that carries no data: it asks for the admin token, keeps it in the
//! tab's `sessionStorage`, and sends it as `Authorization: Bearer` on every `fetch` to the
//! admin API, which checks it as it checks any client's. A browser cannot put a bearer
//! header on a navigation, so the shell and its assets are served without one; everything
//! they show comes through the gated API. As no cookie is involved, another site cannot make
//! the browser act with the token (no CSRF). The page is served with a strict
//! `Content-Security-Policy` (scripts and styles from this origin only, no inline script,
//! no framing) and builds its DOM from text, never from HTML, so data cannot run as code.
//! Without an admin token nothing under `/admin` is mounted, the dashboard included.

use poem::http::{HeaderValue, StatusCode, header};
use poem::{Response, Route, get, handler};

/// The page.
const INDEX: &str = include_str!("index.html");
/// Its script.
const SCRIPT: &str = include_str!("app.js");
/// The worker processes panel's script, loaded before [`SCRIPT`].
const WORKERS_SCRIPT: &str = include_str!("workers.js");
/// Its style sheet.
const STYLE: &str = include_str!("app.css");

/// The policy of every dashboard response: nothing but this origin's script, style and
/// `fetch`, no inline script or style element, no plugin, no framing, no form posts.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// `body` as `content_type`, with the dashboard's security headers.
fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = Response::builder()
        .status(StatusCode::OK)
        .content_type(content_type)
        .body(body);
    let headers = response.headers_mut();
    let fixed = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

#[handler]
fn index() -> Response {
    asset(INDEX, "text/html; charset=utf-8")
}

#[handler]
fn script() -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

#[handler]
fn workers_script() -> Response {
    asset(WORKERS_SCRIPT, "text/javascript; charset=utf-8")
}

#[handler]
fn style() -> Response {
    asset(STYLE, "text/css; charset=utf-8")
}

/// `route` with the dashboard at `/dashboard` (to nest at `/admin`, outside the token's
/// gate), its scripts at `/dashboard/app.js` and `/dashboard/workers.js` and its style sheet
/// at `/dashboard/app.css`. The
/// page's URL has no trailing slash, so that its relative asset URLs resolve; nothing else
/// is served under `/dashboard/`.
pub fn mount(route: Route) -> Route {
    route
        .at("/dashboard", get(index))
        .at("/dashboard/app.js", get(script))
        .at("/dashboard/workers.js", get(workers_script))
        .at("/dashboard/app.css", get(style))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_its_assets_from_this_origin_and_runs_no_inline_script() {
        assert!(INDEX.contains(r#"<script src="dashboard/app.js" defer></script>"#));
        assert!(INDEX.contains(r#"<script src="dashboard/workers.js" defer></script>"#));
        assert!(INDEX.contains(r#"<link rel="stylesheet" href="dashboard/app.css">"#));
        assert_eq!(
            INDEX.matches("<script").count(),
            2,
            "two scripts, no inline one"
        );
        assert!(!INDEX.contains("<style") && !INDEX.contains(" style="));
        assert!(
            !INDEX.contains("http://") && !INDEX.contains("https://"),
            "no CDN"
        );
        for source in [SCRIPT, WORKERS_SCRIPT] {
            assert!(!source.contains("innerHTML"), "the DOM is built from text");
            assert!(!source.contains("eval("));
        }
    }
}
