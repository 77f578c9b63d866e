//! An app per test and visitors with their own cookie jars, so one test can play several
//! browsers against the same server (and copy, plant or tamper with cookies like a person
//! with devtools would).

use std::collections::BTreeMap;
use std::sync::Mutex;

use rocket::figment::Figment;
use rocket::http::{ContentType, Cookie, Header, Status};
use rocket::local::asynchronous::{Client, LocalRequest};
use serde_json::Value;
use server_side_sessions::strategy::Slug;

/// A fixed test key (base64 of 32 bytes), so tests can make cookies under it or another.
pub const KEY: &str = "dGVzdC1rZXktMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY=";
pub const OTHER_KEY: &str = "b3RoZXIta2V5LTAxMjM0NTY3ODlhYmNkZWYwMTIzNDU=";

pub fn figment() -> Figment {
    rocket::Config::figment().merge(("secret_key", KEY)).merge(("log_level", "off")).merge(("port", 0))
}

pub struct App {
    pub client: Client,
}

impl App {
    pub async fn new() -> App {
        App::with(figment()).await
    }

    pub async fn with(figment: Figment) -> App {
        let client = Client::untracked(server_side_sessions::build(figment)).await.expect("app launches");
        App { client }
    }

    pub fn visitor(&self) -> Visitor<'_> {
        Visitor { app: self, jar: Mutex::new(BTreeMap::new()) }
    }

    /// Live sessions in the server-side store, as `/api/inspect` reports them.
    pub async fn session_count(&self) -> u64 {
        let inspect = self.visitor().get("/api/inspect").await.json();
        inspect["store"]["sessions"].as_u64().expect("store.sessions is a number")
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: Status,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn items(&self) -> Vec<String> {
        let json = self.json();
        json["items"]
            .as_array()
            .unwrap_or_else(|| panic!("no items in {json}"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    }

    pub fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_else(|| panic!("no error in {}", self.body)).to_owned()
    }
}

/// One browser: a cookie jar that follows `Set-Cookie`, and nothing else.
pub struct Visitor<'a> {
    app: &'a App,
    jar: Mutex<BTreeMap<String, String>>,
}

impl Visitor<'_> {
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar.lock().unwrap().get(name).cloned()
    }

    pub fn set_cookie(&self, name: &str, value: &str) {
        self.jar.lock().unwrap().insert(name.to_owned(), value.to_owned());
    }

    pub async fn send(&self, mut request: LocalRequest<'_>) -> Resp {
        for (name, value) in self.jar.lock().unwrap().iter() {
            request = request.cookie(Cookie::new(name.clone(), value.clone()));
        }
        let response = request.dispatch().await;
        let status = response.status();
        let headers: Vec<(String, String)> =
            response.headers().iter().map(|h| (h.name().to_string(), h.value().to_string())).collect();
        let body = response.into_string().await.unwrap_or_default();
        let resp = Resp { status, headers, body };
        for header in resp.set_cookies() {
            let cookie = Cookie::parse_encoded(header.to_owned()).expect("valid Set-Cookie");
            let removal = cookie.max_age().is_some_and(|age| age.is_zero()) || cookie.value().is_empty();
            let mut jar = self.jar.lock().unwrap();
            if removal {
                jar.remove(cookie.name());
            } else {
                jar.insert(cookie.name().to_owned(), cookie.value().to_owned());
            }
        }
        resp
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(self.app.client.get(path.to_owned())).await
    }

    pub async fn post_json(&self, path: &str, body: &str) -> Resp {
        self.send(self.app.client.post(path.to_owned()).header(ContentType::JSON).body(body)).await
    }

    pub async fn post_form(&self, path: &str, body: &str) -> Resp {
        self.send(self.app.client.post(path.to_owned()).header(ContentType::Form).body(body)).await
    }

    pub async fn post_form_from(
        &self,
        path: &str,
        body: &str,
        headers: &[(&'static str, &'static str)],
    ) -> Resp {
        let mut request = self.app.client.post(path.to_owned()).header(ContentType::Form).body(body);
        for (name, value) in headers {
            request = request.header(Header::new(*name, *value));
        }
        self.send(request).await
    }

    /// Follows a `303 See Other` the way a browser does: a `GET` of its `Location`.
    pub async fn follow(&self, redirect: &Resp) -> Resp {
        assert_eq!(redirect.status, Status::SeeOther, "not a redirect: {}", redirect.body);
        let location = redirect.header("Location").expect("a Location header").to_owned();
        self.get(&location).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(self.app.client.delete(path.to_owned())).await
    }

    /// Adds through the JSON API.
    pub async fn add(&self, slug: Slug, item: &str) -> Resp {
        let body = serde_json::json!({ "item": item }).to_string();
        self.post_json(&format!("/api/{}/items", slug.as_str()), &body).await
    }

    pub async fn items(&self, slug: Slug) -> Vec<String> {
        let resp = self.get(&format!("/api/{}/items", slug.as_str())).await;
        assert_eq!(resp.status, Status::Ok, "{}", resp.body);
        resp.items()
    }
}

/// Flips one character of a cookie value, keeping it the same length and alphabet.
pub fn flip_one_char(value: &str) -> String {
    let mut chars: Vec<char> = value.chars().collect();
    let i = chars.len() / 2;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}
