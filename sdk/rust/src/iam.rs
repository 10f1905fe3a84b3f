//! IAM policy documents: parsing (object, JSON string, or URL-encoded JSON string as IAM's
//! `GetAccountAuthorizationDetails` returns it), IAM-style wildcard matching, the tests of a
//! statement's `Condition` block, and the questions rules ask of a policy (admin access, public
//! principals, "does some statement allow this").
//!
//! This is not a policy evaluator: there is no Deny precedence across policies, no condition
//! evaluation, no policy variables (`${aws:username}`), and no SCP/boundary logic. Each helper
//! documents exactly what it checks.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Unexpected, Visitor};
use serde_json::{Map, Value};

/// A policy document that could not be parsed. The message says what is wrong and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamError {
    message: String,
}

impl IamError {
    fn new(message: impl Into<String>) -> Self {
        IamError {
            message: message.into(),
        }
    }
}

impl fmt::Display for IamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid IAM policy document: {}", self.message)
    }
}

impl std::error::Error for IamError {}

impl From<serde_json::Error> for IamError {
    fn from(e: serde_json::Error) -> Self {
        IamError::new(e.to_string())
    }
}

/// Whether a statement allows or denies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// `"Effect": "Allow"`.
    Allow,
    /// `"Effect": "Deny"`.
    Deny,
}

impl fmt::Display for Effect {
    /// Writes `Allow` or `Deny`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        })
    }
}

/// Accepts `Allow` / `Deny` in any ASCII case.
impl<'de> Deserialize<'de> for Effect {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EffectVisitor;
        impl Visitor<'_> for EffectVisitor {
            type Value = Effect;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"Allow\" or \"Deny\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Effect, E> {
                if s.eq_ignore_ascii_case("allow") {
                    Ok(Effect::Allow)
                } else if s.eq_ignore_ascii_case("deny") {
                    Ok(Effect::Deny)
                } else {
                    Err(E::invalid_value(Unexpected::Str(s), &self))
                }
            }
        }
        deserializer.deserialize_str(EffectVisitor)
    }
}

/// The `Principal` (or `NotPrincipal`) of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// `"Principal": "*"`: everyone, including anonymous callers.
    Any,
    /// `"Principal": {"AWS": [...], "Service": "...", ...}`: principal type (`AWS`, `Service`,
    /// `Federated`, `CanonicalUser`) to identifiers. A single string in the input becomes a
    /// one-element list.
    Map(BTreeMap<String, Vec<String>>),
}

/// The element as written, compactly, for messages: `"*"`, or `AWS: a, b; Service: c`.
impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Principal::Any => f.write_str("\"*\""),
            Principal::Map(map) => {
                for (i, (kind, ids)) in map.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{kind}: {}", ids.join(", "))?;
                }
                Ok(())
            }
        }
    }
}

impl Principal {
    /// Returns true if the principal includes everyone: `"*"`, or `*` as a value under any
    /// type (`{"AWS": "*"}`, `{"AWS": ["arn:aws:iam::123456789012:root", "*"]}`).
    ///
    /// Conditions that might narrow access (such as `aws:SourceVpc` or `aws:PrincipalOrgID`)
    /// are not considered here.
    pub fn is_public(&self) -> bool {
        match self {
            Principal::Any => true,
            Principal::Map(map) => map.values().flatten().any(|v| v == "*"),
        }
    }

    /// The identifiers listed under `key` (such as `"AWS"` or `"Service"`; case-sensitive).
    ///
    /// Empty when the key is absent, and for [`Principal::Any`] (which lists no identifiers;
    /// check [`is_public`](Self::is_public)).
    pub fn values(&self, key: &str) -> &[String] {
        match self {
            Principal::Any => &[],
            Principal::Map(map) => map.get(key).map_or(&[], Vec::as_slice),
        }
    }
}

/// Accepts `"*"`, an object of string-or-list values, or (leniently) any other single string,
/// which is read as an `AWS` principal.
impl<'de> Deserialize<'de> for Principal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PrincipalVisitor;
        impl<'de> Visitor<'de> for PrincipalVisitor {
            type Value = Principal;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a principal (\"*\" or an object such as {\"AWS\": [...]})")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Principal, E> {
                Ok(if s == "*" {
                    Principal::Any
                } else {
                    Principal::Map(BTreeMap::from([("AWS".to_owned(), vec![s.to_owned()])]))
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Principal, A::Error> {
                let mut map = BTreeMap::new();
                while let Some((key, OneOrMany(values))) =
                    access.next_entry::<String, OneOrMany>()?
                {
                    if let Some(values) = values {
                        map.insert(key, values);
                    }
                }
                Ok(Principal::Map(map))
            }
        }
        deserializer.deserialize_any(PrincipalVisitor)
    }
}

/// One statement of a policy document.
///
/// `Action`, `NotAction`, `Resource` and `NotResource` may be a string or a list of strings in
/// the input; both become a list here. Absent (or `null`) elements are `None`; an empty list
/// stays `Some(vec![])`. Unknown keys are ignored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    /// `Sid`, if any (numbers are accepted and converted to text).
    #[serde(default, deserialize_with = "lenient_string")]
    pub sid: Option<String>,
    /// `Effect` (required; `Allow`/`Deny` in any case).
    pub effect: Effect,
    /// `Action` patterns.
    #[serde(default, deserialize_with = "field::action")]
    pub action: Option<Vec<String>>,
    /// `NotAction` patterns.
    #[serde(default, deserialize_with = "field::not_action")]
    pub not_action: Option<Vec<String>>,
    /// `Resource` patterns.
    #[serde(default, deserialize_with = "field::resource")]
    pub resource: Option<Vec<String>>,
    /// `NotResource` patterns.
    #[serde(default, deserialize_with = "field::not_resource")]
    pub not_resource: Option<Vec<String>>,
    /// `Principal` (resource-based and trust policies).
    #[serde(default, deserialize_with = "field::principal")]
    pub principal: Option<Principal>,
    /// `NotPrincipal` (resource-based policies).
    #[serde(default, deserialize_with = "field::not_principal")]
    pub not_principal: Option<Principal>,
    /// `Condition` block, unparsed: operator to (condition key to value(s)).
    #[serde(default, deserialize_with = "field::condition")]
    pub condition: Option<Map<String, Value>>,
}

impl Statement {
    /// Returns true for `"Effect": "Allow"`.
    pub fn is_allow(&self) -> bool {
        self.effect == Effect::Allow
    }

    /// Returns true if the statement's action element applies to `action`, whatever the
    /// effect: some `Action` pattern matches it, or (without `Action`) `NotAction` is present
    /// and none of its patterns match. Matching is [`wildcard_match`] (case-insensitive).
    pub fn matches_action(&self, action: &str) -> bool {
        match (&self.action, &self.not_action) {
            (Some(patterns), _) => any_match(patterns, action),
            (None, Some(excluded)) => !any_match(excluded, action),
            (None, None) => false,
        }
    }

    /// Returns true if this is an Allow statement whose action element applies to `action`
    /// (see [`matches_action`](Self::matches_action)). Resources and conditions are not
    /// considered.
    pub fn allows_action(&self, action: &str) -> bool {
        self.is_allow() && self.matches_action(action)
    }

    /// Returns true if the statement's resource element applies to `resource` (an ARN): some
    /// `Resource` pattern matches it, or (without `Resource`) `NotResource` is present and none
    /// of its patterns match.
    ///
    /// A statement with neither element (as in role trust policies, where the resource is
    /// implicitly the role itself) applies to every resource.
    ///
    /// Patterns are matched with [`wildcard_match`], which ignores ASCII case; ARNs are
    /// case-sensitive in AWS, so this errs towards matching.
    pub fn matches_resource(&self, resource: &str) -> bool {
        match (&self.resource, &self.not_resource) {
            (Some(patterns), _) => any_match(patterns, resource),
            (None, Some(excluded)) => !any_match(excluded, resource),
            (None, None) => true,
        }
    }

