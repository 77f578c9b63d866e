//! The app's integration tests, in one binary: in-process requests through Rocket's local
//! client, plus a few against the real server over TCP. Shared rules are written once and
//! run against all three strategies. The session-store contract runs against memory,
//! Redis and Postgres; tests that need a real Redis or Postgres use `REDIS_URL` and
//! `DATABASE_URL`, else the servers at their standard local addresses (see
//! `support/backends.rs`), and say `SKIPPED` when neither is there: the binary's last line
//! counts those.

#[path = "../shared/skips.rs"]
mod skips;
mod support;

mod answers;
mod anywhere;
mod attacks;
mod backends;
mod bad_input;
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
mod signed_session;
mod store;
mod tls;
