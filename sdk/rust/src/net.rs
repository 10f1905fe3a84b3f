//! Network helpers: CIDR blocks, port ranges, IP protocols, borrowed views of EC2
//! security-group rules (`IpPermission`, AWS API shape in PascalCase), and network ACLs
//! (`NetworkAclEntry`) with their first-match evaluation order.
//!
//! Views borrow from the input `serde_json::Value`; nothing here allocates on the success
//! path. Policy decisions (which ports are "sensitive", what counts as a finding) do not belong
//! here; they live in the policy packs.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

use crate::json::get_str;

/// An error from parsing a network value: a CIDR block, an IP protocol, an `IpPermission`, or a
/// network ACL entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetError {
    /// The string is not a CIDR block (or bare IP address).
    InvalidCidr {
        /// The offending input.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The string is not an EC2 `IpProtocol` value.
    InvalidProtocol {
        /// The offending input.
        input: String,
    },
    /// An `IpPermission` (or list of them) does not have the AWS API shape.
    InvalidPermission {
        /// The field at fault (`IpPermissions` for the list itself).
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A `NetworkAclEntry` (or list of them) does not have the AWS API shape.
    InvalidAclEntry {
        /// The entry's `RuleNumber`, when it has one.
        rule_number: Option<i64>,
        /// The field at fault (`Entries` for the list itself).
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetError::InvalidCidr { input, reason } => {
                write!(f, "invalid CIDR block {input:?}: {reason}")
            }
            NetError::InvalidProtocol { input } => write!(
                f,
                "invalid IP protocol {input:?}: expected -1, tcp, udp, icmp, icmpv6 or a number 0-255"
            ),
            NetError::InvalidPermission { field, reason } => {
                write!(f, "invalid IpPermission: {field} {reason}")
            }
            NetError::InvalidAclEntry {
                field: "Entries",
                reason,
                ..
            } => write!(f, "invalid network ACL Entries: {reason}"),
            NetError::InvalidAclEntry {
                rule_number: Some(n),
                field,
                reason,
            } => write!(f, "invalid network ACL entry {n}: {field} {reason}"),
            NetError::InvalidAclEntry {
                rule_number: None,
                field,
                reason,
            } => write!(f, "invalid network ACL entry: {field} {reason}"),
        }
    }
}

impl std::error::Error for NetError {}

/// An IPv4 or IPv6 CIDR block.
///
/// The address is kept as written (host bits are not cleared) so that [`Display`](fmt::Display)
/// round-trips; [`Cidr::contains`] masks host bits itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cidr {
    /// An IPv4 block.
    V4 {
        /// The address as an integer, most significant octet first (`10.0.0.1` is
        /// `0x0a00_0001`, as `u32::from(Ipv4Addr)` gives).
        addr: u32,
        /// Prefix length, 0-32.
        prefix: u8,
    },
    /// An IPv6 block.
    V6 {
        /// The address as an integer, most significant segment first (`::1` is `1`, as
        /// `u128::from(Ipv6Addr)` gives).
        addr: u128,
        /// Prefix length, 0-128.
        prefix: u8,
    },
}

impl Cidr {
    /// Parses `a.b.c.d/n` or an IPv6 `addr/n`; a bare address means a single host (`/32` or
    /// `/128`).
    ///
    /// The prefix must be decimal digits within range for the family (0-32, 0-128).
    /// Surrounding whitespace is not accepted.
    ///
    /// ```
    /// use palisade_sdk::net::Cidr;
    /// assert!(Cidr::parse("0.0.0.0/0").unwrap().is_world());
    /// assert!(Cidr::parse("10.0.0.0/8").unwrap().contains(&Cidr::parse("10.1.2.3").unwrap()));
    /// assert!(Cidr::parse("10.0.0.0/33").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Cidr, NetError> {
        let invalid = |reason| NetError::InvalidCidr {
            input: s.to_owned(),
            reason,
        };
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let prefix = match prefix {
            None => None,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => Some(
                p.parse::<u8>()
                    .map_err(|_| invalid("prefix length is out of range"))?,
            ),
            Some(_) => return Err(invalid("prefix length must be a decimal number")),
        };
        if addr.contains(':') {
            let addr: Ipv6Addr = addr
                .parse()
                .map_err(|_| invalid("not a valid IPv6 address"))?;
            let prefix = prefix.unwrap_or(128);
            if prefix > 128 {
                return Err(invalid("IPv6 prefix length must be 0-128"));
            }
            Ok(Cidr::V6 {
                addr: u128::from(addr),
                prefix,
            })
        } else {
            let addr: Ipv4Addr = addr
                .parse()
                .map_err(|_| invalid("not a valid IPv4 address"))?;
            let prefix = prefix.unwrap_or(32);
            if prefix > 32 {
                return Err(invalid("IPv4 prefix length must be 0-32"));
            }
            Ok(Cidr::V4 {
                addr: u32::from(addr),
                prefix,
            })
        }
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        match *self {
            Cidr::V4 { prefix, .. } | Cidr::V6 { prefix, .. } => prefix,
        }
    }

    /// Returns true for a block that covers every address of its family (prefix length 0,
    /// e.g. `0.0.0.0/0` or `::/0`).
    pub fn is_world(&self) -> bool {
        self.prefix() == 0
    }

    /// Returns true if every address in `other` is also in `self`.
    ///
    /// Blocks of different families never contain each other (IPv4-mapped IPv6 addresses are
    /// not special-cased).
    pub fn contains(&self, other: &Cidr) -> bool {
        match (*self, *other) {
            (Cidr::V4 { addr, prefix }, Cidr::V4 { addr: a, prefix: p }) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                prefix <= p && addr & mask == a & mask
            }
            (Cidr::V6 { addr, prefix }, Cidr::V6 { addr: a, prefix: p }) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                prefix <= p && addr & mask == a & mask
            }
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    /// Writes `addr/prefix`, always with the prefix (IPv6 in compressed form).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Cidr::V4 { addr, prefix } => write!(f, "{}/{prefix}", Ipv4Addr::from(addr)),
            Cidr::V6 { addr, prefix } => write!(f, "{}/{prefix}", Ipv6Addr::from(addr)),
        }
    }
}

/// Returns true if `s` parses as a CIDR block open to the whole internet (`0.0.0.0/0`,
/// `::/0`, or any address with prefix length 0); false otherwise, including when `s` does not
/// parse.
pub fn is_world_cidr(s: &str) -> bool {
    Cidr::parse(s).is_ok_and(|cidr| cidr.is_world())
}

/// An inclusive range of TCP/UDP ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    /// First port in the range.
    pub from: u16,
    /// Last port in the range (inclusive).
    pub to: u16,
}

impl PortRange {
    /// Every port, `0-65535`.
    pub const ALL: PortRange = PortRange {
        from: 0,
        to: u16::MAX,
    };

    /// Returns true if `port` is within the range (both ends inclusive).
    pub fn contains(&self, port: u16) -> bool {
        self.from <= port && port <= self.to
    }

    /// Returns true if this is [`PortRange::ALL`].
    pub fn is_all(&self) -> bool {
        *self == Self::ALL
    }
}

impl fmt::Display for PortRange {
    /// Writes `22` for a single port and `20-25` for a range. The full range is written
    /// `0-65535`, or `all` with the alternate flag (`{:#}`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() && self.is_all() {
            f.write_str("all")
        } else if self.from == self.to {
            write!(f, "{}", self.from)
        } else {
            write!(f, "{}-{}", self.from, self.to)
        }
    }
}

/// An IP protocol as found in EC2 `IpProtocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// All protocols (`-1`).
    All,
    /// TCP (`tcp`, `6`).
    Tcp,
    /// UDP (`udp`, `17`).
    Udp,
    /// ICMP (`icmp`, `1`).
    Icmp,
    /// ICMPv6 (`icmpv6`, `58`).
    Icmpv6,
    /// Any other IP protocol number (for example `50` for ESP).
    Other(u8),
}

impl Protocol {
    /// Parses an EC2 `IpProtocol` value: `-1`, `tcp`, `udp`, `icmp`, `icmpv6` (any case), or
    /// a protocol number 0-255 (`6`, `17`, `1` and `58` map to the named variants).
    pub fn parse(s: &str) -> Result<Protocol, NetError> {
        let named = [
            ("-1", Protocol::All),
            ("tcp", Protocol::Tcp),
            ("udp", Protocol::Udp),
            ("icmp", Protocol::Icmp),
            ("icmpv6", Protocol::Icmpv6),
        ];
        if let Some((_, protocol)) = named.iter().find(|(n, _)| n.eq_ignore_ascii_case(s)) {
            return Ok(*protocol);
        }
        if !s.is_empty()
            && s.bytes().all(|b| b.is_ascii_digit())
            && let Ok(number) = s.parse::<u8>()
        {
            return Ok(Protocol::from_number(number));
        }
        Err(NetError::InvalidProtocol {
            input: s.to_owned(),
        })
    }

    /// Maps an IP protocol number to a protocol (`6` is [`Protocol::Tcp`], and so on).
    pub fn from_number(number: u8) -> Protocol {
        match number {
            1 => Protocol::Icmp,
            6 => Protocol::Tcp,
            17 => Protocol::Udp,
            58 => Protocol::Icmpv6,
            n => Protocol::Other(n),
        }
    }

    /// The IP protocol number, or `None` for [`Protocol::All`].
    pub fn number(&self) -> Option<u8> {
        match *self {
            Protocol::All => None,
            Protocol::Icmp => Some(1),
            Protocol::Tcp => Some(6),
            Protocol::Udp => Some(17),
            Protocol::Icmpv6 => Some(58),
            Protocol::Other(n) => Some(n),
        }
    }

    /// Returns true for protocols whose rules carry port ranges (TCP and UDP).
    pub fn has_ports(&self) -> bool {
        matches!(self.number(), Some(6 | 17))
    }

    fn is_icmp(&self) -> bool {
        matches!(self.number(), Some(1 | 58))
    }
}

impl fmt::Display for Protocol {
    /// Writes `all`, `tcp`, `udp`, `icmp`, `icmpv6`, or the protocol number.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.number() {
            None => f.write_str("all"),
            Some(6) => f.write_str("tcp"),
            Some(17) => f.write_str("udp"),
            Some(1) => f.write_str("icmp"),
            Some(58) => f.write_str("icmpv6"),
            Some(n) => write!(f, "{n}"),
        }
    }
}

/// A borrowed view of one EC2 `IpPermission` (a security-group rule, AWS API shape):
///
/// ```json
/// {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
///  "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
///  "PrefixListIds": [{"PrefixListId": "pl-63a5400a"}],
///  "UserIdGroupPairs": [{"GroupId": "sg-0123456789abcdef0"}]}
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpPermission<'a> {
    protocol: Protocol,
    from_port: Option<i64>,
    to_port: Option<i64>,
    ipv4: Vec<Cow<'a, str>>,
    ipv6: Vec<Cow<'a, str>>,
    prefix_lists: Vec<Cow<'a, str>>,
    /// `GroupId` of each `UserIdGroupPairs` entry (`None` when a pair names only a group name).
    group_pairs: Vec<Option<Cow<'a, str>>>,
}

