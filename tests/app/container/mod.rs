//! The container image, run the way a serverless platform runs it: read-only root, every
//! capability dropped, no new privileges, the port from `PORT`, the key from the environment.
//! Needs podman and the image `scripts/container.sh build` makes, so these are ignored by
//! `cargo test`; `scripts/container.sh check` runs them by name:
//!
//! ```text
//! cargo test --test app -- --ignored container::
//! ```

mod sigterm;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use crate::support::http::{add, get, items, json, list, try_get};
use crate::support::processes::{free_port, shell};
use crate::support::store_servers::redis_url;
use crate::support::visitor::KEY;

/// The image `scripts/container.sh` builds, or the one its `IMAGE` names.
static IMAGE: LazyLock<String> =
    LazyLock::new(|| std::env::var("IMAGE").unwrap_or("localhost/server-side-sessions:latest".into()));

fn podman(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new("podman").args(args).envs(env.iter().copied()).output().expect("podman runs")
}

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "podman: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// The key and a log level that shows the listening address, plus `extra`.
fn app_env<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    [[("ROCKET_SECRET_KEY", KEY), ("ROCKET_LOG_LEVEL", "normal")].as_slice(), extra].concat()
}

/// One detached, hardened container of the image; removed when dropped.
pub struct Container {
    id: String,
}

impl Container {
    /// `podman run -d` with `args` before the image. The values of `env` travel in podman's
    /// environment, not on its command line, where `ps` would show the key.
    fn run(args: &[&str], env: &[(&str, &str)]) -> Container {
        let hardened = ["--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges"];
        let names = env.iter().flat_map(|(name, _)| ["-e", *name]);
        let all = ["run", "-d"].into_iter().chain(hardened).chain(args.iter().copied());
        let all: Vec<&str> = all.chain(names).chain([IMAGE.as_str()]).collect();
        Container { id: stdout(&podman(&all, env)) }
    }

    /// Run with its port `inside` published on a free loopback port, which it returns.
    fn published(inside: u16, env: &[(&str, &str)]) -> (Container, u16) {
        let port = free_port();
        (Container::run(&["-p", &format!("127.0.0.1:{port}:{inside}")], env), port)
    }

    fn inspect(&self, template: &str) -> String {
        stdout(&podman(&["inspect", "--format", template, &self.id], &[]))
    }

    fn logs(&self) -> String {
        let output = podman(&["logs", &self.id], &[]);
        String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
    }

    /// Waits until `GET path` answers `status`, as a platform's probe would.
    async fn answers(&self, port: u16, path: &str, status: u16) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            assert_eq!(self.inspect("{{.State.Running}}"), "true", "it exited: {}", self.logs());
            if try_get(port, path).await.is_some_and(|reply| reply.status == status) {
                return;
            }
            assert!(Instant::now() < deadline, "no {status} from {path} in 20 s: {}", self.logs());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        podman(&["rm", "-f", "-t", "0", &self.id], &[]);
    }
}

#[tokio::test]
#[ignore = "heavy: needs podman and the image; CI runs it by name (docs/testing.md)"]
async fn the_image_holds_the_app_and_nothing_else() {
    let created = stdout(&podman(&["create", IMAGE.as_str()], &[]));
    let (exported, listing) = shell(Path::new("."), &format!("podman export {created} | tar -tv")).await;
    podman(&["rm", &created], &[]);
    assert!(exported, "podman export failed");
    // Regular files and symlinks (`tar -tv` modes `-` and `l`); directories say nothing.
    let files: Vec<&str> = (listing.lines().filter(|line| line.starts_with(['-', 'l'])))
        .filter_map(|line| Some(line.split_whitespace().nth(5)?.trim_start_matches("./")))
        .collect();
    let allowed = ["app/", "lib/", "lib64/", "usr/lib/", "etc/passwd", "etc/group"];
    let strays: Vec<_> = files.iter().filter(|f| !allowed.iter().any(|a| f.starts_with(a))).collect();
    assert!(strays.is_empty(), "files the app does not need: {strays:?}");
    for needed in ["app/server-side-sessions", "app/Rocket.toml", "app/templates/index.html.hbs"] {
        assert!(files.contains(&needed), "{needed} is missing");
    }
    let sh = podman(&["run", "--rm", "--entrypoint", "/bin/sh", IMAGE.as_str(), "-c", "true"], &[]);
    assert!(!sh.status.success(), "a shell ran inside the image");
}

#[tokio::test]
#[ignore = "heavy: needs podman and the image; CI runs it by name (docs/testing.md)"]
async fn it_runs_unprivileged_read_only_on_every_interface_at_port() {
    let (moved, port) = Container::published(9090, &app_env(&[("PORT", "9090")]));
    moved.answers(port, "/healthz", 200).await;
    let pid = moved.inspect("{{.State.Pid}}");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("its /proc status");
    let field = |name: &str| -> Vec<String> {
        let line = status.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':'));
        line.unwrap_or_default().split_whitespace().map(str::to_owned).collect()
    };
    assert_eq!(field("Uid"), ["65532"; 4]);
    assert_eq!(field("Gid"), ["65532"; 4]);
    for set in ["CapEff", "CapPrm", "CapBnd"] {
        assert!(field(set).concat().trim_start_matches('0').is_empty(), "{set}: {:?}", field(set));
    }
    assert_eq!(field("NoNewPrivs"), ["1"]);
    let mounts = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).expect("its mounts");
    let root = mounts.lines().map(|l| l.split(' ').collect::<Vec<_>>()).find(|f| f.get(4) == Some(&"/"));
    let options = root.as_ref().and_then(|fields| fields.get(5)).expect("a root mount");
    assert!(options.split(',').any(|o| o == "ro"), "the root filesystem is writable: {options}");
    assert!(moved.logs().contains("http://0.0.0.0:9090"), "not on 0.0.0.0:PORT: {}", moved.logs());
    let (pinned, port) = Container::published(9191, &app_env(&[("PORT", "9090"), ("ROCKET_PORT", "9191")]));
    pinned.answers(port, "/healthz", 200).await;
}

