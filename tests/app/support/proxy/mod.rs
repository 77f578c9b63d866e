//! A TCP forwarder put between the app and a shared Redis or Postgres. A test can switch it
//! off and on: "off" closes every open connection and refuses new ones, which is what the app
//! sees when its store goes away, while the store itself (and the sessions in it) stays
//! untouched for the moment the proxy comes back. It also counts round trips on the wire,
//! and can make the store seem farther away. Put between a browser and the app, it can rewrite
//! `Origin` as a port forwarder does ([`origin`]).

pub mod origin;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

pub struct Proxy {
    pub port: u16,
    target: String,
    /// Added to every round trip: the store's answer comes this much later.
    delay: Duration,
    /// Round trips so far, on every connection (see [`Proxy::round_trips`]).
    trips: Arc<AtomicU64>,
    /// The accept loop and every forwarding task, aborted by `down`.
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
    /// Rewrites request heads instead of relaying bytes ([`origin::OriginRewriter`]).
    rewrite: Option<origin::Rewrite>,
}

impl Proxy {
    /// Starts forwarding a free local port to `target` (`host:port`).
    pub async fn start(target: &str) -> Proxy {
        Proxy::with_delay(target, Duration::ZERO).await
    }

    /// As [`Proxy::start`], each round trip taking `delay` longer: a store across a network.
    pub async fn with_delay(target: &str, delay: Duration) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a free port");
        let port = listener.local_addr().expect("local address").port();
        let (trips, tasks) = (Arc::default(), Arc::default());
        let proxy = Proxy { port, target: target.to_owned(), delay, trips, tasks, rewrite: None };
        proxy.serve(listener);
        proxy
    }

    /// Round trips so far, over all connections: a send from the app that opens a connection
    /// or follows a reply from the store. Several messages the app sends before the store
    /// answers (a pipeline) are one round trip: what the app waits for is the store's answer.
    pub fn round_trips(&self) -> u64 {
        self.trips.load(Relaxed)
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
        let (target, tasks, trips, delay) =
            (self.target.clone(), self.tasks.clone(), self.trips.clone(), self.delay);
        let rewrite = self.rewrite.clone();
        let accept = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let forward = match rewrite.clone() {
                    None => tokio::spawn(relay(inbound, target.clone(), trips.clone(), delay)),
                    Some(rewrite) => tokio::spawn(rewrite.relay(inbound, target.clone())),
                };
                tasks.lock().unwrap().push(forward.abort_handle());
            }
        });
        self.tasks.lock().unwrap().push(accept.abort_handle());
    }
}

/// Forwards one connection both ways until both sides have finished.
async fn relay(app: TcpStream, target: String, trips: Arc<AtomicU64>, delay: Duration) {
    let Ok(store) = TcpStream::connect(&target).await else { return };
    let _ = (app.set_nodelay(true), store.set_nodelay(true));
    let ((from_app, to_app), (from_store, to_store)) = (app.into_split(), store.into_split());
    let app_spoke_last = AtomicBool::new(false);
    let asks = pump(from_app, to_store, delay, || {
        let new_trip = !app_spoke_last.swap(true, Relaxed);
        if new_trip {
            trips.fetch_add(1, Relaxed);
        }
        new_trip
    });
    let answers = pump(from_store, to_app, Duration::ZERO, || {
        app_spoke_last.store(false, Relaxed);
        false
    });
    tokio::join!(asks, answers);
}

/// Copies `from` to `to`, waiting `delay` before the bytes that start a round trip
/// (`starts_trip` says which); closes `to` at the end.
async fn pump<R, W>(mut from: R, mut to: W, delay: Duration, mut starts_trip: impl FnMut() -> bool)
where
    R: AsyncReadExt + Unpin,
    W: AsyncWriteExt + Unpin,
{
    let mut buffer = vec![0; 16 * 1024];
    while let Ok(read @ 1..) = from.read(&mut buffer).await {
        if starts_trip() && !delay.is_zero() {
            hold(Instant::now() + delay).await;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// Waits until `deadline`. The timer wakes up to a millisecond late, a tenth of a 10 ms round
/// trip: it only brings the wait to within 2 ms, and the rest is yielded away.
async fn hold(deadline: Instant) {
    tokio::time::sleep_until((deadline - Duration::from_millis(2)).into()).await;
    while Instant::now() < deadline {
        tokio::task::yield_now().await;
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
