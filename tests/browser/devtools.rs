//! What a student does next with devtools open: edit a cookie, put an old one back, fill the
//! cookie up. Each change goes through the browser's own cookie jar.

use crate::harness::{Browsers, Viewport};
use crate::page::Browser;
use crate::server::App;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_cookie_changed_in_the_jar_reads_as_empty_with_a_notice() {
    let Some(browsers) =
        Browsers::start("a_private_cookie_changed_in_the_jar_reads_as_empty_with_a_notice").await
    else {
        return;
    };
    let app = App::start().await;
    let a = browsers.open(&app, Viewport::Desktop).await;
    a.add("cookie-session", "secret plans").await;
    let original = a.cookie("cookie_session").await.expect("a private cookie").value().to_owned();

    a.set_cookie("cookie_session", &change_one_character(&original)).await;
    a.reload().await;

    assert!(a.items("cookie-session").await.is_empty(), "a changed cookie gives no list");
    let notice = a.text("#cookie-session .notice").await.unwrap_or_default();
    assert!(notice.contains("could not be decrypted"), "the page says why the list is empty: {notice:?}");
    assert_normal_page(&a).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_session_id_put_back_in_the_jar_brings_nothing_back() {
    let Some(browsers) = Browsers::start("an_ended_session_id_put_back_in_the_jar_brings_nothing_back").await
    else {
        return;
    };
    let app = App::start().await;
    let a = browsers.open(&app, Viewport::Desktop).await;
    a.add("server-session", "revocable").await;
    let old_id = a.cookie("session_id").await.expect("a session cookie").value().to_owned();

    a.submit_with("form[action='/server-session/end'] button").await;
    assert!(a.cookie("session_id").await.is_none(), "End session removes the cookie from the jar");
    assert!(a.items("server-session").await.is_empty());

    a.add_cookie("session_id", &old_id, true).await;
    a.reload().await;
    assert!(
        a.items("server-session").await.is_empty(),
        "the server deleted the record: the old id is worthless"
    );
    assert_normal_page(&a).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_private_cookie_refuses_the_next_item_and_keeps_the_list() {
    let Some(browsers) =
        Browsers::start("a_full_private_cookie_refuses_the_next_item_and_keeps_the_list").await
    else {
        return;
    };
    let app = App::start().await;
    let a = browsers.open(&app, Viewport::Desktop).await;

    // 200 characters each (the longest an item may be): about 15 fit in 4096 bytes. The bound
    // keeps a broken limit from looping on to the 100-item cap.
    let mut kept = vec![];
    let refusal = loop {
        assert!(kept.len() < 30, "30 long items fit in one cookie: the 4096-byte limit is not enforced");
        let item = format!("{:02} {}", kept.len() + 1, "x".repeat(197));
        a.paste_and_add("cookie-session", &item).await;
        if let Some(error) = a.text("#cookie-session .error").await {
            break error;
        }
        kept.push(item);
        assert_eq!(a.items("cookie-session").await, kept);
    };

    assert!(refusal.contains("over the 4096-byte limit"), "the page gives the reason: {refusal:?}");
    assert!(kept.len() >= 10, "only {} items fit before the refusal", kept.len());
    // The refusal came back after a redirect: reloading repeats the GET, not the POST.
    assert_eq!(a.status().await, 200);
    a.reload().await;
    assert_eq!(a.text("#cookie-session .error").await, None, "the reason is shown once");
    assert_eq!(a.items("cookie-session").await, kept, "the refused item changed nothing");
    let cookie = a.cookie("cookie_session").await.expect("the cookie is still there");
    let size = cookie.name().len() + cookie.value().len();
    assert!(size <= 4096, "the stored cookie is within the browser's limit: {size} bytes");
    let shown = a.text("#cookie-session .size").await.unwrap_or_default();
    assert!(shown.starts_with(&format!("{size}")), "the panel shows the size the jar holds: {shown:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_signed_cookie_is_readable_from_the_jar_but_a_change_is_refused() {
    let Some(browsers) =
        Browsers::start("the_signed_cookie_is_readable_from_the_jar_but_a_change_is_refused").await
    else {
        return;
    };
    let app = App::start().await;
    let a = browsers.open(&app, Viewport::Desktop).await;
    a.goto("/cookie-session").await;
    a.add("signed-session", "my secret plans").await;
    a.add("cookie-session", "my secret plans").await;
    let signed = a.cookie("signed_session").await.expect("a signed cookie");
    assert_eq!(signed.http_only(), Some(true));

    // What the README asks a student to do: copy the value, URL-decode it, skip the signature.
    let value = serde_json::to_string(signed.value()).unwrap();
    let decoded: String = a.js(&format!("return decodeURIComponent({value}).slice(44)")).await;
    let list: serde_json::Value = serde_json::from_str(&decoded).expect("JSON behind the signature");
    assert_eq!(list["items"], serde_json::json!(["my secret plans"]), "readable without the key");
    let private = a.cookie("cookie_session").await.unwrap().value().to_owned();
    assert!(!private.contains("secret"), "the private cookie is ciphertext");
    let shown = a.text("#signed-session .readable").await.unwrap_or_default();
    assert!(shown.contains("my secret plans"), "the panel shows what anyone can read: {shown:?}");

    a.set_cookie("signed_session", &signed.value().replace("secret", "public")).await;
    a.reload().await;
    assert!(a.items("signed-session").await.is_empty(), "an edited list does not verify");
    let notice = a.text("#signed-session .notice").await.unwrap_or_default();
    assert!(notice.contains("failed its signature check"), "{notice:?}");
}

/// The tampering a person does in devtools: one character of the value, in the middle (the
/// last character of base64 may only carry padding bits), kept within the same alphabet.
fn change_one_character(value: &str) -> String {
    let mut chars: Vec<char> = value.chars().collect();
    let at = (chars.len() / 2..chars.len())
        .find(|&i| chars[i].is_ascii_alphanumeric() && !chars[i.saturating_sub(2)..i].contains(&'%'))
        .expect("an alphanumeric character in the second half");
    chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

/// The comparison page in its normal layout with a 200 status: not an error page.
async fn assert_normal_page(browser: &Browser) {
    assert_eq!(browser.status().await, 200);
    assert_eq!(browser.text("h1").await.as_deref(), Some("One list, kept three ways"));
    let columns: usize =
        browser.js("return document.querySelectorAll('.columns > section.strategy').length").await;
    assert_eq!(columns, 3, "all three columns are there");
}
