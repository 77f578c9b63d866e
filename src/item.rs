//! The list every strategy keeps: validated [`Item`]s in an [`ItemList`] with a cap.
//!
//! The rules live here once, so the three strategies cannot disagree about them: an item is
//! one line of 1 to 200 characters with no control characters, and a list holds at most
//! [`MAX_ITEMS`] of them.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// Longest item, counted in Unicode scalar values (`char`s), after trimming.
pub const MAX_ITEM_CHARS: usize = 200;
/// Most items one list may hold, in every strategy.
pub const MAX_ITEMS: usize = 100;

/// One list entry, known to be valid: trimmed, 1 to 200 characters, single-line, no
/// control characters. The only way to make one is [`Item::parse`] (serde goes through it
/// too), so a stored or decrypted list can never hold an invalid item. Serialized as the
/// bare string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item(String);

/// Why an input was refused, in words a visitor can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ItemError {
    #[error("an item cannot be empty")]
    Empty,
    #[error("an item can be at most {MAX_ITEM_CHARS} characters long (this one has {0})")]
    TooLong(usize),
    #[error("an item must be a single line of text without control characters")]
    ControlCharacter,
}

impl Item {
    pub fn parse(raw: &str) -> Result<Item, ItemError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(ItemError::Empty);
        }
        // U+2028/U+2029 are not `Cc` controls but do break lines. Most items are ASCII, where
        // a byte is a character: every decrypted or stored list is checked again on each read.
        let breaks_line = |c: char| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}');
        let (broken, chars) = if trimmed.is_ascii() {
            (trimmed.bytes().any(|b| b.is_ascii_control()), trimmed.len())
        } else {
            (trimmed.chars().any(breaks_line), trimmed.chars().count())
        };
        if broken {
            return Err(ItemError::ControlCharacter);
        }
        if chars > MAX_ITEM_CHARS {
            return Err(ItemError::TooLong(chars));
        }
        Ok(Item(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Through [`Item::parse`], straight from the text being read: no owned copy of the raw
/// string first.
impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Item, D::Error> {
        struct ItemText;
        impl Visitor<'_> for ItemText {
            type Value = Item;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an item: one line of text")
            }
            fn visit_str<E: de::Error>(self, raw: &str) -> Result<Item, E> {
                Item::parse(raw).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(ItemText)
    }
}

impl From<Item> for String {
    fn from(item: Item) -> String {
        item.0
    }
}

/// A change to a list. Every strategy applies the same operations through
/// [`ItemList::apply`], so "remove out of range" or "add when full" mean the same everywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Add(Item),
    Remove(usize),
    Clear,
}

impl Op {
    /// Whether `self` may be applied to a list of `len` items: the two list rules. A store that
    /// applies operations itself (a Lua script, one SQL statement) checks the same two
    /// comparisons, with [`MAX_ITEMS`] passed to it, and reports its decision back here.
    pub fn allowed(&self, len: usize) -> Result<(), ListError> {
        match self {
            Op::Add(_) if len >= MAX_ITEMS => Err(ListError::Full),
            Op::Remove(index) if *index >= len => Err(ListError::NoSuchIndex { index: *index, len }),
            _ => Ok(()),
        }
    }
}

/// Why an operation could not be applied; the list is unchanged when this is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    #[error("the list is full: it holds at most {MAX_ITEMS} items; remove one first")]
    Full,
    #[error("there is no item at index {index} (the list has {len} items)")]
    NoSuchIndex { index: usize, len: usize },
}

/// At most [`MAX_ITEMS`] valid items, in insertion order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Item>")]
pub struct ItemList(Vec<Item>);

impl ItemList {
    pub fn items(&self) -> &[Item] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Applies `op`, or leaves the list exactly as it was and says why not.
    pub fn apply(&mut self, op: &Op) -> Result<(), ListError> {
        op.allowed(self.0.len())?;
        match op {
            Op::Add(item) => self.0.push(item.clone()),
            Op::Remove(index) => {
                self.0.remove(*index);
            }
            Op::Clear => self.0.clear(),
        }
        Ok(())
    }
}

impl TryFrom<Vec<Item>> for ItemList {
    type Error = ListError;
    fn try_from(items: Vec<Item>) -> Result<Self, Self::Error> {
        if items.len() > MAX_ITEMS {
            return Err(ListError::Full);
        }
        Ok(ItemList(items))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_trimmed_and_bounded() {
        assert_eq!(Item::parse("  milk ").unwrap().as_str(), "milk");
        assert_eq!(Item::parse("   "), Err(ItemError::Empty));
        assert_eq!(Item::parse(&"é".repeat(200)).unwrap().as_str().chars().count(), 200);
        assert_eq!(Item::parse(&"é".repeat(201)), Err(ItemError::TooLong(201)));
        assert_eq!(Item::parse("a\nb"), Err(ItemError::ControlCharacter));
        assert_eq!(Item::parse("a\u{7f}b"), Err(ItemError::ControlCharacter));
        assert_eq!(Item::parse("a\u{2028}b"), Err(ItemError::ControlCharacter));
        assert_eq!(Item::parse("<script>").unwrap().as_str(), "<script>");
    }

    #[test]
    fn deserializing_validates_too() {
        assert!(serde_json::from_str::<Item>("\"\"").is_err());
        assert!(serde_json::from_str::<Item>("\"ok\"").is_ok());
        let too_many = serde_json::to_string(&vec!["x"; MAX_ITEMS + 1]).unwrap();
        assert!(serde_json::from_str::<ItemList>(&too_many).is_err());
    }

    #[test]
    fn a_refused_op_leaves_the_list_unchanged() {
        let mut list = ItemList::default();
        for i in 0..MAX_ITEMS {
            list.apply(&Op::Add(Item::parse(&i.to_string()).unwrap())).unwrap();
        }
        let before = list.clone();
        assert_eq!(list.apply(&Op::Add(Item::parse("one more").unwrap())), Err(ListError::Full));
        assert_eq!(list.apply(&Op::Remove(MAX_ITEMS)), Err(ListError::NoSuchIndex { index: 100, len: 100 }));
        assert_eq!(list, before);
        list.apply(&Op::Remove(0)).unwrap();
        assert_eq!(list.items()[0].as_str(), "1");
        list.apply(&Op::Clear).unwrap();
        assert!(list.is_empty());
    }
}
