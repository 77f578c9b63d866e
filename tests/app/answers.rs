//! The teacher's answer key (`docs/answers.md`), checked against the running app: every block
//! of commands in it runs with bash against the real app on free ports, restarted where the
//! key says so, and each line the key says a command prints must be in what it printed. The
//! exercises done on the page are checked here through the API where the key gives numbers.
//! The README's curl section and the commands its exercises name must all be in the key, so
//! they run too.

use std::path::Path;

use server_side_sessions::strategy::Slug;

use crate::support::processes::{shell, AppProcess};
use crate::support::server::Server;
use crate::support::store_servers::redis_url;
use crate::support::visitor::{figment, App, KEY, OTHER_KEY};

/// A command of the key and the lines its output must contain.
#[derive(Debug)]
struct Step {
    command: String,
    expect: Vec<String>,
}

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).expect("readable")
}

/// The `console` blocks under the heading of exercise `n` (`## n. ...`).
fn blocks(n: u8) -> Vec<Vec<Step>> {
    let key = read("docs/answers.md");
    let start = key.find(&format!("\n## {n}. ")).unwrap_or_else(|| panic!("exercise {n} in the key"));
    let section = &key[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |end| end + 3)];
    let mut blocks = Vec::new();
    let mut lines = section.lines();
    while lines.by_ref().any(|line| line == "```console") {
        let mut block: Vec<Step> = Vec::new();
        let mut continued: Option<String> = None;
        for line in lines.by_ref().take_while(|line| *line != "```") {
            let command = match continued.take() {
                Some(head) => Some(format!("{head}\n{line}")),
                None => line.strip_prefix("$ ").map(str::to_owned),
            };
            match command {
                Some(command) if command.ends_with('\\') => continued = Some(command),
                Some(command) => block.push(Step { command, expect: Vec::new() }),
                None if line.trim().is_empty() => {}
                None => block.last_mut().expect("output after a command").expect.push(line.trim().to_owned()),
            }
        }
        blocks.push(block);
    }
    blocks
}

/// Runs `block` in `dir`, with each `127.0.0.1:<doc port>` of `ports` sent to its real port.
async fn run(block: &[Step], dir: &Path, ports: &[(u16, u16)]) {
    for step in block {
        let mut command = step.command.clone();
        for (doc, real) in ports {
            command = command.replace(&format!("127.0.0.1:{doc}"), &format!("127.0.0.1:{real}"));
        }
        command = command.replace("sleep 11", "sleep 2");
        let (ok, printed) = shell(dir, &command).await;
        assert!(ok, "`{}` failed, printing:\n{printed}", step.command);
        for line in &step.expect {
            assert!(
                printed.contains(line),
                "`{}` printed:\n{printed}\nwithout the key's {line:?}",
                step.command
            );
        }
    }
}

/// A key as `openssl rand -base64 32` makes one.
fn new_key() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>())
}

