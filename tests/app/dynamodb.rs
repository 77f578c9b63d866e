//! What only the DynamoDB store's own table can show (the shared contracts run on it through
//! `backends.rs`): items keyed by hashes with a TTL, reads that write nothing while the visit
//! is fresh, and the requests each operation costs, counted on the wire by a logging proxy.
//! With `--features dynamodb` and the emulator (`support/dynamodb.rs`).

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use server_side_sessions::admission::rate::RateRule;
use server_side_sessions::item::{Item, ItemList, Op};
use server_side_sessions::session_id::SessionId;
use server_side_sessions::store::dynamodb::DynamoStore;
use server_side_sessions::store::revocation::Confirmed;
use server_side_sessions::store::{
    Created, RateCharge, RevocationCopy, RevocationStore, Rotated, SessionStore,
};

use crate::store::{add, create, list, LONG};
use crate::support::dynamodb::{client, Tables};
use crate::support::proxy::origin::OriginRewriter;
use crate::support::proxy::reroute;
use crate::support::store_servers::{dynamodb_endpoint, unique};

/// A store on a fresh table, and a raw client to look at it.
async fn store_and_table(endpoint: &str, tables: &Tables) -> (DynamoStore, aws_sdk_dynamodb::Client) {
    let store = DynamoStore::new(&tables.fresh().await, LONG).expect("a valid setting");
    (store, client(endpoint))
}