    /// Returns true for an Allow statement whose `Action` contains `*` or `*:*` (regardless
    /// of resources and conditions).
    pub fn grants_all_actions(&self) -> bool {
        self.is_allow()
            && self
                .action
                .as_ref()
                .is_some_and(|patterns| patterns.iter().any(|p| covers_all_actions(p)))
    }

    /// Returns true if the statement effectively grants every action on every resource:
    ///
    /// - Allow, `Action` containing `*`/`*:*`, and `Resource` containing `*`;
    /// - Allow, `Action` containing `*`/`*:*`, and any `NotResource` (everything except a few
    ///   resources) unless it excludes `*`;
    /// - Allow, `NotAction` (everything except a few actions) unless it excludes `*`/`*:*`,
    ///   and `Resource` containing `*` or any `NotResource` not excluding `*`.
    ///
    /// Conditions do not change the answer. Note that AWS's `PowerUserAccess`
    /// (`NotAction: ["iam:*", "organizations:*", "account:*"]` on `*`) counts.
    pub fn is_admin(&self) -> bool {
        if !self.is_allow() {
            return false;
        }
        let all_actions = match (&self.action, &self.not_action) {
            (Some(patterns), _) => patterns.iter().any(|p| covers_all_actions(p)),
            (None, Some(excluded)) => !excluded.iter().any(|p| covers_all_actions(p)),
            (None, None) => false,
        };
        let all_resources = match (&self.resource, &self.not_resource) {
            (Some(patterns), _) => patterns.iter().any(|p| is_all_stars(p)),
            (None, Some(excluded)) => !excluded.iter().any(|p| is_all_stars(p)),
            (None, None) => false,
        };
        all_actions && all_resources
    }

    /// Returns true if the statement has a non-empty `Condition` block.
    pub fn has_condition(&self) -> bool {
        self.condition.as_ref().is_some_and(|c| !c.is_empty())
    }

    /// Returns true if `Principal` is public (see [`Principal::is_public`]), or `NotPrincipal`
    /// is present and does not itself exclude everyone (it then applies to everyone except the
    /// listed principals). The effect is not considered.
    pub fn has_public_principal(&self) -> bool {
        self.principal.as_ref().is_some_and(Principal::is_public)
            || self.not_principal.as_ref().is_some_and(|p| !p.is_public())
    }

    /// A label for messages: the `Sid` if it is non-empty, else `Statement[index]` (`index`
    /// being the statement's position in [`PolicyDocument::statements`], as returned by
    /// [`PolicyDocument::admin_statement`] and [`PolicyDocument::public_statements`]).
    pub fn display_sid(&self, index: usize) -> Cow<'_, str> {
        match self.sid.as_deref() {
            Some(sid) if !sid.is_empty() => Cow::Borrowed(sid),
            _ => Cow::Owned(format!("Statement[{index}]")),
        }
    }

    /// Every test of the `Condition` block: one per (operator, condition key) pair, in the
    /// order the parsed block keeps them (by name, unless serde_json preserves order). An
    /// operator whose value is not an object (which IAM would refuse) contributes nothing.
    pub fn condition_tests(&self) -> impl Iterator<Item = ConditionTest<'_>> {
        self.condition
            .iter()
            .flatten()
            .filter_map(|(operator, keys)| Some((operator, keys.as_object()?)))
            .flat_map(|(operator, keys)| {
                keys.iter().map(move |(key, value)| ConditionTest {
                    operator,
                    key,
                    value,
                })
            })
    }

    /// Returns true if some test of the `Condition` block limits the statement to requests
    /// whose value for one of `keys` is in a bounded set (see
    /// [`ConditionTest::matches_bounded_values`]), such as `"StringEquals":
    /// {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}`. Used to tell a public principal that a
    /// condition confines to known callers from one open to anyone.
    pub fn narrowed_by(&self, keys: &[&str]) -> bool {
        self.condition_tests()
            .any(|test| keys.iter().any(|key| test.key_is(key)) && test.matches_bounded_values())
    }
}

/// One test of a statement's `Condition` block, e.g. `"StringEquals": {"aws:SourceAccount":
/// "123456789012"}`: the request must satisfy it (and every other test) for the statement to
/// apply. This is the text of the test, not an evaluation of it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConditionTest<'a> {
    /// The operator as written, e.g. `StringEquals`, `ForAnyValue:StringLike`, `BoolIfExists`.
    pub operator: &'a str,
    /// The condition key as written, e.g. `aws:SourceArn`.
    pub key: &'a str,
    /// The value(s) to compare with: a string, boolean or number, or a list of them.
    pub value: &'a Value,
}

impl<'a> ConditionTest<'a> {
    /// The operator without its set qualifier (`ForAllValues:`, `ForAnyValue:`) and without
    /// an `IfExists` suffix: `ForAnyValue:StringLikeIfExists` gives `StringLike`.
    pub fn base_operator(&self) -> &'a str {
        let operator = self.unqualified();
        strip_if_exists(operator).unwrap_or(operator)
    }

    /// `ForAllValues` or `ForAnyValue` (as written) when the operator carries that set
    /// qualifier. `ForAllValues` tests also pass when the request has no value for the key.
    pub fn set_qualifier(&self) -> Option<&'a str> {
        let (qualifier, _) = self.operator.split_once(':')?;
        (qualifier.eq_ignore_ascii_case("ForAllValues")
            || qualifier.eq_ignore_ascii_case("ForAnyValue"))
        .then_some(qualifier)
    }

    /// Returns true for an `...IfExists` operator, which also passes when the request has no
    /// value for the key.
    pub fn if_exists(&self) -> bool {
        strip_if_exists(self.unqualified()).is_some()
    }

    /// The operator without its set qualifier.
    fn unqualified(&self) -> &'a str {
        match self.set_qualifier() {
            Some(qualifier) => &self.operator[qualifier.len() + 1..],
            None => self.operator,
        }
    }

    /// Returns true if the base operator (see [`base_operator`](Self::base_operator)) is
    /// `operator`, ignoring ASCII case.
    pub fn operator_is(&self, operator: &str) -> bool {
        self.base_operator().eq_ignore_ascii_case(operator)
    }

    /// Returns true if the condition key is `key`, ignoring ASCII case (IAM condition keys are
    /// case-insensitive).
    pub fn key_is(&self, key: &str) -> bool {
        self.key.eq_ignore_ascii_case(key)
    }

    /// Returns true if a request passes this test only when its value for the key equals or
    /// matches one of the listed values, and those values are bounded: a positive string, ARN
    /// or IP comparison (see [`POSITIVE_MATCH_OPERATORS`]) that a request without the key
    /// cannot skip (no `IfExists`, no `ForAllValues`), with at least one value and none that is
    /// a bare wildcard (`*`, `**`) or a CIDR of the whole internet.
    pub fn matches_bounded_values(&self) -> bool {
        POSITIVE_MATCH_OPERATORS
            .iter()
            .any(|op| self.operator_is(op))
            && !self.if_exists()
            && !self
                .set_qualifier()
                .is_some_and(|q| q.eq_ignore_ascii_case("ForAllValues"))
            && self.values().next().is_some()
            && self.values().all(|value| !matches_anything(&value))
    }

    /// The values as text, in order: a string as is, a boolean or number written out
    /// (`true`, `12`); a list gives each of its items that way. Other values (`null`, objects,
    /// nested lists) are skipped.
    pub fn values(&self) -> impl Iterator<Item = Cow<'a, str>> {
        let items: &'a [Value] = match self.value {
            Value::Array(items) => items,
            single => std::slice::from_ref(single),
        };
        items.iter().filter_map(|value| match value {
            Value::String(s) => Some(Cow::Borrowed(s.as_str())),
            Value::Bool(b) => Some(Cow::Owned(b.to_string())),
            Value::Number(n) => Some(Cow::Owned(n.to_string())),
            Value::Null | Value::Array(_) | Value::Object(_) => None,
        })
    }
}