/// Shared empty slice for absent lists.
const NO_VALUES: &[Value] = &[];

fn check_port(field: &'static str, port: Option<i64>) -> Result<Option<i64>, NetError> {
    match port {
        Some(p) if !(-1..=65535).contains(&p) => Err(NetError::InvalidPermission {
            field,
            reason: format!("must be an integer -1..65535, got {p}"),
        }),
        other => Ok(other),
    }
}

impl<'a> IpPermission<'a> {
    /// Validates and reads one `IpPermission` object.
    ///
    /// Errors when `value` is not an object, `IpProtocol` is missing or not a valid protocol,
    /// `FromPort`/`ToPort` are present but not integers in `-1..=65535`, or `IpRanges`,
    /// `Ipv6Ranges`, `PrefixListIds` or `UserIdGroupPairs` are present but not arrays. `null`
    /// counts as absent. Unknown fields are ignored.
    pub fn from_value(value: &'a Value) -> Result<Self, NetError> {
        let invalid = |field, reason: String| NetError::InvalidPermission { field, reason };
        if !value.is_object() {
            return Err(invalid(
                "IpPermission",
                format!("must be a JSON object, got {}", kind(value)),
            ));
        }
        let protocol = match value.get("IpProtocol") {
            None | Some(Value::Null) => {
                return Err(invalid("IpProtocol", "is missing".to_owned()));
            }
            Some(Value::String(s)) => Protocol::parse(s)
                .map_err(|_| invalid("IpProtocol", format!("{s:?} is not a known protocol")))?,
            Some(Value::Number(n)) => n
                .as_u64()
                .and_then(|n| u8::try_from(n).ok())
                .map(Protocol::from_number)
                .ok_or_else(|| invalid("IpProtocol", format!("{n} is not a known protocol")))?,
            Some(other) => {
                return Err(invalid(
                    "IpProtocol",
                    format!("must be a string, got {}", kind(other)),
                ));
            }
        };
        let port = |field: &'static str| match value.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match v.as_i64() {
                Some(p) => check_port(field, Some(p)),
                None => Err(invalid(
                    field,
                    format!("must be an integer -1..65535, got {v}"),
                )),
            },
        };
        let from_port = port("FromPort")?;
        let to_port = port("ToPort")?;
        let list = |field: &'static str| match value.get(field) {
            None | Some(Value::Null) => Ok(NO_VALUES),
            Some(Value::Array(items)) => Ok(items.as_slice()),
            Some(other) => Err(invalid(
                field,
                format!("must be an array, got {}", kind(other)),
            )),
        };
        let strings =
            |field: &'static str, key: &'static str| -> Result<Vec<Cow<'a, str>>, NetError> {
                Ok(list(field)?
                    .iter()
                    .filter_map(|item| get_str(item, &[key]).map(Cow::Borrowed))
                    .collect())
            };
        Ok(IpPermission {
            protocol,
            from_port,
            to_port,
            ipv4: strings("IpRanges", "CidrIp")?,
            ipv6: strings("Ipv6Ranges", "CidrIpv6")?,
            prefix_lists: strings("PrefixListIds", "PrefixListId")?,
            group_pairs: list("UserIdGroupPairs")?
                .iter()
                .map(|pair| get_str(pair, &["GroupId"]).map(Cow::Borrowed))
                .collect(),
        })
    }

    /// The rule's protocol (`IpProtocol`).
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The ports the rule opens.
    ///
    /// - ICMP / ICMPv6: `None` (`FromPort`/`ToPort` hold the ICMP type and code, not ports).
    /// - All protocols (`-1`), or any protocol other than TCP/UDP: [`PortRange::ALL`] (AWS
    ///   opens every port for those regardless of the ports given).
    /// - TCP/UDP: `FromPort..=ToPort`. If either is missing or `-1`, [`PortRange::ALL`]
    ///   (conservative). A reversed range is normalised.
    pub fn port_range(&self) -> Option<PortRange> {
        if self.protocol.is_icmp() {
            return None;
        }
        if !self.protocol.has_ports() {
            return Some(PortRange::ALL);
        }
        let port = |p: Option<i64>| p.and_then(|p| u16::try_from(p).ok());
        match (port(self.from_port), port(self.to_port)) {
            (Some(a), Some(b)) => Some(PortRange {
                from: a.min(b),
                to: a.max(b),
            }),
            _ => Some(PortRange::ALL),
        }
    }

    /// Returns true if the rule lets traffic of `protocol` reach `port`.
    ///
    /// A rule for all protocols (`-1`) covers every query. Otherwise the protocols must be
    /// the same (a query for [`Protocol::All`] is only covered by an all-protocols rule) and the
    /// port must be in [`port_range`](Self::port_range); ICMP rules cover no port.
    pub fn covers_port(&self, protocol: Protocol, port: u16) -> bool {
        if self.protocol == Protocol::All {
            return true;
        }
        if protocol == Protocol::All || protocol.number() != self.protocol.number() {
            return false;
        }
        self.port_range().is_some_and(|range| range.contains(port))
    }

    /// The IPv4 (`IpRanges[].CidrIp`) then IPv6 (`Ipv6Ranges[].CidrIpv6`) source/destination
    /// blocks, as written. Entries without a string CIDR are skipped.
    pub fn cidrs(&self) -> impl Iterator<Item = &str> {
        self.ipv4.iter().chain(&self.ipv6).map(|c| c.as_ref())
    }

    /// The blocks from [`cidrs`](Self::cidrs) that are open to the whole internet
    /// (see [`is_world_cidr`]).
    pub fn world_cidrs(&self) -> impl Iterator<Item = &str> {
        self.cidrs().filter(|cidr| is_world_cidr(cidr))
    }

    /// The managed prefix lists referenced (`PrefixListIds[].PrefixListId`).
    pub fn prefix_list_ids(&self) -> impl Iterator<Item = &str> {
        self.prefix_lists.iter().map(|p| p.as_ref())
    }

    /// The security groups referenced (`UserIdGroupPairs[].GroupId`).
    pub fn security_group_ids(&self) -> impl Iterator<Item = &str> {
        self.group_pairs.iter().flatten().map(|g| g.as_ref())
    }

    /// Each `UserIdGroupPairs` entry's `GroupId`; `None` for a pair that names only a
    /// `GroupName`.
    pub fn security_group_pairs(&self) -> impl Iterator<Item = Option<&str>> {
        self.group_pairs.iter().map(|g| g.as_deref())
    }

    /// Returns true if the rule references other security groups (`UserIdGroupPairs` is
    /// non-empty, whether the pairs name a `GroupId` or only a `GroupName`).
    pub fn references_security_groups(&self) -> bool {
        !self.group_pairs.is_empty()
    }
}

/// A short name for a JSON value's type, for error messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Iterates over a JSON array of `IpPermission`s (such as a security group's
/// `IpPermissions` or `IpPermissionsEgress`), validating each.
///
/// `null` yields nothing; a value that is neither `null` nor an array yields one error.
///
/// ```
/// use palisade_sdk::net::{ip_permissions, Protocol};
/// let sg = serde_json::json!({"IpPermissions": [
///     {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
/// ]});
/// let ssh_open = ip_permissions(&sg["IpPermissions"]).flatten().any(|p| {
///     p.covers_port(Protocol::Tcp, 22) && p.world_cidrs().next().is_some()
/// });
/// assert!(ssh_open);
/// ```
pub fn ip_permissions<'a>(
    v: &'a Value,
) -> impl Iterator<Item = Result<IpPermission<'a>, NetError>> + use<'a> {
    let (items, error) = match v {
        Value::Array(items) => (items.as_slice(), None),
        Value::Null => (NO_VALUES, None),
        other => (
            NO_VALUES,
            Some(NetError::InvalidPermission {
                field: "IpPermissions",
                reason: format!("must be an array, got {}", kind(other)),
            }),
        ),
    };
    error
        .into_iter()
        .map(Err)
        .chain(items.iter().map(IpPermission::from_value))
}

/// The JSON shape of an `IpPermission`, read straight from text without building a
/// [`Value`] tree (the fast path for rules; [`IpPermission::from_value`] is the same check).
/// The lists are read straight into the id lists [`IpPermission`] keeps.
#[derive(Deserialize)]
struct RawPermission<'a> {
    #[serde(rename = "IpProtocol", borrow)]
    protocol: Option<RawProtocol<'a>>,
    #[serde(rename = "FromPort")]
    from_port: Option<i64>,
    #[serde(rename = "ToPort")]
    to_port: Option<i64>,
    #[serde(rename = "IpRanges", borrow)]
    ipv4: Option<Ids<'a>>,
    #[serde(rename = "Ipv6Ranges", borrow)]
    ipv6: Option<Ids<'a>>,
    #[serde(rename = "PrefixListIds", borrow)]
    prefix_lists: Option<Ids<'a>>,
    #[serde(rename = "UserIdGroupPairs", borrow)]
    group_pairs: Option<Pairs<'a>>,
}

/// One entry of a list: whichever of the id fields it carries.
#[derive(Deserialize)]
struct RawEntry<'a> {
    #[serde(
        rename = "CidrIp",
        alias = "CidrIpv6",
        alias = "PrefixListId",
        alias = "GroupId",
        borrow,
        default,
        deserialize_with = "optional_borrowed_str"
    )]
    id: Option<Cow<'a, str>>,
}

/// `Option<Cow<str>>` borrowed from the input unless the string has escape sequences
/// (`#[serde(borrow)]` does not reach through `Option`: serde would copy every id). Accepts and
/// rejects what `Option<String>` does, with the same errors.
fn optional_borrowed_str<'de: 'a, 'a, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Cow<'a, str>>, D::Error> {
    struct OptionVisitor;
    impl<'de> serde::de::Visitor<'de> for OptionVisitor {
        type Value = Option<Cow<'de, str>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("option")
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_str(StrVisitor).map(Some)
        }
    }
    struct StrVisitor;
    impl<'de> serde::de::Visitor<'de> for StrVisitor {
        type Value = Cow<'de, str>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_borrowed_str<E: serde::de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
            Ok(Cow::Borrowed(s))
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
            Ok(Cow::Owned(s.to_owned()))
        }
        fn visit_string<E: serde::de::Error>(self, s: String) -> Result<Self::Value, E> {
            Ok(Cow::Owned(s))
        }
        fn visit_bytes<E: serde::de::Error>(self, b: &[u8]) -> Result<Self::Value, E> {
            match std::str::from_utf8(b) {
                Ok(s) => Ok(Cow::Owned(s.to_owned())),
                Err(_) => Err(E::invalid_value(serde::de::Unexpected::Bytes(b), &self)),
            }
        }
    }
    d.deserialize_option(OptionVisitor)
}

/// A list of entries (`IpRanges`, `Ipv6Ranges`, `PrefixListIds`) as the ids of the entries that
/// have one.
struct Ids<'a>(Vec<Cow<'a, str>>);

