//! `--coldstart`: from the exec of a fresh process to its first answered page, for the release
//! HTTP server (and, once wired, the Lambda bootstrap behind cargo-lambda's emulator).
//! The server's time is the process starter's (exec to the first healthy `/healthz`, the
//! port polled every millisecond) plus the first `GET /`.

use std::time::Duration;

use crate::support::http::get;
use crate::{kib, start};

pub async fn run(rounds: usize) {
    let mut runs = Vec::new();
    for _ in 0..rounds {
        let server = start("memory", &[]).await;
        let first = std::time::Instant::now();
        assert_eq!(get(server.port, "/", None).await.status, 200, "the first page");
        runs.push((server.ready_in + first.elapsed(), kib(&server, "VmRSS")));
    }
    println!("\ncold start, exec to the first page, median of {rounds}:");
    println!("  HTTP server: {}", summary(&mut runs));
    lambda().await;
}

/// The median time (and the range) and the median resident memory of `runs`.
fn summary(runs: &mut [(Duration, u64)]) -> String {
    runs.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (median, rss) = runs[runs.len() / 2];
    let range = format!("{:.1}-{:.1}", ms(runs[0].0), ms(runs[runs.len() - 1].0));
    format!("{:.1} ms (range {range}), VmRSS {:.1} MiB", ms(median), rss as f64 / 1024.0)
}

// LAMBDA HALF, to wire up at merge with the Lambda emulator starter in tests/app/support/
// (it was scripts/bench/coldstart.py): start `cargo lambda watch --only-lambda-apis` (not
// timed: on AWS the runtime API is already there), queue `GET /` at it, then exec the zip's
// `bootstrap` with `AWS_LAMBDA_RUNTIME_API` pointed at it and time the exec to the page
// coming back; alternate with the HTTP server's rounds and print `summary` of both, and the
// difference (the target: at most half the server's time).
async fn lambda() {
    println!("  Lambda bootstrap: not measured yet (the Lambda half is not wired to its emulator starter)");
}