async fn scan(
    raw: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Vec<std::collections::HashMap<String, AttributeValue>> {
    raw.scan().table_name(table).send().await.expect("a scan").items.unwrap_or_default()
}

fn number(item: &std::collections::HashMap<String, AttributeValue>, name: &str) -> u64 {
    item[name].as_n().expect("a number").parse().expect("digits")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_items_are_keyed_by_a_hash_of_the_id_and_expire_by_ttl() {
    let Some(endpoint) = dynamodb_endpoint() else { return };
    let tables = Tables::new(&endpoint);
    let (store, raw) = store_and_table(&endpoint, &tables).await;
    let id = SessionId::generate();
    let record = create(&store, &id, list(&["secret"])).await;
    let items = scan(&raw, store.table()).await;
    let dump = format!("{items:?}");
    assert!(!dump.contains(id.expose()), "the raw id is in the table: {dump}");
    let session = items.iter().find(|i| i["pk"].as_s().is_ok_and(|pk| pk.starts_with("session#")));
    let session = session.unwrap_or_else(|| panic!("no session item: {dump}"));
    assert_eq!(session["pk"].as_s().unwrap(), &format!("session#{}", id.storage_key()));
    assert_eq!(session["items"], AttributeValue::L(vec![AttributeValue::S("secret".into())]));
    let idle_deadline = (record.seen_ms + 600_000).div_ceil(1000);
    assert_eq!(number(session, "expires_at"), idle_deadline, "the TTL attribute, in seconds");
    let bucket = items.iter().find(|i| i["pk"].as_s().is_ok_and(|pk| pk.starts_with("rate#")));
    assert!(bucket.is_some_and(|b| b.contains_key("expires_at")), "the rate bucket expires too: {dump}");
    assert_eq!(items.len(), 2, "a session and its network's bucket: {dump}");
}

/// As with Redis and Postgres: a read of a session visited less than `refresh_after` ago
/// changes nothing; a read of an older visit moves it, and the TTL, to now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_reads_write_only_when_the_visit_is_stale() {
    let Some(endpoint) = dynamodb_endpoint() else { return };
    let tables = Tables::new(&endpoint);
    let (store, raw) = store_and_table(&endpoint, &tables).await;
    let id = SessionId::generate();
    let created = create(&store, &id, list(&["x"])).await;
    let key = AttributeValue::S(format!("session#{}", id.storage_key()));
    let state = || async {
        let item = raw.get_item().table_name(store.table()).key("pk", key.clone()).send().await.unwrap();
        let item = item.item.expect("the session");
        (number(&item, "seen"), number(&item, "expires_at"))
    };
    for _ in 0..3 {
        assert_eq!(store.load(&id).await.unwrap().expect("live").value.seen_ms, created.seen_ms);
    }
    assert_eq!(state().await.0, created.seen_ms, "fresh reads wrote nothing");

    let stale = created.seen_ms - 2 * 60_000;
    let set = raw.update_item().table_name(store.table()).key("pk", key.clone());
    let set = set
        .update_expression("SET seen = :s")
        .expression_attribute_values(":s", AttributeValue::N(stale.to_string()));
    set.send().await.unwrap();
    let loaded = store.load(&id).await.unwrap().expect("still live");
    let (seen, ttl) = state().await;
    assert!(seen > stale + 60_000 && loaded.value.seen_ms == seen, "a stale visit moves to now");
    assert_eq!(ttl, (seen + 600_000).div_ceil(1000), "and the TTL with it");
}

/// Every operation's requests, counted on the wire: the one-request rule, and the few paths
/// where DynamoDB needs more (each said in `src/store/dynamodb/mod.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_takes_one_request_per_operation() {
    let Some(endpoint) = dynamodb_endpoint() else { return };
    let tables = Tables::new(&endpoint);
    let url = tables.fresh().await;
    let (target, _) = reroute(&url, 0);
    let (proxy, log) = OriginRewriter::logging(&target, "X-Amz-Target").await;
    let store = DynamoStore::new(&reroute(&url, proxy.port).1, LONG).expect("a valid setting");
    let asked = || -> Vec<String> {
        log.take().iter().map(|t| t.trim_start_matches("DynamoDB_20120810.").to_owned()).collect()
    };
    let (one, two) = (vec!["UpdateItem"], vec!["UpdateItem", "UpdateItem"]);
    let rate = RateCharge { network: unique("192.0.2."), rule: RateRule::new(1, 10) };
    let (id, new) = (SessionId::generate(), SessionId::generate());
    assert!(matches!(store.create(&id, list(&["a"]), &rate).await.unwrap(), Created::Stored(_)));
    assert_eq!(asked(), ["TransactWriteItems"], "create: the bucket and the session in one");
    assert!(matches!(
        store.create(&SessionId::generate(), ItemList::default(), &rate).await.unwrap(),
        Created::Stored(_)
    ));
    assert_eq!(asked(), ["TransactWriteItems"], "create from a network in use, as this process saw it");
    store.load(&id).await.unwrap().expect("live");
    assert_eq!(asked(), one, "load");
    for op in [add("b"), Op::Remove(0), Op::Clear, Op::Remove(7)] {
        store.update(&id, &op).await.unwrap().expect("live");
        assert_eq!(asked(), one, "{op:?}");
    }
    assert_eq!(store.load(&SessionId::generate()).await.unwrap(), None);
    assert_eq!(asked(), one, "an unknown id");
    assert_eq!(store.rotate(&id, &new).await.unwrap(), Rotated::Moved);
    assert_eq!(asked(), ["GetItem", "TransactWriteItems"], "rotate: read, then move");
    assert!(store.load(&id).await.unwrap().expect("forwarded").moved_to.is_some());
    assert_eq!(asked(), two, "a read through the forward");
    store.update(&id, &Op::Add(Item::parse("c").unwrap())).await.unwrap().expect("forwarded");
    assert_eq!(asked(), two, "a write through the forward");
    assert!(store.destroy(&new).await.unwrap());
    assert_eq!(asked(), ["DeleteItem"], "end");
    let counted = store.count().await.unwrap();
    assert_eq!(asked(), ["Scan"], "count (a small table: one page)");
    create(&store, &SessionId::generate(), list(&["d"])).await;
    asked();
    assert_eq!(store.count_recent().await.unwrap(), counted + 1, "the count, and what this store made since");
    assert_eq!(asked(), ["GetItem"], "a recent count: only a read to see that the table answers");
    let family = unique("");
    store.raise(&family, 1, Duration::from_secs(60)).await.unwrap();
    assert_eq!(asked(), ["TransactWriteItems"], "sign out everywhere");
    assert_eq!(store.epoch(&family).await.unwrap(), 1);
    assert_eq!(asked(), ["GetItem"], "an epoch, asked");
    store.all().await.unwrap();
    assert_eq!(asked(), ["BatchGetItem"], "every epoch");
}

/// What the freeze rule stands on with DynamoDB: a copy of the revocations that is not trusted
/// (before its feed is up, or on a Lambda instance just thawed) asks the table, whose consistent
/// read already holds a sign-out another instance made a moment before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_an_untrusted_copy_asks_the_table_and_sees_another_instances_sign_out() {
    let Some(endpoint) = dynamodb_endpoint() else { return };
    let tables = Tables::new(&endpoint);
    let url = tables.fresh().await;
    let (a, b) = (DynamoStore::new(&url, LONG).unwrap(), DynamoStore::new(&url, LONG).unwrap());
    let copy = RevocationCopy::new(std::sync::Arc::new(b), "dynamodb");
    let family = unique("");
    assert_eq!(copy.epoch(&family).await, (0, Confirmed::Asked));
    a.raise(&family, 1, Duration::from_secs(60)).await.unwrap();
    assert_eq!(copy.epoch(&family).await, (1, Confirmed::Asked), "refused at once, by asking");
}
