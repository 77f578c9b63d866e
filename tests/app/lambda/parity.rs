//! The same request gets the same status from the function as from the HTTP server: odd
//! requests of every kind, sent to both, compared one by one.

use super::Emulator;
use crate::support::http::{http, JSON};
use crate::support::server::Server;
use crate::support::visitor::KEY;

const API: &str = "/api/global/items";

/// A request: method, path, headers, body.
type Odd<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, &'a str);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "heavy: CI runs it by name (docs/testing.md)"]
async fn odd_requests_get_the_same_status_as_from_the_http_server() {
    let big = "b".repeat(6_000);
    let odd: Vec<Odd> = vec![
        ("GET", "/", vec![("X-Name", "José")], ""),
        ("GET", "/api/global/items", vec![("User-Agent", "Mozilla/5.0 Ü")], ""),
        ("POST", API, vec![JSON, ("X-Name", "Zoë")], r#"{"item":"café"}"#),
        ("get", "/", vec![], ""),
        ("Post", API, vec![JSON], r#"{"item":"x"}"#),
        ("dELETE", API, vec![], ""),
        ("BREW", "/", vec![], ""),
        ("PATCH", API, vec![], ""),
        ("TRACE", "/", vec![], ""),
        ("POST", API, vec![JSON], r#"{"item":"#),
        ("POST", API, vec![JSON], r#"{"item":5}"#),
        ("POST", API, vec![JSON], ""),
        ("POST", API, vec![("Content-Type", "text/plain")], "item"),
        ("POST", API, vec![("Content-Type", "application/x-www-form-urlencoded")], "item=%zz"),
        ("POST", "/global/items", vec![("Content-Type", "application/x-www-form-urlencoded")], "item="),
        ("GET", "/", vec![("X-Big", &big)], ""),
        ("GET", "/%zz", vec![], ""),
        ("GET", "/api/GLOBAL/items", vec![], ""),
        ("GET", "/api/global/items/", vec![], ""),
        ("DELETE", "/api/global/items/-1", vec![], ""),
        ("DELETE", "/api/global/items/99999999999999999999", vec![], ""),
        ("GET", "/static/../Cargo.toml", vec![], ""),
        ("GET", "/?a=%zz&b", vec![], ""),
        ("GET", "/nowhere", vec![], ""),
        ("GET", "/server-session", vec![("Cookie", "session_id=garbage; cookie_session=%%%")], ""),
        ("GET", "/cookie-session", vec![("Cookie", "cookie_session=AAAA; signed_session=x")], ""),
        ("POST", API, vec![JSON, ("Cookie", "session_id=; =x; ;;")], r#"{"item":"y"}"#),
        ("POST", API, vec![JSON, ("Origin", "null")], r#"{"item":"z"}"#),
    ];
    // The function's settings: the compiled-in ones, with the key (`src/lambda/mod.rs`).
    let settings = server_side_sessions::config::figment().merge(("secret_key", KEY));
    let server = Server::start(settings.merge(("log_level", "off")).merge(("port", 0))).await;
    let function = Emulator::start(&[]).await;
    let mut differ = Vec::new();
    for (method, path, headers, body) in &odd {
        let expected = http(server.port, method, path, headers, body).await.status;
        let got = http(function.port, method, path, headers, body).await.status;
        if got != expected {
            let shown: Vec<String> = headers.iter().map(|(n, v)| format!("{n}: {v:.20}")).collect();
            differ.push(format!("{method} {path} {shown:?}: server {expected}, Lambda {got}"));
        }
    }
    assert!(differ.is_empty(), "the function answered otherwise:\n{}", differ.join("\n"));
}
