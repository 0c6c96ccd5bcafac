//! `/docs`: one Swagger UI page for every OpenAPI document the app serves (each API version,
//! the health probes, the admin API), chosen from a list at the top of the page.
//!
//! poem-openapi's own Swagger UI shows a single document, and Swagger UI's document picker
//! lives in its standalone preset, which poem-openapi does not bundle. So the page is ours:
//! Swagger UI's script and style sheet are taken from the copy poem-openapi bundles (served
//! inline, so nothing comes from a CDN and the page works offline), and a small `<select>`
//! switches documents.

use poem::web::Html;
use poem::{Endpoint, Route, endpoint::make_sync};
use poem_openapi::OpenApiService;
use serde::Serialize;

/// A document listed on the page; its URL is relative to the app's root, which the page
/// finds from its own address (it is served at `<root>/docs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Document {
    /// What the picker shows (`API v2`).
    pub name: String,
    /// Where the document is served (`/api/v2/openapi.json`).
    pub url: String,
}

impl Document {
    /// The document at `url`, listed as `name`.
    pub fn new(name: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            url: url.into(),
        }
    }
}

const PAGE: &str = r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>STACK API documentation</title>
<style>{:style}</style>
<style>
  #stack-docs { font-family: sans-serif; padding: 10px 20px; background: #1b1b1b; color: #fff; }
  #stack-docs select { font-size: 1em; margin-left: .5em; }
</style>
</head>
<body>
<div id="stack-docs"><label for="stack-doc">Document</label><select id="stack-doc"></select></div>
<div id="ui"></div>
<script>{:script}</script>
<script>
  // Document URLs are relative to the app's root; the page is at <root>/docs, so a host
  // that nests the app under a prefix gets working links.
  const root = window.location.pathname.replace(/\/docs\/?$/, "");
  const documents = {:documents}.map((d) => ({ name: d.name, url: root + d.url }));
  const picker = document.getElementById("stack-doc");
  for (const doc of documents) {
    const option = document.createElement("option");
    option.value = doc.url;
    option.textContent = doc.name + " (" + doc.url + ")";
    picker.appendChild(option);
  }
  const wanted = new URLSearchParams(window.location.search).get("doc");
  const first = documents.find((d) => d.name === wanted || d.url === wanted) || documents[0];
  function show(url) {
    picker.value = url;
    SwaggerUIBundle({ dom_id: "#ui", url: url, deepLinking: true, filter: false });
  }
  picker.addEventListener("change", () => show(picker.value));
  if (first) { show(first.url); }
</script>
</body>
</html>
"##;

/// The text of the first `<tag charset="UTF-8">...</tag>` element of `html`.
fn inner<'a>(html: &'a str, tag: &str) -> &'a str {
    let open = format!("<{tag} charset=\"UTF-8\">");
    let close = format!("</{tag}>");
    html.split_once(open.as_str())
        .and_then(|(_, rest)| rest.split_once(close.as_str()))
        .map_or("", |(text, _)| text)
}

/// The page listing `documents` (the first is shown first; `/docs?doc=<name or url>` picks
/// another).
pub fn page(documents: &[Document]) -> String {
    // poem-openapi inlines Swagger UI's bundle and style sheet into its page; take them from
    // there rather than keeping a second copy.
    let bundled = OpenApiService::new((), "", "").swagger_ui_html();
    // A document name cannot end the script element it is embedded in.
    let listed = serde_json::to_string(documents)
        .unwrap_or_else(|_| "[]".into())
        .replace("</", "<\\/");
    PAGE.replace("{:style}", inner(&bundled, "style"))
        .replace("{:documents}", &listed)
        .replace("{:script}", inner(&bundled, "script"))
}

/// The endpoint serving [`page`] (nest it at `/docs`).
pub fn endpoint(documents: &[Document]) -> impl Endpoint + 'static {
    let html = page(documents);
    Route::new().at("/", make_sync(move |_| Html(html.clone())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_lists_every_document_and_carries_swagger_ui() {
        let html = page(&[
            Document::new("API v1", "/api/v1/openapi.json"),
            Document::new("</script>", "/x"),
        ]);
        assert!(html.contains(r#""url":"/api/v1/openapi.json""#));
        assert!(html.contains(r#""name":"<\/script>""#));
        // The bundle itself is there (it defines SwaggerUIBundle), not a CDN reference.
        assert!(html.len() > 100_000, "{}", html.len());
        assert!(!html.contains("<script src") && !html.contains("<link"));
    }
}
