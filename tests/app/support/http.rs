//! HTTP over raw TCP, to the in-process [`Server`] or an app process on any port, plus the
//! one-line API calls the process tests make. Raw bytes on purpose: tests need exact control
//! over headers, which is what an attacker has too. A [`Connection`] keeps one open for
//! request after request, as a browser does (and as the load generator, `load.rs`, needs).

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::server::Server;

impl Server {
    /// One HTTP/1.1 request on a fresh connection.
    pub async fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        http(self.port, method, path, headers, body).await
    }
}

/// One HTTP/1.1 request to the server on `port` (this process's or another's), on a fresh
/// connection that it then closes.
pub async fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut connection = Connection::open(port).await.expect("connect");
    let mut headers = headers.to_vec();
    headers.push(("Connection", "close"));
    connection.send(method, path, &headers, body).await.unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// A keep-alive HTTP/1.1 connection to 127.0.0.1:`port`: one request at a time, each reply
/// read to the end of its `Content-Length` (the app sends no chunked replies).
pub struct Connection {
    port: u16,
    stream: BufReader<TcpStream>,
}

impl Connection {
    pub async fn open(port: u16) -> std::io::Result<Connection> {
        let stream = TcpStream::connect(("127.0.0.1", port)).await?;
        stream.set_nodelay(true)?;
        Ok(Connection { port, stream: BufReader::with_capacity(16 * 1024, stream) })
    }

    /// Sends one request and reads its reply; an error when the server closed the connection
    /// without answering.
    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> std::io::Result<Reply> {
        let mut raw = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n", self.port);
        for (name, value) in headers {
            raw.push_str(&format!("{name}: {value}\r\n"));
        }
        raw.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        self.stream.get_mut().write_all(raw.as_bytes()).await?;
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") && self.stream.read_until(b'\n', &mut head).await? > 0 {}
        if head.is_empty() {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if !head.ends_with(b"\r\n\r\n") {
            return Err(cut_short(std::io::ErrorKind::UnexpectedEof.into()));
        }
        let mut reply = Reply::parse(&String::from_utf8_lossy(&head));
        let mut body = Vec::new();
        if let Some(length) = reply.header("content-length").and_then(|v| v.parse().ok()) {
            body.resize(length, 0);
            self.stream.read_exact(&mut body).await.map_err(cut_short)?;
        } else if reply.header("transfer-encoding").is_some() {
            return Err(std::io::Error::other("a chunked reply: not read here"));
        } else if !matches!(reply.status, 100..=199 | 204 | 304) {
            self.stream.read_to_end(&mut body).await?; // no length: the body ends with the connection
        }
        reply.body = String::from_utf8_lossy(&body).into_owned();
        Ok(reply)
    }
}

/// A reply that broke off after it began: `InvalidData`, where a connection closed before
/// any answer is `UnexpectedEof` (the server never took that request).
fn cut_short(error: std::io::Error) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("a reply cut short: {error}"))
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    /// The status line and headers; the body comes after.
    fn parse(head: &str) -> Reply {
        let mut lines = head.lines();
        let status =
            lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
        let headers = lines
            .filter_map(|l| l.split_once(": "))
            .map(|(n, v)| (n.to_ascii_lowercase(), v.to_owned()))
            .collect();
        Reply { status, headers, body: String::new() }
    }

    /// The first value of header `name` (given in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Every `Set-Cookie` value, attributes and all.
    pub fn set_cookies(&self) -> impl Iterator<Item = &str> {
        self.headers.iter().filter(|(n, _)| n == "set-cookie").map(|(_, v)| v.as_str())
    }

    /// `name=value` of the first Set-Cookie, ready for a `Cookie` header.
    pub fn cookie(&self) -> Option<String> {
        self.header("set-cookie")?.split(';').next().map(str::to_owned)
    }
}

fn with_cookie(cookie: Option<&str>) -> Vec<(&str, &str)> {
    cookie.map(|c| vec![("Cookie", c)]).unwrap_or_default()
}

/// `POST /api/<slug>/items` with `{"item": item}`.
pub async fn add(port: u16, slug: &str, item: &str, cookie: Option<&str>) -> Reply {
    let mut headers = with_cookie(cookie);
    headers.push(("Content-Type", "application/json"));
    let body = serde_json::json!({ "item": item }).to_string();
    http(port, "POST", &format!("/api/{slug}/items"), &headers, &body).await
}

/// `GET /api/<slug>/items`.
pub async fn list(port: u16, slug: &str, cookie: Option<&str>) -> Reply {
    http(port, "GET", &format!("/api/{slug}/items"), &with_cookie(cookie), "").await
}

pub async fn get(port: u16, path: &str, cookie: Option<&str>) -> Reply {
    http(port, "GET", path, &with_cookie(cookie), "").await
}

/// A GET to a server that may not listen yet, or may accept and close (a port forwarder).
pub async fn try_get(port: u16, path: &str) -> Option<Reply> {
    let mut connection = Connection::open(port).await.ok()?;
    connection.send("GET", path, &[("Connection", "close")], "").await.ok()
}

/// The header of a JSON body.
pub const JSON: (&str, &str) = ("Content-Type", "application/json");

pub fn json(reply: &Reply) -> Value {
    serde_json::from_str(&reply.body).unwrap_or_else(|e| panic!("not JSON ({e}): {reply:?}"))
}

/// The items of a `200` list reply.
pub fn items(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, 200, "{reply:?}");
    let items = json(reply)["items"].as_array().cloned().unwrap_or_else(|| panic!("no items: {reply:?}"));
    items.iter().map(|item| item.as_str().unwrap_or_default().to_owned()).collect()
}

/// A browser's cookies for one site, by name: sent with each request, updated from each reply
/// (an empty value or `Max-Age=0` deletes). Cloned, it is a copy of the cookies replayed elsewhere.
#[derive(Clone, Debug, Default)]
pub struct Jar(pub std::collections::BTreeMap<String, String>);

impl Jar {
    /// One request to `port` with this jar's cookies; keeps what the reply sets.
    pub async fn send(
        &mut self,
        port: u16,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        let cookies = self.0.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("; ");
        let mut headers = headers.to_vec();
        if !cookies.is_empty() {
            headers.push(("Cookie", &cookies));
        }
        let reply = http(port, method, path, &headers, body).await;
        for cookie in reply.set_cookies() {
            let pair = cookie.split(';').next().unwrap_or_default();
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if value.is_empty() || cookie.contains("Max-Age=0") {
                self.0.remove(name);
            } else {
                self.0.insert(name.to_owned(), value.to_owned());
            }
        }
        reply
    }

    /// `POST /api/<slug>/items` with `{"item": item}` and `headers`.
    pub async fn add(&mut self, port: u16, slug: &str, item: &str, headers: &[(&str, &str)]) -> Reply {
        let mut headers = headers.to_vec();
        headers.push(("Content-Type", "application/json"));
        let body = serde_json::json!({ "item": item }).to_string();
        self.send(port, "POST", &format!("/api/{slug}/items"), &headers, &body).await
    }

    /// The items of `/api/<slug>/items`.
    pub async fn items(&mut self, port: u16, slug: &str) -> Vec<String> {
        items(&self.send(port, "GET", &format!("/api/{slug}/items"), &[], "").await)
    }

    /// A form post (`application/x-www-form-urlencoded`, `body` already encoded).
    pub async fn form(&mut self, port: u16, path: &str, body: &str) -> Reply {
        self.send(port, "POST", path, &[("Content-Type", "application/x-www-form-urlencoded")], body).await
    }
}
