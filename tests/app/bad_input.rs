//! Malformed requests get a clear 4xx with a message, never a 5xx, and change nothing.

use rocket::http::{ContentType, Header, Status};
use server_side_sessions::strategy::Slug;

use crate::support::visitor::App;

#[tokio::test]
async fn malformed_api_requests_get_a_clear_4xx_and_change_nothing() {
    let app = App::new().await;
    let me = app.visitor();
    for slug in Slug::ALL {
        me.add(slug, "kept").await;
        let api = format!("/api/{}/items", slug.as_str());
        let big = format!(r#"{{"item":"{}"}}"#, "z".repeat(5000));
        let cases: [(&str, Status, &str); 7] = [
            ("{not json", Status::BadRequest, "malformed JSON"),
            (r#"{"item": 5}"#, Status::UnprocessableEntity, "invalid type"),
            (r#"{"thing": "x"}"#, Status::UnprocessableEntity, "missing field `item`"),
            (r#""just a string""#, Status::UnprocessableEntity, "invalid type"),
            ("", Status::BadRequest, "malformed JSON"),
            (r#"{"item": null}"#, Status::UnprocessableEntity, "invalid type"),
            (&big, Status::PayloadTooLarge, "larger than"),
        ];
        for (body, status, message) in cases {
            let resp = me.post_json(&api, body).await;
            assert_eq!(resp.status, status, "{slug:?} {body:.40}: {}", resp.body);
            assert!(resp.error().contains(message), "{slug:?} {body:.40}: {}", resp.body);
        }
        for (content_type, body) in [(ContentType::Text, r#"{"item":"x"}"#), (ContentType::Form, "item=x")] {
            let resp = me.send(app.client.post(api.clone()).header(content_type).body(body)).await;
            assert_eq!(resp.status, Status::UnsupportedMediaType, "{slug:?}");
            assert!(resp.error().contains("application/json"));
        }
        for index in ["abc", "-1", "1.5", "99999999999999999999999999", "%00"] {
            let resp = me.delete(&format!("{api}/{index}")).await;
            assert_eq!(resp.status, Status::BadRequest, "{slug:?} index {index}");
            assert!(resp.error().contains("not an item index"));
        }
        assert_eq!(me.delete(&format!("{api}/18446744073709551615")).await.status, Status::NotFound);
        assert_eq!(me.items(slug).await, ["kept"], "{slug:?}");
    }
}

#[tokio::test]
async fn unknown_paths_and_strategies_answer_404_in_the_right_format() {
    let app = App::new().await;
    let me = app.visitor();
    let api = me.get("/api/nosuch/items").await;
    assert_eq!(api.status, Status::NotFound);
    assert!(api.error().contains("no strategy named `nosuch`"), "{}", api.body);
    assert_eq!(me.delete("/api/nosuch/items/0").await.status, Status::NotFound);
    assert!(me
        .get("/api/global/nothing")
        .await
        .error()
        .starts_with("there is nothing at /api/global/nothing"));
    let page = me.get("/nosuch").await;
    assert_eq!(page.status, Status::NotFound);
    assert!(
        page.body.contains("<h1>404 Not Found</h1>") && page.body.contains("no strategy named"),
        "{}",
        page.body
    );
    assert_eq!(me.post_form("/nosuch/items", "item=x").await.status, Status::NotFound);
}

#[tokio::test]
async fn bad_forms_and_garbage_cookies_never_cause_a_5xx() {
    let app = App::new().await;
    let me = app.visitor();
    me.add(Slug::Global, "kept").await;
    let resp = me.post_form("/global/items", &format!("item={}", "q".repeat(5000))).await;
    assert_eq!(resp.status, Status::PayloadTooLarge);
    // Refusals of a well-formed form come back on the page after a redirect (no re-post on reload).
    let resp = me.post_form("/global/items", "no_item_field=1").await;
    assert!(me.follow(&resp).await.body.contains("an item cannot be empty"));
    let resp = me.send(app.client.post("/global/items").header(ContentType::JSON).body("{}")).await;
    assert_eq!(resp.status, Status::UnsupportedMediaType);
    let resp = me.post_form("/global/items/abc/delete", "").await;
    assert!(me.follow(&resp).await.body.contains("not an item index"));
    assert_eq!(me.items(Slug::Global).await, ["kept"]);

    let garbage =
        ["=", ";;;", "session_id=%%%", "cookie_session=\u{7f}", &format!("session_id={}", "a".repeat(8000))];
    for cookie in garbage {
        for path in ["/", "/api/inspect", "/api/server-session/items", "/api/cookie-session/items"] {
            let resp = me.send(app.client.get(path).header(Header::new("Cookie", cookie.to_owned()))).await;
            assert!(resp.status.code < 500, "{cookie:.30} {path}: {}", resp.status);
        }
    }
}

/// Every JSON answer, success or error, ends with a newline, so in a terminal the prompt after
/// `curl` starts on a line of its own.
#[tokio::test]
async fn every_json_answer_ends_with_a_newline() {
    let app = App::new().await;
    let me = app.visitor();
    let answers = [
        me.post_json("/api/server-session/items", r#"{"item":"milk"}"#).await,
        me.get("/api/server-session/items").await,
        me.get("/api/inspect").await,
        me.get("/healthz").await,
        me.get("/livez").await,
        me.get("/api/no-such-strategy/items").await,
        me.post_json("/api/global/items", r#"{"item":""}"#).await,
        me.get("/api/nowhere").await,
    ];
    for answer in &answers {
        assert_eq!(answer.header("Content-Type"), Some("application/json"), "{}", answer.body);
        assert!(answer.body.ends_with("}\n"), "{:?}", answer.body);
    }
}
