//! The app's integration tests, in one binary: in-process requests through Rocket's local
//! client, plus a few against the real server over TCP. Shared rules are written once and
//! run against all three strategies.

mod helpers;

mod bad_input;
mod cookie_session;
mod global;
mod real_server;
mod rules;
mod security;
mod server_session;
mod store;
