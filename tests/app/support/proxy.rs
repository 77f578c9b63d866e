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

/// `host:port` of a store URL such as `redis://127.0.0.1:6379/0` or
/// `postgres://user@host:5432/db`, and the same URL pointed at `port` on 127.0.0.1.
pub fn reroute(url: &str, port: u16) -> (String, String) {
    let (scheme, rest) = url.split_once("://").expect("a URL with a scheme");
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = (&rest[..end], rest[end..].trim_start_matches('/'));
    let (userinfo, host) = authority.rsplit_once('@').map_or(("", authority), |(u, h)| (u, h));
    let default_port = if scheme.starts_with("redis") { 6379 } else { 5432 };
    let target = if host.contains(':') { host.to_owned() } else { format!("{host}:{default_port}") };
    let at = if userinfo.is_empty() { String::new() } else { format!("{userinfo}@") };
    (target, format!("{scheme}://{at}127.0.0.1:{port}/{path}"))
}