#[tokio::test]
#[ignore = "heavy: needs podman and the image; CI runs it by name (docs/testing.md)"]
async fn release_rules_hold_in_the_image() {
    let keyless = Container::run(&[], &[("ROCKET_LOG_LEVEL", "normal")]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while keyless.inspect("{{.State.Running}}") == "true" {
        assert!(Instant::now() < deadline, "started without a secret key: {}", keyless.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_ne!(keyless.inspect("{{.State.ExitCode}}"), "0");
    let said = keyless.logs();
    assert!(said.contains("refusing to start") && said.contains("secret_key"), "no clear refusal: {said}");

    let (app, port) = Container::published(8080, &app_env(&[]));
    app.answers(port, "/healthz", 200).await;
    let added = add(port, "server-session", "x", None).await;
    let cookie = added.header("set-cookie").unwrap_or_default();
    assert!(cookie.starts_with("__Host-session_id=") && cookie.contains("Secure"), "{cookie}");
    assert!(added.header("strict-transport-security").is_some_and(|h| h.contains("max-age=")), "{added:?}");
    assert_eq!(added.header("x-frame-options"), Some("DENY"));
}

#[tokio::test]
#[ignore = "heavy: needs podman and the image; CI runs it by name (docs/testing.md)"]
async fn each_strategy_works_over_plain_http_with_cookie_secure_off() {
    let (app, port) = Container::published(8080, &app_env(&[("ROCKET_COOKIE_SECURE", "false")]));
    app.answers(port, "/healthz", 200).await;
    let page = get(port, "/", None).await;
    assert!(page.status == 200 && page.body.contains("Private cookie"), "{}", page.status);
    for slug in ["global", "server-session", "cookie-session"] {
        let item = format!("{slug}-item");
        let added = add(port, slug, &item, None).await;
        assert_eq!(added.status, 201, "{added:?}");
        assert!(items(&list(port, slug, added.cookie().as_deref()).await).contains(&item), "{slug}");
        if slug == "server-session" {
            let cookie = added.header("set-cookie").unwrap_or_default();
            assert!(cookie.starts_with("session_id=") && !cookie.contains("Secure"), "{cookie}");
            assert_eq!(added.header("strict-transport-security"), None, "HSTS over plain http");
            assert_eq!(added.header("x-frame-options"), Some("DENY"));
        }
    }
}

#[tokio::test]
#[ignore = "heavy: needs podman and the image; CI runs it by name (docs/testing.md)"]
async fn two_containers_share_sessions_through_redis() {
    let Some(redis) = redis_url() else { return };
    let url = format!("{}/14", redis.trim_end_matches('/'));
    // On the host's network, where Redis is; each container on a port of its own.
    let start = |port: &str| {
        let store = ("ROCKET_SESSION_STORE", url.as_str());
        let env = [
            ("ROCKET_PORT", port),
            ("ROCKET_ADDRESS", "127.0.0.1"),
            store,
            ("ROCKET_COOKIE_SECURE", "false"),
        ];
        Container::run(&["--network", "host"], &app_env(&env))
    };
    let (first, second) = (free_port(), free_port());
    let (a, b) = (start(&first.to_string()), start(&second.to_string()));
    a.answers(first, "/healthz", 200).await;
    b.answers(second, "/healthz", 200).await;
    let health = json(&get(first, "/healthz", None).await);
    assert_eq!(health["store"], serde_json::json!({"backend": "redis", "up": true}));
    let added = add(first, "server-session", "shared", None).await;
    assert_eq!(items(&list(second, "server-session", added.cookie().as_deref()).await), ["shared"]);
}

#[tokio::test]
#[ignore = "heavy: needs podman and the image; CI runs it by name (docs/testing.md)"]
async fn with_the_store_down_it_leaves_rotation_but_is_not_restarted() {
    let port = free_port().to_string();
    let env = [("ROCKET_PORT", port.as_str()), ("ROCKET_ADDRESS", "127.0.0.1")];
    // Nothing listens on port 1.
    let env = app_env(&[env.as_slice(), &[("ROCKET_SESSION_STORE", "redis://127.0.0.1:1")]].concat());
    let app = Container::run(&["--network", "host"], &env);
    let port: u16 = port.parse().expect("a port");
    app.answers(port, "/healthz", 503).await;
    assert_eq!(json(&get(port, "/healthz", None).await)["status"], "degraded");
    assert_eq!(get(port, "/livez", None).await.status, 200);
    assert_eq!(add(port, "cookie-session", "still works", None).await.status, 201);
}