/// Condition operators under which a request passes only when the key has one of the listed
/// values (before `IfExists` and set qualifiers).
pub const POSITIVE_MATCH_OPERATORS: &[&str] = &[
    "StringEquals",
    "StringEqualsIgnoreCase",
    "StringLike",
    "ArnEquals",
    "ArnLike",
    "IpAddress",
];

/// A condition value that any caller matches: only stars, or a CIDR of the whole internet.
fn matches_anything(value: &str) -> bool {
    is_all_stars(value) || crate::net::is_world_cidr(value)
}

/// A parsed IAM policy document.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PolicyDocument {
    /// `Version` (normally `2012-10-17`), if any.
    #[serde(rename = "Version", default, deserialize_with = "lenient_string")]
    pub version: Option<String>,
    /// `Statement`, which may be a single object or a list in the input (required).
    #[serde(rename = "Statement", deserialize_with = "statements")]
    pub statements: Vec<Statement>,
}

impl PolicyDocument {
    /// The first statement that grants every action on every resource (see
    /// [`Statement::is_admin`]), with its index.
    pub fn admin_statement(&self) -> Option<(usize, &Statement)> {
        self.statements
            .iter()
            .enumerate()
            .find(|(_, s)| s.is_admin())
    }

    /// Returns true if some Allow statement matches both `action` and `resource`.
    ///
    /// This is the naive "is there a statement that allows it" test: Deny statements,
    /// conditions, principals, and other policies are ignored, so `true` does not mean AWS
    /// would allow the request.
    pub fn allows(&self, action: &str, resource: &str) -> bool {
        self.statements
            .iter()
            .any(|s| s.allows_action(action) && s.matches_resource(resource))
    }

    /// The Allow statements with a public principal (see
    /// [`Statement::has_public_principal`]), with their indexes. Conditions are not
    /// considered.
    pub fn public_statements(&self) -> impl Iterator<Item = (usize, &Statement)> {
        self.statements
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_allow() && s.has_public_principal())
    }
}

/// Parses a policy document from JSON text, or from URL-encoded JSON text as IAM returns it
/// (`%7B%22Version%22...`).
///
/// Plain JSON is tried first; only if the text is not JSON, does not start with `{`, and
/// contains `%` is it percent-decoded (`%XX` only: `+` stays `+`) and parsed again.
impl FromStr for PolicyDocument {
    type Err = IamError;

    fn from_str(s: &str) -> Result<Self, IamError> {
        match serde_json::from_str(s) {
            Ok(doc) => Ok(doc),
            Err(e)
                if (e.is_syntax() || e.is_eof())
                    && !s.trim_start().starts_with('{')
                    && s.contains('%') =>
            {
                let decoded = percent_decode(s)?;
                serde_json::from_str(&decoded)
                    .map_err(|e| IamError::new(format!("URL-decoded document: {e}")))
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Parses a policy document from a resource-model value: a JSON object, a string holding
/// JSON, or a string holding URL-encoded JSON (see [`PolicyDocument::from_str`]).
///
/// ```
/// use palisade_sdk::iam::parse_policy;
/// let doc = parse_policy(&serde_json::json!(
///     "%7B%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22%2A%22%2C%22Resource%22%3A%22%2A%22%7D%7D"
/// )).unwrap();
/// assert_eq!(doc.admin_statement().map(|(i, _)| i), Some(0));
/// ```
pub fn parse_policy(v: &Value) -> Result<PolicyDocument, IamError> {
    match v {
        Value::Object(_) => Ok(PolicyDocument::deserialize(v)?),
        Value::String(s) => s.parse(),
        Value::Null => Err(IamError::new("document is null")),
        Value::Bool(_) | Value::Number(_) | Value::Array(_) => Err(IamError::new(
            "expected a JSON object or a string holding one",
        )),
    }
}

/// IAM-style wildcard match: `*` matches any run of characters (including none), `?` matches
/// exactly one character, and everything else matches itself ignoring ASCII case (IAM actions
/// are case-insensitive).
///
/// Runs in O(pattern × value) time at worst, without recursion or allocation.
///
/// ```
/// use palisade_sdk::iam::wildcard_match;
/// assert!(wildcard_match("s3:Get*", "s3:GetObject"));
/// assert!(!wildcard_match("s3:Get*", "s3:PutObject"));
/// assert!(wildcard_match("IAM:*", "iam:CreateUser"));
/// ```
pub fn wildcard_match(pattern: &str, value: &str) -> bool {
    let (p, v) = (pattern.as_bytes(), value.as_bytes());
    let (mut pi, mut vi) = (0, 0);
    // After a `*`: the pattern position just past it, and the value position it has consumed
    // up to. On a mismatch the star absorbs one more character and matching resumes there.
    let mut backtrack: Option<(usize, usize)> = None;
    while vi < v.len() {
        match p.get(pi) {
            Some(b'*') => {
                pi += 1;
                backtrack = Some((pi, vi));
                continue;
            }
            Some(b'?') => {
                pi += 1;
                vi += utf8_len(v[vi]);
                continue;
            }
            Some(c) if c.eq_ignore_ascii_case(&v[vi]) => {
                pi += 1;
                vi += 1;
                continue;
            }
            _ => {}
        }
        match backtrack {
            Some((star_pi, star_vi)) => {
                let next = star_vi + utf8_len(v[star_vi]);
                backtrack = Some((star_pi, next));
                pi = star_pi;
                vi = next;
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

/// `operator` without its `IfExists` suffix (any ASCII case), or `None` when it has none.
fn strip_if_exists(operator: &str) -> Option<&str> {
    const SUFFIX: &str = "IfExists";
    let end = operator
        .len()
        .checked_sub(SUFFIX.len())
        .filter(|&end| end > 0)?;
    (operator.is_char_boundary(end) && operator[end..].eq_ignore_ascii_case(SUFFIX))
        .then(|| &operator[..end])
}

/// Length of the UTF-8 sequence starting with `lead` (so `?` and `*` step over whole
/// characters). `wildcard_match` only calls it on character boundaries.
fn utf8_len(lead: u8) -> usize {
    match lead {
        0xF0.. => 4,
        0xE0.. => 3,
        0xC0.. => 2,
        _ => 1,
    }
}

fn any_match(patterns: &[String], value: &str) -> bool {
    patterns.iter().any(|p| wildcard_match(p, value))
}

/// `*`, `**`, ...: matches everything.
fn is_all_stars(pattern: &str) -> bool {
    !pattern.is_empty() && pattern.bytes().all(|b| b == b'*')
}

/// `*` or `*:*` (or runs of stars on either side): matches every action.
fn covers_all_actions(pattern: &str) -> bool {
    match pattern.split_once(':') {
        Some((service, action)) => is_all_stars(service) && is_all_stars(action),
        None => is_all_stars(pattern),
    }
}

/// Decodes `%XX` escapes (either hex case); every other byte, `+` included, is kept.
fn percent_decode(s: &str) -> Result<String, IamError> {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let escape = bytes
                .get(i + 1..i + 3)
                .and_then(|h| Some(hex(h[0])? << 4 | hex(h[1])?))
                .ok_or_else(|| {
                    IamError::new(format!(
                        "invalid percent-encoding at byte {i} of URL-encoded document"
                    ))
                })?;
            out.push(escape);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| IamError::new("URL-encoded document does not decode to UTF-8"))
}

/// String-or-list-of-strings, as a type (for `Principal` map values).
struct OneOrMany(Option<Vec<String>>);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        one_or_many(deserializer).map(OneOrMany)
    }
}

/// A string or a list of strings; `null` is `None`.
fn one_or_many<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<String>>, D::Error> {
    struct OneOrManyVisitor;
    impl<'de> Visitor<'de> for OneOrManyVisitor {
        type Value = Option<Vec<String>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or a list of strings")
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
            Ok(Some(vec![s.to_owned()]))
        }
        fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
            Ok(Some(vec![s]))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
            while let Some(item) = seq.next_element::<String>()? {
                items.push(item);
            }
            Ok(Some(items))
        }
    }
    deserializer.deserialize_any(OneOrManyVisitor)
}

/// Per-field deserializers for [`Statement`] that put the element name in error messages
/// (`Statement[2]: Action: invalid type: ...`).
mod field {
    use super::{Principal, one_or_many};
    use serde::de::{Deserialize, Deserializer, Error};
    use serde_json::{Map, Value};

    fn named<T, E: Error>(name: &str, result: Result<T, E>) -> Result<T, E> {
        result.map_err(|e| E::custom(format_args!("{name}: {e}")))
    }

    pub(super) fn action<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
        named("Action", one_or_many(d))
    }

    pub(super) fn not_action<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<String>>, D::Error> {
        named("NotAction", one_or_many(d))
    }

    pub(super) fn resource<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<String>>, D::Error> {
        named("Resource", one_or_many(d))
    }

    pub(super) fn not_resource<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<String>>, D::Error> {
        named("NotResource", one_or_many(d))
    }

    pub(super) fn principal<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Principal>, D::Error> {
        named("Principal", Option::deserialize(d))
    }

    pub(super) fn not_principal<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Principal>, D::Error> {
        named("NotPrincipal", Option::deserialize(d))
    }

    pub(super) fn condition<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Map<String, Value>>, D::Error> {
        named("Condition", Option::deserialize(d))
    }
}

/// A string, or a number / boolean written as text; anything else (including `null`) is
/// `None`. Used for labels (`Sid`, `Version`) that should never fail a whole document.
fn lenient_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    })
}

