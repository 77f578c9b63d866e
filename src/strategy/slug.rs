//! The names of the lists in URLs, and what the pages say about each.

use rocket::request::FromParam;
use serde::Serialize;

/// The strategy a URL names: `global`, `server-session`, `cookie-session` or
/// `signed-session`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Slug {
    Global,
    ServerSession,
    CookieSession,
    SignedSession,
}

impl Slug {
    /// The three strategies the comparison page sets side by side.
    pub const COMPARED: [Slug; 3] = [Slug::Global, Slug::ServerSession, Slug::CookieSession];
    /// Every list the app keeps: the compared three and the signed-cookie demonstrator.
    pub const ALL: [Slug; 4] = [Slug::Global, Slug::ServerSession, Slug::CookieSession, Slug::SignedSession];

    pub fn as_str(self) -> &'static str {
        match self {
            Slug::Global => "global",
            Slug::ServerSession => "server-session",
            Slug::CookieSession => "cookie-session",
            Slug::SignedSession => "signed-session",
        }
    }

    /// The page that shows this list: its own, except the signed cookie, which is shown on the
    /// private-cookie page next to what it is compared with.
    pub fn page(self) -> Slug {
        match self {
            Slug::SignedSession => Slug::CookieSession,
            slug => slug,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Slug::Global => "Global state",
            Slug::ServerSession => "Server-side session",
            Slug::CookieSession => "Private cookie",
            Slug::SignedSession => "Signed cookie (what Flask does by default)",
        }
    }

    /// The level-one heading of the page this list has of its own.
    pub fn heading(self) -> &'static str {
        match self {
            Slug::Global => "Global state: one list for every visitor",
            Slug::ServerSession => "Server-side session: an id in your browser, the list on the server",
            Slug::CookieSession => "Private cookie: the list itself in your browser, encrypted",
            Slug::SignedSession => "Signed cookie: the list in your browser, readable by anyone",
        }
    }

    /// The trade-off in one line, shown under each list.
    pub fn summary(self) -> &'static str {
        match self {
            Slug::Global => {
                "One list in this server process, shared by every visitor; gone on restart, different on every instance."
            }
            Slug::ServerSession => {
                "Your browser holds only a random id; the list lives on the server, which can expire or revoke it."
            }
            Slug::CookieSession => {
                "The list itself travels in an encrypted cookie, 4 KB at most; the server keeps no list, only an epoch per cookie family that signed out everywhere, and a copied cookie replays until it expires or its family signs out."
            }
            Slug::SignedSession => {
                "The list travels in a cookie that is signed, not encrypted: the server can tell it was not changed, but anyone holding it can read it."
            }
        }
    }

    pub fn parse(raw: &str) -> Option<Slug> {
        Slug::ALL.into_iter().find(|slug| slug.as_str() == raw)
    }
}

impl<'a> FromParam<'a> for Slug {
    type Error = &'a str;
    fn from_param(param: &'a str) -> Result<Self, Self::Error> {
        Slug::parse(param).ok_or(param)
    }
}
