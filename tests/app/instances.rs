//! Real app processes: restarting one, and running two side by side. These show what the
//! choice of store means: with Redis or Postgres a server-side session outlives the process
//! and follows the visitor to any instance; the global list never does; the private cookie
//! works on any instance that has the same secret key.

use crate::support::http::{add, get, items, json, list};
use crate::support::network_store::each_network_store;
use crate::support::processes::AppProcess;
use crate::support::visitor::{KEY, OTHER_KEY};

const SERVER: &str = "server-session";

/// Adds through a first process, restarts it, and reads with the old cookie.
/// Returns what the new process shows for it.
async fn restart(store: &str) -> (u16, Vec<String>, serde_json::Value) {
    let first = AppProcess::start(store, KEY).await;
    let created = add(first.port, SERVER, "before the restart", None).await;
    assert_eq!(created.status, 201, "{created:?}");
    let cookie = created.cookie().expect("a session cookie");
    drop(first);

    let second = AppProcess::start(store, KEY).await;
    let after = list(second.port, SERVER, Some(&cookie)).await;
    let inspect = json(&get(second.port, "/api/inspect", Some(&cookie)).await);
    (after.status, items(&after), inspect["server_session"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_sessions_die_with_the_process_and_the_old_cookie_is_just_unknown() {
    let (status, items, view) = restart("memory").await;
    assert_eq!(status, 200, "never a 5xx");
    assert!(items.is_empty(), "{items:?}");
    assert_eq!(view["browser"][0]["status"], "unknown or expired id", "{view}");
    let notice = view["notice"].as_str().unwrap_or_default();
    assert!(notice.contains("memory of another process"), "the page names the likely cause: {view}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_store_sessions_survive_a_restart_of_the_app() {
    each_network_store(|store| async move {
        let (_, items, view) = restart(&store.url).await;
        assert_eq!(items, ["before the restart"]);
        assert_eq!(view["browser"][0]["status"], "live session", "{view}");
    })
    .await;
}

/// Two instances (`a`, `b`) with the same key and a third (`c`) with another, all on `store`
/// with the further settings `env`.
pub async fn two_instances(store: &str, env: &[(&str, &str)]) {
    let (a, b, c) = tokio::join!(
        AppProcess::start_with(store, KEY, env),
        AppProcess::start_with(store, KEY, env),
        AppProcess::start_with(store, OTHER_KEY, env)
    );

    // The server-side list follows the visitor: written through A, read and extended via B.
    let created = add(a.port, SERVER, "written via A", None).await;
    let session = created.cookie().expect("a session cookie");
    assert_eq!(add(b.port, SERVER, "written via B", Some(&session)).await.status, 201);
    let both = ["written via A", "written via B"];
    assert_eq!(items(&list(a.port, SERVER, Some(&session)).await), both);
    // Any instance can read it; the secret key plays no part in a server-side session.
    assert_eq!(items(&list(c.port, SERVER, Some(&session)).await), both);

    // The global list is per process.
    assert_eq!(add(a.port, "global", "only on A", None).await.status, 201);
    assert!(!items(&list(b.port, "global", None).await).contains(&"only on A".to_owned()));

    // The private cookie: readable wherever the key is the same, and nowhere else.
    let sealed =
        add(a.port, "cookie-session", "in the cookie", None).await.cookie().expect("a private cookie");
    assert_eq!(items(&list(b.port, "cookie-session", Some(&sealed)).await), ["in the cookie"]);
    assert!(items(&list(c.port, "cookie-session", Some(&sealed)).await).is_empty());
    let view = json(&get(c.port, "/api/inspect", Some(&sealed)).await)["cookie_session"].clone();
    let notice = view["notice"].as_str().unwrap_or_default();
    assert!(notice.contains("could not be decrypted"), "{view}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_network_store_sessions_but_not_global_state() {
    each_network_store(|store| async move { two_instances(&store.url, &[]).await }).await;
}
