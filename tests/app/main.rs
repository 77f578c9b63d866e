//! The app's integration tests, in one binary: in-process requests through Rocket's local
//! client, the real server over TCP, and the app as processes of its own. Shared rules are
//! written once and run against all three strategies; the session-store contract and every
//! test body that needs a network store run on each one (`support/network_store.rs`), found
//! as `support/store_servers.rs` says, and `SKIPPED` when it is not there: the binary's last
//! line counts those. The heavy checks (a container runtime, emulators, a restart of the
//! machine's Postgres) are `#[ignore]`d here and run by name: docs/testing.md lists them.

#[path = "../shared/skips.rs"]
mod skips;
mod support;

mod answers;
mod anywhere;
mod attacks;
mod backends;
mod bad_input;
mod cluster;
mod container;
mod cookie_session;
#[cfg(feature = "lambda")]
mod deploy;
mod devtools_free;
#[cfg(feature = "dynamodb")]
mod dynamodb;
mod forged;
mod forwarded;
mod global;
mod instances;
mod lambda;
mod layout;
mod limits;
mod methods;
mod outages;
mod page_output;
mod pages;
mod platform;
mod proxies;
mod real_server;
mod restart;
mod revocation;
mod roundtrips;
mod rules;
mod security;
mod server_session;
mod shuttle;
mod signed_session;
mod store;
mod tls;
