//! What the tests stand on: visitors with cookie jars over Rocket's local client
//! ([`visitor`]), the real server on a free port ([`server`], shared with the browser tests)
//! and raw HTTP to it ([`http`]), the app as a separate process ([`processes`]), the Redis
//! and Postgres servers (and a DynamoDB emulator, [`dynamodb`]) and a test body run on each
//! ([`store_servers`]), and a TCP proxy that
//! makes a store go away, or rewrites `Origin` as a port forwarder does ([`proxy`]).

#[cfg(feature = "dynamodb")]
pub mod dynamodb;
pub mod http;
pub mod processes;
pub mod proxy;
pub mod server;
pub mod store_servers;
pub mod visitor;
