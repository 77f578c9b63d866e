//! HTTP over raw TCP, to the in-process [`Server`] or an app process on any port, plus the
//! one-line API calls the process tests make. Raw bytes on purpose: tests need exact control
//! over headers, which is what an attacker has too.

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::server::Server;

impl Server {
    /// One HTTP/1.1 request on a fresh connection.
    pub async fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        http(self.port, method, path, headers, body).await
    }
}

/// One HTTP/1.1 request to the server on `port` (this process's or another's).
pub async fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut raw = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (name, value) in headers {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    raw.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    stream.write_all(raw.as_bytes()).await.expect("send");
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).await.expect("read");
    Reply::parse(&String::from_utf8_lossy(&bytes))
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    fn parse(text: &str) -> Reply {
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text, ""));
        let mut lines = head.lines();
        let status =
            lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
        let headers = lines
            .filter_map(|l| l.split_once(": "))
            .map(|(n, v)| (n.to_ascii_lowercase(), v.to_owned()))
            .collect();
        Reply { status, headers, body: body.to_owned() }
    }

    /// `name=value` of the first Set-Cookie, ready for a `Cookie` header.
    pub fn cookie(&self) -> Option<String> {
        let (_, value) = self.headers.iter().find(|(n, _)| n == "set-cookie")?;
        value.split(';').next().map(str::to_owned)
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

pub fn json(reply: &Reply) -> Value {
    serde_json::from_str(&reply.body).unwrap_or_else(|e| panic!("not JSON ({e}): {reply:?}"))
}

/// The items of a `200` list reply.
pub fn items(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, 200, "{reply:?}");
    let items = json(reply)["items"].as_array().cloned().unwrap_or_else(|| panic!("no items: {reply:?}"));
    items.iter().map(|item| item.as_str().unwrap_or_default().to_owned()).collect()
}
