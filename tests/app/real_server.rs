//! The real server on a free port, spoken to over TCP: what a browser or curl sees.

use std::sync::Arc;

use rocket::fairing::AdHoc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::figment;

/// A running server; shut down when dropped.
pub struct Server {
    pub port: u16,
    shutdown: rocket::Shutdown,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.clone().notify();
    }
}

impl Server {
    pub async fn start(figment: rocket::figment::Figment) -> Server {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let tx = std::sync::Mutex::new(Some(tx));
        let rocket =
            server_side_sessions::build(figment).attach(AdHoc::on_liftoff("test port", move |rocket| {
                let sent =
                    tx.lock().unwrap().take().map(|tx| tx.send((rocket.config().port, rocket.shutdown())));
                Box::pin(async move { drop(sent) })
            }));
        tokio::spawn(async move { rocket.launch().await.expect("server runs") });
        let (port, shutdown) = rx.await.expect("server lifted off");
        Server { port, shutdown }
    }

    /// One HTTP/1.1 request on a fresh connection. Raw bytes on purpose: tests need exact
    /// control over headers, which is what an attacker has too.
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_server_serves_pages_and_keeps_sessions_over_http() {
    let server = Server::start(figment()).await;
    let home = server.request("GET", "/", &[], "").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("One list, kept three ways"));
    assert!(home.headers.iter().all(|(n, _)| n != "set-cookie"), "reading sets no cookie");

    let json = [("Content-Type", "application/json")];
    let first = server.request("POST", "/api/cookie-session/items", &json, r#"{"item":"over tcp"}"#).await;
    assert_eq!(first.status, 201);
    let cookie = first.cookie().expect("a private cookie");
    let again = server.request("GET", "/api/cookie-session/items", &[("Cookie", &cookie)], "").await;
    assert!(again.body.contains("over tcp"), "{}", again.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_parallel_adds_to_one_session_are_all_kept() {
    let server = Arc::new(Server::start(figment()).await);
    let json = [("Content-Type", "application/json")];
    let first = server.request("POST", "/api/server-session/items", &json, r#"{"item":"start"}"#).await;
    let cookie = first.cookie().expect("session cookie");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let (server, cookie) = (server.clone(), cookie.clone());
        tasks.spawn(async move {
            let headers = [("Content-Type", "application/json"), ("Cookie", cookie.as_str())];
            server
                .request("POST", "/api/server-session/items", &headers, &format!(r#"{{"item":"p{i}"}}"#))
                .await
                .status
        });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.unwrap(), 201);
    }
    let list = server.request("GET", "/api/server-session/items", &[("Cookie", &cookie)], "").await;
    let items: serde_json::Value = serde_json::from_str(&list.body).unwrap();
    assert_eq!(items["items"].as_array().unwrap().len(), 51, "{}", list.body);
}