/// `UserIdGroupPairs`: every entry, with its `GroupId` if it has one.
struct Pairs<'a>(Vec<Option<Cow<'a, str>>>);

impl<'de: 'a, 'a> Deserialize<'de> for Ids<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut ids = Vec::new();
        d.deserialize_seq(EntriesVisitor(|id| ids.extend(id)))?;
        Ok(Ids(ids))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Pairs<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut pairs = Vec::new();
        d.deserialize_seq(EntriesVisitor(|id| pairs.push(id)))?;
        Ok(Pairs(pairs))
    }
}

/// Reads a JSON array of [`RawEntry`]s (exactly as `Vec<RawEntry>` would) and hands each
/// entry's id to the closure instead of collecting the entries.
struct EntriesVisitor<F>(F);

impl<'de, F: FnMut(Option<Cow<'de, str>>)> serde::de::Visitor<'de> for EntriesVisitor<F> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        while let Some(entry) = seq.next_element::<RawEntry<'de>>()? {
            (self.0)(entry.id);
        }
        Ok(())
    }
}

/// `IpProtocol` as a string (`"tcp"`, `"-1"`, `"6"`) or a bare number.
enum RawProtocol<'a> {
    Text(Cow<'a, str>),
    Number(u64),
}

impl<'de: 'a, 'a> Deserialize<'de> for RawProtocol<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = RawProtocol<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a protocol name or number")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(RawProtocol::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RawProtocol::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(RawProtocol::Number(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Err(E::custom(format!("{v} is not a known protocol")))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl<'a> RawPermission<'a> {
    fn into_permission(self) -> Result<IpPermission<'a>, NetError> {
        let invalid = |field, reason: String| NetError::InvalidPermission { field, reason };
        let protocol = match self.protocol {
            None => return Err(invalid("IpProtocol", "is missing".to_owned())),
            Some(RawProtocol::Text(s)) => Protocol::parse(&s)
                .map_err(|_| invalid("IpProtocol", format!("{s:?} is not a known protocol")))?,
            Some(RawProtocol::Number(n)) => u8::try_from(n)
                .map(Protocol::from_number)
                .map_err(|_| invalid("IpProtocol", format!("{n} is not a known protocol")))?,
        };
        let ids = |list: Option<Ids<'a>>| list.map_or_else(Vec::new, |Ids(ids)| ids);
        Ok(IpPermission {
            protocol,
            from_port: check_port("FromPort", self.from_port)?,
            to_port: check_port("ToPort", self.to_port)?,
            ipv4: ids(self.ipv4),
            ipv6: ids(self.ipv6),
            prefix_lists: ids(self.prefix_lists),
            group_pairs: self.group_pairs.map_or_else(Vec::new, |Pairs(pairs)| pairs),
        })
    }
}

/// A JSON array of `IpPermission`s (`null`: none), each validated as soon as it is read.
///
/// The first invalid permission is kept aside rather than returned at once, so that the JSON
/// error of a malformed document still wins over it wherever it is, and of several invalid
/// permissions the first is reported, as when the whole list was read before validating.
struct PermissionList<'a> {
    permissions: Vec<IpPermission<'a>>,
    invalid: Option<NetError>,
}

impl PermissionList<'_> {
    const EMPTY: Self = PermissionList {
        permissions: Vec::new(),
        invalid: None,
    };
}

/// Read as `Option<Vec<_>>` would be: `null` is an empty list.
impl<'de: 'a, 'a> Deserialize<'de> for PermissionList<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct OptionVisitor;
        impl<'de> serde::de::Visitor<'de> for OptionVisitor {
            type Value = PermissionList<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("option")
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(PermissionList::EMPTY)
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(PermissionList::EMPTY)
            }
            fn visit_some<D: serde::Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<Self::Value, D::Error> {
                d.deserialize_seq(ListVisitor)
            }
        }
        struct ListVisitor;
        impl<'de> serde::de::Visitor<'de> for ListVisitor {
            type Value = PermissionList<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sequence")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let mut list = PermissionList::EMPTY;
                while let Some(raw) = seq.next_element::<RawPermission<'de>>()? {
                    if list.invalid.is_none() {
                        match raw.into_permission() {
                            Ok(permission) => list.permissions.push(permission),
                            Err(e) => list.invalid = Some(e),
                        }
                    }
                }
                Ok(list)
            }
        }
        d.deserialize_option(OptionVisitor)
    }
}

/// Parses a JSON array of `IpPermission`s from text (e.g. a security group's
/// `IpPermissions` field as [`Resource::raw_field`](crate::Resource::raw_field) returns it),
/// without building a [`Value`] tree. `null` is an empty list.
///
/// Each permission's lists are read straight into the [`IpPermission`] (ids borrowed from
/// `text` unless they have escape sequences): one allocation per non-empty list.
pub fn parse_ip_permissions(text: &str) -> Result<Vec<IpPermission<'_>>, NetError> {
    let list: PermissionList<'_> =
        serde_json::from_str(text).map_err(|e| NetError::InvalidPermission {
            field: "IpPermissions",
            reason: e.to_string(),
        })?;
    match list.invalid {
        Some(e) => Err(e),
        None => Ok(list.permissions),
    }
}

// ---------------------------------------------------------------------------------------------
// Network ACLs

/// The traffic a network ACL entry applies to (`Egress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Traffic entering the subnet (`Egress: false`); the entry's block is the source.
    Ingress,
    /// Traffic leaving the subnet (`Egress: true`); the entry's block is the destination.
    Egress,
}

/// What a network ACL entry does with the traffic it matches (`RuleAction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleAction {
    /// `allow`.
    Allow,
    /// `deny`.
    Deny,
}

/// A borrowed view of one EC2 `NetworkAclEntry` (AWS API shape):
///
/// ```json
/// {"RuleNumber": 100, "Protocol": "6", "RuleAction": "allow", "Egress": false,
///  "CidrBlock": "0.0.0.0/0", "PortRange": {"From": 22, "To": 22}}
/// ```
///
/// `Protocol` is `-1` (all) or a protocol number; `PortRange` applies to TCP (`6`) and UDP
/// (`17`), `IcmpTypeCode` (`Type`, `Code`, `-1` for all) to ICMP (`1`) and ICMPv6 (`58`);
/// other protocols match every packet of the protocol. An entry has `CidrBlock` or
/// `Ipv6CidrBlock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkAclEntry<'a> {
    rule_number: u32,
    protocol: Protocol,
    action: RuleAction,
    direction: Direction,
    cidr: Cidr,
    cidr_text: Cow<'a, str>,
    /// `PortRange`, when it has both ends in `0..=65535`.
    ports: Option<PortRange>,
    /// `IcmpTypeCode` as `(Type, Code)`, when it has both.
    icmp: Option<(i16, i16)>,
}

impl NetworkAclEntry<'_> {
    /// `RuleNumber`: entries are evaluated in ascending order and the first that matches a
    /// packet decides it. `32767` (and `32768` for IPv6) is the default `*` deny.
    pub fn rule_number(&self) -> u32 {
        self.rule_number
    }

    /// `Protocol`.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// `RuleAction`.
    pub fn action(&self) -> RuleAction {
        self.action
    }

    /// Returns true for an `allow` entry.
    pub fn is_allow(&self) -> bool {
        self.action == RuleAction::Allow
    }

    /// `Egress` as a direction.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// The entry's block (`CidrBlock` or `Ipv6CidrBlock`): the source of ingress traffic, the
    /// destination of egress traffic.
    pub fn cidr(&self) -> Cidr {
        self.cidr
    }

    /// The block as written.
    pub fn cidr_text(&self) -> &str {
        &self.cidr_text
    }

    /// The ports the entry matches, as [`IpPermission::port_range`] gives them: `None` for
    /// ICMP / ICMPv6 (see [`icmp_type_code`](Self::icmp_type_code)), [`PortRange::ALL`] for all
    /// protocols and for protocols without ports, `PortRange` for TCP and UDP (`None` when the
    /// entry has none, which AWS does not allow).
    pub fn port_range(&self) -> Option<PortRange> {
        if self.protocol.is_icmp() {
            None
        } else if self.protocol.has_ports() {
            self.ports
        } else {
            Some(PortRange::ALL)
        }
    }

    /// `IcmpTypeCode` as `(Type, Code)` (`-1`: all) for ICMP and ICMPv6 entries that have one.
    pub fn icmp_type_code(&self) -> Option<(i16, i16)> {
        if self.protocol.is_icmp() {
            self.icmp
        } else {
            None
        }
    }

    /// The entry's span on the second match dimension: ports for TCP and UDP, `type * 256 +
    /// code` for ICMP, everything for the rest. `None` when the entry lacks the field that
    /// says (its coverage is unknown).
    fn selectors(&self) -> Option<PortRange> {
        if self.protocol.is_icmp() {
            let (kind, code) = self.icmp?;
            if kind < 0 {
                return Some(PortRange::ALL);
            }
            let base = (kind as u16) << 8;
            return Some(if code < 0 {
                PortRange {
                    from: base,
                    to: base | 0xff,
                }
            } else {
                PortRange {
                    from: base | code as u16,
                    to: base | code as u16,
                }
            });
        }
        self.port_range()
    }
}

/// A kind of traffic to ask a [`NetworkAcl`] about: a protocol and, for TCP and UDP, ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Traffic {
    protocol: Protocol,
    selectors: PortRange,
}

impl Traffic {
    /// Every packet of every protocol.
    pub const ALL: Traffic = Traffic {
        protocol: Protocol::All,
        selectors: PortRange::ALL,
    };

    /// TCP to the ports of `ports`.
    pub const fn tcp(ports: PortRange) -> Traffic {
        Traffic {
            protocol: Protocol::Tcp,
            selectors: ports,
        }
    }

    /// UDP to the ports of `ports`.
    pub const fn udp(ports: PortRange) -> Traffic {
        Traffic {
            protocol: Protocol::Udp,
            selectors: ports,
        }
    }

    /// Every packet of `protocol` ([`Protocol::All`]: of every protocol).
    pub const fn protocol(protocol: Protocol) -> Traffic {
        Traffic {
            protocol,
            selectors: PortRange::ALL,
        }
    }

    /// The protocol asked about ([`Protocol::All`]: every protocol).
    pub fn protocol_of(&self) -> Protocol {
        self.protocol
    }

    /// The ports asked about ([`PortRange::ALL`] unless built by [`tcp`](Self::tcp) or
    /// [`udp`](Self::udp)).
    pub fn ports(&self) -> PortRange {
        self.selectors
    }
}