/// `Statement`: one object or a list of objects. Errors name the statement's position.
fn statements<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Statement>, D::Error> {
    struct StatementsVisitor;
    impl<'de> Visitor<'de> for StatementsVisitor {
        type Value = Vec<Statement>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a statement object or a list of them")
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            Statement::deserialize(MapAccessDeserializer::new(map))
                .map(|s| vec![s])
                .map_err(|e| de::Error::custom(format_args!("Statement: {e}")))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
            loop {
                let index = items.len();
                match seq.next_element::<Statement>() {
                    Ok(Some(statement)) => items.push(statement),
                    Ok(None) => return Ok(items),
                    Err(e) => {
                        return Err(de::Error::custom(format_args!("Statement[{index}]: {e}")));
                    }
                }
            }
        }
    }
    deserializer.deserialize_any(StatementsVisitor)
}

#[cfg(test)]
mod tests {

    #[test]
    fn principals_display_as_written() {
        let map = |pairs: &[(&str, &[&str])]| {
            Principal::Map(
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
                    .collect(),
            )
        };
        assert_eq!(Principal::Any.to_string(), "\"*\"");
        let p = map(&[
            ("AWS", &["arn:aws:iam::1:root", "*"]),
            ("Service", &["s3.amazonaws.com"]),
        ]);
        assert_eq!(
            p.to_string(),
            "AWS: arn:aws:iam::1:root, *; Service: s3.amazonaws.com"
        );
    }
    use super::*;
    use serde_json::json;

    fn doc(v: Value) -> PolicyDocument {
        parse_policy(&v).unwrap_or_else(|e| panic!("{e}"))
    }

    fn error(v: Value) -> String {
        parse_policy(&v).expect_err("should not parse").to_string()
    }

    fn strings(items: &[&str]) -> Option<Vec<String>> {
        Some(items.iter().map(|s| (*s).to_owned()).collect())
    }

