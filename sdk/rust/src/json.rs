//! Borrowing path lookups into `serde_json::Value` trees.
//!
//! Everything here returns references into the input document; nothing allocates except
//! [`deep_walk`], which collects its matches into one `Vec`. JSON `null` is treated as "absent",
//! as everywhere in the resource model. Domain knowledge (AWS shapes, IAM, networking, time)
//! does not belong here; it lives in the sibling modules.

use serde_json::{Map, Value};

/// Parses a path segment as an array index: ASCII digits only (no sign, no whitespace).
fn parse_index(segment: &str) -> Option<usize> {
    if segment.is_empty() || !segment.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    segment.parse().ok()
}

/// Takes one step down the tree: an object key, or an index into an array.
fn step<'a>(value: &'a Value, segment: &str) -> Option<&'a Value> {
    match value {
        Value::Object(map) => map.get(segment),
        Value::Array(items) => items.get(parse_index(segment)?),
        _ => None,
    }
}

/// Follows `path` from `value` and returns the value found there.
///
/// Each segment is looked up as a key when the current value is an object; when the current
/// value is an array, the segment must be a decimal index (`"0"`, `"12"`). Returns `None` when a
/// step is missing, when a segment meets a scalar, or when the final value is JSON `null`
/// (`null` means "absent" in the resource model). An empty path returns `value` itself.
///
/// ```
/// # use serde_json::json;
/// # use palisade_sdk::deep_get;
/// let bucket = json!({"Versioning": {"Status": "Enabled"}, "Tags": [{"Key": "env"}]});
/// assert_eq!(deep_get(&bucket, &["Versioning", "Status"]), Some(&json!("Enabled")));
/// assert_eq!(deep_get(&bucket, &["Tags", "0", "Key"]), Some(&json!("env")));
/// assert_eq!(deep_get(&bucket, &["Logging", "TargetBucket"]), None);
/// ```
pub fn deep_get<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut current = value;
    for segment in path {
        current = step(current, segment)?;
    }
    (!current.is_null()).then_some(current)
}

/// Follows `path` like [`deep_get`], fanning out over arrays, and returns every value reached.
///
/// When a segment meets an array and is not a decimal index, it is applied to every element
/// of the array (recursively, so nested arrays are fanned out too) and the results are
/// flattened in document order. A segment that is an index into an array selects that element
/// only. `null`s and missing keys contribute nothing. A value reached at the end of the path
/// is returned as is, even when it is an array (the fan-out only happens on the way down).
///
/// ```
/// # use serde_json::json;
/// # use palisade_sdk::deep_walk;
/// let sg = json!({"IpPermissions": [
///     {"IpRanges": [{"CidrIp": "10.0.0.0/8"}, {"CidrIp": "0.0.0.0/0"}]},
///     {"IpRanges": []},
/// ]});
/// let cidrs: Vec<_> = deep_walk(&sg, &["IpPermissions", "IpRanges", "CidrIp"])
///     .into_iter()
///     .filter_map(|v| v.as_str())
///     .collect();
/// assert_eq!(cidrs, ["10.0.0.0/8", "0.0.0.0/0"]);
/// ```
pub fn deep_walk<'a>(value: &'a Value, path: &[&str]) -> Vec<&'a Value> {
    let mut out = Vec::new();
    walk_into(value, path, &mut out);
    out
}

fn walk_into<'a>(value: &'a Value, path: &[&str], out: &mut Vec<&'a Value>) {
    let Some((segment, rest)) = path.split_first() else {
        if !value.is_null() {
            out.push(value);
        }
        return;
    };
    match value {
        Value::Object(map) => {
            if let Some(next) = map.get(*segment) {
                walk_into(next, rest, out);
            }
        }
        Value::Array(items) => match parse_index(segment) {
            Some(index) => {
                if let Some(next) = items.get(index) {
                    walk_into(next, rest, out);
                }
            }
            // Fan out: the same segment is applied to every element.
            None => {
                for item in items {
                    walk_into(item, path, out);
                }
            }
        },
        _ => {}
    }
}

/// Returns the string at `path`, or `None` if it is missing, `null`, or not a string.
pub fn get_str<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    deep_get(value, path)?.as_str()
}

/// Returns the boolean at `path`, or `None` if it is missing, `null`, or not a boolean.
///
/// Strings such as `"true"` are not converted.
pub fn get_bool(value: &Value, path: &[&str]) -> Option<bool> {
    deep_get(value, path)?.as_bool()
}

