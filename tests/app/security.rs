//! Cookie attributes, cross-site write refusal and the secret-key rules.

use rocket::http::{Method, Status};
use server_side_sessions::strategy::Slug;

use crate::support::visitor::{figment, App};

#[tokio::test]
async fn cookies_are_httponly_lax_and_path_root() {
    let app = App::new().await;
    let me = app.visitor();
    for slug in [Slug::ServerSession, Slug::CookieSession] {
        let resp = me.add(slug, "x").await;
        let set_cookie = resp.set_cookies()[0].to_owned();
        for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
            assert!(set_cookie.contains(attribute), "{slug:?} lacks {attribute}: {set_cookie}");
        }
        assert!(!set_cookie.contains("Secure"), "plain-http debug run: {set_cookie}");
    }
}

#[tokio::test]
async fn cookie_secure_marks_cookies_secure_with_host_prefixed_names() {
    let app = App::with(figment().merge(("cookie_secure", true))).await;
    let me = app.visitor();
    for (slug, name) in
        [(Slug::ServerSession, "__Host-session_id"), (Slug::CookieSession, "__Host-cookie_session")]
    {
        let resp = me.add(slug, "x").await;
        let set_cookie = resp.set_cookies()[0];
        assert!(set_cookie.starts_with(&format!("{name}=")), "{set_cookie}");
        assert!(
            set_cookie.contains("Secure") && set_cookie.contains("Path=/") && !set_cookie.contains("Domain"),
            "{set_cookie}"
        );
        assert_eq!(me.items(slug).await, ["x"], "{slug:?} reads its __Host- cookie");
    }
    // The unprefixed names mean nothing to a Secure deployment.
    let other = app.visitor();
    other.set_cookie("session_id", &me.cookie("__Host-session_id").unwrap());
    assert!(other.items(Slug::ServerSession).await.is_empty());
}

