//! A stand-in for AWS's Parameters and Secrets Lambda Extension: the same path, token header
//! and `GetSecretValue` answer, on a free loopback port. The real one is a layer that runs only
//! on Lambda, and no emulator plays it (moto's server does not), so the function's reading of
//! its secrets (`src/lambda/secret_key.rs`) meets this one in the tests.

use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The stand-in, answering until the test ends.
pub struct Extension {
    pub port: u16,
    heads: Arc<Mutex<Vec<String>>>,
}

impl Extension {
    /// Answers `GET /secretsmanager/get?secretId=ID` that carries `token` with what `secret(ID)`
    /// gives: `Ok` the `GetSecretValue` JSON (200), `Err` a body for a 400. Anything else: 401.
    pub async fn start<F, Fut>(token: &'static str, secret: F) -> Extension
    where
        F: Fn(String) -> Fut + Send + 'static,
        Fut: Future<Output = Result<String, String>> + Send,
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let port = listener.local_addr().expect("its port").port();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&heads);
        let header = format!("x-aws-parameters-secrets-token: {token}");
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut head = vec![0; 8192];
                let read = socket.read(&mut head).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&head[..read]).into_owned();
                seen.lock().expect("the heads").push(head.clone());
                let target =
                    head.split(' ').nth(1).and_then(|t| url::Url::parse(&format!("http://x{t}")).ok());
                let id = target.filter(|t| t.path() == "/secretsmanager/get").and_then(|t| {
                    t.query_pairs().find(|(name, _)| name == "secretId").map(|(_, id)| id.into_owned())
                });
                let (status, body) = match id.filter(|_| head.to_ascii_lowercase().contains(&header)) {
                    Some(id) => match secret(id).await {
                        Ok(body) => ("200 OK", body),
                        Err(body) => ("400 Bad Request", body),
                    },
                    None => ("401 Unauthorized", String::new()),
                };
                let answer = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            }
        });
        Extension { port, heads }
    }

    /// The head of every request it took, in order.
    pub fn requests(&self) -> Vec<String> {
        self.heads.lock().expect("the heads").clone()
    }
}
