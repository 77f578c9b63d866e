//! The app on AWS Lambda, behind a function URL (`cargo lambda build --features lambda`).
//!
//! Lambda runs the binary as `bootstrap`. It asks Lambda's runtime API for the next event,
//! answers it, and asks again. Each event is one HTTP request that a function URL received
//! (payload format 2.0), and each answer becomes that request's response.
//!
//! **The design: Rocket's in-process client.** Each event goes to the same [`crate::build`]
//! Rocket through `rocket::local::asynchronous::Client`, the client Rocket's own tests use. It
//! runs the whole request cycle: fairings, guards, routes, catchers, and the body stripped from
//! an answer to `HEAD`. There is no listener and no second HTTP parse. A loopback server with a
//! proxy in front would be closer to the wire, but it adds a socket, a connection and an HTTP
//! encode and parse to every invocation, and a listener to every cold start. What Rocket's HTTP
//! server does before the cycle starts is done here from the event's fields: the cookies, the
//! `Host` and the peer's address.
//!
//! - **The client's address** (the per-client rate keys on it) is
//!   `requestContext.http.sourceIp`, the address Lambda's front end saw. `ip_header` and
//!   `trusted_proxy_hops` are switched off here, so no header the caller writes can choose
//!   its bucket.
//! - **Settings** are the compiled-in safe values ([`crate::config::figment`]) with the
//!   function's `ROCKET_*` environment on top: the same as a server started from the
//!   repository root. A release build uses the `release` profile, so it needs a secret key
//!   (`ROCKET_SECRET_KEY`, or better from Secrets Manager: [`secret_key`]) and marks cookies
//!   `Secure` with `__Host-` names.
//! - **Templates** are bundled in the zip: `scripts/lambda.sh build` adds `templates/` beside
//!   `bootstrap`, and Lambda starts the function in that directory (`/var/task`).
//! - **Frozen between invocations.** Lambda freezes the process between invocations, and
//!   background tasks stop with it. The revocation copy stops trusting itself after a gap and
//!   asks the store until it has reloaded ([`crate::store::revocation::copy`]). The purge and the
//!   recount run once after a thaw, not once per missed period.
//! - **The same answer as the HTTP server.** A method that is not one Rocket knows, spelled as
//!   HTTP spells it (`GET`, not `get`), gets `400` with a JSON `{"error": ...}`, as does a body
//!   marked base64 that does not decode. A header value that is UTF-8 (`José`) is kept and one
//!   that is not is dropped, as Rocket's server does. Rocket answers a URI it cannot parse with
//!   `400`, and a body over the limits with `413`, as under the HTTP server. An event that is not a function-URL request has no HTTP client to answer.
//!   It is logged and returned to Lambda as an error, which a function URL reports as `502`.

use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use aws_lambda_events::lambda_function_urls::{LambdaFunctionUrlRequest, LambdaFunctionUrlResponse};
use lambda_runtime::{service_fn, LambdaEvent};
use rocket::local::asynchronous::Client;
use serde_json::Value;

use self::event::{from_rocket, refusal, Incoming};

mod event;
pub mod secret_key;

/// The app, configured as [`crate::rocket`] is, without the settings that would let a header
/// choose the client's address (Lambda gives it in the event), and with the settings that
/// were read from Secrets Manager ([`secret_key::settings`]).
pub fn rocket(from_secrets: Vec<(&str, String)>) -> rocket::Rocket<rocket::Build> {
    let mut figment = crate::config::figment();
    for (setting, value) in from_secrets {
        figment = figment.merge((setting, value));
    }
    let ignored: Vec<&str> = ["ip_header", "trusted_proxy_hops"]
        .into_iter()
        .filter(|key| {
            figment.find_value(key).is_ok_and(|v| v.to_bool() != Some(false) && v.to_u128() != Some(0))
        })
        .collect();
    // Port 0: there is no socket, so the pages name no port.
    let figment = figment.merge(("ip_header", false)).merge(("trusted_proxy_hops", 0)).merge(("port", 0));
    // Said at liftoff, once Rocket's logger is up.
    crate::build(figment).attach(rocket::fairing::AdHoc::on_liftoff("Lambda settings", move |_| {
        Box::pin(async move {
            for key in ignored {
                log::warn!("`{key}` is ignored on Lambda: the client's address is the event's sourceIp");
            }
        })
    }))
}

/// Launches the app in-process and answers function-URL events until Lambda stops the
/// process. A launch that fails (no secret key, a bad setting) has logged why.
pub async fn serve() -> Result<(), lambda_runtime::Error> {
    let from_secrets = secret_key::settings(|name| std::env::var(name).ok()).await?;
    let client = match Client::untracked(rocket(from_secrets)).await {
        Ok(client) => Arc::new(client),
        Err(error) => {
            if !matches!(error.kind(), rocket::error::ErrorKind::FailedFairings(_)) {
                error.pretty_print();
            }
            return Err("the app did not launch".into());
        }
    };
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let client = client.clone();
        async move { answer(&client, event.payload).await }
    }))
    .await
}

/// One invocation: the event as a request, Rocket's response as the function URL's answer.
/// The error, for an event that is no HTTP request, goes back to Lambda as the invocation's.
async fn answer(client: &Client, event: Value) -> Result<LambdaFunctionUrlResponse, String> {
    let broken = |why: String| {
        log::error!("{why}; answered with an invocation error (a function URL says 502)");
        why
    };
    let event: LambdaFunctionUrlRequest =
        serde_json::from_value(event).map_err(|e| broken(format!("not a function-URL request: {e}")))?;
    let peer = event.request_context.http.source_ip.as_deref().and_then(|ip| IpAddr::from_str(ip).ok());
    let peer = peer.ok_or_else(|| broken("no valid requestContext.http.sourceIp in the event".into()))?;
    Ok(match Incoming::from_event(event) {
        Ok(incoming) => from_rocket(incoming.dispatch(client, peer).await).await,
        Err(why) => refusal(why),
    })
}
