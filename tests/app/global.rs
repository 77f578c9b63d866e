//! Global state: one list per process, shared by every visitor.

use rocket::http::Status;
use server_side_sessions::strategy::Slug;

use crate::support::visitor::App;

#[tokio::test]
async fn two_visitors_share_the_global_list_but_not_their_sessions() {
    let app = App::new().await;
    let (alice, bob) = (app.visitor(), app.visitor());
    for slug in Slug::ALL {
        alice.add(slug, &format!("alice's {}", slug.as_str())).await;
    }
    assert_eq!(bob.items(Slug::Global).await, ["alice's global"]);
    assert!(bob.items(Slug::ServerSession).await.is_empty());
    assert!(bob.items(Slug::CookieSession).await.is_empty());

    bob.add(Slug::ServerSession, "bob's own").await;
    assert_eq!(alice.items(Slug::ServerSession).await, ["alice's server-session"]);
    assert_eq!(bob.items(Slug::ServerSession).await, ["bob's own"]);
    assert_eq!(alice.items(Slug::CookieSession).await, ["alice's cookie-session"]);
}

#[tokio::test]
async fn a_second_process_has_its_own_global_list() {
    let (one, two) = (App::new().await, App::new().await);
    one.visitor().add(Slug::Global, "only in one").await;
    assert_eq!(one.visitor().items(Slug::Global).await, ["only in one"]);
    assert!(two.visitor().items(Slug::Global).await.is_empty());
}

#[tokio::test]
async fn concurrent_adds_from_many_visitors_keep_exactly_what_was_accepted() {
    let app = App::new().await;
    let visitors: Vec<_> = (0..120).map(|_| app.visitor()).collect();
    let adds = visitors
        .iter()
        .enumerate()
        .map(|(i, v)| async move { (i, v.add(Slug::Global, &format!("v{i}")).await.status) });
    let results = futures::future::join_all(adds).await;
    let accepted: Vec<String> =
        results.iter().filter(|(_, s)| *s == Status::Created).map(|(i, _)| format!("v{i}")).collect();
    let refused = results.iter().filter(|(_, s)| *s == Status::UnprocessableEntity).count();
    assert_eq!((accepted.len(), refused), (100, 20));
    let mut stored = app.visitor().items(Slug::Global).await;
    let mut expected = accepted.clone();
    stored.sort();
    expected.sort();
    assert_eq!(stored, expected);
}
