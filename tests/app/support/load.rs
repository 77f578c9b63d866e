//! Load: a fixed number of keep-alive connections ([`Connection`], the one HTTP client), each
//! sending its next request as soon as the last is answered, for a fixed time or until every
//! connection's script is done. A script sees each reply, so it can follow `Set-Cookie`, start
//! over, or stop after a quota. Counted: latency per request (p50, p99), answers by status,
//! replies that set a cookie, broken connections (and replies cut short), and the server's
//! CPU time per request.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::http::{Connection, Reply};

/// One request a script sends.
#[derive(Clone)]
pub struct Request {
    pub method: &'static str,
    pub path: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Request {
    pub fn get(path: &str) -> Request {
        Request { method: "GET", path: path.to_owned(), headers: Vec::new(), body: String::new() }
    }

    pub fn delete(path: &str) -> Request {
        Request { method: "DELETE", ..Request::get(path) }
    }

    /// `POST /api/<slug>/items` with `{"item": item}`.
    pub fn add(slug: &str, item: &str) -> Request {
        let body = serde_json::json!({ "item": item }).to_string();
        let post = Request { method: "POST", body, ..Request::get(&format!("/api/{slug}/items")) };
        post.header("Content-Type", "application/json")
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Request {
        self.headers.push((name, value.into()));
        self
    }

    /// With a `Cookie` header when there is one.
    pub fn cookie(self, cookie: Option<&str>) -> Request {
        match cookie {
            Some(cookie) => self.header("Cookie", cookie),
            None => self,
        }
    }
}

/// What one connection sends next, given the reply to its last request (`None` at first and
/// after a broken connection); `None` when it has nothing more to send.
pub type Script = Box<dyn FnMut(Option<&Reply>) -> Option<Request> + Send>;

/// A script that sends `request` again and again.
pub fn repeat(request: &Request) -> Script {
    let request = request.clone();
    Box::new(move |_| Some(request.clone()))
}

pub struct Load {
    pub port: u16,
    pub connections: usize,
    pub duration: Duration,
    /// The server's process, whose CPU time is read from /proc (`None`: not measured).
    pub server_pid: Option<u32>,
}

#[derive(Default)]
pub struct Outcome {
    pub requests: u64,
    pub seconds: f64,
    /// Microseconds from sending each request to its whole reply, sorted.
    latencies: Vec<u32>,
    pub statuses: BTreeMap<u16, u64>,
    pub broken_connections: u64,
    /// Of those, the ones that broke in the middle of a reply.
    pub cut_replies: u64,
    /// Replies with a `Set-Cookie` header.
    pub cookies_set: u64,
    /// The server's user and system time per request, microseconds (0 when not known).
    pub server_cpu_us: f64,
}

impl Outcome {
    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    /// The latency below which `percent` of the requests were answered, in milliseconds.
    pub fn percentile_ms(&self, percent: f64) -> f64 {
        let last = self.latencies.len().saturating_sub(1);
        let at = (last as f64 * percent / 100.0).round() as usize;
        self.latencies.get(at).map_or(0.0, |&us| f64::from(us) / 1000.0)
    }

    pub fn answered(&self, status: u16) -> u64 {
        self.statuses.get(&status).copied().unwrap_or(0)
    }

    /// Answers that were neither 2xx nor 3xx.
    pub fn refused(&self) -> u64 {
        self.statuses.iter().filter(|(s, _)| !(200..400).contains(*s)).map(|(_, n)| n).sum()
    }

    fn merge(&mut self, other: Outcome) {
        self.requests += other.requests;
        self.latencies.extend(other.latencies);
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        self.broken_connections += other.broken_connections;
        self.cut_replies += other.cut_replies;
        self.cookies_set += other.cookies_set;
    }
}

/// Runs `load`, connection `i` following `script(i)`.
pub async fn run(load: &Load, script: impl Fn(usize) -> Script) -> Outcome {
    let cpu_before = load.server_pid.map(cpu_seconds);
    let started = Instant::now();
    let deadline = started + load.duration;
    let drivers: Vec<_> =
        (0..load.connections).map(|i| tokio::spawn(drive(load.port, deadline, script(i)))).collect();
    let mut outcome = Outcome::default();
    for driver in drivers {
        outcome.merge(driver.await.expect("a load connection panicked"));
    }
    outcome.seconds = started.elapsed().as_secs_f64();
    outcome.latencies.sort_unstable();
    if let (Some(pid), Some(before)) = (load.server_pid, cpu_before) {
        outcome.server_cpu_us = (cpu_seconds(pid) - before) * 1e6 / outcome.requests.max(1) as f64;
    }
    outcome
}

/// One connection: a broken one is counted and opened again.
async fn drive(port: u16, deadline: Instant, mut script: Script) -> Outcome {
    let (mut tally, mut connection, mut last) = (Outcome::default(), None, None);
    while Instant::now() < deadline {
        let Some(request) = script(last.take().as_ref()) else { break };
        if connection.is_none() {
            connection = Connection::open(port).await.ok();
        }
        let Some(open) = connection.as_mut() else {
            tally.broken_connections += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let headers: Vec<(&str, &str)> = request.headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let sent = Instant::now();
        match open.send(request.method, &request.path, &headers, &request.body).await {
            Ok(reply) => {
                tally.requests += 1;
                tally.latencies.push(sent.elapsed().as_micros().try_into().unwrap_or(u32::MAX));
                *tally.statuses.entry(reply.status).or_default() += 1;
                tally.cookies_set += u64::from(reply.header("set-cookie").is_some());
                if reply.header("connection") == Some("close") {
                    connection = None;
                }
                last = Some(reply);
            }
            Err(error) => {
                tally.broken_connections += 1;
                tally.cut_replies += u64::from(error.kind() == std::io::ErrorKind::InvalidData);
                connection = None;
            }
        }
    }
    tally
}

/// User plus system CPU time of process `pid` so far (kernel work for its sockets included),
/// from /proc/PID/stat, in seconds.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks: u64 = [11, 12].iter().filter_map(|&i| fields.get(i)?.parse::<u64>().ok()).sum();
    // SAFETY: sysconf only reads a system constant.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1);
    ticks as f64 / per_second as f64
}
