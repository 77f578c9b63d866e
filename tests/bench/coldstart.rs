//! `--coldstart`: from the exec of a fresh process to its first answered page, for the release
//! HTTP server and for the Lambda bootstrap (the zip's, from `scripts/lambda.sh build`) behind
//! cargo-lambda's emulator of Lambda's runtime API, alternating round by round so that the
//! machine's load falls on both alike.
//! The server's time is the process starter's (exec to the first healthy `/healthz`, the
//! port polled every millisecond) plus the first `GET /`. For Lambda the emulator is started
//! first and not timed (on AWS the runtime API is already there); the invocation (`GET /`) is
//! already waiting in it when `bootstrap` is executed, and the clock stops when the page comes
//! back through the emulator: Lambda's init phase and first invocation, as far as the function
//! controls them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::http::get;
use crate::support::processes::{free_port, shell, Process};
use crate::support::visitor::KEY;
use crate::{kib, start};

/// Where `scripts/lambda.sh build` leaves the zip, under the target directory.
const ZIP: &str = "lambda/server-side-sessions/bootstrap.zip";

pub async fn run(rounds: usize) {
    let bootstrap = unpacked().await;
    let (mut server, mut lambda) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let process = start("memory", &[]).await;
        let first = Instant::now();
        assert_eq!(get(process.port, "/", None).await.status, 200, "the first page");
        server.push((process.ready_in + first.elapsed(), kib(process.pid(), "VmRSS")));
        if let Some(dir) = &bootstrap {
            lambda.push(lambda_once(dir.path()).await);
        }
    }
    println!("\ncold start, exec to the first page, median of {rounds}:");
    println!("  HTTP server: {}", summary(&mut server));
    match bootstrap {
        Some(_) => println!("  Lambda bootstrap, through the emulator: {}", summary(&mut lambda)),
        None => {
            println!("  Lambda bootstrap: SKIPPED, no {ZIP} or no cargo-lambda (`scripts/lambda.sh build`)")
        }
    }
}

/// The zip's contents in a directory of their own, as Lambda unpacks them into /var/task;
/// `None` without the zip or cargo-lambda.
async fn unpacked() -> Option<tempfile::TempDir> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| repo.join("target"), PathBuf::from);
    let dir = tempfile::tempdir().ok()?;
    let (zip, to) = (target.join(ZIP), dir.path());
    let unzip = format!(
        "cargo lambda --version && python3 -m zipfile -e '{0}' '{1}' && chmod +x '{1}/bootstrap'",
        zip.display(),
        to.display()
    );
    shell(repo, &unzip).await.0.then_some(dir)
}

/// One round: the runtime API's emulator up (untimed), `GET /` queued at it, then `bootstrap`
/// executed and timed until the page comes back.
async fn lambda_once(dir: &Path) -> (Duration, u64) {
    let port = free_port();
    let mut emulator = Command::new("cargo");
    emulator.args(["lambda", "watch", "--only-lambda-apis", "--disable-cors", "-A", "127.0.0.1", "-P"]);
    let emulator = Process::listening(emulator.arg(port.to_string()), port, Duration::from_secs(30)).await;
    let _emulator = emulator.expect("cargo lambda watch starts");
    let page = tokio::spawn(async move {
        let status = get(port, "/", None).await.status;
        (status, Instant::now())
    });
    tokio::time::sleep(Duration::from_millis(50)).await; // queued before the function starts
    let mut function = Command::new(dir.join("bootstrap"));
    function.current_dir(dir).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    function.envs([
        ("AWS_LAMBDA_RUNTIME_API", format!("http://127.0.0.1:{port}/.rt").as_str()),
        ("AWS_LAMBDA_FUNCTION_NAME", "_"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "1"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024"),
        ("ROCKET_CONFIG", "/dev/null"),
        ("ROCKET_PROFILE", "release"),
        ("ROCKET_SECRET_KEY", KEY),
        ("ROCKET_LOG_LEVEL", "off"),
    ]);
    let started = Instant::now();
    let function = Process::spawn(&mut function).expect("bootstrap runs");
    let (status, at) =
        tokio::time::timeout(Duration::from_secs(30), page).await.expect("a page in 30 s").expect("answered");
    assert_eq!(status, 200, "the first invocation");
    (at - started, kib(function.pid(), "VmRSS"))
}

/// The median time (and the range) and the median resident memory of `runs`.
fn summary(runs: &mut [(Duration, u64)]) -> String {
    runs.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (median, rss) = runs[runs.len() / 2];
    let range = format!("{:.1}-{:.1}", ms(runs[0].0), ms(runs[runs.len() - 1].0));
    format!("{:.1} ms (range {range}), VmRSS {:.1} MiB", ms(median), rss as f64 / 1024.0)
}
