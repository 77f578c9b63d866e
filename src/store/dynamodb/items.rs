//! The table's items, and the requests built from expressions.
//!
//! One table, partition key `pk` (a string) and nothing else; what an item is shows in its key:
//!
//! | `pk` | attributes | what it is |
//! |---|---|---|
//! | `session#<sha256(id) hex>` | `items` (a list of strings), `created`, `seen` (Unix ms), `op` | a session |
//! | `session#<sha256(id) hex>` | `to` (the successor's hex), `sealed`, `until` (Unix ms) | a rotated-away id's forward, which takes its session's place |
//! | `rate#<network>` | `tat` (Unix ms) | a network's rate bucket ([`super::rate`]) |
//! | `epochs#<0-15>` | `f<family>`: `{e: epoch, u: until}` | revocation epochs ([`super::revocation`]) |
//! | `epochs#changes` | `v` | how many raises there have been: what every instance polls |
//!
//! Every item but the `epochs#` ones has `expires_at` (Unix seconds), the table's TTL attribute,
//! never earlier than the moment the item stops counting; the few `epochs#` items are the
//! table's bookkeeping and stay, their expired entries removed by the app's purge.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::config::Lifetimes;
use crate::item::{Item as ListItem, ItemList};
use crate::session_id::SessionId;
use crate::store::Record;

pub type Item = HashMap<String, AttributeValue>;

pub fn session_key(hex: &str) -> String {
    format!("session#{hex}")
}

pub fn number(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub fn text(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn get_number(item: &Item, name: &str) -> Option<u64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

pub fn get_text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)?.as_s().ok().map(String::as_str)
}

/// Unix ms as the TTL attribute's Unix seconds, rounded up: DynamoDB must never delete an item
/// before the app stops counting it.
pub fn ttl(until_ms: u64) -> AttributeValue {
    number(until_ms.div_ceil(1000))
}

pub fn list(items: &ItemList) -> AttributeValue {
    AttributeValue::L(items.items().iter().map(|item| text(item.as_str())).collect())
}

/// An item of these attributes.
pub fn of<const N: usize>(attributes: [(&str, AttributeValue); N]) -> Item {
    attributes.into_iter().map(|(name, value)| (name.to_owned(), value)).collect()
}

/// A session's item under `session#<hex>`. Its TTL is the idle deadline, never earlier than
/// the real one (which the absolute lifetime may bring forward).
pub fn session(hex: &str, record: &Record, lifetimes: &Lifetimes) -> Item {
    of([
        ("pk", text(session_key(hex))),
        ("items", list(&record.items)),
        ("created", number(record.created_ms)),
        ("seen", number(record.seen_ms)),
        ("expires_at", ttl(record.seen_ms.saturating_add(crate::clock::millis(lifetimes.idle)))),
    ])
}

/// What a session key holds.
pub enum Found {
    /// A session, with the random id of the last operation applied to its list.
    Session { record: Record, op: Option<String> },
    /// The forward a rotation left in the session's place.
    Forward { to: String, sealed: String, until_ms: u64 },
}

impl Found {
    /// An item read from a session key. An item that is neither (never written by this app) is
    /// an error, not an empty session.
    pub fn of(item: &Item) -> Result<Found, String> {
        if let (Some(to), Some(sealed), Some(until_ms)) =
            (get_text(item, "to"), get_text(item, "sealed"), get_number(item, "until"))
        {
            return Ok(Found::Forward { to: to.to_owned(), sealed: sealed.to_owned(), until_ms });
        }
        let unreadable = || "dynamodb: a stored session is unreadable".to_owned();
        let (Some(created_ms), Some(seen_ms)) = (get_number(item, "created"), get_number(item, "seen"))
        else {
            return Err(unreadable());
        };
        let stored = item.get("items").and_then(|list| list.as_l().ok()).ok_or_else(unreadable)?;
        let items: Vec<ListItem> = stored
            .iter()
            .map(|value| value.as_s().ok().and_then(|s| ListItem::parse(s).ok()))
            .collect::<Option<_>>()
            .ok_or_else(unreadable)?;
        let items = ItemList::try_from(items).map_err(|_| unreadable())?;
        let op = get_text(item, "op").map(str::to_owned);
        Ok(Found::Session { record: Record { items, created_ms, seen_ms }, op })
    }

