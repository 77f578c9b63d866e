//! The proxy's mode that rewrites one request header, as GitHub Codespaces' port forwarding
//! does: a browser's `Origin` that names the forwarded address reaches the app as
//! `http://localhost:<port>`, while `Host` stays as the browser sent it. It reads HTTP/1.1
//! requests one by one to find their heads; answers go back untouched. The same mode,
//! rewriting nothing, logs one header of each request: what the DynamoDB store asks, request
//! by request.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

use super::Proxy;

/// A [`Proxy`] that rewrites `Origin`, and how many requests it rewrote.
pub struct OriginRewriter {
    pub proxy: Proxy,
    rewritten: Arc<AtomicUsize>,
}

impl OriginRewriter {
    /// Forwards a free local port to the app on 127.0.0.1:`app_port`, rewriting an `Origin`
    /// of `http://127.0.0.1:<this proxy's port>` (the address the browser uses) to
    /// `http://localhost:<app_port>`. Any other `Origin` passes unchanged, as in Codespaces.
    pub async fn start(app_port: u16) -> OriginRewriter {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a free port");
        let port = listener.local_addr().expect("local address").port();
        let rewrite = Rewrite {
            from: format!("http://127.0.0.1:{port}"),
            to: format!("http://localhost:{app_port}"),
            count: Arc::default(),
            log: None,
        };
        let rewritten = rewrite.count.clone();
        let proxy = Proxy {
            port,
            target: format!("127.0.0.1:{app_port}"),
            delay: std::time::Duration::ZERO,
            trips: Arc::default(),
            tasks: Arc::default(),
            rewrite: Some(rewrite),
        };
        proxy.serve(listener);
        OriginRewriter { proxy, rewritten }
    }

    /// Forwards a free local port to `target` (`host:port`) unchanged, logging the value of
    /// the header `name` of every request. (Used by the DynamoDB tests, built with their feature.)
    #[cfg_attr(not(feature = "dynamodb"), allow(dead_code))]
    pub async fn logging(target: &str, name: &str) -> (Proxy, RequestLog) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a free port");
        let port = listener.local_addr().expect("local address").port();
        let log = RequestLog { name: name.to_ascii_lowercase(), seen: Arc::default() };
        let rewrite =
            Rewrite { from: String::new(), to: String::new(), count: Arc::default(), log: Some(log.clone()) };
        let proxy = Proxy {
            port,
            target: target.to_owned(),
            delay: std::time::Duration::ZERO,
            trips: Arc::default(),
            tasks: Arc::default(),
            rewrite: Some(rewrite),
        };
        proxy.serve(listener);
        (proxy, log)
    }

    /// Requests whose `Origin` was rewritten so far.
    pub fn rewritten(&self) -> usize {
        self.rewritten.load(Ordering::SeqCst)
    }
}

/// The values of one header, request by request, as a logging proxy saw them.
#[derive(Clone)]
pub struct RequestLog {
    name: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl RequestLog {
    /// What was logged since the last call.
    #[cfg_attr(not(feature = "dynamodb"), allow(dead_code))]
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

#[derive(Clone)]
pub(super) struct Rewrite {
    from: String,
    to: String,
    count: Arc<AtomicUsize>,
    log: Option<RequestLog>,
}

impl Rewrite {
    /// Connects to `target` and forwards one browser connection to it.
    pub(super) async fn relay(self, inbound: TcpStream, target: String) {
        if let Ok(outbound) = TcpStream::connect(&target).await {
            self.forward(inbound, outbound).await;
        }
    }

    /// Copies answers back as they come, and requests forward one by one with their heads
    /// rewritten.
    async fn forward(&self, inbound: TcpStream, outbound: TcpStream) {
        let (mut from_browser, mut to_browser) = inbound.into_split();
        let (mut from_app, mut to_app) = outbound.into_split();
        let answers = async {
            let _ = tokio::io::copy(&mut from_app, &mut to_browser).await;
            let _ = to_browser.shutdown().await;
        };
        let requests = async {
            self.requests(&mut from_browser, &mut to_app).await;
            let _ = to_app.shutdown().await;
        };
        tokio::join!(answers, requests);
    }

    /// Forwards requests until the browser closes the connection. A chunked request body
    /// ends the rewriting: the rest is copied as it is (browsers send forms and fetch()
    /// bodies with a `Content-Length`).
    async fn requests(&self, from_browser: &mut OwnedReadHalf, to_app: &mut OwnedWriteHalf) {
        let mut buffer = Vec::new();
        while let Some(end) = read_head(from_browser, &mut buffer).await {
            let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
            let (head, body_length) = self.rewrite_head(&head);
            buffer.drain(..end);
            if to_app.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let Some(body_length) = body_length else { break };
            while buffer.len() < body_length {
                if !read_more(from_browser, &mut buffer).await {
                    return;
                }
            }
            let body: Vec<u8> = buffer.drain(..body_length).collect();
            if to_app.write_all(&body).await.is_err() {
                return;
            }
        }
        let _ = to_app.write_all(&buffer).await;
        let _ = tokio::io::copy(from_browser, to_app).await;
    }

    /// The head with `Origin` rewritten when it names this proxy, and the body's length
    /// (`None` for a chunked body).
    fn rewrite_head(&self, head: &str) -> (String, Option<usize>) {
        let mut length = Some(0);
        let mut lines = Vec::new();
        for line in head.split("\r\n") {
            let (name, value) = line.split_once(':').map_or((line, ""), |(n, v)| (n, v.trim()));
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                length = None;
            } else if let Some(log) = self.log.as_ref().filter(|log| name.eq_ignore_ascii_case(&log.name)) {
                log.seen.lock().unwrap().push(value.to_owned());
            } else if name.eq_ignore_ascii_case("origin") && value == self.from {
                self.count.fetch_add(1, Ordering::SeqCst);
                lines.push(format!("{name}: {}", self.to));
                continue;
            }
            lines.push(line.to_owned());
        }
        (lines.join("\r\n"), length)
    }
}

/// Reads until `buffer` holds a whole request head; returns where the head ends (after
/// its blank line), or `None` when the browser closed the connection.
async fn read_head(from: &mut OwnedReadHalf, buffer: &mut Vec<u8>) -> Option<usize> {
    loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            return Some(at + 4);
        }
        if !read_more(from, buffer).await {
            return None;
        }
    }
}

/// Appends what the browser sent next to `buffer`; `false` once it closed the connection.
async fn read_more(from: &mut OwnedReadHalf, buffer: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 8192];
    match from.read(&mut chunk).await {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            buffer.extend_from_slice(&chunk[..n]);
            true
        }
    }
}
