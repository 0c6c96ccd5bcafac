//! A limit on request bodies that holds for every framing: poem's `SizeLimit` reads only
//! `Content-Length`, so a chunked body could grow without bound. [`BodyLimit`] refuses a
//! declared length over the limit at once, and reads any other body up to the limit, answering
//! 413 problem+json on the first byte past it, before the endpoint runs. A JSON body whose
//! object repeats a key is refused (400, with the key's pointer: see [`json_keys`]).
//!
//! [`json_keys`]: super::json_keys

use poem::error::ReadBodyError;
use poem::http::{StatusCode, header};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};

use super::problem::{FieldError, Problem};

/// The largest request body the rail API reads: 1 MiB (a bulk request of 500 deposits takes
/// about 150 KiB).
pub const MAX_BODY: usize = 1024 * 1024;

/// The middleware: see the module documentation.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit {
    max: usize,
}

impl BodyLimit {
    /// Bodies of at most `max` bytes.
    pub fn new(max: usize) -> Self {
        Self { max }
    }
}

impl<E: Endpoint> Middleware<E> for BodyLimit {
    type Output = BodyLimitEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        BodyLimitEndpoint {
            inner,
            max: self.max,
        }
    }
}

/// An endpoint wrapped by [`BodyLimit`].
#[derive(Debug)]
pub struct BodyLimitEndpoint<E> {
    inner: E,
    max: usize,
}

fn too_large(max: usize) -> Response {
    let detail = format!("the request body is larger than {max} bytes");
    Problem::new(StatusCode::PAYLOAD_TOO_LARGE, Some(detail)).into_response()
}

/// Whether `req` declares a JSON body (`application/json`, or any `+json` type).
fn is_json(req: &Request) -> bool {
    req.content_type().is_some_and(|value| {
        let essence = value.split(';').next().unwrap_or_default().trim();
        essence.eq_ignore_ascii_case("application/json")
            || essence.to_ascii_lowercase().ends_with("+json")
    })
}

fn duplicate(pointer: String) -> Response {
    let detail = "a key appears twice in one object of the JSON body".to_owned();
    Problem::new(StatusCode::BAD_REQUEST, Some(detail.clone()))
        .with_errors(vec![FieldError {
            pointer,
            detail: "this key appears twice; send it once".to_owned(),
        }])
        .into_response()
}

impl<E: Endpoint> Endpoint for BodyLimitEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Response> {
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > self.max as u64) {
            return Ok(too_large(self.max));
        }
        let body = req.take_body();
        // A body known to be empty (a GET without one, `Content-Length: 0`) is not read.
        if declared == Some(0) || body.is_empty() {
            req.set_body(body);
        } else {
            match body.into_bytes_limit(self.max).await {
                Ok(body) => {
                    if is_json(&req)
                        && let Some(pointer) = super::json_keys::duplicate_key(&body)
                    {
                        return Ok(duplicate(pointer));
                    }
                    req.set_body(body);
                }
                Err(ReadBodyError::PayloadTooLarge) => return Ok(too_large(self.max)),
                Err(error) => {
                    let detail = format!("the request body could not be read: {error}");
                    let problem = Problem::new(StatusCode::BAD_REQUEST, Some(detail));
                    return Ok(problem.into_response());
                }
            }
        }
        self.inner.call(req).await.map(IntoResponse::into_response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem::test::TestClient;
    use poem::{Body, EndpointExt, handler, post};

    #[handler]
    async fn length(body: Vec<u8>) -> String {
        body.len().to_string()
    }

    #[tokio::test]
    async fn chunked_and_declared_bodies_are_held_to_the_limit() {
        let client = TestClient::new(post(length).with(BodyLimit::new(8)));
        let ok = client.post("/").body("12345678").send().await;
        ok.assert_status_is_ok();
        ok.assert_text("8").await;
        let declared = client.post("/").body("123456789").send().await;
        declared.assert_status(StatusCode::PAYLOAD_TOO_LARGE);
        declared.assert_content_type(super::super::problem::PROBLEM_JSON);
        // A body of unknown length (as a chunked upload arrives) is cut at the limit too.
        let stream = futures_util_stream(vec![b"12345".to_vec(), b"6789".to_vec()]);
        let chunked = client.post("/").body(stream).send().await;
        chunked.assert_status(StatusCode::PAYLOAD_TOO_LARGE);
        // A JSON body that repeats a key is refused, pointing at it; other bodies are not
        // parsed.
        let client = TestClient::new(post(length).with(BodyLimit::new(64)));
        let repeated = client
            .post("/")
            .content_type("application/json")
            .body(r#"{"a":1,"a":2}"#)
            .send()
            .await;
        repeated.assert_status(StatusCode::BAD_REQUEST);
        repeated.assert_text(r#"{"type":"about:blank","title":"Bad Request","status":400,"detail":"a key appears twice in one object of the JSON body","errors":[{"pointer":"/a","detail":"this key appears twice; send it once"}]}"#).await;
        let text = client.post("/").body(r#"{"a":1,"a":2}"#).send().await;
        text.assert_status_is_ok();
        // No body at all passes, unread.
        let empty = client.post("/").send().await;
        empty.assert_status_is_ok();
        empty.assert_text("0").await;
    }

    fn futures_util_stream(chunks: Vec<Vec<u8>>) -> Body {
        let (mut writer, reader) = tokio::io::duplex(64);
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            for chunk in chunks {
                if writer.write_all(&chunk).await.is_err() {
                    return;
                }
            }
        });
        Body::from_async_read(reader)
    }
}