/// A network ACL's entries (`Entries`), in evaluation order: ingress and egress each sorted by
/// `RuleNumber`.
///
/// AWS evaluates a packet against the entries of its direction in ascending rule number and
/// the first entry that matches decides; a packet no entry matches is denied. So an `allow`
/// entry only lets through the packets that no lower-numbered entry matched:
/// [`effective_allows`](Self::effective_allows) answers with that in mind.
///
/// ```
/// use palisade_sdk::net::{Direction, NetworkAcl, PortRange, Traffic};
/// let entries = r#"[
///   {"RuleNumber": 90, "Protocol": "6", "RuleAction": "deny", "Egress": false,
///    "CidrBlock": "0.0.0.0/0", "PortRange": {"From": 22, "To": 22}},
///   {"RuleNumber": 100, "Protocol": "-1", "RuleAction": "allow", "Egress": false,
///    "CidrBlock": "0.0.0.0/0"}
/// ]"#;
/// let acl = NetworkAcl::parse(entries).unwrap();
/// let ssh = Traffic::tcp(PortRange { from: 22, to: 22 });
/// assert_eq!(acl.effective_allows(Direction::Ingress, &ssh).count(), 0, "rule 90 denies it first");
/// assert_eq!(acl.effective_allows(Direction::Ingress, &Traffic::ALL).count(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkAcl<'a> {
    ingress: Vec<NetworkAclEntry<'a>>,
    egress: Vec<NetworkAclEntry<'a>>,
}

/// The JSON shape of a `NetworkAclEntry`, read from text or from a [`Value`].
#[derive(Deserialize)]
struct RawAclEntry<'a> {
    #[serde(rename = "RuleNumber")]
    rule_number: Option<i64>,
    #[serde(rename = "Protocol", borrow)]
    protocol: Option<RawProtocol<'a>>,
    #[serde(
        rename = "RuleAction",
        borrow,
        default,
        deserialize_with = "optional_borrowed_str"
    )]
    action: Option<Cow<'a, str>>,
    #[serde(rename = "Egress")]
    egress: Option<bool>,
    #[serde(
        rename = "CidrBlock",
        borrow,
        default,
        deserialize_with = "optional_borrowed_str"
    )]
    ipv4: Option<Cow<'a, str>>,
    #[serde(
        rename = "Ipv6CidrBlock",
        borrow,
        default,
        deserialize_with = "optional_borrowed_str"
    )]
    ipv6: Option<Cow<'a, str>>,
    #[serde(rename = "PortRange")]
    ports: Option<RawPortRange>,
    #[serde(rename = "IcmpTypeCode")]
    icmp: Option<RawIcmpTypeCode>,
}

#[derive(Deserialize)]
struct RawPortRange {
    #[serde(rename = "From")]
    from: Option<i64>,
    #[serde(rename = "To")]
    to: Option<i64>,
}

#[derive(Deserialize)]
struct RawIcmpTypeCode {
    #[serde(rename = "Type")]
    kind: Option<i64>,
    #[serde(rename = "Code")]
    code: Option<i64>,
}

impl<'a> RawAclEntry<'a> {
    fn into_entry(self) -> Result<NetworkAclEntry<'a>, NetError> {
        let number = self.rule_number;
        let invalid = |field, reason: String| NetError::InvalidAclEntry {
            rule_number: number,
            field,
            reason,
        };
        let rule_number = match self.rule_number {
            None => return Err(invalid("RuleNumber", "is missing".to_owned())),
            Some(n) => u32::try_from(n)
                .map_err(|_| invalid("RuleNumber", format!("must not be negative, got {n}")))?,
        };
        let protocol = match self.protocol {
            None => return Err(invalid("Protocol", "is missing".to_owned())),
            Some(RawProtocol::Text(s)) => Protocol::parse(&s)
                .map_err(|_| invalid("Protocol", format!("{s:?} is not a known protocol")))?,
            Some(RawProtocol::Number(n)) => u8::try_from(n)
                .map(Protocol::from_number)
                .map_err(|_| invalid("Protocol", format!("{n} is not a known protocol")))?,
        };
        let action = match self.action.as_deref() {
            Some(a) if a.eq_ignore_ascii_case("allow") => RuleAction::Allow,
            Some(a) if a.eq_ignore_ascii_case("deny") => RuleAction::Deny,
            Some(a) => {
                return Err(invalid(
                    "RuleAction",
                    format!("must be allow or deny, got {a:?}"),
                ));
            }
            None => return Err(invalid("RuleAction", "is missing".to_owned())),
        };
        let direction = match self.egress {
            Some(true) => Direction::Egress,
            Some(false) => Direction::Ingress,
            None => return Err(invalid("Egress", "is missing".to_owned())),
        };
        let (field, cidr_text) = match (self.ipv4, self.ipv6) {
            (Some(v4), None) => ("CidrBlock", v4),
            (None, Some(v6)) => ("Ipv6CidrBlock", v6),
            (None, None) => {
                return Err(invalid(
                    "CidrBlock",
                    "is missing (and so is Ipv6CidrBlock)".to_owned(),
                ));
            }
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "CidrBlock",
                    "and Ipv6CidrBlock are both set".to_owned(),
                ));
            }
        };
        let cidr = Cidr::parse(&cidr_text).map_err(|e| invalid(field, e.to_string()))?;
        let ports = match self.ports {
            None => None,
            Some(RawPortRange { from, to }) => {
                let port = |field, p: Option<i64>| match p {
                    None | Some(-1) => Ok(None),
                    Some(p) => u16::try_from(p)
                        .map(Some)
                        .map_err(|_| invalid(field, format!("must be a port -1..65535, got {p}"))),
                };
                match (port("PortRange.From", from)?, port("PortRange.To", to)?) {
                    (Some(a), Some(b)) => Some(PortRange {
                        from: a.min(b),
                        to: a.max(b),
                    }),
                    _ => None,
                }
            }
        };
        let icmp = match self.icmp {
            None => None,
            Some(RawIcmpTypeCode { kind, code }) => {
                let value = |field, v: Option<i64>| match v {
                    None => Ok(None),
                    Some(v) if (-1..=255).contains(&v) => Ok(Some(v as i16)),
                    Some(v) => Err(invalid(field, format!("must be -1..255, got {v}"))),
                };
                let kind = value("IcmpTypeCode.Type", kind)?;
                let code = value("IcmpTypeCode.Code", code)?;
                // `Type: -1` matches every type, whatever the code says.
                match (kind, code) {
                    (Some(-1), _) => Some((-1, -1)),
                    (Some(kind), Some(code)) => Some((kind, code)),
                    _ => None,
                }
            }
        };
        Ok(NetworkAclEntry {
            rule_number,
            protocol,
            action,
            direction,
            cidr,
            cidr_text,
            ports,
            icmp,
        })
    }
}

impl<'a> NetworkAcl<'a> {
    /// Parses a JSON array of `NetworkAclEntry`s (a network ACL's `Entries` field as
    /// [`Resource::raw_field`](crate::Resource::raw_field) returns it). `null` is no entries.
    ///
    /// Errors when the text is not such an array or an entry lacks `RuleNumber`, `Protocol`,
    /// `RuleAction`, `Egress`, or a valid `CidrBlock` / `Ipv6CidrBlock`. A TCP or UDP entry
    /// without a usable `PortRange` (or an ICMP one without `IcmpTypeCode`) is kept with an
    /// unknown span: an `allow` is taken to match all it could, a `deny` to match nothing, so
    /// a gap in the data never hides an allowed packet.
    pub fn parse(text: &'a str) -> Result<Self, NetError> {
        let raw: Option<Vec<RawAclEntry<'a>>> =
            serde_json::from_str(text).map_err(|e| NetError::InvalidAclEntry {
                rule_number: None,
                field: "Entries",
                reason: e.to_string(),
            })?;
        Self::from_raw(raw.unwrap_or_default())
    }

    /// Like [`parse`](Self::parse), from a parsed `Entries` value.
    pub fn from_value(value: &'a Value) -> Result<Self, NetError> {
        let raw = Option::<Vec<RawAclEntry<'a>>>::deserialize(value).map_err(|e| {
            NetError::InvalidAclEntry {
                rule_number: None,
                field: "Entries",
                reason: e.to_string(),
            }
        })?;
        Self::from_raw(raw.unwrap_or_default())
    }

    fn from_raw(raw: Vec<RawAclEntry<'a>>) -> Result<Self, NetError> {
        let mut acl = NetworkAcl {
            ingress: Vec::new(),
            egress: Vec::new(),
        };
        for entry in raw {
            let entry = entry.into_entry()?;
            match entry.direction {
                Direction::Ingress => acl.ingress.push(entry),
                Direction::Egress => acl.egress.push(entry),
            }
        }
        // Stable: entries that share a number (AWS does not allow it) keep their order.
        acl.ingress.sort_by_key(|e| e.rule_number);
        acl.egress.sort_by_key(|e| e.rule_number);
        Ok(acl)
    }

    /// The entries of `direction`, in evaluation order (ascending `RuleNumber`).
    pub fn entries(&self, direction: Direction) -> &[NetworkAclEntry<'a>] {
        match direction {
            Direction::Ingress => &self.ingress,
            Direction::Egress => &self.egress,
        }
    }

    /// The `allow` entries of `direction` that decide at least one packet of `traffic`: those
    /// that match such a packet no lower-numbered entry matches, in evaluation order.
    ///
    /// An allow entry shadowed for `traffic` by earlier entries (a deny of the same ports from
    /// the same or a wider block, or several entries that together cover it) is left out; one
    /// that earlier entries only partly cover (a deny of `10.0.0.0/8` before an allow of
    /// `0.0.0.0/0`, a deny of IPv4 before an allow of `::/0`) is kept.
    pub fn effective_allows<'s>(
        &'s self,
        direction: Direction,
        traffic: &'s Traffic,
    ) -> impl Iterator<Item = &'s NetworkAclEntry<'a>> + 's {
        let entries = self.entries(direction);
        entries
            .iter()
            .enumerate()
            .filter(move |(i, entry)| entry.is_allow() && decides_some(entries, *i, traffic))
            .map(|(_, entry)| entry)
    }
}

/// A set of packets of one address family: every packet whose protocol is in `protocol`
/// ([`Protocol::All`]: any), whose ports (ICMP: type and code) are in `selectors` and whose
/// address is in `addresses` (inclusive, as integers).
#[derive(Debug, Clone, Copy)]
struct PacketBox {
    protocol: Protocol,
    selectors: PortRange,
    addresses: (u128, u128),
}

/// The common protocol of two protocol sets (`All`: any).
fn protocol_meet(a: Protocol, b: Protocol) -> Option<Protocol> {
    match (a, b) {
        (Protocol::All, p) | (p, Protocol::All) => Some(p),
        (a, b) if a.number() == b.number() => Some(a),
        _ => None,
    }
}

fn range_meet(a: PortRange, b: PortRange) -> Option<PortRange> {
    let from = a.from.max(b.from);
    let to = a.to.min(b.to);
    (from <= to).then_some(PortRange { from, to })
}

/// Whether `cidr` is IPv6, with its first and last address.
fn cidr_span(cidr: &Cidr) -> (bool, u128, u128) {
    match *cidr {
        Cidr::V4 { addr, prefix } => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            (false, u128::from(addr & mask), u128::from(addr | !mask))
        }
        Cidr::V6 { addr, prefix } => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            (true, addr & mask, addr | !mask)
        }
    }
}

