//! Method semantics on every path: `405` with `Allow` for a path that exists under other
//! methods, `204` with `Allow` for `OPTIONS`, `404` for a path that does not exist, and none
//! of them changes anything. The paths and their methods are read from the mounted routes,
//! so a route added later is checked without touching this file.

use std::collections::{BTreeMap, BTreeSet};

use rocket::http::{ContentType, Header, Method, Status};
use server_side_sessions::strategy::Slug;
use server_side_sessions::web::methods::{ORDER as ALL, PARAMETERS};

use crate::support::server::Server;
use crate::support::visitor::{figment, App, Resp, Visitor};

/// Every concrete path the mounted routes name (each `<slug>` as each strategy, `<index>` as
/// 0), with the methods it should take: its routes' methods, `HEAD` with `GET`, and `OPTIONS`.
fn paths(app: &App) -> BTreeMap<String, BTreeSet<&'static str>> {
    let mut paths: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
    for route in app.client.rocket().routes().filter(|r| r.method != Method::Options) {
        let pattern = route.uri.path().to_string();
        for name in pattern.split('/').filter_map(|s| s.strip_prefix('<')?.strip_suffix('>')) {
            assert!(PARAMETERS.contains(&name), "{pattern}: `<{name}>` is not checked by web::methods");
        }
        for slug in Slug::ALL {
            let path = pattern.replace("<slug>", slug.as_str()).replace("<index>", "0");
            let methods = paths.entry(path).or_default();
            methods.insert(route.method.as_str());
            if route.method == Method::Get {
                methods.insert("HEAD");
            }
            methods.insert("OPTIONS");
        }
    }
    paths
}

async fn send(me: &Visitor<'_>, app: &App, method: Method, path: &str, extra: &[(&str, &str)]) -> Resp {
    let mut request =
        app.client.req(method, path.to_owned()).header(ContentType::JSON).body(r#"{"item":"evil"}"#);
    for (name, value) in extra {
        request = request.header(Header::new(name.to_string(), value.to_string()));
    }
    me.send(request).await
}

fn allow(resp: &Resp) -> BTreeSet<&str> {
    resp.header("Allow").unwrap_or_default().split(", ").filter(|m| !m.is_empty()).collect()
}

#[tokio::test]
async fn every_path_answers_a_wrong_method_with_405_and_allow_and_changes_nothing() {
    let app = App::new().await;
    let me = app.visitor();
    for slug in Slug::ALL {
        assert_eq!(me.add(slug, "kept").await.status, Status::Created);
    }
    let paths = paths(&app);
    assert!(paths.len() >= 20, "{paths:?}");
    for (path, expected) in &paths {
        for method in ALL.into_iter().filter(|m| !expected.contains(m.as_str())) {
            let resp = send(&me, &app, method, path, &[]).await;
            assert_eq!(resp.status, Status::MethodNotAllowed, "{method} {path}: {}", resp.body);
            assert_eq!(&allow(&resp), expected, "{method} {path}");
            if method == Method::Head {
                continue; // no body to look at
            }
            if path.starts_with("/api/") {
                assert!(resp.error().contains("is not allowed on"), "{method} {path}: {}", resp.body);
            } else {
                assert!(resp.body.contains("405 Method Not Allowed"), "{method} {path}: {}", resp.body);
            }
        }
        for headers in [&[][..], &[("Sec-Fetch-Site", "cross-site"), ("Origin", "http://evil.test")][..]] {
            let options = send(&me, &app, Method::Options, path, headers).await;
            assert_eq!(options.status, Status::NoContent, "OPTIONS {path}");
            assert_eq!(&allow(&options), expected, "OPTIONS {path}");
        }
    }
    // Rocket's `_method` override makes a form POST a PUT: that is a 405 too.
    assert_eq!(me.post_form("/global/items", "_method=put&item=evil").await.status, Status::MethodNotAllowed);
    for slug in Slug::ALL {
        assert_eq!(me.items(slug).await, ["kept"], "{slug:?}: a 405 or OPTIONS changed the list");
    }
}

#[tokio::test]
async fn paths_that_do_not_exist_stay_404_under_every_method() {
    let app = App::new().await;
    let me = app.visitor();
    let missing = ["/nope", "/nope/deeper", "/api/nope/items", "/api/global/nope", "/global/items/0/nope"];
    for path in missing {
        for method in ALL {
            let resp = send(&me, &app, method, path, &[]).await;
            assert_eq!(resp.status, Status::NotFound, "{method} {path}: {}", resp.body);
            assert_eq!(resp.header("Allow"), None, "{method} {path}");
        }
    }
}

/// What a client on the wire sees, including a method Rocket does not know at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http_wrong_methods_get_405_json_on_api_paths_and_a_page_elsewhere() {
    let server = Server::start(figment()).await;
    for method in ["PUT", "PATCH", "TRACE"] {
        let api = server.request(method, "/api/global/items", &[], "").await;
        assert_eq!(api.status, 405, "{method}: {api:?}");
        assert_eq!(header(&api, "allow"), "GET, HEAD, POST, DELETE, OPTIONS");
        assert!(header(&api, "content-type").starts_with("application/json"), "{api:?}");
        let page = server.request(method, "/server-session/end", &[], "").await;
        assert_eq!((page.status, header(&page, "allow")), (405, "POST, OPTIONS".to_owned()), "{page:?}");
        assert!(header(&page, "content-type").starts_with("text/html"), "{page:?}");
    }
    let options = server.request("OPTIONS", "/", &[], "").await;
    assert_eq!((options.status, header(&options, "allow")), (204, "GET, HEAD, OPTIONS".to_owned()));
    // Rocket 0.5 refuses unknown methods before routing: a 400 that says what it takes.
    let query = server.request("QUERY", "/api/global/items", &[], "").await;
    assert_eq!(query.status, 400, "{query:?}");
    assert!(query.body.contains("takes only the methods GET, HEAD"), "{}", query.body);
}

fn header(reply: &crate::support::http::Reply, name: &str) -> String {
    reply.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap_or_default()
}
