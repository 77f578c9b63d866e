//! The cluster demo as a student runs it: `scripts/cluster-demo.sh` starts three release
//! instances (or containers of the image) behind nginx's round robin, and one visitor goes
//! through the balancer. `instances.rs` proves what each store and key means for two processes
//! side by side; this proves it through a real balancer that turns every read to the next
//! instance, on the release build, across a restart typed into the demo, and in containers.
//! Heavy (a release build, nginx, podman), so run by name:
//!
//! ```text
//! cargo test --test app -- --ignored cluster::processes
//! cargo test --test app -- --ignored cluster::containers   # after scripts/container.sh build
//! ```

use std::collections::HashMap;

use rand::Rng;
use serde_json::Value;

use crate::support::http::{add, get, http, json, Reply};
use crate::support::network_store::{on_each, NetworkStore};
use crate::support::processes::Script;
use crate::support::store_servers::{database_url, redis_url};

const N: u16 = 3;
/// Four turns of the rotation.
const READS: usize = 12;

/// The demo on ports `port..=port + N`, and every process id it said it started.
struct Demo {
    port: u16,
    script: Script,
    pids: Vec<i32>,
    containers: bool,
}

impl Demo {
    async fn start(store: &str, keys: &str, containers: bool) -> Demo {
        let port = free_ports();
        let mut args = vec!["--port".to_owned(), port.to_string(), "--store".into(), store.into()];
        args.extend(["--keys".into(), keys.into()]);
        // The image is the one `scripts/container.sh build` made; the release binary is built here.
        if containers {
            args.extend(["--containers".into(), "--no-build".into()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let script = Script::start("scripts/cluster-demo.sh", &args);
        let mut demo = Demo { port, script, pids: Vec::new(), containers };
        demo.until(&format!("Open http://127.0.0.1:{port}")).await;
        assert_eq!(demo.pids.len(), N as usize + 1, "the demo names the pid of each instance and nginx");
        demo
    }

    /// Reads what the demo prints up to a line containing `text`, noting the pids it names.
    async fn until(&mut self, text: &str) -> String {
        loop {
            let line = self.script.line().await.unwrap_or_else(|| panic!("the demo ended before {text:?}"));
            let numbers = line.split("pid ").skip(1).map(|s| s.split(|c: char| !c.is_ascii_digit()).next());
            self.pids.extend(numbers.filter_map(|n| n?.parse::<i32>().ok()));
            if line.contains(text) {
                return line;
            }
        }
    }

    /// Stops the demo (SIGTERM); then nothing it started may be left: no process, port or container.
    async fn stop(self) {
        self.script.stop().await;
        for pid in self.pids {
            // SAFETY: kill(2) with signal 0 only asks whether the process exists.
            assert_ne!(unsafe { libc::kill(pid, 0) }, 0, "pid {pid} still runs after the demo stopped");
        }
        for port in self.port..=self.port + N {
            assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "port {port} still answers");
        }
        if self.containers {
            let filter = format!("name=^sss-demo-{}-", self.port);
            let out = std::process::Command::new("podman")
                .args(["ps", "--all", "--quiet", "--filter", &filter])
                .output()
                .expect("podman ps");
            let left = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success() && left.trim().is_empty(), "containers left: {left}");
        }
    }
}

/// P..=P+N all free, below Linux's ephemeral ports so that no outgoing connection takes one.
fn free_ports() -> u16 {
    loop {
        let base = rand::rng().random_range(20000..32000);
        let bound: Vec<_> =
            (base..=base + N).map_while(|p| std::net::TcpListener::bind(("127.0.0.1", p)).ok()).collect();
        if bound.len() == N as usize + 1 {
            return base;
        }
    }
}

/// The instance that answered, from its `X-Instance` header: (port, id).
fn instance(reply: &Reply) -> (u16, String) {
    let header = reply.header("x-instance").unwrap_or_else(|| panic!("no X-Instance: {reply:?}"));
    let words: Vec<&str> = header.split_whitespace().collect();
    (words[2].parse().expect("a port"), words[0].to_owned())
}

/// The items of `list` in an `/api/inspect` answer.
fn shown(view: &Value, list: &str) -> Vec<String> {
    let items = view[list]["items"].as_array().unwrap_or_else(|| panic!("no {list} in {view}"));
    items.iter().map(|item| item.as_str().unwrap_or_default().to_owned()).collect()
}

/// Reads `/api/inspect` through the balancer `READS` times with both cookies; checks the
/// rotation, and that each read shows what the instance that answered it should: the session
/// where `server_on` holds it, the private cookie where `cookie_on` opens it, and that
/// instance's own global list. Returns each port's instance id.
async fn reads(
    port: u16,
    cookies: &str,
    server_on: impl Fn(u16) -> bool,
    cookie_on: impl Fn(u16) -> bool,
    global: &HashMap<u16, Vec<String>>,
) -> HashMap<u16, String> {
    let mut answered = Vec::new();
    for k in 0..READS {
        let reply = get(port, "/api/inspect", Some(cookies)).await;
        let (on, id) = instance(&reply);
        let view = json(&reply);
        let at = format!("read {k}, answered on port {on}");
        let session = if server_on(on) { vec!["in the store"] } else { vec![] };
        assert_eq!(shown(&view, "server_session"), session, "{at}: the server-side session");
        let cookie = &view["cookie_session"];
        if cookie_on(on) {
            assert_eq!(shown(&view, "cookie_session"), ["in the cookie"], "{at}: {cookie}");
        } else {
            assert!(
                cookie["notice"].as_str().unwrap_or_default().contains("could not be decrypted"),
                "{at}: {cookie}"
            );
            assert!(shown(&view, "cookie_session").is_empty(), "{at}: {cookie}");
        }
        assert_eq!(&shown(&view, "global"), &global[&on], "{at}: the global list is that instance's own");
        answered.push((on, id));
    }
    let turn: Vec<u16> = answered.iter().take(N as usize).map(|(on, _)| *on).collect();
    let ports: Vec<u16> = answered.iter().map(|(on, _)| *on).collect();
    assert_eq!(ports, turn.repeat(READS / N as usize), "a round robin over {N} instances");
    assert!((1..=N).all(|i| turn.contains(&(port + i))), "every instance takes a turn: {turn:?}");
    answered.into_iter().collect()
}

/// One visitor through the demo on `store`, with one key for all instances or one each; then
/// instance 2 is restarted and the visitor reads again.
async fn visit(store: &str, shared_key: bool, containers: bool) {
    let mut demo = Demo::start(store, if shared_key { "shared" } else { "per-instance" }, containers).await;
    let (port, shared_store) = (demo.port, store != "memory");
    let session = add(port, "server-session", "in the store", None).await;
    let sealed = add(port, "cookie-session", "in the cookie", None).await;
    let cookies = format!(
        "{}; {}",
        session.cookie().expect("a session id"),
        sealed.cookie().expect("a private cookie")
    );
    let (server_owner, cookie_owner) = (instance(&session).0, instance(&sealed).0);
    // A form post per instance, each answered by the next: the same-origin check passes only
    // because nginx hands on the browser's Host (this post has an Origin, no Sec-Fetch-Site).
    let mut global = HashMap::new();
    for k in 1..=N {
        let origin = format!("http://127.0.0.1:{port}");
        let form = [("Origin", origin.as_str()), ("Content-Type", "application/x-www-form-urlencoded")];
        let posted =
            http(port, "POST", "/global/items", &form, &format!("item=global+{k}&return_to=/")).await;
        assert_eq!(posted.status, 303, "{posted:?}");
        global.insert(instance(&posted).0, vec![format!("global {k}")]);
    }
    assert_eq!(global.len(), N as usize, "{N} posts in a row land on {N} instances: {global:?}");

    let cookie_on = |on: u16| shared_key || on == cookie_owner;
    let before = reads(port, &cookies, |on| shared_store || on == server_owner, cookie_on, &global).await;

    demo.script.type_line("2");
    let said = demo.until("instance 2 ").await;
    assert!(said.contains("restarted"), "{said}");
    let restarted = port + 2;
    global.insert(restarted, Vec::new());
    // A memory session dies with its instance; the restarted instance keeps its key.
    let server_on = |on: u16| shared_store || (on == server_owner && on != restarted);
    let after = reads(port, &cookies, server_on, cookie_on, &global).await;
    for (on, id) in &after {
        assert_eq!(id == &before[on], *on != restarted, "port {on}: {} before, {id} after", before[on]);
    }
    demo.stop().await;
}

/// Both key settings on memory, Redis and Postgres, all at once.
async fn every_store(containers: bool) {
    let both = |store: String| async move {
        tokio::join!(visit(&store, true, containers), visit(&store, false, containers));
    };
    let mut stores = Vec::new();
    if let Some(url) = redis_url() {
        stores.push(NetworkStore::redis(url, None));
    }
    if let Some(url) = database_url() {
        stores.push(NetworkStore::postgres(&url, None, "").await);
    }
    tokio::join!(both("memory".into()), on_each(stores, |store| both(store.url)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "heavy: a release build and nginx; CI runs it by name (docs/testing.md)"]
async fn processes_behind_nginx_on_every_store_and_key_setting() {
    every_store(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "heavy: podman and the image scripts/container.sh builds; CI runs it by name"]
async fn containers_behind_nginx_on_every_store_and_key_setting() {
    every_store(true).await;
}
