//! The self-check's HTTP client: blocking (ureq), run off the runtime's threads.

use std::time::Duration;

use serde_json::Value;

/// One HTTP answer.
pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) content_type: String,
    pub(super) body: String,
}

impl Reply {
    /// The body as JSON, after checking the status is `status`.
    pub(super) fn expect(self, what: &str, status: u16) -> Result<Value, String> {
        if self.status != status {
            return Err(format!(
                "{what}: expected {status}, got {} ({}): {}",
                self.status, self.content_type, self.body
            ));
        }
        serde_json::from_str(&self.body)
            .map_err(|e| format!("{what}: not JSON ({e}): {}", self.body))
    }
}

/// A blocking client (ureq) run off the runtime's threads.
#[derive(Clone)]
pub(super) struct Client {
    agent: ureq::Agent,
    base: String,
}

impl Client {
    /// A client of `base`: no proxy, at most 10 s a call, any status an answer (not an error).
    pub(super) fn new(base: &str) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .timeout_global(Some(Duration::from_secs(10)))
            .build();
        Self {
            agent: config.into(),
            base: base.to_owned(),
        }
    }

    /// `method path` with `authorization` (when given) and a JSON `body` (POST).
    pub(super) async fn call(
        &self,
        method: &'static str,
        path: &str,
        authorization: Option<&str>,
        body: Option<Value>,
    ) -> Result<Reply, String> {
        let (agent, url) = (self.agent.clone(), format!("{}{path}", self.base));
        let authorization = authorization.map(str::to_owned);
        let what = format!("{method} {path}");
        let context = what.clone();
        tokio::task::spawn_blocking(move || {
            let sent = if method == "GET" {
                let request = agent.get(&url);
                match &authorization {
                    Some(value) => request.header("authorization", value).call(),
                    None => request.call(),
                }
            } else {
                let mut request = agent.post(&url);
                if let Some(value) = &authorization {
                    request = request.header("authorization", value);
                }
                match body {
                    Some(body) => request
                        .header("content-type", "application/json")
                        .send(body.to_string()),
                    None => request.send_empty(),
                }
            };
            let mut response = sent.map_err(|e| format!("{what}: {e}"))?;
            let content_type = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let body = response
                .body_mut()
                .read_to_string()
                .map_err(|e| format!("{what}: reading the body: {e}"))?;
            Ok(Reply {
                status: response.status().as_u16(),
                content_type,
                body,
            })
        })
        .await
        .map_err(|e| format!("{context}: the client task failed: {e}"))?
    }
}
