//! The real server on a free port, spoken to over TCP: what a browser or curl sees.

use std::sync::Arc;

use crate::support::server::Server;
use crate::support::visitor::figment;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_server_serves_pages_and_keeps_sessions_over_http() {
    let server = Server::start(figment()).await;
    let home = server.request("GET", "/", &[], "").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("One list, kept three ways"));
    assert!(home.headers.iter().all(|(n, _)| n != "set-cookie"), "reading sets no cookie");

    let json = [("Content-Type", "application/json")];
    let first = server.request("POST", "/api/cookie-session/items", &json, r#"{"item":"over tcp"}"#).await;
    assert_eq!(first.status, 201);
    let cookie = first.cookie().expect("a private cookie");
    let again = server.request("GET", "/api/cookie-session/items", &[("Cookie", &cookie)], "").await;
    assert!(again.body.contains("over tcp"), "{}", again.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_parallel_adds_to_one_session_are_all_kept() {
    let server = Arc::new(Server::start(figment()).await);
    let json = [("Content-Type", "application/json")];
    let first = server.request("POST", "/api/server-session/items", &json, r#"{"item":"start"}"#).await;
    let cookie = first.cookie().expect("session cookie");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let (server, cookie) = (server.clone(), cookie.clone());
        tasks.spawn(async move {
            let headers = [("Content-Type", "application/json"), ("Cookie", cookie.as_str())];
            server
                .request("POST", "/api/server-session/items", &headers, &format!(r#"{{"item":"p{i}"}}"#))
                .await
                .status
        });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.unwrap(), 201);
    }
    let list = server.request("GET", "/api/server-session/items", &[("Cookie", &cookie)], "").await;
    let items: serde_json::Value = serde_json::from_str(&list.body).unwrap();
    assert_eq!(items["items"].as_array().unwrap().len(), 51, "{}", list.body);
}