/// Whether curl is installed; a test that needs it says it is skipped otherwise.
async fn has_curl(test: &str) -> bool {
    let found = shell(Path::new("."), "curl --version").await.0;
    if !found {
        crate::skips::skipped(test, "without curl");
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_exercises_show_what_the_key_says() {
    if !has_curl("answers::the_command_exercises_show_what_the_key_says").await {
        return;
    }
    for exercise in [1, 2, 3, 4, 9, 10] {
        // A one-second rotation grace, so that the key's `sleep 11` past the default ten
        // seconds can be a `sleep 2` here.
        let server = Server::start(figment().merge(("session_rotation_grace", 1))).await;
        let dir = tempfile::tempdir().expect("a folder");
        let blocks = blocks(exercise);
        assert!(!blocks.is_empty(), "exercise {exercise} has commands");
        for block in &blocks {
            run(block, dir.path(), &[(8000, server.port)]).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exercise_6_restart_loses_what_the_key_says_and_keeps_the_rest() {
    if !has_curl("answers::exercise_6_restart_loses_what_the_key_says_and_keeps_the_rest").await {
        return;
    }
    let blocks = blocks(6);
    assert_eq!(blocks.len(), 4, "before and after a plain restart, then with the key and Redis");
    let dir = tempfile::tempdir().expect("a folder");
    // `cargo run` without a key makes a new one on every start; the student's exported key
    // is a new one too.
    let before = AppProcess::start("memory", &new_key()).await;
    run(&blocks[0], dir.path(), &[(8000, before.port)]).await;
    drop(before);
    let after = AppProcess::start("memory", &new_key()).await;
    run(&blocks[1], dir.path(), &[(8000, after.port)]).await;
    drop(after);

    let Some(redis) = redis_url() else { return };
    let exported = new_key();
    let before = AppProcess::start(&redis, &exported).await;
    run(&blocks[2], dir.path(), &[(8000, before.port)]).await;
    drop(before);
    let after = AppProcess::start(&redis, &exported).await;
    run(&blocks[3], dir.path(), &[(8000, after.port)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exercise_7_two_instances_share_what_the_key_says() {
    if !has_curl("answers::exercise_7_two_instances_share_what_the_key_says").await {
        return;
    }
    // With the memory store, B does not know A's session.
    let (a, b) = tokio::join!(AppProcess::start("memory", KEY), AppProcess::start("memory", KEY));
    let dir = tempfile::tempdir().expect("a folder");
    let blocks = blocks(7);
    let (written_via_a, read_via_b) = (&blocks[0][..1], &blocks[0][1].command);
    run(written_via_a, dir.path(), &[(8001, a.port)]).await;
    let (_, printed) =
        shell(dir.path(), &read_via_b.replace("127.0.0.1:8002", &format!("127.0.0.1:{}", b.port))).await;
    assert!(printed.contains(r#""items":[]"#), "a memory store is per process: {printed}");

    let Some(redis) = redis_url() else { return };
    let (a, b, c) = tokio::join!(
        AppProcess::start(&redis, KEY),
        AppProcess::start(&redis, KEY),
        AppProcess::start(&redis, OTHER_KEY)
    );
    let dir = tempfile::tempdir().expect("a folder");
    let ports = [(8001, a.port), (8002, b.port), (8003, c.port)];
    for block in &blocks {
        run(block, dir.path(), &ports).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exercise_8_key_rotation_reads_and_reseals_as_the_key_says() {
    if !has_curl("answers::exercise_8_key_rotation_reads_and_reseals_as_the_key_says").await {
        return;
    }
    let blocks = blocks(8);
    assert_eq!(blocks.len(), 2, "before and after the restart with a new key");
    let dir = tempfile::tempdir().expect("a folder");
    let before = AppProcess::start("memory", KEY).await;
    run(&blocks[0], dir.path(), &[(8000, before.port)]).await;
    drop(before);
    let previous = format!("[\"{KEY}\"]");
    let after =
        AppProcess::start_with("memory", OTHER_KEY, &[("ROCKET_PREVIOUS_SECRET_KEYS", &previous)]).await;
    run(&blocks[1], dir.path(), &[(8000, after.port)]).await;
}

/// Exercise 5 is done on the page; the key's numbers, through the API.
#[tokio::test]
async fn exercise_5_the_cookies_take_as_many_items_as_the_key_says() {
    let letters = "a".repeat(200);
    let spaced = format!("{}a", "a ".repeat(99));
    for (slug, item, fits) in [
        (Slug::CookieSession, &letters, &[13, 14][..]),
        (Slug::SignedSession, &letters, &[18][..]),
        (Slug::CookieSession, &spaced, &[13, 14][..]),
        (Slug::SignedSession, &spaced, &[9][..]),
    ] {
        let app = App::new().await;
        let me = app.visitor();
        let mut kept = 0;
        while me.add(slug, item).await.status == rocket::http::Status::Created {
            kept += 1;
        }
        assert!(fits.contains(&kept), "{slug:?} took {kept} items of {} characters", item.len());
    }
}

/// The README's curl section, and the commands its exercises name, are all in the key.
#[test]
fn every_curl_command_of_the_readme_is_run_by_the_key() {
    let squeeze = |text: &str| text.replace("\\\n", " ").split_whitespace().collect::<Vec<_>>().join(" ");
    let key = squeeze(&read("docs/answers.md"));
    let readme = read("README.md");
    let curl = &readme[readme.find("## Use it with curl").expect("a curl section")..];
    let curl = &curl[..curl.find("\n## Security").expect("the security section after it")];
    let block = curl.split("```").nth(1).expect("the walkthrough's block");
    let walkthrough = block.replace("\\\n", " ");
    let named = curl.split('`').skip(1).step_by(2).filter(|span| span.starts_with("curl "));
    let commands: Vec<String> =
        walkthrough.lines().skip(1).map(str::to_owned).chain(named.map(str::to_owned)).collect();
    assert!(commands.len() > 10, "the section's commands were found: {commands:?}");
    for command in commands.iter().filter(|c| !c.trim().is_empty()) {
        assert!(key.contains(&squeeze(command)), "not in docs/answers.md: {command}");
    }
}
