//! A limit on request bodies that holds for every framing: poem's `SizeLimit` reads only
//! `Content-Length`, so a chunked body could grow without bound. [`BodyLimit`] refuses a
//! declared length over the limit at once, and reads any other body up to the limit, answering
//! 413 problem+json on the first byte past it, before the endpoint runs.

use poem::error::ReadBodyError;
use poem::http::{StatusCode, header};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};

use super::problem::Problem;

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
                Ok(body) => req.set_body(body),
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
