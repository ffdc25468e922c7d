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
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8).min(4096));
                while let Some((Text(name), value)) =
                    map.next_entry::<Text<'de>, &'de RawValue>()?
                {
                    members.push((name, value));
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(V)
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

    /// The value of the member `name` (the last, as a map keeps it).
    pub(crate) fn get(&self, name: &str) -> Option<&'a RawValue> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
    }
}

/// The first byte of a raw value: `{`, `[`, `"`, a digit, `t`, `f`, `n` …
pub(crate) fn lead(raw: &RawValue) -> u8 {
    raw.get().as_bytes().first().copied().unwrap_or(b' ')
}

/// Whether `raw` is an object or array with at least one member.
pub(crate) fn is_non_empty_container(raw: &RawValue) -> bool {
    let b = raw.get().as_bytes();
    matches!(b.first(), Some(b'{' | b'['))
        && b[1..]
            .iter()
            .find(|c| !c.is_ascii_whitespace())
            .is_some_and(|c| *c != b'}' && *c != b']')
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
        assert_eq!(m.get("b").unwrap().get(), "3");
        assert_eq!(lead(m.get("a").unwrap()), b'{');
        assert!(Members::of("[1]").is_none());
        assert!(Members::of("{").is_none());
    }

    #[test]
    fn non_empty_containers() {
        let raw = |t: &str| serde_json::from_str::<Box<RawValue>>(t).unwrap();
        assert!(is_non_empty_container(&raw(r#"{"a":1}"#)));
        assert!(is_non_empty_container(&raw("[ 0 ]")));
        assert!(!is_non_empty_container(&raw("{ \n }")));
        assert!(!is_non_empty_container(&raw("[]")));
        assert!(!is_non_empty_container(&raw(r#""{x}""#)));
    }
}
