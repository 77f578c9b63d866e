//! A TCP forwarder that a test can switch off and on, put between the app and a shared
//! Redis or Postgres: "off" closes every open connection and refuses new ones, which is
//! what the app sees when its store goes away, while the store itself (and the sessions
//! in it) stays untouched for the moment the proxy comes back.

use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

pub struct Proxy {
    pub port: u16,
    target: String,
    /// The accept loop and every forwarding task, aborted by `down`.
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Proxy {
    /// Starts forwarding a free local port to `target` (`host:port`).
    pub async fn start(target: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a free port");
        let port = listener.local_addr().expect("local address").port();
        let proxy = Proxy { port, target: target.to_owned(), tasks: Arc::default() };
        proxy.serve(listener);
        proxy
    }

    /// Closes every connection and stops listening: the store looks gone.
    pub fn down(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// Listens again on the same port: the store is back.
    pub async fn up(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.expect("rebind the proxy port");
        self.serve(listener);
    }

    fn serve(&self, listener: TcpListener) {
        let (target, tasks) = (self.target.clone(), self.tasks.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                let forward = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tasks.lock().unwrap().push(forward.abort_handle());
            }
        });
        self.tasks.lock().unwrap().push(accept.abort_handle());
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.down();
    }
}

/// `host:port` of a store URL such as `redis://127.0.0.1:6379/0`,
/// `postgres://user@host:5432/db` or `dynamodb://table?endpoint=http://host:5000`, and the same
/// URL pointed at `port` on 127.0.0.1.
pub fn reroute(url: &str, port: u16) -> (String, String) {
    // A DynamoDB setting names its emulator in a parameter: `dynamodb://TABLE?endpoint=URL`.
    if let Some((setting, endpoint)) = url.split_once("?endpoint=") {
        let (scheme, host) = endpoint.split_once("://").expect("an endpoint with a scheme");
        return (
            host.trim_end_matches('/').to_owned(),
            format!("{setting}?endpoint={scheme}://127.0.0.1:{port}"),
        );
    }
    let (scheme, rest) = url.split_once("://").expect("a URL with a scheme");
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = (&rest[..end], rest[end..].trim_start_matches('/'));
    let (userinfo, host) = authority.rsplit_once('@').map_or(("", authority), |(u, h)| (u, h));
    let default_port = if scheme.starts_with("redis") { 6379 } else { 5432 };
    let target = if host.contains(':') { host.to_owned() } else { format!("{host}:{default_port}") };
    let at = if userinfo.is_empty() { String::new() } else { format!("{userinfo}@") };
    (target, format!("{scheme}://{at}127.0.0.1:{port}/{path}"))
}

// The mode below rewrites one request header, as GitHub Codespaces' port forwarding does:
// a browser's `Origin` that names the forwarded address reaches the app as
// `http://localhost:<port>`, while `Host` stays as the browser sent it. It reads HTTP/1.1
// requests one by one to find their heads; answers go back untouched. The same mode, rewriting
// nothing, logs one header of each request: what the DynamoDB store asks, request by request.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

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
        OriginRewriter::serve(listener, &format!("127.0.0.1:{app_port}"), rewrite)
    }

    /// Forwards a free local port to `target` (`host:port`) unchanged, logging the value of
    /// the header `name` of every request. (Used by the DynamoDB tests, built with their feature.)
    #[cfg_attr(not(feature = "dynamodb"), allow(dead_code))]
    pub async fn logging(target: &str, name: &str) -> (Proxy, RequestLog) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a free port");
        let log = RequestLog { name: name.to_ascii_lowercase(), seen: Arc::default() };
        let rewrite =
            Rewrite { from: String::new(), to: String::new(), count: Arc::default(), log: Some(log.clone()) };
        (OriginRewriter::serve(listener, target, rewrite).proxy, log)
    }

    fn serve(listener: TcpListener, target: &str, rewrite: Rewrite) -> OriginRewriter {
        let port = listener.local_addr().expect("local address").port();
        let proxy = Proxy { port, target: target.to_owned(), tasks: Arc::default() };
        let rewritten = rewrite.count.clone();
        let (target, tasks) = (proxy.target.clone(), proxy.tasks.clone());
        let accept = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let (target, rewrite) = (target.clone(), rewrite.clone());
                let forward = tokio::spawn(async move {
                    if let Ok(outbound) = TcpStream::connect(&target).await {
                        rewrite.forward(inbound, outbound).await;
                    }
                });
                tasks.lock().unwrap().push(forward.abort_handle());
            }
        });
        proxy.tasks.lock().unwrap().push(accept.abort_handle());
        OriginRewriter { proxy, rewritten }
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
struct Rewrite {
    from: String,
    to: String,
    count: Arc<AtomicUsize>,
    log: Option<RequestLog>,
}

impl Rewrite {
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