/// Returns the integer at `path`, or `None` if it is missing, `null`, not an integer, or does
/// not fit in an `i64`.
///
/// Floats (`22.0`) and numeric strings (`"22"`) are not converted.
pub fn get_i64(value: &Value, path: &[&str]) -> Option<i64> {
    deep_get(value, path)?.as_i64()
}

/// Returns the array at `path`, or `None` if it is missing, `null`, or not an array.
pub fn get_array<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Vec<Value>> {
    deep_get(value, path)?.as_array()
}

/// Returns the object at `path`, or `None` if it is missing, `null`, or not an object.
pub fn get_object<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Map<String, Value>> {
    deep_get(value, path)?.as_object()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn security_group() -> Value {
        json!({
            "GroupId": "sg-0123456789abcdef0",
            "GroupName": "web",
            "VpcId": null,
            "IpPermissions": [
                {
                    "IpProtocol": "tcp",
                    "FromPort": 443,
                    "ToPort": 443,
                    "IpRanges": [
                        {"CidrIp": "0.0.0.0/0", "Description": "public https"},
                        {"CidrIp": "10.0.0.0/8"}
                    ],
                    "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
                    "UserIdGroupPairs": []
                },
                {
                    "IpProtocol": "tcp",
                    "FromPort": 22,
                    "ToPort": 22,
                    "IpRanges": [{"CidrIp": "192.168.1.0/24"}, {"CidrIp": null}, {}],
                    "Ipv6Ranges": []
                },
                {
                    "IpProtocol": "-1",
                    "UserIdGroupPairs": [{"GroupId": "sg-0fedcba9876543210", "UserId": "123456789012"}]
                }
            ],
            "Tags": [{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "edge"}],
            "Matrix": [[{"x": 1}, {"x": 2}], [{"x": 3}]],
            "Flags": {"Enabled": true, "Count": 3, "Ratio": 0.5, "Big": 18446744073709551615_u64},
            "Numeric": {"0": "key zero"}
        })
    }

    #[test]
    fn deep_get_follows_object_keys() {
        let sg = security_group();
        assert_eq!(
            deep_get(&sg, &["GroupId"]),
            Some(&json!("sg-0123456789abcdef0"))
        );
        assert_eq!(deep_get(&sg, &["Flags", "Enabled"]), Some(&json!(true)));
    }

    #[test]
    fn deep_get_indexes_arrays() {
        let sg = security_group();
        assert_eq!(
            deep_get(&sg, &["IpPermissions", "1", "FromPort"]),
            Some(&json!(22))
        );
        assert_eq!(
            deep_get(&sg, &["IpPermissions", "0", "IpRanges", "1", "CidrIp"]),
            Some(&json!("10.0.0.0/8"))
        );
        assert_eq!(deep_get(&sg, &["Matrix", "1", "0", "x"]), Some(&json!(3)));
    }

    #[test]
    fn deep_get_missing_steps_are_none() {
        let sg = security_group();
        assert_eq!(deep_get(&sg, &["Nope"]), None);
        assert_eq!(
            deep_get(&sg, &["IpPermissions", "3"]),
            None,
            "index out of bounds"
        );
        assert_eq!(
            deep_get(&sg, &["IpPermissions", "FromPort"]),
            None,
            "key on array"
        );
        assert_eq!(deep_get(&sg, &["GroupId", "x"]), None, "key on string");
        assert_eq!(
            deep_get(&sg, &["Flags", "Count", "0"]),
            None,
            "index on number"
        );
    }

    #[test]
    fn deep_get_null_is_absent() {
        let sg = security_group();
        assert_eq!(deep_get(&sg, &["VpcId"]), None);
        assert_eq!(
            deep_get(&sg, &["IpPermissions", "1", "IpRanges", "1", "CidrIp"]),
            None
        );
        assert_eq!(deep_get(&Value::Null, &[]), None);
        assert_eq!(deep_get(&sg, &["VpcId", "x"]), None);
    }

    #[test]
    fn deep_get_empty_path_is_identity() {
        let sg = security_group();
        assert_eq!(deep_get(&sg, &[]), Some(&sg));
    }

    #[test]
    fn deep_get_index_segments_are_strict() {
        let v = json!({"a": ["zero", "one"]});
        assert_eq!(deep_get(&v, &["a", "1"]), Some(&json!("one")));
        assert_eq!(
            deep_get(&v, &["a", "01"]),
            Some(&json!("one")),
            "leading zeros are fine"
        );
        assert_eq!(deep_get(&v, &["a", "+1"]), None, "no sign");
        assert_eq!(deep_get(&v, &["a", "-1"]), None, "no negative indexes");
        assert_eq!(deep_get(&v, &["a", " 1"]), None);
        assert_eq!(deep_get(&v, &["a", ""]), None);
        assert_eq!(
            deep_get(&v, &["a", "99999999999999999999999"]),
            None,
            "overflow"
        );
    }

    #[test]
    fn deep_get_numeric_segment_on_object_is_a_key() {
        let sg = security_group();
        assert_eq!(deep_get(&sg, &["Numeric", "0"]), Some(&json!("key zero")));
    }

    #[test]
    fn deep_walk_fans_out_over_arrays() {
        let sg = security_group();
        let cidrs: Vec<&str> = deep_walk(&sg, &["IpPermissions", "IpRanges", "CidrIp"])
            .into_iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(cidrs, ["0.0.0.0/0", "10.0.0.0/8", "192.168.1.0/24"]);
    }

    #[test]
    fn deep_walk_drops_nulls_and_missing() {
        let sg = security_group();
        let ports = deep_walk(&sg, &["IpPermissions", "FromPort"]);
        assert_eq!(
            ports,
            [&json!(443), &json!(22)],
            "third permission has no FromPort"
        );
        assert!(deep_walk(&sg, &["VpcId"]).is_empty());
        assert!(deep_walk(&sg, &["Nope", "Deeper"]).is_empty());
        assert!(deep_walk(&Value::Null, &[]).is_empty());
    }

    #[test]
    fn deep_walk_index_selects_one_element() {
        let sg = security_group();
        let groups = deep_walk(&sg, &["IpPermissions", "2", "UserIdGroupPairs", "GroupId"]);
        assert_eq!(groups, [&json!("sg-0fedcba9876543210")]);
        let first_cidrs = deep_walk(&sg, &["IpPermissions", "IpRanges", "0", "CidrIp"]);
        assert_eq!(first_cidrs, [&json!("0.0.0.0/0"), &json!("192.168.1.0/24")]);
    }

    #[test]
    fn deep_walk_flattens_nested_arrays() {
        let sg = security_group();
        let xs = deep_walk(&sg, &["Matrix", "x"]);
        assert_eq!(xs, [&json!(1), &json!(2), &json!(3)]);
    }

    #[test]
    fn deep_walk_does_not_flatten_terminal_arrays() {
        let sg = security_group();
        let tags = deep_walk(&sg, &["Tags"]);
        assert_eq!(tags.len(), 1);
        assert!(tags[0].is_array());
        let ranges = deep_walk(&sg, &["IpPermissions", "IpRanges"]);
        assert_eq!(ranges.len(), 2, "two permissions have IpRanges arrays");
    }

    #[test]
    fn deep_walk_empty_path_is_identity() {
        let sg = security_group();
        assert_eq!(deep_walk(&sg, &[]), [&sg]);
    }

    #[test]
    fn deep_walk_agrees_with_deep_get_without_arrays() {
        let sg = security_group();
        assert_eq!(
            deep_walk(&sg, &["Flags", "Count"]),
            deep_get(&sg, &["Flags", "Count"])
                .into_iter()
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn typed_accessors() {
        let sg = security_group();
        assert_eq!(get_str(&sg, &["GroupName"]), Some("web"));
        assert_eq!(
            get_str(&sg, &["Flags", "Count"]),
            None,
            "number is not a string"
        );
        assert_eq!(get_bool(&sg, &["Flags", "Enabled"]), Some(true));
        assert_eq!(get_bool(&sg, &["GroupName"]), None);
        assert_eq!(get_i64(&sg, &["Flags", "Count"]), Some(3));
        assert_eq!(
            get_i64(&sg, &["Flags", "Ratio"]),
            None,
            "float is not an integer"
        );
        assert_eq!(
            get_i64(&sg, &["Flags", "Big"]),
            None,
            "u64::MAX does not fit"
        );
        assert_eq!(get_array(&sg, &["Tags"]).map(Vec::len), Some(2));
        assert_eq!(get_array(&sg, &["Flags"]), None);
        assert_eq!(get_object(&sg, &["Flags"]).map(Map::len), Some(4));
        assert_eq!(get_object(&sg, &["Tags"]), None);
        assert_eq!(get_str(&sg, &["VpcId"]), None, "null");
        assert_eq!(get_str(&sg, &["Tags", "1", "Value"]), Some("edge"));
    }

    #[test]
    fn accessors_borrow_from_input() {
        let sg = security_group();
        let name: &str = get_str(&sg, &["GroupName"]).unwrap();
        let field: &str = sg["GroupName"].as_str().unwrap();
        assert!(std::ptr::eq(name, field));
    }
}
