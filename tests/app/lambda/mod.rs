//! The app as AWS Lambda runs it: the `bootstrap` built with `--features lambda`, each instance
//! its own process behind `cargo lambda watch`, AWS's emulator of function URLs and of the
//! runtime API (`scripts/lambda.sh serve`). What only that path can show: the adapter's mapping
//! of requests, cookies and answers ([`contract`]), the same status as the HTTP server for the
//! same odd request ([`parity`]), several instances, frozen ones among them, on one store
//! ([`instances`]), and DynamoDB, the store a function uses ([`dynamodb`]). The adapter's
//! event mapping, case by case, is unit-tested in `src/lambda/`.
//!
//! Heavy (each test starts emulators, the first of a run may compile): `#[ignore]`d, run by
//! `scripts/lambda.sh check` as `cargo test --features lambda --test app -- --ignored lambda::`
//! (the feature brings the DynamoDB tests; the function is always built with it).

mod contract;
#[cfg(feature = "dynamodb")]
mod dynamodb;
mod instances;
mod parity;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::http::try_get;
use crate::support::processes::{free_port, Process};
use crate::support::visitor::KEY;

/// `scripts/lambda.sh serve` on a free port; stopped (with every instance) when dropped.
pub struct Emulator {
    pub port: u16,
    process: Process,
}

impl Emulator {
    /// With the test key, the memory store and `env` on top (an empty value unsets), and once
    /// `/livez` answers through it: the first instance is up.
    pub async fn start(env: &[(&str, &str)]) -> Emulator {
        let port = free_port();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut command = Command::new(repo.join("scripts/lambda.sh"));
        command.arg("serve").current_dir(repo).env("PORT", port.to_string());
        command.env_remove("ROCKET_CONFIG").env_remove("ROCKET_PROFILE").env_remove("ROCKET_SESSION_STORE");
        command.env("ROCKET_SECRET_KEY", KEY).env("ROCKET_LOG_LEVEL", "normal");
        // Sessions these tests leave in a shared store expire soon.
        command.env("ROCKET_SESSION_IDLE_TIMEOUT", "300");
        for (name, value) in env {
            match value.is_empty() {
                true => command.env_remove(name),
                false => command.env(name, value),
            };
        }
        let process = Process::listening(&mut command, port, Duration::from_secs(60)).await;
        let emulator = Emulator { port, process: process.unwrap_or_else(|why| panic!("no emulator: {why}")) };
        // The first start of a run may compile the function. The emulator holds a request until
        // an instance takes it, which one that cannot start never does: each try has a bound.
        let deadline = Instant::now() + Duration::from_secs(300);
        let live = || tokio::time::timeout(Duration::from_secs(20), try_get(emulator.port, "/livez"));
        while live().await.ok().flatten().is_none_or(|reply| reply.status != 200) {
            assert!(Instant::now() < deadline, "never live: {}", emulator.logs());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        emulator
    }

    /// What the emulator and its instances logged.
    pub fn logs(&self) -> String {
        self.process.output()
    }

    /// The ids of the instances running now (the emulator's child processes named after the
    /// binary; `comm` holds its first 15 characters).
    pub fn instances(&self) -> Vec<i32> {
        let parent = self.process.pid().to_string();
        let entries = std::fs::read_dir("/proc").into_iter().flatten().flatten();
        let pids = entries.filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok());
        pids.filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let fields: Vec<&str> =
                stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            fields.get(1) == Some(&parent.as_str()) && comm.starts_with("server-side")
        })
        .collect()
    }
}

/// Sends `signal` to process `pid` (an instance this test's emulator started).
pub fn signal(pid: i32, signal: libc::c_int) {
    // SAFETY: kill(2) on a process this test started.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill({pid}, {signal})");
}
