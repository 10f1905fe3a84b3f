//! `ToJson`: AWS SDK shapes rendered as JSON with the AWS API's PascalCase member names, which
//! is what the resource model (and Panther-style rules) expect. The SDK types have no serde
//! support, so each shape lists its members once through [`json_shape!`]; enums render through
//! their wire string with [`json_enum!`]. Only generic renderings live here; the shapes
//! themselves sit beside the collector that fetches them.

use std::collections::HashMap;

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use serde_json::{Map, Value};

/// A value as it appears in a resource document.
pub trait ToJson {
    fn to_json(&self) -> Value;
}

impl<T: ToJson + ?Sized> ToJson for &T {
    fn to_json(&self) -> Value {
        (**self).to_json()
    }
}

impl<T: ToJson> ToJson for Option<T> {
    fn to_json(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToJson::to_json)
    }
}

impl<T: ToJson> ToJson for [T] {
    fn to_json(&self) -> Value {
        Value::Array(self.iter().map(ToJson::to_json).collect())
    }
}

impl<T: ToJson> ToJson for Vec<T> {
    fn to_json(&self) -> Value {
        self.as_slice().to_json()
    }
}

impl ToJson for str {
    fn to_json(&self) -> Value {
        Value::String(self.to_owned())
    }
}

impl ToJson for String {
    fn to_json(&self) -> Value {
        Value::String(self.clone())
    }
}

impl ToJson for bool {
    fn to_json(&self) -> Value {
        Value::Bool(*self)
    }
}

macro_rules! number {
    ($($t:ty),*) => {$(
        impl ToJson for $t {
            fn to_json(&self) -> Value {
                Value::from(*self)
            }
        }
    )*};
}
number!(i32, i64, u32, u64, f64);

impl ToJson for f32 {
    fn to_json(&self) -> Value {
        Value::from(f64::from(*self))
    }
}

impl ToJson for Value {
    fn to_json(&self) -> Value {
        self.clone()
    }
}

/// RFC 3339 in UTC, e.g. `2024-01-31T12:00:00Z`.
impl ToJson for DateTime {
    fn to_json(&self) -> Value {
        self.fmt(Format::DateTime)
            .map_or(Value::Null, Value::String)
    }
}

impl<V: ToJson> ToJson for HashMap<String, V> {
    fn to_json(&self) -> Value {
        let mut entries: Vec<_> = self.iter().collect();
        entries.sort_by(|a, b| a.0.cmp(b.0));
        Value::Object(
            entries
                .into_iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect(),
        )
    }
}

/// An object from `(member name, value)` pairs; the building block of [`json_shape!`].
pub fn object<const N: usize>(members: [(&str, Value); N]) -> Value {
    let mut map = Map::with_capacity(N);
    for (name, value) in members {
        map.insert(name.to_owned(), value);
    }
    Value::Object(map)
}

/// Tags as the model wants them: a map of key to value, or null when there are none.
pub fn tags<'a>(pairs: impl IntoIterator<Item = (Option<&'a str>, Option<&'a str>)>) -> Value {
    let map: Map<String, Value> = pairs
        .into_iter()
        .filter_map(|(k, v)| Some((k?.to_owned(), Value::String(v.unwrap_or("").to_owned()))))
        .collect();
    if map.is_empty() {
        Value::Null
    } else {
        Value::Object(map)
    }
}

/// `impl ToJson` for SDK structs: `json_shape!(Type { "Member" => getter, ... })`. Each getter
/// is the SDK's accessor of that member; lists the SDK defaults to empty render as `[]`.
#[macro_export]
macro_rules! json_shape {
    ($($ty:path { $($name:literal => $getter:ident),* $(,)? })*) => {$(
        impl $crate::scan::shape::ToJson for $ty {
            fn to_json(&self) -> ::serde_json::Value {
                $crate::scan::shape::object([
                    $(($name, $crate::scan::shape::ToJson::to_json(&self.$getter()))),*
                ])
            }
        }
    )*};
}

/// `impl ToJson` for SDK enums, rendered as their wire string.
#[macro_export]
macro_rules! json_enum {
    ($($ty:path),* $(,)?) => {$(
        impl $crate::scan::shape::ToJson for $ty {
            fn to_json(&self) -> ::serde_json::Value {
                ::serde_json::Value::String(self.as_str().to_owned())
            }
        }
    )*};
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let t = DateTime::from_secs(1_700_000_000);
        assert_eq!(t.to_json(), json!("2023-11-14T22:13:20Z"));
    }

    #[test]
    fn absent_values_are_null_and_lists_are_arrays() {
        assert_eq!(None::<&str>.to_json(), Value::Null);
        assert_eq!(Some("x").to_json(), json!("x"));
        assert_eq!([1i32, 2].as_slice().to_json(), json!([1, 2]));
    }

    #[test]
    fn tags_are_a_map_or_null() {
        assert_eq!(tags([]), Value::Null);
        assert_eq!(
            tags([(Some("Team"), Some("payments")), (None, Some("lost"))]),
            json!({"Team": "payments"})
        );
    }
}