    /// The AWS managed policy `AdministratorAccess`.
    fn administrator_access() -> Value {
        json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
        })
    }

    /// A `ReadOnlyAccess`-style managed policy (abridged).
    fn read_only_access() -> Value {
        json!({
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ReadOnlyActions",
                    "Effect": "Allow",
                    "Action": [
                        "a4b:Get*", "a4b:List*", "acm:Describe*", "acm:Get*", "acm:List*",
                        "cloudtrail:Describe*", "cloudtrail:Get*", "cloudtrail:LookupEvents",
                        "ec2:Describe*", "ec2:Get*", "iam:Generate*", "iam:Get*", "iam:List*",
                        "iam:Simulate*", "s3:Get*", "s3:List*", "sts:GetCallerIdentity"
                    ],
                    "Resource": "*"
                }
            ]
        })
    }

    /// An S3 bucket policy mixing an account root and a public principal.
    fn public_bucket_policy() -> Value {
        json!({
            "Version": "2012-10-17",
            "Id": "PolicyForWebsite",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": ["arn:aws:s3:::example-site", "arn:aws:s3:::example-site/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}}
                },
                {
                    "Sid": "PublicRead",
                    "Effect": "Allow",
                    "Principal": {"AWS": ["arn:aws:iam::123456789012:root", "*"]},
                    "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                    "Resource": "arn:aws:s3:::example-site/*"
                },
                {
                    "Sid": "CloudFrontOnly",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudfront.amazonaws.com"},
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::example-site/*",
                    "Condition": {"StringEquals": {"AWS:SourceArn": "arn:aws:cloudfront::123456789012:distribution/EDFDVBD6EXAMPLE"}}
                }
            ]
        })
    }

    #[test]
    fn parses_administrator_access() {
        let d = doc(administrator_access());
        assert_eq!(d.version.as_deref(), Some("2012-10-17"));
        assert_eq!(d.statements.len(), 1);
        let s = &d.statements[0];
        assert_eq!(s.effect, Effect::Allow);
        assert_eq!(s.action, strings(&["*"]));
        assert_eq!(s.resource, strings(&["*"]));
        assert_eq!(s.not_action, None);
        assert_eq!(s.principal, None);
        assert!(s.grants_all_actions());
        assert!(s.is_admin());
        assert_eq!(d.admin_statement().map(|(i, _)| i), Some(0));
        assert!(d.allows("iam:CreateUser", "arn:aws:iam::123456789012:user/alice"));
        assert!(d.allows("anything", "anything"));
        assert_eq!(d.public_statements().count(), 0);
    }

    #[test]
    fn read_only_access_is_not_admin() {
        let d = doc(read_only_access());
        let s = &d.statements[0];
        assert_eq!(s.sid.as_deref(), Some("ReadOnlyActions"));
        assert_eq!(s.action.as_ref().map(Vec::len), Some(17));
        assert!(!s.grants_all_actions());
        assert_eq!(d.admin_statement(), None);
        assert!(d.allows("s3:GetObject", "arn:aws:s3:::bucket/key"));
        assert!(d.allows("ec2:DescribeInstances", "*"));
        assert!(
            d.allows("EC2:describeinstances", "*"),
            "actions are case-insensitive"
        );
        assert!(!d.allows("s3:PutObject", "arn:aws:s3:::bucket/key"));
        assert!(!d.allows("iam:CreateUser", "*"));
        assert!(!d.allows("sts:AssumeRole", "*"));
    }

    #[test]
    fn bucket_policy_with_public_principal() {
        let d = doc(public_bucket_policy());
        assert_eq!(d.statements.len(), 3, "Id is ignored");
        let deny = &d.statements[0];
        assert_eq!(deny.principal, Some(Principal::Any));
        assert!(deny.has_public_principal());
        assert!(deny.has_condition());
        assert!(!deny.allows_action("s3:GetObject"), "Deny never allows");
        assert!(deny.matches_action("s3:GetObject"));

        let public: Vec<_> = d
            .public_statements()
            .map(|(i, s)| (i, s.display_sid(i)))
            .collect();
        assert_eq!(public, [(1, Cow::Borrowed("PublicRead"))]);
        let principal = d.statements[1].principal.as_ref().unwrap();
        assert!(principal.is_public());
        assert_eq!(
            principal.values("AWS"),
            ["arn:aws:iam::123456789012:root", "*"]
        );
        assert!(principal.values("Service").is_empty());

        let cloudfront = d.statements[2].principal.as_ref().unwrap();
        assert!(!cloudfront.is_public());
        assert_eq!(cloudfront.values("Service"), ["cloudfront.amazonaws.com"]);

        assert!(d.allows("s3:GetObject", "arn:aws:s3:::example-site/index.html"));
        assert!(!d.allows("s3:GetObject", "arn:aws:s3:::other-bucket/index.html"));
        assert!(!d.allows("s3:PutObject", "arn:aws:s3:::example-site/index.html"));
        assert_eq!(d.admin_statement(), None);
    }

    #[test]
    fn principal_shapes() {
        let principal = |p: Value| {
            doc(json!({"Statement": {"Effect": "Allow", "Principal": p, "Action": "sts:AssumeRole"}}))
                .statements[0]
                .principal
                .clone()
        };
        assert_eq!(principal(json!("*")), Some(Principal::Any));
        assert!(principal(json!({"AWS": "*"})).unwrap().is_public());
        assert!(
            principal(json!({"CanonicalUser": ["abc", "*"]}))
                .unwrap()
                .is_public()
        );
        let federated = principal(json!({"Federated": "cognito-identity.amazonaws.com"})).unwrap();
        assert!(!federated.is_public());
        assert_eq!(
            federated.values("Federated"),
            ["cognito-identity.amazonaws.com"]
        );
        let account = principal(json!("arn:aws:iam::123456789012:root")).unwrap();
        assert_eq!(
            account.values("AWS"),
            ["arn:aws:iam::123456789012:root"],
            "lenient"
        );
        assert!(!account.is_public());
        assert!(
            !principal(json!({"AWS": "arn:aws:iam::*:root"}))
                .unwrap()
                .is_public()
        );
        assert_eq!(
            principal(json!({"AWS": null})),
            Some(Principal::Map(BTreeMap::new()))
        );
        assert_eq!(principal(json!(null)), None);
        assert!(Principal::Any.values("AWS").is_empty());
        assert!(
            error(json!({"Statement": {"Effect": "Allow", "Principal": 5}})).contains("Principal")
        );
        assert_eq!(
            error(json!({"Statement": {"Effect": "Allow", "NotPrincipal": {"AWS": [1]}}})),
            "invalid IAM policy document: Statement: NotPrincipal: invalid type: integer `1`, expected a string"
        );
    }

    #[test]
    fn not_principal_with_allow_is_public() {
        let d = doc(json!({"Statement": [
            {"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::123456789012:user/bob"}, "Action": "s3:*", "Resource": "*"},
            {"Effect": "Allow", "NotPrincipal": {"AWS": "*"}, "Action": "s3:*", "Resource": "*"},
            {"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "s3:*", "Resource": "*"}
        ]}));
        let public: Vec<usize> = d.public_statements().map(|(i, _)| i).collect();
        assert_eq!(public, [0]);
    }

    #[test]
    fn not_action_trick_is_admin() {
        // AWS PowerUserAccess: everything but IAM / Organizations / Account, on everything.
        let power_user = doc(json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "NotAction": ["iam:*", "organizations:*", "account:*"], "Resource": "*"},
                {"Effect": "Allow", "Action": ["iam:CreateServiceLinkedRole", "iam:ListRoles"], "Resource": "*"}
            ]
        }));
        let (index, statement) = power_user.admin_statement().unwrap();
        assert_eq!(index, 0);
        assert!(!statement.grants_all_actions(), "no Action element");
        assert!(statement.allows_action("ec2:TerminateInstances"));
        assert!(!statement.allows_action("iam:CreateUser"));
        assert!(power_user.allows("iam:ListRoles", "*"), "second statement");
        assert!(!power_user.allows("iam:CreateUser", "*"));

        let excludes_all =
            doc(json!({"Statement": {"Effect": "Allow", "NotAction": "*", "Resource": "*"}}));
        assert_eq!(excludes_all.admin_statement(), None);
        assert!(!excludes_all.allows("s3:GetObject", "*"));
        let excludes_all2 = doc(
            json!({"Statement": {"Effect": "Allow", "NotAction": ["s3:*", "*:*"], "Resource": "*"}}),
        );
        assert_eq!(excludes_all2.admin_statement(), None);

        let empty_not_action =
            doc(json!({"Statement": {"Effect": "Allow", "NotAction": [], "Resource": "*"}}));
        assert!(
            empty_not_action.admin_statement().is_some(),
            "excludes nothing"
        );

        let scoped = doc(
            json!({"Statement": {"Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:aws:s3:::bucket/*"}}),
        );
        assert_eq!(scoped.admin_statement(), None, "not on every resource");

        let deny =
            doc(json!({"Statement": {"Effect": "Deny", "NotAction": "iam:*", "Resource": "*"}}));
        assert_eq!(deny.admin_statement(), None);
    }

    #[test]
    fn not_resource_trick_is_admin() {
        let d = doc(json!({"Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::audit-logs/*"}
        ]}));
        let (index, statement) = d.admin_statement().unwrap();
        assert_eq!(index, 1);
        assert!(statement.matches_resource("arn:aws:iam::123456789012:user/x"));
        assert!(!statement.matches_resource("arn:aws:s3:::audit-logs/2024/01/01.gz"));
        assert!(d.allows("ec2:RunInstances", "*"));

        let excludes_all =
            doc(json!({"Statement": {"Effect": "Allow", "Action": "*", "NotResource": ["*"]}}));
        assert_eq!(excludes_all.admin_statement(), None);
        let both_tricks = doc(
            json!({"Statement": {"Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:aws:s3:::x"}}),
        );
        assert!(both_tricks.admin_statement().is_some());
    }

    #[test]
    fn admin_variants_and_non_admin() {
        let admin = |statement: Value| {
            doc(json!({"Statement": statement}))
                .admin_statement()
                .is_some()
        };
        assert!(admin(
            json!({"Effect": "Allow", "Action": "*:*", "Resource": "*"})
        ));
        assert!(admin(
            json!({"Effect": "Allow", "Action": ["s3:GetObject", "*"], "Resource": ["arn:aws:s3:::b", "*"]})
        ));
        assert!(admin(
            json!({"Effect": "allow", "Action": "*", "Resource": "*"})
        ));
        assert!(
            admin(json!({
                "Effect": "Allow", "Action": "*", "Resource": "*",
                "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}
            })),
            "conditions do not make admin acceptable"
        );
        assert!(!admin(
            json!({"Effect": "Deny", "Action": "*", "Resource": "*"})
        ));
        assert!(!admin(
            json!({"Effect": "Allow", "Action": "iam:*", "Resource": "*"})
        ));
        assert!(!admin(
            json!({"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::bucket"})
        ));
        assert!(
            !admin(json!({"Effect": "Allow", "Action": "*"})),
            "no Resource element"
        );
        assert!(
            !admin(json!({"Effect": "Allow", "Resource": "*"})),
            "no Action element"
        );
        assert!(!admin(
            json!({"Effect": "Allow", "Action": "*:Get*", "Resource": "*"})
        ));
        assert!(!admin(json!([])));

        let d = doc(json!({"Statement": [
            {"Sid": "Read", "Effect": "Allow", "Action": "s3:Get*", "Resource": "*"},
            {"Sid": "", "Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Sid": "Later", "Effect": "Allow", "Action": "*", "Resource": "*"}
        ]}));
        let (i, s) = d.admin_statement().unwrap();
        assert_eq!(i, 1, "the first one");
        assert_eq!(
            s.display_sid(i),
            "Statement[1]",
            "empty Sid falls back to the index"
        );
        assert_eq!(d.statements[2].display_sid(2), "Later");
    }

    #[test]
    fn grants_all_actions() {
        let statement = |v: Value| doc(json!({"Statement": v})).statements.remove(0);
        assert!(
            statement(json!({"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b"}))
                .grants_all_actions()
        );
        assert!(statement(json!({"Effect": "Allow", "Action": ["*:*"]})).grants_all_actions());
        assert!(!statement(json!({"Effect": "Deny", "Action": "*"})).grants_all_actions());
        assert!(!statement(json!({"Effect": "Allow", "Action": "s3:*"})).grants_all_actions());
        assert!(!statement(json!({"Effect": "Allow", "NotAction": "s3:*"})).grants_all_actions());
        assert!(!statement(json!({"Effect": "Allow", "Action": []})).grants_all_actions());
    }

    #[test]
    fn single_statement_object_and_string_forms() {
        let d = doc(json!({
            "Version": "2012-10-17",
            "Statement": {
                "Effect": "Allow",
                "Principal": {"Service": ["ec2.amazonaws.com", "lambda.amazonaws.com"]},
                "Action": "sts:AssumeRole"
            }
        }));
        assert_eq!(d.statements.len(), 1);
        let s = &d.statements[0];
        assert_eq!(s.action, strings(&["sts:AssumeRole"]));
        assert_eq!(s.resource, None);
        assert_eq!(
            s.principal.as_ref().unwrap().values("Service"),
            ["ec2.amazonaws.com", "lambda.amazonaws.com"]
        );
        assert!(!s.has_condition());
        assert_eq!(s.display_sid(0), "Statement[0]");
        assert!(
            d.allows("sts:AssumeRole", "arn:aws:iam::123456789012:role/web"),
            "trust policies have no Resource: the role itself is implied"
        );
        assert!(!d.allows("sts:AssumeRoleWithSAML", "*"));
    }

    #[test]
    fn lowercase_effect_and_lenient_labels() {
        let d = doc(json!({
            "Version": 20121017,
            "Statement": [
                {"Sid": 1, "Effect": "allow", "Action": "s3:GetObject", "Resource": "*"},
                {"Sid": null, "Effect": "DENY", "Action": "s3:GetObject", "Resource": "*"},
                {"Sid": ["x"], "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
            ]
        }));
        assert_eq!(d.version.as_deref(), Some("20121017"));
        assert_eq!(d.statements[0].effect, Effect::Allow);
        assert_eq!(d.statements[0].sid.as_deref(), Some("1"));
        assert_eq!(d.statements[1].effect, Effect::Deny);
        assert_eq!(d.statements[1].sid, None);
        assert_eq!(d.statements[2].sid, None);
        assert_eq!(Effect::Deny.to_string(), "Deny");
    }

    #[test]
    fn empty_lists_and_empty_conditions() {
        let d = doc(json!({"Statement": [
            {"Effect": "Allow", "Action": [], "Resource": [], "Condition": {}}
        ]}));
        let s = &d.statements[0];
        assert_eq!(s.action, Some(vec![]));
        assert!(!s.has_condition());
        assert!(!s.allows_action("s3:GetObject"));
        assert!(!s.matches_resource("arn:aws:s3:::b"));
        let empty = doc(json!({"Statement": []}));
        assert!(empty.statements.is_empty());
        assert!(!empty.allows("s3:GetObject", "*"));
        assert_eq!(empty.version, None);
    }

    #[test]
    fn condition_tests_list_operator_key_and_values() {
        let d = doc(json!({"Statement": [
            {
                "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                "Condition": {
                    "StringEquals": {"AWS:SourceAccount": "123456789012", "aws:SourceVpce": ["vpce-1", "vpce-2"]},
                    "ForAnyValue:StringLikeIfExists": {"aws:PrincipalOrgPaths": "o-a1b2c3d4e5/*"},
                    "Bool": {"aws:SecureTransport": false},
                    "NumericLessThan": {"s3:TlsVersion": 1.2},
                    "Null": {"aws:TokenIssueTime": [true, null, {}]},
                    "Broken": "not an object"
                }
            },
            {"Effect": "Deny", "Action": "*"}
        ]}));
        let tests: Vec<ConditionTest<'_>> = d.statements[0].condition_tests().collect();
        let seen: Vec<(&str, &str)> = tests.iter().map(|t| (t.operator, t.key)).collect();
        assert_eq!(
            seen.len(),
            6,
            "the malformed operator contributes nothing: {seen:?}"
        );
        assert!(seen.contains(&("StringEquals", "aws:SourceVpce")));
        let find = |key: &str| *tests.iter().find(|t| t.key_is(key)).unwrap();

        let account = find("aws:sourceaccount");
        assert_eq!(account.key, "AWS:SourceAccount");
        assert!(account.operator_is("stringequals"));
        assert_eq!(account.set_qualifier(), None);
        assert!(!account.if_exists());
        assert_eq!(account.values().collect::<Vec<_>>(), ["123456789012"]);
        assert_eq!(
            find("aws:SourceVpce").values().collect::<Vec<_>>(),
            ["vpce-1", "vpce-2"]
        );

        let paths = find("aws:PrincipalOrgPaths");
        assert_eq!(paths.base_operator(), "StringLike");
        assert_eq!(paths.set_qualifier(), Some("ForAnyValue"));
        assert!(paths.if_exists());

        let transport = find("aws:SecureTransport");
        assert!(transport.operator_is("Bool"));
        assert_eq!(transport.values().collect::<Vec<_>>(), ["false"]);
        assert_eq!(find("s3:TlsVersion").values().collect::<Vec<_>>(), ["1.2"]);
        assert_eq!(
            find("aws:TokenIssueTime").values().collect::<Vec<_>>(),
            ["true"],
            "null and nested values are skipped"
        );
        assert_eq!(d.statements[1].condition_tests().count(), 0);
    }

    #[test]
    fn condition_operators_split_into_qualifier_base_and_if_exists() {
        let value = json!("x");
        for (operator, base, qualifier, if_exists) in [
            ("StringEquals", "StringEquals", None, false),
            ("ArnLikeIfExists", "ArnLike", None, true),
            (
                "ForAllValues:StringEquals",
                "StringEquals",
                Some("ForAllValues"),
                false,
            ),
            (
                "forallvalues:StringLikeifexists",
                "StringLike",
                Some("forallvalues"),
                true,
            ),
            // Only the two set qualifiers are prefixes; `IfExists` alone is no operator.
            ("Other:StringEquals", "Other:StringEquals", None, false),
            ("IfExists", "IfExists", None, false),
            (
                "ForAnyValue:IfExists",
                "IfExists",
                Some("ForAnyValue"),
                false,
            ),
            ("Bool\u{e9}IfExists", "Bool\u{e9}", None, true),
        ] {
            let t = ConditionTest {
                operator,
                key: "k",
                value: &value,
            };
            assert_eq!(t.base_operator(), base, "{operator}");
            assert_eq!(t.set_qualifier(), qualifier, "{operator}");
            assert_eq!(t.if_exists(), if_exists, "{operator}");
        }
    }

    #[test]
    fn bounded_value_matches() {
        let bounded = |operator: &str, value: Value| {
            ConditionTest {
                operator,
                key: "aws:PrincipalOrgID",
                value: &value,
            }
            .matches_bounded_values()
        };
        assert!(bounded("StringEquals", json!("o-a1b2c3d4e5")));
        assert!(bounded("stringlike", json!(["o-a1b2c3d4e5", "o-f6g7h8"])));
        assert!(bounded("ForAnyValue:ArnLike", json!("arn:aws:iam::1:*")));
        assert!(bounded("IpAddress", json!("203.0.113.0/24")));
        for (operator, value) in [
            ("StringEqualsIfExists", json!("o-a1b2c3d4e5")),
            ("ForAllValues:StringEquals", json!("o-a1b2c3d4e5")),
            ("StringNotEquals", json!("o-a1b2c3d4e5")),
            ("Bool", json!("true")),
            ("StringLike", json!("*")),
            ("StringLike", json!(["o-1", "**"])),
            ("IpAddress", json!("0.0.0.0/0")),
            ("IpAddress", json!(["::/0"])),
            ("StringEquals", json!([])),
            ("StringEquals", json!(null)),
        ] {
            assert!(!bounded(operator, value.clone()), "{operator} {value}");
        }
    }

    #[test]
    fn statements_narrowed_by_keys() {
        let d = doc(json!({"Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt",
             "Condition": {"StringEquals": {"KMS:CallerAccount": "111122223333"}}},
            {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt",
             "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}},
            {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt"}
        ]}));
        let keys = ["kms:CallerAccount", "aws:PrincipalOrgID"];
        let narrowed: Vec<bool> = d.statements.iter().map(|s| s.narrowed_by(&keys)).collect();
        assert_eq!(narrowed, [true, false, false]);
    }

    #[test]
    fn invalid_documents_have_clear_errors() {
        assert_eq!(
            error(json!({"Version": "2012-10-17"})),
            "invalid IAM policy document: missing field `Statement`"
        );
        assert_eq!(
            error(json!({"Statement": [{"Effect": "Allow"}, {"Action": "*"}]})),
            "invalid IAM policy document: Statement[1]: missing field `Effect`"
        );
        assert_eq!(
            error(json!({"Statement": {"Action": "*"}})),
            "invalid IAM policy document: Statement: missing field `Effect`"
        );
        assert_eq!(
            error(json!({"Statement": [{"Effect": "Permit"}]})),
            "invalid IAM policy document: Statement[0]: invalid value: string \"Permit\", expected \"Allow\" or \"Deny\""
        );
        assert_eq!(
            error(json!({"Statement": [{"Effect": "Allow", "Action": 5}]})),
            "invalid IAM policy document: Statement[0]: Action: invalid type: integer `5`, \
             expected a string or a list of strings"
        );
        assert!(
            error(json!({"Statement": [{"Effect": "Allow", "NotAction": {}}]}))
                .contains("NotAction: ")
        );
        assert!(
            error(json!({"Statement": [{"Effect": "Allow", "NotResource": true}]}))
                .contains("NotResource: ")
        );
        assert_eq!(
            error(json!({"Statement": [{"Effect": "Allow", "Resource": ["*", 5]}]})),
            "invalid IAM policy document: Statement[0]: Resource: invalid type: integer `5`, expected a string"
        );
        assert_eq!(
            error(json!({"Statement": [{"Effect": "Allow", "Condition": "x"}]})),
            "invalid IAM policy document: Statement[0]: Condition: invalid type: string \"x\", expected a map"
        );
        // Text input adds the position.
        assert_eq!(
            r#"{"Statement": [{"Effect": "Allow"}, {"Effect": "Allow", "Action": 5}]}"#
                .parse::<PolicyDocument>()
                .unwrap_err()
                .to_string(),
            "invalid IAM policy document: Statement[1]: Action: invalid type: integer `5`, \
             expected a string or a list of strings at line 1 column 67"
        );
        assert!(
            error(json!({"Statement": "Allow"})).contains("a statement object or a list of them")
        );
        assert!(error(json!({"Statement": null})).contains("a statement object or a list of them"));
        assert_eq!(
            error(Value::Null),
            "invalid IAM policy document: document is null"
        );
        assert!(error(json!([administrator_access()])).contains("expected a JSON object"));
        assert!(error(json!(42)).contains("expected a JSON object"));
        assert!(error(json!("")).contains("EOF"));
        assert!(error(json!("{\"Statement\": [")).contains("EOF"));
        assert!(error(json!("not a policy")).contains("expected"));
    }

    #[test]
    fn iam_error_is_a_std_error() {
        let e: Box<dyn std::error::Error> = Box::new(parse_policy(&Value::Null).unwrap_err());
        assert!(e.to_string().contains("null"));
    }

    #[test]
    fn parses_json_strings() {
        let text = administrator_access().to_string();
        assert_eq!(doc(json!(text)), doc(administrator_access()));
        assert_eq!(
            text.parse::<PolicyDocument>().unwrap(),
            doc(administrator_access())
        );
        let pretty = serde_json::to_string_pretty(&read_only_access()).unwrap();
        assert_eq!(
            PolicyDocument::from_str(&pretty).unwrap(),
            doc(read_only_access())
        );
        // A '%' inside a plain JSON document is data, not an escape.
        let with_percent = r#"{"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/100%25"}}"#;
        let d: PolicyDocument = with_percent.parse().unwrap();
        assert_eq!(
            d.statements[0].resource,
            strings(&["arn:aws:s3:::b/100%25"])
        );
        // A broken plain document reports the JSON error, not a decoding error.
        let broken = r#"{"Statement": {"Effect": "Allow", "Resource": "100%"}"#;
        assert!(
            broken
                .parse::<PolicyDocument>()
                .unwrap_err()
                .to_string()
                .contains("EOF")
        );
    }

    #[test]
    fn parses_url_encoded_strings_from_get_account_authorization_details() {
        // Pretty-printed AdministratorAccess as it appears in PolicyVersionList[].Document.
        let admin = "%7B%0A%20%20%22Version%22%3A%20%222012-10-17%22%2C%0A%20%20%22Statement%22%3A%20%5B%0A%20%20%20%20%7B%0A%20%20%20%20%20%20%22Effect%22%3A%20%22Allow%22%2C%0A%20%20%20%20%20%20%22Action%22%3A%20%22%2A%22%2C%0A%20%20%20%20%20%20%22Resource%22%3A%20%22%2A%22%0A%20%20%20%20%7D%0A%20%20%5D%0A%7D";
        assert_eq!(doc(json!(admin)), doc(administrator_access()));

        // AssumeRolePolicyDocument of a role: single statement object.
        let trust = "%7B%22Version%22%3A%20%222012-10-17%22%2C%20%22Statement%22%3A%20%7B%22Effect%22%3A%20%22Allow%22%2C%20%22Principal%22%3A%20%7B%22Service%22%3A%20%22ec2.amazonaws.com%22%7D%2C%20%22Action%22%3A%20%22sts%3AAssumeRole%22%7D%7D";
        let d = doc(json!(trust));
        assert_eq!(
            d.statements[0]
                .principal
                .as_ref()
                .unwrap()
                .values("Service"),
            ["ec2.amazonaws.com"]
        );

        // '+' is a literal plus, %20 is the space; %2A lowercase-hex variants decode too.
        let inline = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Sid%22%3A%22ReadLogs%22%2C%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%5B%22logs%3AGet%2a%22%2C%22logs%3ADescribe%2A%22%5D%2C%22Resource%22%3A%22arn%3Aaws%3Alogs%3Aus-east-1%3A123456789012%3Alog-group%3A%2Fapp%2Fweb+api%3A%2A%22%2C%22Condition%22%3A%7B%22StringEquals%22%3A%7B%22aws%3APrincipalTag%2Fteam%22%3A%22edge%20ops%22%7D%7D%7D%5D%7D";
        let d = doc(json!(inline));
        let s = &d.statements[0];
        assert_eq!(s.sid.as_deref(), Some("ReadLogs"));
        assert_eq!(s.action, strings(&["logs:Get*", "logs:Describe*"]));
        assert_eq!(
            s.resource,
            strings(&["arn:aws:logs:us-east-1:123456789012:log-group:/app/web+api:*"])
        );
        assert_eq!(
            s.condition.as_ref().unwrap()["StringEquals"]["aws:PrincipalTag/team"],
            "edge ops"
        );
        assert!(s.has_condition());
        assert!(d.allows(
            "logs:GetLogEvents",
            "arn:aws:logs:us-east-1:123456789012:log-group:/app/web+api:log-stream:x"
        ));
    }

    #[test]
    fn url_encoded_errors() {
        assert_eq!(
            error(json!("%7B%22Statement%22%3A%zz")),
            "invalid IAM policy document: invalid percent-encoding at byte 21 of URL-encoded document"
        );
        assert!(error(json!("%7B%22Statement%22%3A%2")).contains("invalid percent-encoding"));
        assert_eq!(
            error(json!("%7B%FF%7D")),
            "invalid IAM policy document: URL-encoded document does not decode to UTF-8"
        );
        assert_eq!(
            error(json!("%7B%22Version%22%3A%222012-10-17%22%7D")),
            "invalid IAM policy document: URL-decoded document: missing field `Statement` at line 1 column 24"
        );
        // Valid JSON with the wrong structure is never URL-decoded.
        assert!(!error(json!("[\"%41\"]")).contains("URL"));
    }

    #[test]
    fn percent_decode_directly() {
        assert_eq!(percent_decode("a%20b+c%2B%2b").unwrap(), "a b+c++");
        assert_eq!(percent_decode("%E2%9C%93").unwrap(), "✓");
        assert_eq!(percent_decode("").unwrap(), "");
        assert_eq!(percent_decode("plain").unwrap(), "plain");
        assert!(percent_decode("%").is_err());
        assert!(percent_decode("%4").is_err());
        assert!(percent_decode("%G0").is_err());
    }

    #[test]
    fn wildcard_basics() {
        assert!(wildcard_match("iam:*", "iam:CreateUser"));
        assert!(!wildcard_match("iam:*", "sts:AssumeRole"));
        assert!(wildcard_match("s3:Get*", "s3:GetObject"));
        assert!(wildcard_match("s3:Get*", "s3:Get"));
        assert!(!wildcard_match("s3:Get*", "s3:PutObject"));
        assert!(!wildcard_match("s3:Get*", "s3:Ge"));
        assert!(wildcard_match("*", "anything:AtAll"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("**", ""));
        assert!(wildcard_match("*:*", "ec2:RunInstances"));
        assert!(!wildcard_match("*:*", "nocolon"));
        assert!(wildcard_match("", ""));
        assert!(!wildcard_match("", "x"));
        assert!(!wildcard_match("x", ""));
        assert!(wildcard_match("s3:GetObject", "s3:GetObject"));
        assert!(
            !wildcard_match("s3:GetObject", "s3:GetObjectAcl"),
            "anchored at the end"
        );
        assert!(
            !wildcard_match("s3:GetObject", "xs3:GetObject"),
            "anchored at the start"
        );
    }

    #[test]
    fn wildcard_case_insensitive() {
        assert!(wildcard_match("IAM:createuser", "iam:CreateUser"));
        assert!(wildcard_match("s3:get*", "S3:GETOBJECT"));
        assert!(wildcard_match("EC2:Describe*", "ec2:describeinstances"));
        assert!(!wildcard_match("é", "É"), "only ASCII case folds");
    }

    #[test]
    fn wildcard_question_mark() {
        assert!(wildcard_match("s3:Get?bject", "s3:GetObject"));
        assert!(!wildcard_match("s3:Get?bject", "s3:Getbject"));
        assert!(!wildcard_match("s3:Get?bject", "s3:GetOObject"));
        assert!(wildcard_match("???", "abc"));
        assert!(!wildcard_match("???", "ab"));
        assert!(!wildcard_match("?", ""));
        assert!(wildcard_match("?", "é"), "one character, two bytes");
        assert!(!wildcard_match("??", "é"));
        assert!(wildcard_match("a?c", "a✓c"));
        assert!(wildcard_match("*?", "✓"));
        assert!(!wildcard_match("*??", "✓"));
        assert!(wildcard_match("*?x", "✓✓x"));
    }

    #[test]
    fn wildcard_resources_and_backtracking() {
        let arn = "arn:aws:s3:::example-site/images/logo.png";
        assert!(wildcard_match("arn:aws:s3:::example-site/*", arn));
        assert!(wildcard_match("arn:aws:s3:::*/*.png", arn));
        assert!(wildcard_match("arn:aws:s3:::*-site/*/logo.*", arn));
        assert!(!wildcard_match("arn:aws:s3:::*/*.jpg", arn));
        assert!(!wildcard_match("arn:aws:s3:::example-site", arn));
        assert!(wildcard_match(
            "arn:aws:iam::*:role/*",
            "arn:aws:iam::123456789012:role/admin"
        ));
        assert!(wildcard_match("*a*b*c*", "xxaxxbxxcxx"));
        assert!(!wildcard_match("*a*b*c*", "xxcxxbxxaxx"));
        assert!(wildcard_match("a*b*b", "abbbbb"));
        assert!(wildcard_match("*ab", "aaab"));
        assert!(wildcard_match("*aab", "aaaab"));
        assert!(!wildcard_match("*aab", "aaaba"));
        assert!(
            wildcard_match("${aws:username}", "${AWS:USERNAME}"),
            "variables are literal"
        );
    }

    #[test]
    fn wildcard_pathological_input_is_fast() {
        let value = "a".repeat(10_000);
        let pattern = format!("{}b", "*a".repeat(50));
        assert!(!wildcard_match(&pattern, &value));
        let pattern = format!("{}a", "*a".repeat(50));
        assert!(wildcard_match(&pattern, &value));
    }

    #[test]
    fn matches_resource_rules() {
        let d = doc(json!({"Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": ["arn:aws:s3:::logs", "arn:aws:s3:::logs/*"]},
            {"Effect": "Allow", "Action": "kms:Decrypt", "NotResource": "arn:aws:kms:*:*:key/prod-*"},
            {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::logs/*"}
        ]}));
        let [s3, kms, deny] = d.statements.as_slice() else {
            unreachable!()
        };
        assert!(s3.matches_resource("arn:aws:s3:::logs"));
        assert!(s3.matches_resource("arn:aws:s3:::logs/2024/01/01"));
        assert!(!s3.matches_resource("arn:aws:s3:::logs-archive"));
        assert!(kms.matches_resource("arn:aws:kms:us-east-1:123456789012:key/dev-1"));
        assert!(!kms.matches_resource("arn:aws:kms:us-east-1:123456789012:key/prod-1"));
        assert!(deny.matches_resource("arn:aws:s3:::logs/x"));
        assert!(
            d.allows("s3:DeleteObject", "arn:aws:s3:::logs/x"),
            "naive: the Deny is ignored"
        );
        assert!(!d.allows(
            "kms:Decrypt",
            "arn:aws:kms:us-east-1:123456789012:key/prod-1"
        ));
        assert!(!d.allows(
            "kms:Encrypt",
            "arn:aws:kms:us-east-1:123456789012:key/dev-1"
        ));
    }

    #[test]
    fn all_actions_helpers() {
        assert!(covers_all_actions("*"));
        assert!(covers_all_actions("*:*"));
        assert!(covers_all_actions("**:*"));
        assert!(!covers_all_actions("*:"));
        assert!(!covers_all_actions(":*"));
        assert!(!covers_all_actions("s3:*"));
        assert!(!covers_all_actions("*:Get*"));
        assert!(!covers_all_actions(""));
        assert!(is_all_stars("*"));
        assert!(!is_all_stars("arn:*"));
        assert!(!is_all_stars(""));
    }

    #[test]
    fn deserializes_via_serde_directly() {
        let d: PolicyDocument = serde_json::from_value(administrator_access()).unwrap();
        assert!(d.admin_statement().is_some());
        let s: Statement = serde_json::from_str(r#"{"Effect":"Deny","Action":"*"}"#).unwrap();
        assert_eq!(s.effect, Effect::Deny);
    }
}
