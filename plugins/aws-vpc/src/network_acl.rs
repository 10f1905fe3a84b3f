//! Network ACL rules (`AWS.EC2.NetworkACL`).
//!
//! A network ACL evaluates the entries of a direction in ascending `RuleNumber` and the first
//! entry that matches a packet decides; so an `allow` entry only matters for the packets no
//! lower-numbered entry matched. Every rule here asks `NetworkAcl::effective_allows`, which
//! leaves out allow entries that earlier entries shadow for the traffic in question (a deny
//! of port 22 from 0.0.0.0/0 at rule 90 before an allow-all at rule 100 means SSH is not
//! open), and keeps those only partly shadowed (a deny of 10.0.0.0/8, or of IPv4 only before
//! an allow of `::/0`).

use palisade_sdk::net::{Direction, NetworkAcl, NetworkAclEntry, PortRange, Protocol, Traffic};
use palisade_sdk::{Ctx, Resource, Result, Rule, Severity, Verdict};

use crate::{collected_text, display_name};

const NETWORK_ACL: &[&str] = &["AWS.EC2.NetworkACL"];

const NACL_DOC: &str = "https://docs.aws.amazon.com/vpc/latest/userguide/vpc-network-acls.html";

pub const RESTRICTED_SSH: Rule = Rule::new(
    "AWS.NetworkACL.RestrictedSSH",
    "Network ACL allows no SSH from the internet",
    Severity::High,
    NETWORK_ACL,
    restricted_ssh,
)
.description(
    "A network ACL ingress entry that allows TCP port 22 from 0.0.0.0/0 or ::/0 (including \
     all-protocol entries and port ranges covering 22) leaves SSH in the subnet reachable from \
     the internet, with only security groups left in the way. Entries shadowed by a \
     lower-numbered entry that already decides the traffic do not count.",
)
.remediation(
    "Remove the entry or narrow its CIDR block to administrative networks, or add a \
     lower-numbered deny entry for TCP 22 from 0.0.0.0/0 and ::/0.",
)
.references(&[NACL_DOC]);

pub const RESTRICTS_INBOUND_TRAFFIC: Rule = Rule::new(
    "AWS.NetworkACL.RestrictsInboundTraffic",
    "Network ACL allows no ingress from the internet",
    Severity::Medium,
    NETWORK_ACL,
    restricts_inbound_traffic,
)
.description(
    "A network ACL ingress entry that allows traffic (any protocol or port) from 0.0.0.0/0 or \
     ::/0 lets the internet reach the subnet, as the default network ACL does. Entries that \
     lower-numbered entries fully shadow do not count.",
)
.remediation(
    "Replace allow entries from 0.0.0.0/0 and ::/0 with entries for the networks and ports the \
     subnet serves; keep return traffic (ephemeral ports) as narrow as the workload allows.",
)
.references(&[NACL_DOC])
.disabled_by_default();

pub const RESTRICTS_OUTBOUND_TRAFFIC: Rule = Rule::new(
    "AWS.NetworkACL.RestrictsOutboundTraffic",
    "Network ACL allows no egress to the internet",
    Severity::Low,
    NETWORK_ACL,
    restricts_outbound_traffic,
)
.description(
    "A network ACL egress entry that allows traffic (any protocol or port) to 0.0.0.0/0 or ::/0 \
     lets the subnet send anything anywhere. Entries that lower-numbered entries fully shadow do \
     not count.",
)
.remediation(
    "Replace allow entries to 0.0.0.0/0 and ::/0 with entries for the destinations and ports the \
     subnet needs.",
)
.references(&[NACL_DOC])
.disabled_by_default();

pub const RESTRICTS_INSECURE_PROTOCOLS: Rule = Rule::new(
    "AWS.NetworkACL.RestrictsInsecureProtocols",
    "Network ACL allows no ingress for cleartext protocols",
    Severity::Low,
    NETWORK_ACL,
    restricts_insecure_protocols,
)
.description(
    "Protocols with no encryption at all send credentials and data in the clear: FTP (TCP 20-21), \
     Telnet (TCP 23), TFTP (UDP 69) and the BSD r-services rexec, rlogin and rsh (TCP 512-514). \
     A network ACL ingress entry that allows any of them, from any source, fails; entries that \
     lower-numbered entries shadow for those ports do not count. Protocols that upgrade to TLS \
     on the same port (SMTP, POP3, IMAP, LDAP) are not flagged, since the port does not show \
     whether they do.",
)
.remediation(
    "Add lower-numbered deny entries for these ports, or narrow the allow entries to exclude \
     them; use SFTP/SCP and SSH instead.",
)
.references(&[NACL_DOC])
.disabled_by_default();

