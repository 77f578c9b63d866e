//! The load benchmark, run by `scripts/bench.sh` (`cargo bench --bench bench -- ARGS`);
//! [docs/benchmark.md](../../docs/benchmark.md) says what each mode measures and how to read
//! it. The app under load is the release build (`cargo bench` builds it), started as its own
//! process, one per store; the load, the proxy and the HTTP client are the tests' own
//! (`tests/app/support/`). The load generator shares the machine with the server: only
//! ratios within one run mean anything.

#[path = "../shared/skips.rs"]
mod skips;
#[allow(dead_code)] // the tests use the rest
#[path = "../app/support/mod.rs"]
mod support;

mod coldstart;
mod flood;
mod memory;
mod stores;
mod table;
mod wire;

use std::process::ExitCode;
use std::time::Duration;

use support::processes::AppProcess;
use support::store_servers::Schemas;

const USAGE: &str = "\
scripts/bench.sh [MODE] [--duration SECONDS] [--only TEXT,TEXT]

  (no mode)              the main table: each strategy's reads, pages and adds against the
                         floor (GET /healthz) and static bytes, --duration (5) s each
  --smoke                every scenario for 1 s, a small memory scenario, a short flood and
                         three cold starts (what CI runs; fails on any refused answer)
  --stores URL,URL       one server per store (memory, redis://..., postgres://...,
                         dynamodb://NAME?endpoint=URL), the same reads on each in alternation
  --coldstart            exec to the first page, ten times
  --memory               100,000 sessions of 10 items, 1,000,000 cookie-less requests, expiry
  --flood                new sessions from one client and from 200, bounds on and off
  --roundtrips URL,URL   round trips to each network store per operation, on the wire
  --latency URL,URL      each operation's latency with 10 ms added to every round trip
  --only TEXT,TEXT       the main table's scenarios whose name contains a TEXT
";

/// Settings every benchmark server gets: logging off, plain cookie names over plain HTTP.
const QUIET: [(&str, &str); 2] = [("ROCKET_LOG_LEVEL", "off"), ("ROCKET_COOKIE_SECURE", "false")];
/// The bounds on new sessions out of reach: the load scenarios start many sessions from one
/// address and measure the strategies, not the bounds (the flood measures those).
const UNBOUNDED: [(&str, &str); 3] = [
    ("ROCKET_SESSION_LIMIT", "100000000"),
    ("ROCKET_SESSION_RATE_PER_MINUTE", "60000"),
    ("ROCKET_SESSION_RATE_BURST", "4000000000"),
];
/// The round trip `--latency` adds between the app and its store.
const ROUND_TRIP: Duration = Duration::from_millis(10);

pub struct Options {
    pub smoke: bool,
    pub duration: Duration,
    pub only: Vec<String>,
    mode: Mode,
}

enum Mode {
    Table,
    Stores(Vec<String>),
    ColdStart,
    Memory,
    Flood,
    Wire(Vec<String>, Duration),
    Help,
}

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(why) => {
            eprintln!("{why}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if let Mode::Help = options.mode {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    // The app in this process (`--roundtrips`, `--latency`) would log its settings otherwise.
    let _ = log::set_logger(&Silent);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build();
    println!("{}", machine());
    let passed = runtime.expect("a tokio runtime").block_on(run(&options));
    println!("load average at the end: {}", load_average());
    if passed {
        ExitCode::SUCCESS
    } else {
        println!("FAILED: see the lines marked FAILED or MISS above");
        ExitCode::FAILURE
    }
}

async fn run(options: &Options) -> bool {
    match &options.mode {
        Mode::Table if options.smoke => {
            let table = table::run(options).await;
            let memory = memory::run(options).await;
            let flood = flood::run(options).await;
            coldstart::run(3).await;
            table && memory && flood
        }
        Mode::Table => table::run(options).await,
        Mode::Stores(urls) => stores::run(options, urls).await,
        Mode::ColdStart => {
            coldstart::run(10).await;
            true
        }
        Mode::Memory => memory::run(options).await,
        Mode::Flood => flood::run(options).await,
        Mode::Wire(urls, delay) => wire::run(urls, *delay).await,
        Mode::Help => true,
    }
}

fn parse(args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options =
        Options { smoke: false, duration: Duration::from_secs(5), only: vec![], mode: Mode::Table };
    let list = |value: String| value.split(',').map(str::to_owned).collect::<Vec<_>>();
    // `--name=value` as well as `--name value`; `--bench` is what `cargo bench` adds.
    let mut args = args.filter(|a| a != "--bench").flat_map(|arg| match arg.split_once('=') {
        Some((name, value)) if name.starts_with("--") => vec![name.to_owned(), value.to_owned()],
        _ => vec![arg],
    });
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--smoke" => options.smoke = true,
            "--memory" => options.mode = Mode::Memory,
            "--flood" => options.mode = Mode::Flood,
            "--coldstart" => options.mode = Mode::ColdStart,
            "--stores" => options.mode = Mode::Stores(list(value()?)),
            "--roundtrips" => options.mode = Mode::Wire(list(value()?), Duration::ZERO),
            "--latency" => options.mode = Mode::Wire(list(value()?), ROUND_TRIP),
            "--only" => options.only = list(value()?),
            "--duration" => {
                let seconds: f64 = value()?.parse().map_err(|e| format!("--duration: {e}"))?;
                options.duration = Duration::from_secs_f64(seconds);
            }
            "-h" | "--help" => options.mode = Mode::Help,
            _ => return Err(format!("unknown option {arg}")),
        }
    }
    Ok(options)
}

