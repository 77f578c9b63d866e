//! `--stores URL,URL`: what the session store costs each read. One server per store, all
//! started at once; each read runs on every server in turn, so a drift of the shared machine
//! hits every store alike. Per store: the floor (which pings the store, so with Redis or
//! Postgres it includes one round trip), and API reads of 10 items from the global list, the
//! private cookie and the server-side session.

use std::time::Duration;

use crate::support::load::{self, Load, Request};
use crate::support::trips::markdown;
use crate::table::{prepare, CONNECTIONS};
use crate::{backend, errors, isolate, start, Options, UNBOUNDED};

const READS: [&str; 4] = ["-", "global", "cookie-session", "server-session"];
const ITEMS: usize = 10;

pub async fn run(options: &Options, urls: &[String]) -> bool {
    let duration = if options.smoke { Duration::from_secs(1) } else { options.duration };
    let mut servers = Vec::new();
    for url in urls {
        let (store, schemas) = isolate(url).await;
        servers.push((backend(url), start(&store, &UNBOUNDED).await, schemas));
    }
    println!("\nstores: {CONNECTIONS} connections, {duration:?} per read, each read on every store in turn");
    let mut rps = vec![[0.0; READS.len()]; servers.len()];
    let mut cpu = vec![[0.0; READS.len()]; servers.len()];
    let mut refused = 0;
    for (r, slug) in READS.iter().enumerate() {
        for (s, (name, server, _)) in servers.iter().enumerate() {
            let path = if *slug == "-" { "/healthz".to_owned() } else { format!("/api/{slug}/items") };
            let cookie = if *slug == "-" { None } else { prepare(server.port, slug, ITEMS).await };
            let load = Load {
                port: server.port,
                connections: CONNECTIONS,
                duration,
                server_pid: Some(server.pid()),
            };
            let outcome =
                load::run(&load, |_| load::repeat(&Request::get(&path).cookie(cookie.as_deref()))).await;
            println!("  {name:<9} GET {path:<26} {:>8.0} req/s  errors {}", outcome.rps(), errors(&outcome));
            (rps[s][r], cpu[s][r]) = (outcome.rps(), outcome.server_cpu_us);
            refused += outcome.refused();
        }
    }
    let memory = servers.iter().position(|(name, ..)| *name == "memory");
    let head = ["store", "floor", "global", "private cookie", "server session", "cookie / global"];
    let head = [&head[..], &["server session / floor", "server session / memory's"]].concat();
    let rows = servers
        .iter()
        .zip(&rps)
        .map(|((name, ..), [floor, global, cookie, server])| {
            let mut row = vec![name.to_string()];
            row.extend([floor, global, cookie, server].map(|r| format!("{r:.0}")));
            row.push(format!("{:.2}", cookie / global));
            row.push(format!("{:.2}", server / floor));
            row.push(memory.map_or("-".into(), |m| format!("{:.2}", server / rps[m][3])));
            row
        })
        .collect::<Vec<_>>();
    let head: Vec<String> = head.iter().map(|h| h.to_string()).collect();
    println!("\nreq/s, API reads of {ITEMS} items:\n{}", markdown(&head, &rows));
    // An emulator answers at its own speed, not the service's: for DynamoDB on moto only the
    // app's own CPU per request (and the request counts of --roundtrips) say anything.
    let head: Vec<String> =
        ["store", "floor", "global", "private cookie", "server session"].map(String::from).into();
    let rows = servers.iter().zip(&cpu).map(|((name, ..), cpu)| {
        [name.to_string()].into_iter().chain(cpu.iter().map(|us| format!("{us:.0}"))).collect()
    });
    println!("\nthe app's CPU per request, microseconds:\n{}", markdown(&head, &rows.collect::<Vec<_>>()));
    if refused > 0 {
        println!("FAILED: {refused} answers were neither 2xx nor 3xx");
    }
    refused == 0
}