pub const ADMIN_PORTS: Rule = Rule::new(
    "AWS.EC2.NACL.AdminPorts",
    "Network ACL allows no ingress from the internet to remote administration ports",
    Severity::Medium,
    NETWORK_ACL,
    admin_ports,
)
.description(
    "A network ACL ingress entry that allows TCP port 22 (SSH) or 3389 (RDP) from 0.0.0.0/0 or \
     ::/0, including all-protocol entries and port ranges covering them, exposes remote \
     administration in the subnet to the internet. Entries shadowed by a lower-numbered entry \
     that already decides the traffic (a deny of the port from 0.0.0.0/0) do not count.",
)
.remediation(
    "Add lower-numbered deny entries for TCP 22 and 3389 from 0.0.0.0/0 and ::/0, or narrow the \
     allow entries' CIDR blocks to administrative networks. Prefer Session Manager or EC2 \
     Instance Connect Endpoint over open administrative ports.",
)
.references(&[NACL_DOC])
.compliance(&["CIS-AWS-7.0:6.2"]);

/// Remote administration ports and what listens there.
const ADMIN: &[(u16, &str)] = &[(22, "SSH"), (3389, "RDP")];

/// Protocols with no encryption at all: the traffic, and what it is.
const INSECURE_PROTOCOLS: &[(Traffic, &str)] = &[
    (
        Traffic::tcp(PortRange { from: 20, to: 21 }),
        "FTP (tcp ports 20-21)",
    ),
    (
        Traffic::tcp(PortRange { from: 23, to: 23 }),
        "Telnet (tcp port 23)",
    ),
    (
        Traffic::udp(PortRange { from: 69, to: 69 }),
        "TFTP (udp port 69)",
    ),
    (
        Traffic::tcp(PortRange { from: 512, to: 514 }),
        "rexec/rlogin/rsh (tcp ports 512-514)",
    ),
];

/// A network ACL's `Entries`, once the collector is known to have read them.
fn entries<'a>(res: &Resource<'a>) -> Result<NetworkAcl<'a>> {
    Ok(NetworkAcl::parse(collected_text(res, "Entries")?)?)
}

/// What an entry lets through, for messages: `entry 100 (all traffic)`.
pub(crate) fn describe(entry: &NetworkAclEntry<'_>) -> String {
    let protocol = entry.protocol();
    let what = match protocol {
        Protocol::All => "all traffic".to_owned(),
        Protocol::Icmp | Protocol::Icmpv6 => match entry.icmp_type_code() {
            Some((kind, -1)) if kind >= 0 => format!("{protocol} type {kind}"),
            Some((kind, code)) if kind >= 0 => format!("{protocol} type {kind} code {code}"),
            _ => protocol.to_string(),
        },
        p if p.has_ports() => match entry.port_range() {
            Some(range) if range.from == range.to => format!("{p} port {range}"),
            Some(range) => format!("{p} ports {range}"),
            None => format!("{p}, no port range"),
        },
        p => format!("protocol {p}"),
    };
    format!("entry {} ({what})", entry.rule_number())
}

/// `from` for ingress, `to` for egress.
pub(crate) fn preposition(direction: Direction) -> &'static str {
    match direction {
        Direction::Ingress => "from",
        Direction::Egress => "to",
    }
}

/// Failures for ingress from the internet to the TCP ports of `ports`.
fn internet_ingress_to_ports(res: &Resource<'_>, ports: &[(u16, &str)]) -> Result<Verdict> {
    let acl = entries(res)?;
    let name = display_name(res)?;
    let mut failures = Vec::new();
    for &(port, service) in ports {
        let traffic = Traffic::tcp(PortRange {
            from: port,
            to: port,
        });
        for entry in acl.effective_allows(Direction::Ingress, &traffic) {
            if entry.cidr().is_world() {
                failures.push(format!(
                    "network ACL {name} allows {service} (tcp port {port}) from {} via {}",
                    entry.cidr_text(),
                    describe(entry)
                ));
            }
        }
    }
    Ok(Verdict::from_failures(failures))
}

fn restricted_ssh(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    internet_ingress_to_ports(res, &ADMIN[..1])
}

fn admin_ports(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    internet_ingress_to_ports(res, ADMIN)
}

/// Failures for every allow entry of `direction` open to the internet that decides traffic.
fn no_internet(res: &Resource<'_>, direction: Direction) -> Result<Verdict> {
    let acl = entries(res)?;
    let name = display_name(res)?;
    let kind = match direction {
        Direction::Ingress => "ingress",
        Direction::Egress => "egress",
    };
    Ok(Verdict::from_failures(
        acl.effective_allows(direction, &Traffic::ALL)
            .filter(|entry| entry.cidr().is_world())
            .map(|entry| {
                format!(
                    "network ACL {name} allows {kind} {} {} via {}",
                    preposition(direction),
                    entry.cidr_text(),
                    describe(entry)
                )
            })
            .collect(),
    ))
}

fn restricts_inbound_traffic(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    no_internet(res, Direction::Ingress)
}

fn restricts_outbound_traffic(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    no_internet(res, Direction::Egress)
}

fn restricts_insecure_protocols(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let acl = entries(res)?;
    let name = display_name(res)?;
    let mut failures = Vec::new();
    for (traffic, protocol) in INSECURE_PROTOCOLS {
        for entry in acl.effective_allows(Direction::Ingress, traffic) {
            failures.push(format!(
                "network ACL {name} allows {protocol} from {} via {}",
                entry.cidr_text(),
                describe(entry)
            ));
        }
    }
    Ok(Verdict::from_failures(failures))
}