/// A store URL the benchmark may write to, and what keeps it: Postgres gets a throwaway schema,
/// a DynamoDB emulator (`dynamodb://NAME?endpoint=URL`) a throwaway table, both dropped with the
/// returned guard. (Give Redis a database of its own, such as `/15`.)
pub async fn isolate(url: &str) -> (String, Option<Box<dyn std::any::Any + Send>>) {
    if url.starts_with("postgres") {
        let schemas = Schemas::new(url);
        return (schemas.fresh().await, Some(Box::new(schemas)));
    }
    if let Some((_, endpoint)) = url.strip_prefix("dynamodb://").and_then(|u| u.split_once("?endpoint=")) {
        #[cfg(feature = "dynamodb")]
        {
            let tables = support::dynamodb::Tables::new(endpoint);
            return (tables.fresh().await, Some(Box::new(tables)));
        }
        #[cfg(not(feature = "dynamodb"))]
        panic!("{url} on {endpoint} needs the dynamodb feature (scripts/bench.sh adds it)");
    }
    (url.to_owned(), None)
}

pub fn backend(url: &str) -> &str {
    url.split("://").next().unwrap_or(url)
}

/// The release app on a free port with `store`, the [`QUIET`] settings and then `env`.
pub async fn start(store: &str, env: &[(&str, &str)]) -> AppProcess {
    AppProcess::start_with(store, support::visitor::KEY, &[&QUIET[..], env].concat()).await
}

/// A line of /proc/PID/status, in KiB: `VmRSS` (resident now), `VmHWM` (the peak).
pub fn kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status.lines().find_map(|line| line.strip_prefix(field)?.strip_prefix(':'));
    line.and_then(|l| l.split_whitespace().next()?.parse().ok()).unwrap_or(0)
}

/// Live server-side sessions, as `/api/inspect` reports them.
pub async fn sessions(server: &AppProcess) -> u64 {
    let inspect = support::http::get(server.port, "/api/inspect", None).await;
    support::http::json(&inspect)["store"]["sessions"].as_u64().unwrap_or(0)
}

/// Prints each check: ok, MISS, or `-` when it is not judged here (`None`). True when none missed.
pub fn verdicts(checks: &[(Option<bool>, String)]) -> bool {
    for (passed, what) in checks {
        println!("  {} {what}", passed.map_or("-   ", |ok| if ok { "ok  " } else { "MISS" }));
    }
    checks.iter().all(|(passed, _)| passed.unwrap_or(true))
}

/// Answers neither 2xx nor 3xx, by status, and connections that broke; "0" when none.
pub fn errors(outcome: &support::load::Outcome) -> String {
    let refused = outcome.statuses.iter().filter(|(status, _)| !(200..400).contains(*status));
    let mut errors: Vec<String> = refused.map(|(status, n)| format!("{n} x {status}")).collect();
    if outcome.broken_connections > 0 {
        errors.push(format!("{} broken connections", outcome.broken_connections));
    }
    if errors.is_empty() {
        "0".into()
    } else {
        errors.join(", ")
    }
}

/// The number after `"count":` in a list reply.
pub fn count_of(body: &str) -> u64 {
    let after = body.split_once("\"count\":").map_or("", |(_, rest)| rest);
    after.chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap_or(0)
}

struct Silent;

impl log::Log for Silent {
    fn enabled(&self, _: &log::Metadata) -> bool {
        false
    }
    fn log(&self, _: &log::Record) {}
    fn flush(&self) {}
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo.lines().find_map(|l| l.strip_prefix("model name")?.split(':').nth(1)).unwrap_or("?");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let git = std::process::Command::new("git").args(["rev-parse", "--short", "HEAD"]).output();
    let commit = git.map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned()).unwrap_or_default();
    format!(
        "machine: {cores} cores, {}; load average {}\ncode: commit {commit}; app: {}",
        cpu.trim(),
        load_average(),
        env!("CARGO_BIN_EXE_server-side-sessions")
    )
}

fn load_average() -> String {
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    loadavg.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}