/// Every route that is not a GET (or the `OPTIONS` answer, which only lists methods: see
/// `methods.rs`) changes state; each must refuse cross-site requests.
#[tokio::test]
async fn every_write_route_refuses_cross_site_requests_and_changes_nothing() {
    let app = App::new().await;
    let me = app.visitor();
    for slug in Slug::ALL {
        me.add(slug, "kept").await;
    }
    let write_routes: Vec<_> = app
        .client
        .rocket()
        .routes()
        .filter(|r| r.method != Method::Get && r.method != Method::Options)
        .map(|r| (r.method, r.uri.path().to_string()))
        .collect();
    assert!(write_routes.len() >= 9, "{write_routes:?}");
    let hostile: [&[(&'static str, &'static str)]; 4] = [
        &[("Sec-Fetch-Site", "cross-site")],
        &[("Sec-Fetch-Site", "same-site")],
        &[("Origin", "http://evil.test")],
        &[("Origin", "null")],
    ];
    for (method, path) in &write_routes {
        let path = path.replace("<slug>", "global").replace("<_slug>", "global").replace("<index>", "0");
        for headers in hostile {
            let mut request = app
                .client
                .req(*method, path.clone())
                .header(rocket::http::ContentType::JSON)
                .body(r#"{"item":"evil"}"#);
            for (name, value) in headers {
                request = request.header(rocket::http::Header::new(*name, *value));
            }
            let resp = me.send(request).await;
            assert_eq!(resp.status, Status::Forbidden, "{method} {path} {headers:?}");
        }
    }
    // `_method` cannot turn a cross-site form POST into a DELETE that gets through.
    let resp =
        me.post_form_from("/api/global/items", "_method=delete", &[("Sec-Fetch-Site", "cross-site")]).await;
    assert_eq!(resp.status, Status::Forbidden);
    let resp =
        me.post_form_from("/api/global/items/0", "_method=delete", &[("Origin", "http://evil.test")]).await;
    assert_eq!(resp.status, Status::Forbidden);
    let html = me.post_form_from("/global/items", "item=evil", &[("Sec-Fetch-Site", "cross-site")]).await;
    assert!(html.body.contains("cross-site request refused"), "the refusal says why");
    for slug in Slug::ALL {
        assert_eq!(me.items(slug).await, ["kept"], "{slug:?} unchanged");
    }
    // Same-origin browser requests and header-less clients (curl) still write.
    let ok = me
        .post_form_from(
            "/global/items",
            "item=fine",
            &[
                ("Sec-Fetch-Site", "same-origin"),
                ("Origin", "http://localhost:8000"),
                ("Host", "localhost:8000"),
            ],
        )
        .await;
    assert_eq!(ok.status, Status::SeeOther);
}

#[tokio::test]
async fn release_profile_refuses_to_start_without_a_secret_key() {
    let figment = rocket::Config::figment().select("release").merge(("log_level", "off"));
    let result = rocket::local::asynchronous::Client::untracked(server_side_sessions::build(figment)).await;
    let Err(error) = result else { panic!("a release build must not start without a key") };
    assert!(matches!(error.kind(), rocket::error::ErrorKind::FailedFairings(_)), "{error}");

    let with_key = rocket::Config::figment()
        .select("release")
        .merge(("secret_key", crate::support::visitor::KEY))
        .merge(("log_level", "off"));
    let app = App::with(with_key).await;
    let resp = app.visitor().add(Slug::CookieSession, "x").await;
    assert!(
        resp.set_cookies()[0].starts_with("__Host-cookie_session="),
        "release defaults to Secure cookies"
    );
}

/// A deployment with Secure cookies is reached over TLS only: browsers are told to keep to
/// https. A plain-http run says nothing of the kind. Frames are refused either way.
#[tokio::test]
async fn secure_deployments_send_hsts_and_no_answer_may_be_framed() {
    for (secure, hsts) in [(false, None), (true, Some("max-age=31536000"))] {
        let app = App::with(figment().merge(("cookie_secure", secure))).await;
        let me = app.visitor();
        for path in ["/", "/api/global/items", "/static/style.css", "/no-such-page"] {
            let resp = me.get(path).await;
            assert_eq!(resp.header("Strict-Transport-Security"), hsts, "{path}, cookie_secure={secure}");
            assert_eq!(resp.header("X-Frame-Options"), Some("DENY"), "{path}");
            let csp = resp.header("Content-Security-Policy").unwrap_or_default();
            assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        }
    }
}

/// What a new user sees who starts the release build without a key, or with a bad one: the
/// reason and how to make a key, then exit status 1. No panic, no backtrace.
#[test]
fn the_release_binary_refuses_a_missing_or_bad_key_with_the_message_alone() {
    for (key, expected) in [(None, "refusing to start"), (Some("..."), "`secret_key` is invalid")] {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_server-side-sessions"));
        command.current_dir(env!("CARGO_MANIFEST_DIR")).env("ROCKET_PROFILE", "release");
        command.env_remove("ROCKET_SECRET_KEY").env("ROCKET_PORT", "0").env("RUST_BACKTRACE", "1");
        if let Some(key) = key {
            command.env("ROCKET_SECRET_KEY", key);
        }
        let output = command.output().expect("the app binary runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(1), "{key:?}: {stdout}{stderr}");
        assert!(stdout.contains(expected) || stderr.contains(expected), "{key:?}: {stdout}{stderr}");
        assert!(stdout.contains("openssl rand -base64 32") || stderr.contains("openssl rand -base64 32"));
        for noise in ["panicked", "backtrace", "RUST_BACKTRACE", "Rocket failed to launch"] {
            assert!(
                !stdout.contains(noise) && !stderr.contains(noise),
                "{key:?} printed {noise:?}: {stderr}"
            );
        }
        let lines = stdout.lines().chain(stderr.lines()).filter(|l| !l.trim().is_empty()).count();
        assert_eq!(lines, 1, "{key:?}: the message alone: {stdout}{stderr}");
    }
}