impl PacketBox {
    fn meet(&self, other: &PacketBox) -> Option<PacketBox> {
        Some(PacketBox {
            protocol: protocol_meet(self.protocol, other.protocol)?,
            selectors: range_meet(self.selectors, other.selectors)?,
            addresses: (
                self.addresses.0.max(other.addresses.0),
                self.addresses.1.min(other.addresses.1),
            ),
        })
        .filter(|b| b.addresses.0 <= b.addresses.1)
    }
}

/// Whether entry `index` of `entries` (one direction, in evaluation order) matches a packet of
/// `traffic` that no earlier entry matches.
fn decides_some(entries: &[NetworkAclEntry<'_>], index: usize, traffic: &Traffic) -> bool {
    let entry = &entries[index];
    let (v6, first, last) = cidr_span(&entry.cidr);
    let whole = PacketBox {
        protocol: traffic.protocol,
        selectors: traffic.selectors,
        addresses: (0, u128::MAX),
    };
    // An entry whose span is unknown is taken to match all it could.
    let own = PacketBox {
        protocol: entry.protocol,
        selectors: entry.selectors().unwrap_or(PortRange::ALL),
        addresses: (first, last),
    };
    let Some(target) = own.meet(&whole) else {
        return false;
    };
    // The part of each earlier entry inside the target; one whose span is unknown matches
    // nothing for sure, so it covers nothing.
    let earlier: Vec<PacketBox> = entries[..index]
        .iter()
        .filter_map(|e| {
            let (e_v6, first, last) = cidr_span(&e.cidr);
            if e_v6 != v6 {
                return None;
            }
            PacketBox {
                protocol: e.protocol,
                selectors: e.selectors()?,
                addresses: (first, last),
            }
            .meet(&target)
        })
        .collect();
    if earlier.is_empty() {
        return true;
    }
    // Split the target along the protocol dimension: each protocol an earlier entry names, and
    // (when the target is every protocol) one that none names.
    let protocols: Vec<Protocol> = match target.protocol {
        Protocol::All => {
            let mut named: Vec<u8> = earlier.iter().filter_map(|b| b.protocol.number()).collect();
            named.sort_unstable();
            named.dedup();
            let unnamed = (0..=u8::MAX).find(|n| named.binary_search(n).is_err());
            named
                .into_iter()
                .chain(unnamed)
                .map(Protocol::from_number)
                .collect()
        }
        p => vec![p],
    };
    protocols.into_iter().any(|protocol| {
        let covering: Vec<&PacketBox> = earlier
            .iter()
            .filter(|b| protocol_meet(b.protocol, protocol).is_some())
            .collect();
        // Split along the port dimension at every edge of a covering entry; within a piece
        // every covering entry covers all ports or none.
        let mut edges: Vec<u32> = vec![u32::from(target.selectors.from)];
        for b in &covering {
            edges.push(u32::from(b.selectors.from));
            edges.push(u32::from(b.selectors.to) + 1);
        }
        edges.retain(|&e| e <= u32::from(target.selectors.to));
        edges.sort_unstable();
        edges.dedup();
        edges.into_iter().any(|edge| {
            let mut blocks: Vec<(u128, u128)> = covering
                .iter()
                .filter(|b| {
                    u32::from(b.selectors.from) <= edge && edge <= u32::from(b.selectors.to)
                })
                .map(|b| b.addresses)
                .collect();
            !covers(&mut blocks, target.addresses)
        })
    })
}

/// Whether the union of `blocks` (each inside `span`) is all of `span`.
fn covers(blocks: &mut [(u128, u128)], span: (u128, u128)) -> bool {
    blocks.sort_unstable();
    let mut next = span.0;
    for &(first, last) in blocks.iter() {
        if first > next {
            return false;
        }
        if last >= span.1 {
            return true;
        }
        next = next.max(last + 1);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_and_value_paths_agree() {
        let sg = security_group();
        for key in ["IpPermissions", "IpPermissionsEgress"] {
            let text = sg[key].to_string();
            let from_text = parse_ip_permissions(&text).unwrap();
            let from_value: Vec<_> = ip_permissions(&sg[key]).map(Result::unwrap).collect();
            assert_eq!(from_text, from_value, "{key}");
        }
        assert!(parse_ip_permissions("null").unwrap().is_empty());
        assert!(parse_ip_permissions(r#"[{"FromPort": 22}]"#).is_err());
        assert!(parse_ip_permissions(r#"[{"IpProtocol": "tcp", "FromPort": 70000}]"#).is_err());
        assert!(parse_ip_permissions(r#"[{"IpProtocol": "bogus"}]"#).is_err());
        assert!(parse_ip_permissions(r#"{"IpProtocol": "tcp"}"#).is_err());
        let numeric =
            parse_ip_permissions(r#"[{"IpProtocol": 6, "FromPort": 22, "ToPort": 22}]"#).unwrap();
        assert!(numeric[0].covers_port(Protocol::Tcp, 22));
    }

    #[test]
    fn text_path_borrows_ids_and_keeps_entry_rules() {
        let text = r#"[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
            "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "any"}, {"Description": "no id"}, {"CidrIp": null}],
            "Ipv6Ranges": [{"CidrIpv6": "\u003a:/0"}],
            "PrefixListIds": [{"PrefixListId": "pl-63a5400a"}],
            "UserIdGroupPairs": [{"GroupName": "default"}, {"GroupId": "sg-1", "UserId": "123456789012"}]}]"#;
        let perms = parse_ip_permissions(text).unwrap();
        let p = &perms[0];
        assert_eq!(p.cidrs().collect::<Vec<_>>(), ["0.0.0.0/0", "::/0"]);
        assert!(
            matches!(p.ipv4[0], Cow::Borrowed(_)),
            "borrowed from the text"
        );
        assert!(matches!(p.ipv6[0], Cow::Owned(_)), "escaped: decoded");
        assert!(matches!(p.prefix_lists[0], Cow::Borrowed("pl-63a5400a")));
        assert_eq!(p.group_pairs, [None, Some(Cow::Borrowed("sg-1"))]);
        assert!(p.references_security_groups());
        assert_eq!(p.security_group_ids().collect::<Vec<_>>(), ["sg-1"]);
        assert_eq!(
            p.security_group_pairs().collect::<Vec<_>>(),
            [None, Some("sg-1")]
        );
        // Entries that are not objects, or whose id is not a string, are errors in text.
        let error = |text: &str| parse_ip_permissions(text).unwrap_err().to_string();
        assert!(
            error(r#"[{"IpProtocol": "tcp", "IpRanges": ["0.0.0.0/0"]}]"#)
                .contains("invalid type: string \"0.0.0.0/0\"")
        );
        assert!(
            error(r#"[{"IpProtocol": "tcp", "IpRanges": [{"CidrIp": 5}]}]"#)
                .contains("invalid type: integer `5`, expected a string")
        );
        // A JSON error anywhere wins over an invalid permission before it; of several invalid
        // permissions the first is reported.
        assert!(error(r#"[{"FromPort": 22}, {"IpProtocol": "tcp""#).contains("EOF"));
        assert_eq!(
            error(r#"[{"IpProtocol": "tcp"}, {"FromPort": 22}, {"IpProtocol": "bogus"}]"#),
            "invalid IpPermission: IpProtocol is missing"
        );
    }

    fn cidr(s: &str) -> Cidr {
        Cidr::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    fn perm(v: &Value) -> IpPermission<'_> {
        IpPermission::from_value(v).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A `DescribeSecurityGroups` entry with the shapes seen in practice.
    fn security_group() -> Value {
        json!({
            "GroupId": "sg-0123456789abcdef0",
            "GroupName": "web",
            "IpPermissions": [
                {
                    "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                    "IpRanges": [{"CidrIp": "203.0.113.0/24", "Description": "office"}],
                    "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []
                },
                {
                    "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                    "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                    "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
                    "PrefixListIds": [], "UserIdGroupPairs": []
                },
                {
                    "IpProtocol": "-1",
                    "IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": [],
                    "UserIdGroupPairs": [{"GroupId": "sg-0123456789abcdef0", "UserId": "123456789012"}]
                },
                {
                    "IpProtocol": "icmp", "FromPort": 8, "ToPort": -1,
                    "IpRanges": [{"CidrIp": "0.0.0.0/0"}]
                },
                {
                    "IpProtocol": "tcp", "FromPort": 3306, "ToPort": 3306,
                    "PrefixListIds": [{"PrefixListId": "pl-63a5400a", "Description": "s3"}]
                }
            ],
            "IpPermissionsEgress": [
                {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []}
            ]
        })
    }

    #[test]
    fn cidr_parse_v4() {
        assert_eq!(
            cidr("10.0.0.0/8"),
            Cidr::V4 {
                addr: 0x0a00_0000,
                prefix: 8
            }
        );
        assert_eq!(
            cidr("192.168.1.10"),
            Cidr::V4 {
                addr: 0xc0a8_010a,
                prefix: 32
            }
        );
        assert_eq!(cidr("0.0.0.0/0").prefix(), 0);
        assert_eq!(cidr("1.2.3.4/32").prefix(), 32);
        assert_eq!(
            cidr("10.0.0.0/008").prefix(),
            8,
            "leading zeros in the prefix"
        );
    }

    #[test]
    fn cidr_parse_v6() {
        assert_eq!(cidr("::/0"), Cidr::V6 { addr: 0, prefix: 0 });
        assert_eq!(
            cidr("::1"),
            Cidr::V6 {
                addr: 1,
                prefix: 128
            }
        );
        assert_eq!(
            cidr("2001:db8::/32"),
            Cidr::V6 {
                addr: 0x2001_0db8_u128 << 96,
                prefix: 32
            }
        );
        assert_eq!(cidr("2001:DB8::1/128").prefix(), 128);
        assert_eq!(cidr("::ffff:10.0.0.1/128").prefix(), 128);
    }

    #[test]
    fn cidr_parse_rejects_bad_input() {
        for (input, reason) in [
            ("10.0.0.0/33", "IPv4 prefix length must be 0-32"),
            ("::/129", "IPv6 prefix length must be 0-128"),
            ("10.0.0.0/256", "prefix length is out of range"),
            ("10.0.0.0/1000", "prefix length is out of range"),
            (
                "::/99999999999999999999999",
                "prefix length is out of range",
            ),
            ("10.0.0.0/", "prefix length must be a decimal number"),
            ("10.0.0.0/-1", "prefix length must be a decimal number"),
            ("10.0.0.0/+8", "prefix length must be a decimal number"),
            ("10.0.0.0/8/8", "prefix length must be a decimal number"),
            ("10.0.0.0/ 8", "prefix length must be a decimal number"),
            ("10.0.0/8", "not a valid IPv4 address"),
            ("256.0.0.0/8", "not a valid IPv4 address"),
            ("", "not a valid IPv4 address"),
            (" 10.0.0.0/8", "not a valid IPv4 address"),
            ("sg-0123456789abcdef0", "not a valid IPv4 address"),
            ("2001:db8::g/32", "not a valid IPv6 address"),
            (":::/0", "not a valid IPv6 address"),
        ] {
            assert_eq!(
                Cidr::parse(input),
                Err(NetError::InvalidCidr {
                    input: input.to_owned(),
                    reason
                }),
                "{input}"
            );
        }
        assert_eq!(
            Cidr::parse("10.0.0.0/33").unwrap_err().to_string(),
            "invalid CIDR block \"10.0.0.0/33\": IPv4 prefix length must be 0-32"
        );
    }

    #[test]
    fn cidr_display() {
        assert_eq!(cidr("10.0.0.0/8").to_string(), "10.0.0.0/8");
        assert_eq!(cidr("10.1.2.3").to_string(), "10.1.2.3/32");
        assert_eq!(
            cidr("10.1.2.3/8").to_string(),
            "10.1.2.3/8",
            "host bits kept"
        );
        assert_eq!(cidr("::/0").to_string(), "::/0");
        assert_eq!(cidr("2001:0DB8:0000::/48").to_string(), "2001:db8::/48");
    }

    #[test]
    fn world_cidrs() {
        assert!(cidr("0.0.0.0/0").is_world());
        assert!(cidr("::/0").is_world());
        assert!(
            cidr("10.0.0.0/0").is_world(),
            "prefix 0 is everything whatever the address"
        );
        assert!(!cidr("0.0.0.0/1").is_world());
        assert!(!cidr("0.0.0.0").is_world());
        assert!(!cidr("::/1").is_world());
        assert!(!cidr("::").is_world());
        assert!(is_world_cidr("0.0.0.0/0"));
        assert!(is_world_cidr("::/0"));
        assert!(!is_world_cidr("0.0.0.0/8"));
        assert!(!is_world_cidr("garbage"));
        assert!(!is_world_cidr(""));
        assert!(!is_world_cidr("0.0.0.0/00x"));
    }

    #[test]
    fn cidr_contains() {
        let ten = cidr("10.0.0.0/8");
        assert!(ten.contains(&cidr("10.1.0.0/16")));
        assert!(ten.contains(&cidr("10.255.255.255")));
        assert!(ten.contains(&ten));
        assert!(!ten.contains(&cidr("11.0.0.0/16")));
        assert!(!ten.contains(&cidr("10.0.0.0/7")), "wider block");
        assert!(!cidr("10.1.0.0/16").contains(&ten));
        assert!(
            cidr("10.9.9.9/8").contains(&cidr("10.1.2.3")),
            "host bits ignored"
        );
        assert!(cidr("0.0.0.0/0").contains(&cidr("255.255.255.255/32")));
        assert!(cidr("0.0.0.0/0").contains(&cidr("0.0.0.0/0")));
        assert!(cidr("1.2.3.4/32").contains(&cidr("1.2.3.4")));
        assert!(!cidr("1.2.3.4/32").contains(&cidr("1.2.3.5")));
        assert!(cidr("128.0.0.0/1").contains(&cidr("200.0.0.0/8")));
        assert!(!cidr("128.0.0.0/1").contains(&cidr("100.0.0.0/8")));

        let doc = cidr("2001:db8::/32");
        assert!(doc.contains(&cidr("2001:db8:1234::/48")));
        assert!(!doc.contains(&cidr("2001:db9::/48")));
        assert!(cidr("::/0").contains(&doc));
        assert!(cidr("::/0").contains(&cidr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")));
        assert!(cidr("::1/128").contains(&cidr("::1")));
        assert!(cidr("8000::/1").contains(&cidr("ffff::/16")));

        assert!(
            !cidr("0.0.0.0/0").contains(&cidr("::/0")),
            "families never mix"
        );
        assert!(!cidr("::/0").contains(&cidr("10.0.0.0/8")));
        assert!(!cidr("::ffff:0:0/96").contains(&cidr("10.0.0.1")));
    }

    #[test]
    fn port_ranges() {
        let ssh = PortRange { from: 22, to: 22 };
        assert!(ssh.contains(22));
        assert!(!ssh.contains(21));
        assert!(!ssh.contains(23));
        let ftp_smtp = PortRange { from: 20, to: 25 };
        assert!(ftp_smtp.contains(20) && ftp_smtp.contains(22) && ftp_smtp.contains(25));
        assert!(!ftp_smtp.contains(26));
        assert!(PortRange::ALL.contains(0) && PortRange::ALL.contains(65535));
        assert!(PortRange::ALL.is_all());
        assert!(!ftp_smtp.is_all());
        assert_eq!(ssh.to_string(), "22");
        assert_eq!(ftp_smtp.to_string(), "20-25");
        assert_eq!(PortRange::ALL.to_string(), "0-65535");
        assert_eq!(format!("{:#}", PortRange::ALL), "all");
        assert_eq!(format!("{ssh:#}"), "22");
    }

    #[test]
    fn protocol_parse() {
        for (input, expected) in [
            ("-1", Protocol::All),
            ("tcp", Protocol::Tcp),
            ("TCP", Protocol::Tcp),
            ("Udp", Protocol::Udp),
            ("icmp", Protocol::Icmp),
            ("ICMPv6", Protocol::Icmpv6),
            ("6", Protocol::Tcp),
            ("17", Protocol::Udp),
            ("1", Protocol::Icmp),
            ("58", Protocol::Icmpv6),
            ("006", Protocol::Tcp),
            ("0", Protocol::Other(0)),
            ("50", Protocol::Other(50)),
            ("255", Protocol::Other(255)),
        ] {
            assert_eq!(Protocol::parse(input), Ok(expected), "{input}");
        }
        for input in ["", "256", "-2", "all", "tcp ", "sctp", "+6", "1000", "٦"] {
            assert_eq!(
                Protocol::parse(input),
                Err(NetError::InvalidProtocol {
                    input: input.to_owned()
                }),
                "{input}"
            );
        }
        assert!(
            Protocol::parse("gre")
                .unwrap_err()
                .to_string()
                .starts_with("invalid IP protocol \"gre\"")
        );
    }

    #[test]
    fn protocol_numbers_and_display() {
        assert_eq!(Protocol::All.number(), None);
        assert_eq!(Protocol::Tcp.number(), Some(6));
        assert_eq!(Protocol::Other(6).number(), Some(6));
        assert_eq!(Protocol::from_number(17), Protocol::Udp);
        assert_eq!(Protocol::from_number(47), Protocol::Other(47));
        assert!(Protocol::Udp.has_ports());
        assert!(Protocol::Other(6).has_ports());
        assert!(!Protocol::Icmp.has_ports() && !Protocol::All.has_ports());
        let shown: Vec<String> = [
            Protocol::All,
            Protocol::Tcp,
            Protocol::Udp,
            Protocol::Icmp,
            Protocol::Icmpv6,
            Protocol::Other(50),
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(shown, ["all", "tcp", "udp", "icmp", "icmpv6", "50"]);
    }

    #[test]
    fn permission_views_of_a_security_group() {
        let sg = security_group();
        let perms: Vec<_> = ip_permissions(&sg["IpPermissions"])
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(perms.len(), 5);
        let [ssh, https, self_ref, icmp, mysql] = perms.as_slice() else {
            unreachable!()
        };

        assert_eq!(ssh.protocol(), Protocol::Tcp);
        assert_eq!(ssh.port_range(), Some(PortRange { from: 22, to: 22 }));
        assert_eq!(ssh.cidrs().collect::<Vec<_>>(), ["203.0.113.0/24"]);
        assert_eq!(ssh.world_cidrs().count(), 0);
        assert!(!ssh.references_security_groups());

        assert_eq!(https.cidrs().collect::<Vec<_>>(), ["0.0.0.0/0", "::/0"]);
        assert_eq!(
            https.world_cidrs().collect::<Vec<_>>(),
            ["0.0.0.0/0", "::/0"]
        );
        assert!(https.covers_port(Protocol::Tcp, 443));
        assert!(!https.covers_port(Protocol::Tcp, 80));

        assert_eq!(self_ref.protocol(), Protocol::All);
        assert_eq!(self_ref.port_range(), Some(PortRange::ALL));
        assert!(self_ref.references_security_groups());
        assert_eq!(
            self_ref.security_group_ids().collect::<Vec<_>>(),
            ["sg-0123456789abcdef0"]
        );
        assert_eq!(self_ref.cidrs().count(), 0);

        assert_eq!(icmp.protocol(), Protocol::Icmp);
        assert_eq!(icmp.port_range(), None);
        assert_eq!(icmp.world_cidrs().count(), 1);

        assert_eq!(mysql.prefix_list_ids().collect::<Vec<_>>(), ["pl-63a5400a"]);
        assert_eq!(mysql.cidrs().count(), 0);

        let egress: Vec<_> = ip_permissions(&sg["IpPermissionsEgress"]).collect();
        assert_eq!(egress.len(), 1);
        assert!(egress[0].as_ref().unwrap().covers_port(Protocol::Udp, 53));
    }

    #[test]
    fn port_coverage() {
        let all_tcp = json!({"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535});
        assert!(perm(&all_tcp).covers_port(Protocol::Tcp, 22));
        assert!(perm(&all_tcp).covers_port(Protocol::Tcp, 0));
        assert!(perm(&all_tcp).covers_port(Protocol::Tcp, 65535));
        assert!(!perm(&all_tcp).covers_port(Protocol::Udp, 22));

        let everything = json!({"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]});
        assert!(perm(&everything).covers_port(Protocol::Tcp, 3389));
        assert!(perm(&everything).covers_port(Protocol::Udp, 3389));
        assert!(perm(&everything).covers_port(Protocol::Icmp, 0));
        assert!(perm(&everything).covers_port(Protocol::All, 22));

        let range = json!({"IpProtocol": "tcp", "FromPort": 20, "ToPort": 25});
        assert!(perm(&range).covers_port(Protocol::Tcp, 22));
        assert!(!perm(&range).covers_port(Protocol::Tcp, 26));
        assert!(!perm(&range).covers_port(Protocol::Tcp, 19));
        assert!(
            !perm(&range).covers_port(Protocol::All, 22),
            "not all protocols"
        );

        let udp_22 = json!({"IpProtocol": "udp", "FromPort": 22, "ToPort": 22});
        assert!(!perm(&udp_22).covers_port(Protocol::Tcp, 22));
        assert!(perm(&udp_22).covers_port(Protocol::Udp, 22));

        let numeric_tcp = json!({"IpProtocol": "6", "FromPort": 22, "ToPort": 22});
        assert!(perm(&numeric_tcp).covers_port(Protocol::Tcp, 22));
        assert!(perm(&numeric_tcp).covers_port(Protocol::Other(6), 22));

        let icmp = json!({"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1});
        assert!(!perm(&icmp).covers_port(Protocol::Icmp, 0));
        assert!(!perm(&icmp).covers_port(Protocol::Tcp, 22));
        let icmpv6 = json!({"IpProtocol": "58", "FromPort": 22, "ToPort": 22});
        assert_eq!(perm(&icmpv6).port_range(), None);
        assert!(!perm(&icmpv6).covers_port(Protocol::Icmpv6, 22));

        let esp = json!({"IpProtocol": "50", "FromPort": 100, "ToPort": 100});
        assert_eq!(
            perm(&esp).port_range(),
            Some(PortRange::ALL),
            "AWS ignores ports"
        );
        assert!(perm(&esp).covers_port(Protocol::Other(50), 22));
        assert!(!perm(&esp).covers_port(Protocol::Tcp, 22));
    }

    #[test]
    fn port_range_edge_cases() {
        let range = |v: Value| perm(&v).port_range();
        assert_eq!(
            range(json!({"IpProtocol": "tcp", "FromPort": -1, "ToPort": -1})),
            Some(PortRange::ALL)
        );
        assert_eq!(
            range(json!({"IpProtocol": "tcp", "FromPort": -1, "ToPort": 22})),
            Some(PortRange::ALL)
        );
        assert_eq!(range(json!({"IpProtocol": "udp"})), Some(PortRange::ALL));
        assert_eq!(
            range(json!({"IpProtocol": "tcp", "FromPort": 22, "ToPort": null})),
            Some(PortRange::ALL)
        );
        assert_eq!(
            range(json!({"IpProtocol": "tcp", "FromPort": 25, "ToPort": 20})),
            Some(PortRange { from: 20, to: 25 })
        );
        assert_eq!(
            range(json!({"IpProtocol": "-1", "FromPort": 22, "ToPort": 22})),
            Some(PortRange::ALL)
        );
        assert_eq!(
            range(json!({"IpProtocol": "TCP", "FromPort": 65535, "ToPort": 65535})),
            Some(PortRange {
                from: 65535,
                to: 65535
            })
        );
    }

    #[test]
    fn permission_validation_errors() {
        let error = |v: Value| IpPermission::from_value(&v).unwrap_err().to_string();
        assert_eq!(
            error(json!("tcp")),
            "invalid IpPermission: IpPermission must be a JSON object, got a string"
        );
        assert_eq!(
            error(json!({})),
            "invalid IpPermission: IpProtocol is missing"
        );
        assert_eq!(
            error(json!({"IpProtocol": null})),
            "invalid IpPermission: IpProtocol is missing"
        );
        assert_eq!(
            error(json!({"IpProtocol": "sctp"})),
            "invalid IpPermission: IpProtocol \"sctp\" is not a known protocol"
        );
        assert_eq!(
            error(json!({"IpProtocol": 300})),
            "invalid IpPermission: IpProtocol 300 is not a known protocol"
        );
        assert_eq!(
            error(json!({"IpProtocol": true})),
            "invalid IpPermission: IpProtocol must be a string, got a boolean"
        );
        assert_eq!(
            error(json!({"IpProtocol": "tcp", "FromPort": 70000, "ToPort": 70000})),
            "invalid IpPermission: FromPort must be an integer -1..65535, got 70000"
        );
        assert_eq!(
            error(json!({"IpProtocol": "tcp", "FromPort": 22, "ToPort": "22"})),
            "invalid IpPermission: ToPort must be an integer -1..65535, got \"22\""
        );
        assert_eq!(
            error(json!({"IpProtocol": "tcp", "FromPort": -2})),
            "invalid IpPermission: FromPort must be an integer -1..65535, got -2"
        );
        assert_eq!(
            error(json!({"IpProtocol": "tcp", "IpRanges": {"CidrIp": "0.0.0.0/0"}})),
            "invalid IpPermission: IpRanges must be an array, got an object"
        );
        assert_eq!(
            error(json!({"IpProtocol": "tcp", "UserIdGroupPairs": "sg-1"})),
            "invalid IpPermission: UserIdGroupPairs must be an array, got a string"
        );
        // Numeric IpProtocol (not the AWS shape, but unambiguous) is accepted.
        let numeric = json!({"IpProtocol": 17, "FromPort": 53, "ToPort": 53});
        assert_eq!(perm(&numeric).protocol(), Protocol::Udp);
    }

    #[test]
    fn malformed_entries_inside_lists_are_skipped() {
        let v = json!({
            "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
            "IpRanges": [{"CidrIp": "0.0.0.0/0"}, {"CidrIp": null}, {}, "0.0.0.0/0", {"CidrIp": 5}],
            "Ipv6Ranges": null,
            "UserIdGroupPairs": [{"GroupName": "default", "UserId": "123456789012"}]
        });
        let p = perm(&v);
        assert_eq!(p.cidrs().collect::<Vec<_>>(), ["0.0.0.0/0"]);
        assert!(
            p.references_security_groups(),
            "GroupName-only pairs still count"
        );
        assert_eq!(p.security_group_ids().count(), 0);
    }

    #[test]
    fn world_cidrs_ignore_unparsable_and_narrow_blocks() {
        let v = json!({
            "IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389,
            "IpRanges": [{"CidrIp": "0.0.0.0/1"}, {"CidrIp": "bogus"}, {"CidrIp": "0.0.0.0/0"}],
            "Ipv6Ranges": [{"CidrIpv6": "2001:db8::/32"}, {"CidrIpv6": "::/0"}]
        });
        assert_eq!(
            perm(&v).world_cidrs().collect::<Vec<_>>(),
            ["0.0.0.0/0", "::/0"]
        );
    }

    #[test]
    fn ip_permissions_list_shapes() {
        assert_eq!(ip_permissions(&Value::Null).count(), 0);
        assert_eq!(ip_permissions(&json!([])).count(), 0);
        let sg = json!({"GroupId": "sg-1"});
        assert_eq!(
            ip_permissions(&sg["IpPermissions"]).count(),
            0,
            "missing key"
        );
        let not_a_list = json!({"IpProtocol": "tcp"});
        let errors: Vec<_> = ip_permissions(&not_a_list).collect();
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0].as_ref().unwrap_err().to_string(),
            "invalid IpPermission: IpPermissions must be an array, got an object"
        );
        let mixed: Vec<_> =
            ip_permissions(&json!([{"IpProtocol": "tcp"}, 7, {"IpProtocol": "udp"}]))
                .map(|r| r.is_ok())
                .collect();
        assert_eq!(mixed, [true, false, true]);
    }

    #[test]
    fn net_error_is_a_std_error() {
        let e: Box<dyn std::error::Error> = Box::new(Cidr::parse("x").unwrap_err());
        assert_eq!(
            e.to_string(),
            "invalid CIDR block \"x\": not a valid IPv4 address"
        );
    }
}

#[cfg(test)]
mod acl_tests {
    use super::*;
    use serde_json::json;

    const SSH: PortRange = PortRange { from: 22, to: 22 };

    fn acl(entries: Value) -> NetworkAcl<'static> {
        let entries = Box::leak(Box::new(entries));
        NetworkAcl::from_value(entries).unwrap_or_else(|e| panic!("{e}"))
    }

    fn entry(number: u32, protocol: &str, action: &str, cidr: &str) -> Value {
        let key = if cidr.contains(':') {
            "Ipv6CidrBlock"
        } else {
            "CidrBlock"
        };
        json!({"RuleNumber": number, "Protocol": protocol, "RuleAction": action, "Egress": false, key: cidr})
    }

    fn ports(mut entry: Value, from: u16, to: u16) -> Value {
        entry["PortRange"] = json!({"From": from, "To": to});
        entry
    }

    fn egress(mut entry: Value) -> Value {
        entry["Egress"] = json!(true);
        entry
    }

    /// Rule numbers of the effective allows.
    fn allows(acl: &NetworkAcl<'_>, direction: Direction, traffic: Traffic) -> Vec<u32> {
        acl.effective_allows(direction, &traffic)
            .map(NetworkAclEntry::rule_number)
            .collect()
    }

    /// A default network ACL as `DescribeNetworkAcls` returns it (IPv6 entries included).
    fn default_acl() -> Value {
        json!([
            {"CidrBlock": "0.0.0.0/0", "Egress": true, "Protocol": "-1", "RuleAction": "allow", "RuleNumber": 100},
            {"Ipv6CidrBlock": "::/0", "Egress": true, "Protocol": "-1", "RuleAction": "allow", "RuleNumber": 101},
            {"CidrBlock": "0.0.0.0/0", "Egress": true, "Protocol": "-1", "RuleAction": "deny", "RuleNumber": 32767},
            {"Ipv6CidrBlock": "::/0", "Egress": true, "Protocol": "-1", "RuleAction": "deny", "RuleNumber": 32768},
            {"CidrBlock": "0.0.0.0/0", "Egress": false, "Protocol": "-1", "RuleAction": "allow", "RuleNumber": 100},
            {"Ipv6CidrBlock": "::/0", "Egress": false, "Protocol": "-1", "RuleAction": "allow", "RuleNumber": 101},
            {"CidrBlock": "0.0.0.0/0", "Egress": false, "Protocol": "-1", "RuleAction": "deny", "RuleNumber": 32767},
            {"Ipv6CidrBlock": "::/0", "Egress": false, "Protocol": "-1", "RuleAction": "deny", "RuleNumber": 32768}
        ])
    }

    #[test]
    fn entries_are_split_by_direction_and_sorted() {
        let a = acl(json!([
            ports(entry(200, "6", "allow", "10.0.0.0/8"), 443, 443),
            entry(32767, "-1", "deny", "0.0.0.0/0"),
            ports(entry(100, "6", "allow", "0.0.0.0/0"), 22, 22),
            egress(entry(100, "-1", "allow", "0.0.0.0/0")),
        ]));
        let numbers = |d| {
            a.entries(d)
                .iter()
                .map(NetworkAclEntry::rule_number)
                .collect::<Vec<_>>()
        };
        assert_eq!(numbers(Direction::Ingress), [100, 200, 32767]);
        assert_eq!(numbers(Direction::Egress), [100]);
        let ssh = &a.entries(Direction::Ingress)[0];
        assert_eq!(ssh.protocol(), Protocol::Tcp);
        assert_eq!(ssh.port_range(), Some(SSH));
        assert!(ssh.is_allow());
        assert!(ssh.cidr().is_world());
        assert_eq!(ssh.cidr_text(), "0.0.0.0/0");
        let deny = &a.entries(Direction::Ingress)[2];
        assert_eq!(deny.action(), RuleAction::Deny);
        assert_eq!(deny.port_range(), Some(PortRange::ALL));
        assert_eq!(
            a.entries(Direction::Egress)[0].direction(),
            Direction::Egress
        );
    }

    #[test]
    fn text_and_value_paths_agree() {
        let entries = default_acl();
        let text = entries.to_string();
        assert_eq!(
            NetworkAcl::parse(&text).unwrap(),
            NetworkAcl::from_value(&entries).unwrap()
        );
        assert!(
            NetworkAcl::parse("null")
                .unwrap()
                .entries(Direction::Ingress)
                .is_empty()
        );
        assert!(
            NetworkAcl::parse("[]")
                .unwrap()
                .entries(Direction::Egress)
                .is_empty()
        );
    }

    #[test]
    fn malformed_entries_are_errors() {
        let error = |v: Value| NetworkAcl::from_value(&v).unwrap_err().to_string();
        assert!(
            error(json!({"RuleNumber": 1}))
                .starts_with("invalid network ACL Entries: invalid type")
        );
        assert_eq!(
            error(
                json!([{"Protocol": "-1", "RuleAction": "allow", "Egress": false, "CidrBlock": "0.0.0.0/0"}])
            ),
            "invalid network ACL entry: RuleNumber is missing"
        );
        assert_eq!(
            error(
                json!([{"RuleNumber": 100, "Protocol": "-1", "RuleAction": "permit", "Egress": false, "CidrBlock": "0.0.0.0/0"}])
            ),
            "invalid network ACL entry 100: RuleAction must be allow or deny, got \"permit\""
        );
        assert_eq!(
            error(
                json!([{"RuleNumber": 100, "Protocol": "-1", "RuleAction": "allow", "CidrBlock": "0.0.0.0/0"}])
            ),
            "invalid network ACL entry 100: Egress is missing"
        );
        assert_eq!(
            error(
                json!([{"RuleNumber": 100, "Protocol": "-1", "RuleAction": "allow", "Egress": false}])
            ),
            "invalid network ACL entry 100: CidrBlock is missing (and so is Ipv6CidrBlock)"
        );
        assert_eq!(
            error(json!([entry(100, "-1", "allow", "0.0.0.0/33")])),
            "invalid network ACL entry 100: CidrBlock invalid CIDR block \"0.0.0.0/33\": IPv4 prefix length must be 0-32"
        );
        assert_eq!(
            error(json!([entry(100, "sctp", "allow", "0.0.0.0/0")])),
            "invalid network ACL entry 100: Protocol \"sctp\" is not a known protocol"
        );
        assert_eq!(
            error(json!([ports(
                entry(100, "6", "allow", "0.0.0.0/0"),
                22,
                22
            )
            .as_object()
            .map(|o| {
                let mut o = o.clone();
                o.insert("PortRange".into(), json!({"From": 22, "To": 70000}));
                Value::Object(o)
            })
            .unwrap()])),
            "invalid network ACL entry 100: PortRange.To must be a port -1..65535, got 70000"
        );
        assert_eq!(
            error(json!([entry(0, "-1", "allow", "0.0.0.0/0")
                .as_object()
                .map(|o| {
                    let mut o = o.clone();
                    o.insert("RuleNumber".into(), json!(-5));
                    Value::Object(o)
                })
                .unwrap()])),
            "invalid network ACL entry -5: RuleNumber must not be negative, got -5"
        );
    }

    #[test]
    fn first_match_wins_so_an_earlier_deny_shadows_a_later_allow() {
        let a = acl(json!([
            ports(entry(90, "6", "deny", "0.0.0.0/0"), 22, 22),
            entry(100, "-1", "allow", "0.0.0.0/0"),
            entry(32767, "-1", "deny", "0.0.0.0/0"),
        ]));
        assert!(allows(&a, Direction::Ingress, Traffic::tcp(SSH)).is_empty());
        assert_eq!(
            allows(
                &a,
                Direction::Ingress,
                Traffic::tcp(PortRange {
                    from: 3389,
                    to: 3389
                })
            ),
            [100]
        );
        assert_eq!(allows(&a, Direction::Ingress, Traffic::ALL), [100]);
        // A deny after the allow shadows nothing.
        let late = acl(json!([
            entry(100, "-1", "allow", "0.0.0.0/0"),
            ports(entry(110, "6", "deny", "0.0.0.0/0"), 22, 22),
        ]));
        assert_eq!(allows(&late, Direction::Ingress, Traffic::tcp(SSH)), [100]);
    }

    #[test]
    fn partial_shadows_leave_the_allow_effective() {
        // Only part of the internet is denied.
        let narrow = acl(json!([
            ports(entry(90, "6", "deny", "10.0.0.0/8"), 22, 22),
            ports(entry(100, "6", "allow", "0.0.0.0/0"), 22, 22),
        ]));
        assert_eq!(
            allows(&narrow, Direction::Ingress, Traffic::tcp(SSH)),
            [100]
        );
        // The deny is IPv4, the allow IPv6.
        let family = acl(json!([
            entry(90, "-1", "deny", "0.0.0.0/0"),
            ports(entry(100, "6", "allow", "::/0"), 22, 22),
        ]));
        assert_eq!(
            allows(&family, Direction::Ingress, Traffic::tcp(SSH)),
            [100]
        );
        // Another port, another protocol.
        let other = acl(json!([
            ports(entry(90, "6", "deny", "0.0.0.0/0"), 23, 23),
            ports(entry(91, "17", "deny", "0.0.0.0/0"), 22, 22),
            ports(entry(100, "6", "allow", "0.0.0.0/0"), 20, 25),
        ]));
        assert_eq!(allows(&other, Direction::Ingress, Traffic::tcp(SSH)), [100]);
        assert!(
            allows(
                &other,
                Direction::Ingress,
                Traffic::tcp(PortRange { from: 23, to: 23 })
            )
            .is_empty()
        );
        // Denying every TCP and UDP port still leaves the other protocols of a -1 allow.
        let tcp_udp = acl(json!([
            ports(entry(90, "6", "deny", "0.0.0.0/0"), 0, 65535),
            ports(entry(91, "17", "deny", "0.0.0.0/0"), 0, 65535),
            entry(100, "-1", "allow", "0.0.0.0/0"),
        ]));
        assert_eq!(allows(&tcp_udp, Direction::Ingress, Traffic::ALL), [100]);
        assert!(allows(&tcp_udp, Direction::Ingress, Traffic::tcp(PortRange::ALL)).is_empty());
    }

    #[test]
    fn several_entries_can_shadow_together() {
        let halves = acl(json!([
            entry(10, "-1", "deny", "0.0.0.0/1"),
            entry(20, "-1", "deny", "128.0.0.0/1"),
            entry(100, "-1", "allow", "0.0.0.0/0"),
        ]));
        assert!(allows(&halves, Direction::Ingress, Traffic::ALL).is_empty());
        let port_halves = acl(json!([
            ports(entry(10, "6", "deny", "0.0.0.0/0"), 0, 1023),
            ports(entry(20, "6", "deny", "0.0.0.0/0"), 1024, 65535),
            ports(entry(100, "6", "allow", "0.0.0.0/0"), 22, 22),
        ]));
        assert!(allows(&port_halves, Direction::Ingress, Traffic::tcp(SSH)).is_empty());
        // An earlier narrow allow and a deny take every source: the later world allow decides
        // nothing; the narrow allow is what lets packets in.
        let mixed = acl(json!([
            ports(entry(10, "6", "allow", "0.0.0.0/1"), 22, 22),
            ports(entry(20, "6", "deny", "128.0.0.0/1"), 22, 22),
            ports(entry(100, "6", "allow", "0.0.0.0/0"), 22, 22),
        ]));
        assert_eq!(allows(&mixed, Direction::Ingress, Traffic::tcp(SSH)), [10]);
        // Every protocol named separately except one: the allow stays effective for it.
        let mut named: Vec<Value> = (0..=255u16)
            .filter(|&n| n != 47)
            .map(|n| entry(1 + u32::from(n), &n.to_string(), "deny", "0.0.0.0/0"))
            .map(|mut e| {
                if matches!(e["Protocol"].as_str(), Some("6" | "17")) {
                    e["PortRange"] = json!({"From": 0, "To": 65535});
                }
                if matches!(e["Protocol"].as_str(), Some("1" | "58")) {
                    e["IcmpTypeCode"] = json!({"Type": -1, "Code": -1});
                }
                e
            })
            .collect();
        named.push(entry(1000, "-1", "allow", "0.0.0.0/0"));
        let almost = acl(Value::Array(named.clone()));
        assert_eq!(allows(&almost, Direction::Ingress, Traffic::ALL), [1000]);
        named.push(entry(999, "47", "deny", "0.0.0.0/0"));
        let all = acl(Value::Array(named));
        assert!(allows(&all, Direction::Ingress, Traffic::ALL).is_empty());
    }

    #[test]
    fn icmp_type_and_code_are_not_ports() {
        let a = acl(json!(
            [
                entry(90, "1", "deny", "0.0.0.0/0"),
                entry(100, "1", "allow", "0.0.0.0/0"),
            ]
            .map(|mut e| {
                e["IcmpTypeCode"] = json!({"Type": 8, "Code": -1});
                e
            })
        ));
        assert_eq!(a.entries(Direction::Ingress)[0].port_range(), None);
        assert_eq!(
            a.entries(Direction::Ingress)[0].icmp_type_code(),
            Some((8, -1))
        );
        assert!(allows(&a, Direction::Ingress, Traffic::tcp(SSH)).is_empty());
        assert!(allows(&a, Direction::Ingress, Traffic::protocol(Protocol::Icmp)).is_empty());
        // Denying echo requests leaves the other ICMP types of an allow-all-ICMP entry.
        let mut echo = entry(90, "1", "deny", "0.0.0.0/0");
        echo["IcmpTypeCode"] = json!({"Type": 8, "Code": -1});
        let mut any = entry(100, "1", "allow", "0.0.0.0/0");
        any["IcmpTypeCode"] = json!({"Type": -1, "Code": -1});
        let b = acl(json!([echo, any]));
        assert_eq!(
            allows(&b, Direction::Ingress, Traffic::protocol(Protocol::Icmp)),
            [100]
        );
        assert_eq!(allows(&b, Direction::Ingress, Traffic::ALL), [100]);
        assert!(allows(&b, Direction::Ingress, Traffic::tcp(PortRange::ALL)).is_empty());
    }

    #[test]
    fn an_entry_missing_its_span_never_hides_an_allowed_packet() {
        // A deny without PortRange covers nothing for sure; an allow without one may cover any
        // port.
        let a = acl(json!([
            entry(90, "6", "deny", "0.0.0.0/0"),
            entry(100, "6", "allow", "0.0.0.0/0"),
        ]));
        assert_eq!(a.entries(Direction::Ingress)[0].port_range(), None);
        assert_eq!(allows(&a, Direction::Ingress, Traffic::tcp(SSH)), [100]);
        let mut icmp = entry(90, "1", "deny", "0.0.0.0/0");
        icmp["IcmpTypeCode"] = json!({"Type": 3});
        let b = acl(json!([icmp, entry(100, "-1", "allow", "0.0.0.0/0")]));
        assert_eq!(
            allows(&b, Direction::Ingress, Traffic::protocol(Protocol::Icmp)),
            [100]
        );
    }

    #[test]
    fn directions_are_evaluated_apart() {
        let a = acl(default_acl());
        assert_eq!(allows(&a, Direction::Ingress, Traffic::ALL), [100, 101]);
        assert_eq!(allows(&a, Direction::Egress, Traffic::tcp(SSH)), [100, 101]);
        let b = acl(json!([
            egress(entry(10, "-1", "deny", "0.0.0.0/0")),
            entry(100, "-1", "allow", "0.0.0.0/0"),
            egress(entry(100, "-1", "allow", "0.0.0.0/0")),
        ]));
        assert_eq!(allows(&b, Direction::Ingress, Traffic::ALL), [100]);
        assert!(allows(&b, Direction::Egress, Traffic::ALL).is_empty());
    }
}