    /// The successor this forward leads `id` to at `now`: within its window, and only for a
    /// holder of `id` (the seal opens).
    pub fn lead(&self, id: &SessionId, now_ms: u64) -> Option<SessionId> {
        match self {
            Found::Forward { to, sealed, until_ms } if *until_ms > now_ms => id.open_successor(sealed, to),
            _ => None,
        }
    }

    /// The record, if this is a session that is live at `now_ms`.
    pub fn live(self, lifetimes: &Lifetimes, now_ms: u64) -> Option<(Record, Option<String>)> {
        match self {
            Found::Session { record, op } if record.is_live(lifetimes, now_ms) => Some((record, op)),
            _ => None,
        }
    }
}

/// A conditional write: its update (or, for a put, nothing) and condition expressions, and the
/// values they name. Attribute names are written `#name` and stand for the attribute `name`;
/// DynamoDB refuses a name or value that no expression uses, so [`Expression::names`] and
/// [`Expression::values`] give only the ones used.
#[derive(Clone)]
pub struct Expression {
    pub update: String,
    pub condition: String,
    values: Vec<(&'static str, AttributeValue)>,
    /// Placeholders for names that are not words (a family's attribute).
    names: Vec<(String, String)>,
}

impl Expression {
    pub fn new(update: impl Into<String>, condition: impl Into<String>) -> Expression {
        Expression {
            update: update.into(),
            condition: condition.into(),
            values: Vec::new(),
            names: Vec::new(),
        }
    }

    /// `placeholder` (`#F0`) stands for the attribute `name`.
    pub fn name(mut self, placeholder: String, name: String) -> Expression {
        self.names.push((placeholder, name));
        self
    }

    pub fn value(mut self, name: &'static str, value: AttributeValue) -> Expression {
        self.values.push((name, value));
        self
    }

    fn texts(&self) -> [&str; 2] {
        [&self.update, &self.condition]
    }

    /// `#name` -> `name` for every `#name` the expressions use.
    pub fn names(&self) -> Option<HashMap<String, String>> {
        let mut names = HashMap::new();
        for text in self.texts() {
            for (at, _) in text.match_indices('#') {
                let name: String =
                    text[at + 1..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                names.insert(format!("#{name}"), name);
            }
        }
        for (placeholder, name) in &self.names {
            if let Some(mapped) = names.get_mut(placeholder) {
                mapped.clone_from(name);
            }
        }
        (!names.is_empty()).then_some(names)
    }

    /// The values whose `:name` the expressions use.
    pub fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        let used = |name: &str| {
            self.texts().iter().any(|text| {
                text.match_indices(name).any(|(at, _)| {
                    !text[at + name.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                })
            })
        };
        let values: HashMap<String, AttributeValue> = self
            .values
            .iter()
            .filter(|(name, _)| used(name))
            .map(|(n, v)| ((*n).to_owned(), v.clone()))
            .collect();
        (!values.is_empty()).then_some(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_names_and_values_an_expression_uses_are_sent() {
        let expression = Expression::new("SET #seen = :now", "#created > :cut_max AND #seen > :cut")
            .value(":now", number(1))
            .value(":cut", number(2))
            .value(":cut_max", number(3))
            .value(":unused", number(4));
        let names = expression.names().unwrap();
        assert_eq!(names.len(), 2);
        assert_eq!(names["#seen"], "seen");
        let values = expression.values().unwrap();
        let mut used: Vec<&str> = values.keys().map(String::as_str).collect();
        used.sort();
        assert_eq!(used, [":cut", ":cut_max", ":now"]);
        assert_eq!(Expression::new("", "").names(), None);
    }

    #[test]
    fn the_ttl_is_never_before_the_deadline() {
        assert_eq!(ttl(1_000), number(1));
        assert_eq!(ttl(1_001), number(2));
    }
}
