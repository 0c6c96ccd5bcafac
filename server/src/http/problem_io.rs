//! hyper answers a request it cannot parse (a bad request line or header, a bad
//! `Content-Length`, a URI or header section too large) by itself, before the app sees it,
//! with an empty body. [`ProblemIo`] sits between hyper and the socket and turns exactly
//! those automatic answers into problem+json, so that every error a client sees has one shape.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use poem::http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::problem::{PROBLEM_JSON, Problem};

/// A connection whose automatic error answers from hyper carry a problem+json body.
#[derive(Debug)]
pub struct ProblemIo<T> {
    inner: T,
    /// A rewritten answer being written, and how much of it is written.
    rewriting: Option<(Vec<u8>, usize)>,
}

impl<T> ProblemIo<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            rewriting: None,
        }
    }
}

/// The detail of each automatic answer hyper gives.
fn detail(status: u16) -> Option<&'static str> {
    match status {
        400 => Some(
            "the request could not be parsed: a malformed request line or header, \
             or an invalid Content-Length",
        ),
        414 => Some("the request target is longer than this server accepts"),
        431 => Some("the request's header fields are too large or too many"),
        _ => None,
    }
}

/// The problem+json answer replacing `head`, when `head` is one of hyper's automatic error
/// answers: a whole response head with status 400, 414 or 431, `content-length: 0` and no
/// body. Anything else (every answer of the app has a body) is left alone.
pub fn rewrite(head: &[u8]) -> Option<Vec<u8>> {
    // Every write goes through here: answers that are not 4xx leave at the first bytes.
    if !head.starts_with(b"HTTP/1.1 4") {
        return None;
    }
    let text = std::str::from_utf8(head).ok()?;
    let rest = text.strip_prefix("HTTP/1.1 ")?;
    let status: u16 = rest.get(..3)?.parse().ok()?;
    let detail = detail(status)?;
    let end = text.find("\r\n\r\n")?;
    if end + 4 != text.len() {
        return None;
    }
    let mut lines = text[..end].split("\r\n");
    let status_line = lines.next()?;
    let headers: Vec<&str> = lines.collect();
    let empty = headers
        .iter()
        .any(|h| h.eq_ignore_ascii_case("content-length: 0"));
    let typed = headers
        .iter()
        .any(|h| h.to_ascii_lowercase().starts_with("content-type:"));
    if !empty || typed {
        return None;
    }
    let code = StatusCode::from_u16(status).ok()?;
    let body = serde_json::to_vec(&Problem::new(code, Some(detail.to_owned()))).ok()?;
    let mut out = format!("{status_line}\r\ncontent-type: {PROBLEM_JSON}\r\n");
    for header in headers
        .iter()
        .filter(|h| !h.eq_ignore_ascii_case("content-length: 0"))
    {
        out.push_str(header);
        out.push_str("\r\n");
    }
    out.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&body);
    Some(bytes)
}

impl<T: AsyncRead + Unpin> AsyncRead for ProblemIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ProblemIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.rewriting.is_none() {
            match rewrite(buf) {
                Some(answer) => this.rewriting = Some((answer, 0)),
                None => return Pin::new(&mut this.inner).poll_write(cx, buf),
            }
        }
        // hyper calls again with the same `buf` until it is reported written, so the
        // replacement is written whole before `buf` counts as written.
        while let Some((answer, written)) = &mut this.rewriting {
            if *written == answer.len() {
                this.rewriting = None;
                return Poll::Ready(Ok(buf.len()));
            }
            let n = ready!(Pin::new(&mut this.inner).poll_write(cx, &answer[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    #[test]
    fn only_hyper_s_empty_error_answers_are_rewritten() {
        let head = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let out = String::from_utf8(rewrite(head).unwrap()).unwrap();
        assert!(out.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/problem+json\r\nconnection: close\r\n"), "{out}");
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(
            head.ends_with(&format!("content-length: {}", body.len())),
            "{out}"
        );
        assert!(body.contains("\"status\":431"), "{body}");

        // An answer of the app: typed, with a body, or not an error hyper makes.
        assert!(rewrite(b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(rewrite(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}").is_none());
        assert!(rewrite(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(rewrite(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
    }
}
