//! A function-URL event as Rocket's request, and Rocket's response as the function URL's
//! answer: what Rocket's HTTP server does before and after the request cycle, done here from
//! the event's fields.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use aws_lambda_events::http::{HeaderMap, HeaderName, HeaderValue};
use aws_lambda_events::lambda_function_urls::{LambdaFunctionUrlRequest, LambdaFunctionUrlResponse};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rocket::http::ext::IntoOwned;
use rocket::http::uri::Host;
use rocket::http::{Cookie, Header, Method};
use rocket::local::asynchronous::{Client, LocalRequest, LocalResponse};

/// What the event asks, checked: the parts Rocket's request needs.
pub(super) struct Incoming {
    method: Method,
    uri: String,
    headers: Vec<(String, String)>,
    cookies: Vec<String>,
    body: Vec<u8>,
}

impl Incoming {
    pub(super) fn from_event(event: LambdaFunctionUrlRequest) -> Result<Incoming, String> {
        let method = event.request_context.http.method.unwrap_or_default();
        let method = method_of(&method).ok_or_else(|| format!("unknown method `{method}`"))?;
        let mut uri = event.raw_path.filter(|path| !path.is_empty()).unwrap_or_else(|| "/".into());
        if let Some(query) = event.raw_query_string.filter(|query| !query.is_empty()) {
            uri = format!("{uri}?{query}");
        }
        // As Rocket's HTTP server does: a value that is UTF-8 (`José`, not only visible ASCII,
        // which is all `to_str` takes) is kept, any other is dropped with a warning.
        let mut headers = Vec::with_capacity(event.headers.len());
        for (name, value) in &event.headers {
            match std::str::from_utf8(value.as_bytes()) {
                Ok(value) => headers.push((name.as_str().to_owned(), value.to_owned())),
                Err(_) => log::warn!("header `{name}` is not UTF-8; dropped, as the HTTP server drops it"),
            }
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
}

/// The method as HTTP spells it: case-sensitive (RFC 9110), and one Rocket knows, as its HTTP
/// server takes it from hyper. Rocket's own `FromStr` ignores case, which the wire does not.
fn method_of(name: &str) -> Option<Method> {
    const KNOWN: [&str; 9] = ["GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "TRACE", "CONNECT", "PATCH"];
    KNOWN.contains(&name).then(|| Method::from_str(name).ok()).flatten()
}

impl Incoming {
    /// Rocket's request, built as its HTTP server builds one from the wire.
    pub(super) async fn dispatch(self, client: &Client, peer: IpAddr) -> LocalResponse<'_> {
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
pub(super) async fn from_rocket(response: LocalResponse<'_>) -> LambdaFunctionUrlResponse {
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
pub(super) fn refusal(why: String) -> LambdaFunctionUrlResponse {
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
    use serde_json::Value;

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
        for lower in ["get", "Post", "dELETE"] {
            let mut odd = event(serde_json::json!({}));
            odd.request_context.http.method = Some(lower.into());
            assert!(Incoming::from_event(odd).is_err(), "methods are case-sensitive: {lower}");
        }
    }

    #[test]
    fn a_utf8_header_value_is_kept_as_the_http_server_keeps_it() {
        let incoming = Incoming::from_event(event(
            serde_json::json!({"headers": {"host": "fn.example", "x-name": "José Ü"}}),
        ));
        let headers = incoming.expect("maps").headers;
        assert!(headers.contains(&("x-name".to_owned(), "José Ü".to_owned())), "{headers:?}");
    }

    #[test]
    fn a_refusal_is_a_json_error_with_a_newline() {
        let answer = refusal("the body is marked base64 but does not decode".into());
        assert_eq!(answer.status_code, 400);
        let body = answer.body.expect("a body");
        assert!(body.ends_with("}\n") && body.contains(r#""error":"the body is marked base64"#), "{body}");
    }
}
