//! The two servers a browser test talks to: the real app on a free port, and a tiny
//! "elsewhere" site on another port (another origin), for cross-site forms and a console probe.

use rocket::figment::Figment;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

#[path = "../app/support/server.rs"]
mod shared;
use shared::Server;

/// A fixed test key (base64 of 32 bytes): cookies stay readable for the whole test.
const KEY: &str = "YnJvd3Nlci10ZXN0LWtleS0wMTIzNDU2Nzg5YWJjZGU=";

/// The app as `cargo run` builds it, with a fixed key, no log noise, and port 0 (the OS picks).
fn figment() -> Figment {
    rocket::Config::figment().merge(("secret_key", KEY)).merge(("log_level", "off")).merge(("port", 0))
}

/// The real app, listening on 127.0.0.1; shut down when dropped. Started the way the app's
/// own real-server tests start it (one helper, shared by both test binaries).
pub struct App(Server);

impl App {
    pub async fn start() -> App {
        App(Server::start(figment()).await)
    }

    pub fn port(&self) -> u16 {
        self.0.port
    }

    /// An absolute URL on the app.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.0.port)
    }
}

/// A second web site on another port: a different origin from the app, as an attacker's
/// page would be. Two pages: `/form`, whose form posts an item to the app's global list, and
/// `/console-probe`, which makes the browser log an error (to prove the console check sees
/// errors at all).
pub struct Elsewhere {
    pub port: u16,
    task: JoinHandle<()>,
}

impl Elsewhere {
    pub async fn start(app: &App) -> Elsewhere {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind a second port");
        let port = listener.local_addr().expect("its address").port();
        let target = app.url("/global/items");
        let task = tokio::spawn(async move {
            // Connections are served one at a time: the browser makes a handful of requests.
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head);
                let path = head.split_whitespace().nth(1).unwrap_or("/");
                let (status, body) = page(path, &target);
                let reply = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(reply.as_bytes()).await;
            }
        });
        Elsewhere { port, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Elsewhere {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn page(path: &str, target: &str) -> (&'static str, String) {
    match path {
        "/form" => (
            "200 OK",
            format!(
                "<!doctype html><title>Elsewhere</title>\
                 <form method=post action=\"{target}\">\
                 <input name=item value=\"planted from elsewhere\"><input type=hidden name=return_to value=/>\
                 <button id=send type=submit>Send</button></form>"
            ),
        ),
        "/console-probe" => {
            ("200 OK", "<!doctype html><title>Probe</title><img src=/missing.png alt=missing>".to_owned())
        }
        // Browsers ask every origin for one; a 404 would be a console error of its own.
        "/favicon.ico" => ("204 No Content", String::new()),
        _ => ("404 Not Found", "<!doctype html><title>Not here</title>".to_owned()),
    }
}
