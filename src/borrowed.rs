//! Borrowed views of upstream JSON: an object's members as (name, raw value)
//! pairs and strings that borrow from the body wherever they hold no escape,
//! so a large body is walked once without building a `Value` tree.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// A JSON string, borrowed from the text unless it holds an escape.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Text<'a>(pub(crate) Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// A JSON object's members in document order, values unparsed. Repeated
/// names are kept; [`Members::dedup`] gives them `serde_json::Map`'s
/// meaning.
#[derive(Debug)]
pub(crate) struct Members<'a>(pub(crate) Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                collect(map)
            }
        }
        deserializer.deserialize_map(V)
    }
}

fn collect<'de, A: MapAccess<'de>>(mut map: A) -> Result<Members<'de>, A::Error> {
    let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8).min(4096));
    while let Some((Text(name), value)) = map.next_entry::<Text<'de>, &'de RawValue>()? {
        members.push((name, value));
    }
    Ok(Members(members))
}

/// A member of a [`Document`]: an object (its members, values unparsed) or
/// a string.
#[derive(Debug)]
pub(crate) enum Node<'a> {
    /// An object, one level deep.
    Object(Members<'a>),
    /// A string (a message; its text is not needed on this path).
    Text,
}

/// A JSON object whose values are all objects or strings, read in one pass
/// down to its objects' members: the shape of an answer that carries a
/// metadata object and a data object. Anything else does not parse.
#[derive(Debug)]
pub(crate) struct Document<'a>(pub(crate) Vec<(Cow<'a, str>, Node<'a>)>);

impl<'de> Deserialize<'de> for Node<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Node<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object or a string")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                collect(map).map(Node::Object)
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Node::Text)
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Document<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Document<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of objects and strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::new();
                while let Some((Text(name), node)) = map.next_entry::<Text<'de>, Node<'de>>()? {
                    members.push((name, node));
                }
                Ok(Document(members))
            }
        }
        deserializer.deserialize_map(V)
    }
}

impl<'a> Document<'a> {
    /// The document `text`, or `None` when it is not JSON of that shape.
    pub(crate) fn of(text: &'a str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

    /// Members as `serde_json::Map` holds them (see [`Members::dedup`]).
    pub(crate) fn dedup(mut self) -> Self {
        let mut i = 1;
        while i < self.0.len() {
            if let Some(first) = self.0[..i].iter().position(|(n, _)| *n == self.0[i].0) {
                let (_, node) = self.0.remove(i);
                self.0[first].1 = node;
            } else {
                i += 1;
            }
        }
        self
    }
}

impl<'a> Members<'a> {
    /// The members of the object `text`, or `None` when it is not one.
    pub(crate) fn of(text: &'a str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

    /// Members as `serde_json::Map` holds them: a repeated name keeps its
    /// first position and its last value. For the few members of a bar or a
    /// document (quadratic in the number of repeats, and none is usual).
    pub(crate) fn dedup(mut self) -> Self {
        let mut i = 1;
        while i < self.0.len() {
            if let Some(first) = self.0[..i].iter().position(|(n, _)| *n == self.0[i].0) {
                let (_, value) = self.0.remove(i);
                self.0[first].1 = value;
            } else {
                i += 1;
            }
        }
        self
    }

    /// The members as a map, each value parsed (`None` if one does not
    /// parse).
    pub(crate) fn to_map(&self) -> Option<serde_json::Map<String, serde_json::Value>> {
        self.0
            .iter()
            .map(|(k, v)| Some((k.to_string(), serde_json::from_str(v.get()).ok()?)))
            .collect()
    }
}

/// The first byte of a raw value: `{`, `[`, `"`, a digit, `t`, `f`, `n` …
pub(crate) fn lead(raw: &RawValue) -> u8 {
    raw.get().as_bytes().first().copied().unwrap_or(b' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_borrow_unless_escaped() {
        let t: Text = serde_json::from_str(r#""plain""#).unwrap();
        assert!(matches!(t.0, Cow::Borrowed("plain")));
        let t: Text = serde_json::from_str(r#""a\nb""#).unwrap();
        assert_eq!(t.0, "a\nb");
    }

    #[test]
    fn members_keep_order_and_dedup_like_a_map() {
        let m = Members::of(r#"{"b": 1, "a": {"x": 2}, "b": 3, "c\u0041": []}"#).unwrap();
        assert_eq!(m.0.len(), 4);
        let m = m.dedup();
        let names: Vec<&str> = m.0.iter().map(|(n, _)| n.as_ref()).collect();
        assert_eq!(names, ["b", "a", "cA"]);
        assert_eq!(m.0[0].1.get(), "3");
        assert_eq!(lead(m.0[1].1), b'{');
        assert!(Members::of("[1]").is_none());
        assert!(Members::of("{").is_none());
    }

    #[test]
    fn documents_of_objects_and_strings_parse_in_one_pass() {
        let d = Document::of(
            r#"{"Meta Data": {"a": "1"}, "Note": "hi", "S": {"d": {"x": "1"}}, "S": {}}"#,
        )
        .unwrap()
        .dedup();
        assert_eq!(d.0.len(), 3);
        assert!(matches!(&d.0[1].1, Node::Text));
        assert!(
            matches!(&d.0[2].1, Node::Object(m) if m.0.is_empty()),
            "the last value wins"
        );
        let Node::Object(meta) = &d.0[0].1 else {
            panic!()
        };
        assert_eq!(meta.to_map().unwrap()["a"], "1");
        assert!(Document::of(r#"{"a": [1]}"#).is_none());
        assert!(Document::of(r#"{"a": 1}"#).is_none());
        assert!(Document::of("[]").is_none());
    }
}
