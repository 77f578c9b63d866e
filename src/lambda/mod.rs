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
//!   asks the store until it has reloaded ([`crate::store::revocations`]). The purge and the
//!   recount run once after a thaw, not once per missed period.
//! - **What cannot be mapped.** A body marked base64 that does not decode, a method Rocket
//!   does not know, or a header that is not UTF-8 gets `400` with a JSON `{"error": ...}`. Rocket
//!   answers a URI it cannot parse with `400`, and a body over the limits with `413`, as under
//!   the HTTP server. An event that is not a function-URL request has no HTTP client to answer.
//!   It is logged and returned to Lambda as an error, which a function URL reports as `502`.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use aws_lambda_events::http::{HeaderMap, HeaderName, HeaderValue};
use aws_lambda_events::lambda_function_urls::{LambdaFunctionUrlRequest, LambdaFunctionUrlResponse};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use lambda_runtime::{service_fn, LambdaEvent};
use rocket::http::ext::IntoOwned;
use rocket::http::uri::Host;
use rocket::http::{Cookie, Header, Method};
use rocket::local::asynchronous::{Client, LocalRequest, LocalResponse};
use serde_json::Value;

pub mod secret_key;

/// The app, configured as [`crate::rocket`] is, without the settings that would let a header
/// choose the client's address (Lambda gives it in the event), and with `secret_key` when it
/// was read from Secrets Manager.
pub fn rocket(secret_key: Option<String>) -> rocket::Rocket<rocket::Build> {
    let mut figment = crate::config::figment();
    if let Some(key) = secret_key {
        figment = figment.merge((rocket::Config::SECRET_KEY, key));
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
    let key = match (std::env::var_os("ROCKET_SECRET_KEY"), std::env::var(secret_key::SECRET_ID)) {
        (None, Ok(id)) => Some(secret_key::fetch(&id).await?),
        _ => None,
    };
    let client = match Client::untracked(rocket(key)).await {
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

/// What the event asks, checked: the parts Rocket's request needs.
struct Incoming {
    method: Method,
    uri: String,
    headers: Vec<(String, String)>,
    cookies: Vec<String>,
    body: Vec<u8>,
}

impl Incoming {
    fn from_event(event: LambdaFunctionUrlRequest) -> Result<Incoming, String> {
        let method = event.request_context.http.method.unwrap_or_default();
        let method = Method::from_str(&method).map_err(|_| format!("unknown method `{method}`"))?;
        let mut uri = event.raw_path.filter(|path| !path.is_empty()).unwrap_or_else(|| "/".into());
        if let Some(query) = event.raw_query_string.filter(|query| !query.is_empty()) {
            uri = format!("{uri}?{query}");
        }
        let mut headers = Vec::with_capacity(event.headers.len());
        for (name, value) in &event.headers {
            let value = value.to_str().map_err(|_| format!("the header `{name}` is not UTF-8"))?;
            headers.push((name.as_str().to_owned(), value.to_owned()));
        }
        let body = match (event.body, event.is_base64_encoded) {
            (None, _) => Vec::new(),
            (Some(text), false) => text.into_bytes(),
            (Some(text), true) => STANDARD
                .decode(text)
                .map_err(|_| "the body is marked base64 but does not decode".to_owned())?,
        };
        Ok(Incoming { method, uri, headers, cookies: event.cookies.unwrap_or_default(), body })
    }

    /// Rocket's request, built as its HTTP server builds one from the wire.
    async fn dispatch(self, client: &Client, peer: IpAddr) -> LocalResponse<'_> {
        let request = self.request(client, peer);
        request.dispatch().await
    }

    fn request(self, client: &Client, peer: IpAddr) -> LocalRequest<'_> {
        let mut request = client.req(self.method, self.uri).remote(SocketAddr::new(peer, 0));
        // A function URL sends cookies apart from the headers; Rocket reads them from both.
        let cookie_headers =
            self.headers.iter().filter(|(name, _)| name == "cookie").map(|(_, v)| v.as_str());
        for pair in self.cookies.iter().map(String::as_str).chain(cookie_headers).flat_map(|v| v.split(';')) {
            if let Ok(cookie) = Cookie::parse_encoded(pair.trim().to_owned()) {
                request = request.cookie(cookie);
            }
        }
        if !self.cookies.is_empty() {
            request.add_header(Header::new("Cookie", self.cookies.join("; ")));
        }
        if let Some((_, host)) = self.headers.iter().find(|(name, _)| name == "host") {
            if let Ok(host) = Host::parse(host) {
                request.inner_mut().set_host(host.into_owned());
            }
        }
        for (name, value) in self.headers {
            request.add_header(Header::new(name, value));
        }
        request.body(self.body)
    }
}

/// The function URL's answer: `Set-Cookie` headers go in `cookies`, every other header as it
/// is, and the body as text when it is UTF-8, else base64.
async fn from_rocket(response: LocalResponse<'_>) -> LambdaFunctionUrlResponse {
    let mut answer = LambdaFunctionUrlResponse::default();
    answer.status_code = i64::from(response.status().code);
    for header in response.headers().iter() {
        if header.name() == "Set-Cookie" {
            answer.cookies.push(header.value().to_owned());
            continue;
        }
        match (HeaderName::from_str(header.name().as_str()), HeaderValue::from_str(header.value())) {
            (Ok(name), Ok(value)) => {
                answer.headers.append(name, value);
            }
            _ => log::warn!("dropped a response header Lambda cannot carry: {}", header.name()),
        }
    }
    let body = response.into_bytes().await.unwrap_or_default();
    (answer.body, answer.is_base64_encoded) = match String::from_utf8(body) {
        Ok(text) => (Some(text), false),
        Err(bytes) => (Some(STANDARD.encode(bytes.into_bytes())), true),
    };
    answer
}

/// `400` for a request the adapter could not hand to Rocket, with the same JSON error body
/// as the API's.
fn refusal(why: String) -> LambdaFunctionUrlResponse {
    log::info!("refused before the app: {why}");
    let mut answer = LambdaFunctionUrlResponse::default();
    answer.status_code = 400;
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    answer.headers = headers;
    answer.body = Some(format!("{}\n", serde_json::json!({ "error": why })));
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(fields: Value) -> LambdaFunctionUrlRequest {
        let mut event = serde_json::json!({
            "rawPath": "/api/global/items", "rawQueryString": "", "headers": {"host": "fn.example"},
            "requestContext": {"timeEpoch": 0, "http": {"method": "POST", "sourceIp": "203.0.113.9"}},
            "isBase64Encoded": false,
        });
        for (key, value) in fields.as_object().into_iter().flatten() {
            event[key] = value.clone();
        }
        serde_json::from_value(event).expect("a function-URL event")
    }

    #[test]
    fn a_base64_body_is_decoded_and_a_broken_one_refused() {
        let body = STANDARD.encode(r#"{"item":"milk"}"#);
        let incoming =
            Incoming::from_event(event(serde_json::json!({"body": body, "isBase64Encoded": true})));
        assert_eq!(incoming.expect("decodes").body, br#"{"item":"milk"}"#);
        let broken = Incoming::from_event(event(serde_json::json!({"body": "%%%", "isBase64Encoded": true})));
        assert!(broken.err().expect("refused").contains("base64"));
        let plain = Incoming::from_event(event(serde_json::json!({"body": "item=tea"})));
        assert_eq!(plain.expect("plain text").body, b"item=tea");
    }

    #[test]
    fn the_uri_is_the_raw_path_and_query_and_an_unknown_method_is_refused() {
        let incoming = Incoming::from_event(event(serde_json::json!({"rawQueryString": "a=1&b=%20"})));
        assert_eq!(incoming.expect("maps").uri, "/api/global/items?a=1&b=%20");
        let root = Incoming::from_event(event(serde_json::json!({"rawPath": ""})));
        assert_eq!(root.expect("maps").uri, "/");
        let mut odd = event(serde_json::json!({}));
        odd.request_context.http.method = Some("BREW".into());
        assert!(Incoming::from_event(odd).err().expect("refused").contains("unknown method `BREW`"));
    }

    #[test]
    fn a_refusal_is_a_json_error_with_a_newline() {
        let answer = refusal("the body is marked base64 but does not decode".into());
        assert_eq!(answer.status_code, 400);
        let body = answer.body.expect("a body");
        assert!(body.ends_with("}\n") && body.contains(r#""error":"the body is marked base64"#), "{body}");
    }
}
