//! Headless Chromium (Debian's `chromium`) driven over the DevTools protocol on a pipe
//! (`--remote-debugging-pipe`: JSON messages ended by a NUL byte, commands on the browser's
//! descriptor 3, answers and events on its descriptor 4). No WebDriver and no websocket
//! crate: the test needs nothing but the browser.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long one DevTools command may take.
const COMMAND_DEADLINE: Duration = Duration::from_secs(30);

/// The browser binary: `$STACK_CHROMIUM`, else Debian's `/usr/bin/chromium`. Missing is a
/// failure: the dashboard's test needs it (scripts/test.sh installs it).
fn binary() -> PathBuf {
    let path = std::env::var_os("STACK_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(
        path.exists(),
        "{} is missing: install Debian's chromium (`apt-get install chromium`, as \
         scripts/test.sh does) or set STACK_CHROMIUM",
        path.display()
    );
    path
}

/// A headless browser with one page, closed (and its profile removed) when dropped.
pub(crate) struct Chromium {
    child: std::process::Child,
    commands: ChildStdin,
    messages: Receiver<Value>,
    next_id: u64,
    session: String,
    profile: PathBuf,
}

impl Chromium {
    /// Starts the browser and opens a page of `width` x `height` pixels on `about:blank`.
    pub(crate) fn start(width: u32, height: u32) -> Self {
        let profile = std::env::temp_dir().join(format!(
            "stack-chromium-{}-{}",
            std::process::id(),
            uuid::Uuid::now_v7()
        ));
        // The shell gives the browser our stdin as its descriptor 3 and our stdout as its
        // descriptor 4, and its own output to /dev/null.
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$0" "$@" 3<&0 4>&1 >/dev/null </dev/null"#)
            .arg(binary())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-extensions",
                "--remote-debugging-pipe",
                &format!("--window-size={width},{height}"),
                &format!("--user-data-dir={}", profile.display()),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromium starts");
        let commands = child.stdin.take().unwrap();
        let mut output = BufReader::new(child.stdout.take().unwrap());
        let (sink, messages) = channel();
        std::thread::spawn(move || {
            let mut message = Vec::new();
            while output.read_until(0, &mut message).unwrap_or(0) > 0 {
                let text = message.strip_suffix(&[0]).unwrap_or(&message);
                let parsed = serde_json::from_slice::<Value>(text);
                if parsed.is_ok_and(|value| sink.send(value).is_err()) {
                    return;
                }
                message.clear();
            }
        });
        let mut browser = Self {
            child,
            commands,
            messages,
            next_id: 0,
            session: String::new(),
            profile,
        };
        let target = browser.call("Target.createTarget", json!({ "url": "about:blank" }));
        let attached = browser.call(
            "Target.attachToTarget",
            json!({ "targetId": target["targetId"], "flatten": true }),
        );
        browser.session = attached["sessionId"].as_str().unwrap().to_owned();
        browser.page(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        );
        browser
    }

    /// Sends `method` (to the page's session when `session` is set); its result.
    fn send(&mut self, method: &str, params: Value, session: Option<String>) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = Value::String(session);
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.commands.write_all(&bytes).unwrap();
        self.commands.flush().unwrap();
        let deadline = Instant::now() + COMMAND_DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.messages.recv_timeout(left) {
                Ok(answer) if answer["id"] == id => {
                    assert!(answer.get("error").is_none(), "{method}: {answer}");
                    return answer["result"].clone();
                }
                Ok(_event) => {}
                Err(RecvTimeoutError::Timeout) => {
                    panic!("{method}: no answer in {COMMAND_DEADLINE:?}")
                }
                Err(RecvTimeoutError::Disconnected) => panic!("{method}: chromium exited"),
            }
        }
    }

    /// A browser-level command.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.send(method, params, None)
    }

    /// A command to the page.
    fn page(&mut self, method: &str, params: Value) -> Value {
        let session = Some(self.session.clone());
        self.send(method, params, session)
    }

    /// Loads `url` in the page.
    pub(crate) fn navigate(&mut self, url: &str) {
        let answer = self.page("Page.navigate", json!({ "url": url }));
        assert!(answer.get("errorText").is_none(), "{url}: {answer}");
    }

    /// The value of `expression` in the page (a promise is awaited); panics on an exception.
    pub(crate) fn eval(&mut self, expression: &str) -> Value {
        let answer = self.page(
            "Runtime.evaluate",
            json!({ "expression": expression, "awaitPromise": true, "returnByValue": true }),
        );
        assert!(
            answer.get("exceptionDetails").is_none(),
            "{expression}: {answer}"
        );
        answer["result"]["value"].clone()
    }

    /// Polls `expression` until it is `true`, for at most `limit`; panics with `what` and the
    /// page's text when it never is.
    pub(crate) fn wait_until(&mut self, expression: &str, limit: Duration, what: &str) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.eval(expression) == Value::Bool(true) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let text = self.eval("document.body ? document.body.innerText : ''");
        panic!(
            "{what}: not within {limit:?}; the page reads:\n{}",
            text.as_str().unwrap_or_default()
        );
    }

    /// A PNG of the page as the window shows it.
    pub(crate) fn screenshot(&mut self) -> Vec<u8> {
        let shot = self.page("Page.captureScreenshot", json!({ "format": "png" }));
        decode_base64(shot["data"].as_str().unwrap())
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        // Closed through the protocol, the browser takes its helper processes with it.
        let mut close = serde_json::to_vec(&json!({ "id": 0, "method": "Browser.close" })).unwrap();
        close.push(0);
        let _ = self.commands.write_all(&close);
        let _ = self.commands.flush();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Standard base64 (with padding) to bytes.
fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let mut bytes = Vec::with_capacity(text.len() / 4 * 3);
    for chunk in text.as_bytes().chunks(4) {
        let digits: Vec<u8> = chunk
            .iter()
            .copied()
            .filter(|c| *c != b'=')
            .map(value)
            .collect();
        let bits = digits
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, d)| acc | (u32::from(*d) << (18 - 6 * i)));
        let [_, a, b, c] = bits.to_be_bytes();
        bytes.extend_from_slice(&[a, b, c][..digits.len().saturating_sub(1)]);
    }
    bytes
}

#[test]
fn base64_decodes_with_and_without_padding() {
    assert_eq!(decode_base64("TWFu"), b"Man");
    assert_eq!(decode_base64("TWE="), b"Ma");
    assert_eq!(decode_base64("TQ=="), b"M");
    assert_eq!(decode_base64(""), b"");
}
