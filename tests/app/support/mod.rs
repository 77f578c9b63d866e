//! What the tests stand on: visitors with cookie jars over Rocket's local client
//! ([`visitor`]), the real server on a free port ([`server`], shared with the browser tests)
//! and raw HTTP to it ([`http`]), the app as a separate process ([`processes`]), the Redis
//! and Postgres servers (and a DynamoDB emulator, [`dynamodb`]: [`store_servers`]) and a test
//! body run on each ([`network_store`]), a TCP proxy that makes a store go away or far, counts
//! its round trips or their requests, or rewrites `Origin` as a port forwarder does ([`proxy`],
//! [`trips`]), load on many connections ([`load`]), and a stand-in for the extension a
//! function reads its secrets through ([`secrets_extension`]).

#[cfg(feature = "dynamodb")]
pub mod dynamodb;
pub mod http;
// Shared with the benchmark (tests/bench/), which uses what the tests here do not.
#[allow(dead_code)]
pub mod load;
pub mod network_store;
pub mod processes;
pub mod proxy;
pub mod secrets_extension;
pub mod server;
pub mod store_servers;
#[allow(dead_code)]
pub mod trips;
pub mod visitor;
