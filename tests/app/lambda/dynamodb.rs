//! The function on DynamoDB, the store a function on AWS uses (moto's server stands in for
//! it: `support/dynamodb.rs`): the contract, two instances sharing a session and a sign-out,
//! and the freeze rule.

use std::time::{Duration, Instant};

use super::contract::{contract, the_rate_keys_on_the_source_address};
use super::instances::{a_frozen_instance_refuses_a_family_signed_out_elsewhere, wait_live};
use super::Emulator;
use crate::support::dynamodb::Tables;
use crate::support::http::Jar;
use crate::support::store_servers::dynamodb_endpoint;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "heavy: CI runs it by name (docs/testing.md)"]
async fn on_dynamodb_the_function_keeps_the_contract_and_the_rate() {
    let Some(endpoint) = dynamodb_endpoint() else { return };
    let tables = Tables::new(&endpoint);
    let store = tables.fresh().await;
    contract(Emulator::start(&[("ROCKET_SESSION_STORE", &store)]).await.port).await;
    the_rate_keys_on_the_source_address(&tables.fresh().await).await;
}

/// Two instances on one table: a session made on one reads on the other, and a sign-out
/// everywhere made on one reaches the other while it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "heavy: CI runs it by name (docs/testing.md)"]
async fn on_dynamodb_two_instances_share_a_session_and_a_sign_out() {
    let Some(endpoint) = dynamodb_endpoint() else { return };
    let tables = Tables::new(&endpoint);
    let store = tables.fresh().await;
    let env = [("ROCKET_SESSION_STORE", store.as_str())];
    let (a, b) = tokio::join!(Emulator::start(&env), Emulator::start(&env));
    let mut visitor = Jar::default();
    assert_eq!(visitor.add(a.port, "server-session", "milk", &[]).await.status, 201);
    assert_eq!(visitor.items(b.port, "server-session").await, ["milk"], "the session on B");
    assert_eq!(visitor.add(b.port, "cookie-session", "tea", &[]).await.status, 201);
    let copy = visitor.clone();
    assert_eq!(visitor.items(a.port, "cookie-session").await, ["tea"]);
    wait_live(a.port).await;
    assert_eq!(visitor.form(b.port, "/cookie-session/sign-out-everywhere", "return_to=/").await.status, 303);
    let deadline = Instant::now() + Duration::from_secs(3);
    while !copy.clone().items(a.port, "cookie-session").await.is_empty() {
        assert!(Instant::now() < deadline, "A still takes the signed-out cookie after 3 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "heavy: CI runs it by name (docs/testing.md)"]
async fn on_dynamodb_a_frozen_instance_refuses_a_family_signed_out_elsewhere() {
    let Some(endpoint) = dynamodb_endpoint() else { return };
    let tables = Tables::new(&endpoint);
    a_frozen_instance_refuses_a_family_signed_out_elsewhere(&tables.fresh().await).await;
}
