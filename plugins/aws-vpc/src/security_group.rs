//! EC2 security group rules (`AWS.EC2.SecurityGroup`): internet exposure, rule counts,
//! references to other groups, and the DMZ / cardholder-data-environment tag rules.
//!
//! A permission open to "the internet" is one with a block of prefix length 0 (`0.0.0.0/0`,
//! `::/0`) among its sources or destinations. Managed prefix lists and security-group
//! references are not the internet, whatever they contain; they still count as rules for the
//! "tightly restricts" rules.

use std::borrow::Cow;
use std::collections::BTreeMap;

use palisade_sdk::net::{IpPermission, Protocol, parse_ip_permissions};
use palisade_sdk::{Ctx, Resource, Result, Rule, Setting, SettingKind, Severity, Verdict};

use crate::{collected_text, marking_tag, tags};

const SECURITY_GROUP: &[&str] = &["AWS.EC2.SecurityGroup"];

const SG_RULES_DOC: &str =
    "https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html";

pub const ADMINISTRATIVE_INGRESS: Rule = Rule::new(
    "AWS.SecurityGroup.AdministrativeIngress",
    "Security group allows no SSH or RDP from the internet",
    Severity::High,
    SECURITY_GROUP,
    administrative_ingress,
)
.description(
    "Ingress from 0.0.0.0/0 or ::/0 to port 22 (SSH) or 3389 (RDP) exposes remote administration \
     to every scanner on the internet. This includes rules for all protocols (-1) and port ranges \
     that cover those ports.",
)
.remediation(
    "Remove the rule, or restrict its source to known administrative networks. Prefer AWS Systems \
     Manager Session Manager or EC2 Instance Connect Endpoint over open administrative ports.",
)
.references(&[SG_RULES_DOC])
.compliance(&["CIS-AWS-7.0:6.3", "CIS-AWS-7.0:6.4"]);

pub const RESTRICTS_INBOUND_TRAFFIC: Rule = Rule::new(
    "AWS.SecurityGroup.RestrictsInboundTraffic",
    "Security group allows no ingress from the internet",
    Severity::Medium,
    SECURITY_GROUP,
    restricts_inbound_traffic,
)
.description(
    "A security group rule whose source is 0.0.0.0/0 or ::/0 lets anyone on the internet reach \
     the group's resources on the rule's ports, whatever the protocol (ICMP included). Managed \
     prefix lists and references to other security groups are not counted as the internet.",
)
.remediation(
    "Replace 0.0.0.0/0 and ::/0 sources with the networks, prefix lists or security groups that \
     need access; put internet-facing services behind a load balancer whose group alone is open.",
)
.references(&[SG_RULES_DOC])
.disabled_by_default();

pub const RESTRICTS_OUTBOUND_TRAFFIC: Rule = Rule::new(
    "AWS.SecurityGroup.RestrictsOutboundTraffic",
    "Security group allows no egress to the internet",
    Severity::Low,
    SECURITY_GROUP,
    restricts_outbound_traffic,
)
.description(
    "A security group egress rule to 0.0.0.0/0 or ::/0 lets the group's resources send traffic \
     anywhere, which eases data exfiltration and command-and-control. New groups get such a rule \
     (all traffic to 0.0.0.0/0) by default.",
)
.remediation(
    "Replace the rule with egress to the destinations the workload needs (VPC endpoints, prefix \
     lists, proxy or NAT addresses, other security groups).",
)
.references(&[SG_RULES_DOC])
.disabled_by_default();

pub const TIGHTLY_RESTRICTS_INBOUND_TRAFFIC: Rule = Rule::new(
    "AWS.SecurityGroup.TightlyRestrictsInboundTraffic",
    "Security group has no ingress rules",
    Severity::Low,
    SECURITY_GROUP,
    tightly_restricts_inbound_traffic,
)
.description(
    "For groups that must accept no traffic at all (for example the default group, or groups \
     for outbound-only workloads): any ingress rule, whatever its source (addresses, prefix \
     lists or other groups), fails.",
)
.remediation("Remove the group's ingress rules, or scope the rule to the groups that need them.")
.references(&[SG_RULES_DOC])
.disabled_by_default();

pub const TIGHTLY_RESTRICTS_OUTBOUND_TRAFFIC: Rule = Rule::new(
    "AWS.SecurityGroup.TightlyRestrictsOutboundTraffic",
    "Security group has no egress rules",
    Severity::Low,
    SECURITY_GROUP,
    tightly_restricts_outbound_traffic,
)
.description(
    "For groups that must send no traffic at all: any egress rule, whatever its destination, \
     fails. New groups have an allow-all egress rule until it is removed.",
)
.remediation("Remove the group's egress rules, or scope the rule to the groups that need them.")
.references(&[SG_RULES_DOC])
.disabled_by_default();

pub const RESTRICTS_INTER_SECURITY_GROUP_TRAFFIC: Rule = Rule::new(
    "AWS.SecurityGroup.RestrictsInterSecurityGroupTraffic",
    "Security group allows no ingress from other security groups",
    Severity::Low,
    SECURITY_GROUP,
    restricts_inter_security_group_traffic,
)
.description(
    "An ingress rule whose source is another security group (`UserIdGroupPairs`, in this account \
     or another) lets every resource in that group in, which widens the blast radius of a \
     compromise in that group. A rule referencing the group itself (members talking to each \
     other) is not inter-group traffic; a pair that names a group only by name counts as another \
     group.",
)
.remediation(
    "Replace references to other groups with the specific address ranges or prefix lists that \
     need access, or accept the reference by suppressing the finding.",
)
.references(&[SG_RULES_DOC])
.disabled_by_default();

const DMZ_TAGS: Setting = Setting::new(
    "dmz-tags",
    SettingKind::TextMap,
    r#"{"environment":"dmz"}"#,
    "Tags that mark a security group as part of the DMZ: tag key to value (`*`: any value). A \
     group with a tag matching any entry is a DMZ group. Keys and values match exactly.",
);

const CDE_TAGS: Setting = Setting::new(
    "cde-tags",
    SettingKind::TextMap,
    r#"{"environment":"cde"}"#,
    "Tags that mark a security group as part of the cardholder data environment: tag key to \
     value (`*`: any value). A group with a tag matching any entry is a CDE group. Keys and \
     values match exactly.",
);

pub const ONLY_DMZ_PUBLICLY_ACCESSIBLE: Rule = Rule::new(
    "AWS.SecurityGroup.OnlyDMZPubliclyAccessible",
    "Only DMZ security groups allow ingress from the internet",
    Severity::Medium,
    SECURITY_GROUP,
    only_dmz_publicly_accessible,
)
.description(
    "Internet-facing resources belong in the DMZ. A group not tagged as DMZ (setting `dmz-tags`) \
     with an ingress rule from 0.0.0.0/0 or ::/0 exposes an internal resource to the internet.",
)
.remediation(
    "Remove the internet source from the group, move the resource behind a DMZ load balancer or \
     proxy, or tag the group as DMZ if it belongs there.",
)
.references(&[
    SG_RULES_DOC,
    "https://docs.aws.amazon.com/whitepapers/latest/aws-best-practices-ddos-resiliency/security-groups-and-network-acls-bp5.html",
])
.settings(&[DMZ_TAGS])
.disabled_by_default();

pub const RESTRICTS_ACCESS_TO_CDE: Rule = Rule::new(
    "AWS.SecurityGroup.RestrictsAccessToCDE",
    "Cardholder data environment security groups allow no ingress from the internet",
    Severity::Medium,
    SECURITY_GROUP,
    restricts_access_to_cde,
)
.description(
    "PCI DSS requires that inbound traffic from untrusted networks to the cardholder data \
     environment (CDE) be restricted. A group tagged as CDE (setting `cde-tags`) with an ingress \
     rule from 0.0.0.0/0 or ::/0 fails; groups not tagged as CDE pass.",
)
.remediation(
    "Remove the internet source from the CDE group; let traffic reach the CDE only through \
     DMZ components (load balancers, proxies) referenced by security group.",
)
.references(&[
    SG_RULES_DOC,
    "https://docs.aws.amazon.com/whitepapers/latest/pci-dss-compliance-on-aws-v4/requirement-1.html",
])
.settings(&[CDE_TAGS])
.disabled_by_default();

pub const RESTRICTS_TRAFFIC_LEAVING_CDE: Rule = Rule::new(
    "AWS.SecurityGroup.RestrictsTrafficLeavingCDE",
    "Cardholder data environment security groups allow no egress to the internet",
    Severity::Medium,
    SECURITY_GROUP,
    restricts_traffic_leaving_cde,
)
.description(
    "PCI DSS requires that outbound traffic from the cardholder data environment (CDE) be \
     restricted to what is necessary. A group tagged as CDE (setting `cde-tags`) with an egress \
     rule to 0.0.0.0/0 or ::/0 fails; groups not tagged as CDE pass.",
)
.remediation(
    "Replace the CDE group's internet egress with the destinations it needs: VPC endpoints, \
     prefix lists, specific addresses or other security groups.",
)
.references(&[
    SG_RULES_DOC,
    "https://docs.aws.amazon.com/whitepapers/latest/pci-dss-compliance-on-aws-v4/requirement-1.html",
])
.settings(&[CDE_TAGS])
.disabled_by_default();

pub const CIFS: Rule = Rule::new(
    "AWS.EC2.SecurityGroup.CIFS",
    "Security group allows no CIFS/SMB from the internet",
    Severity::High,
    SECURITY_GROUP,
    cifs,
)
.description(
    "Ingress from 0.0.0.0/0 or ::/0 to TCP 445 (SMB/CIFS over TCP) or TCP 139 (SMB over the \
     NetBIOS session service) exposes file sharing, a favourite target of worms and ransomware, \
     to the internet. This includes rules for all protocols (-1) and port ranges that cover \
     those ports. The NetBIOS name and datagram services (UDP 137-138) carry no file access and \
     are not checked.",
)
.remediation(
    "Remove the rule, or restrict its source to the networks that need file sharing; reach \
     remote file shares over a VPN or AWS Direct Connect instead of the internet.",
)
.references(&[
    SG_RULES_DOC,
    "https://docs.aws.amazon.com/fsx/latest/WindowsGuide/limit-access-security-groups.html",
])
.compliance(&["CIS-AWS-7.0:6.1.2"]);

/// Remote administration ports and what listens there.
const ADMIN_PORTS: &[(u16, &str)] = &[(22, "SSH"), (3389, "RDP")];

/// The ports SMB/CIFS file sharing listens on.
const CIFS_PORTS: &[(u16, &str)] = &[(445, "CIFS/SMB"), (139, "SMB over NetBIOS")];

/// The group's name for messages: `Name` (the model's envelope), `GroupName` (raw EC2 shape),
/// `Id`, else the resource id.
fn group_name<'a>(res: &Resource<'a>) -> Result<Cow<'a, str>> {
    for field in ["Name", "GroupName", "Id", "GroupId"] {
        let value: Option<Cow<'a, str>> = res.field(field)?;
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            return Ok(value);
        }
    }
    Ok(res.id())
}

/// The group's own id (`Id`, or `GroupId` in raw EC2 shapes).
fn group_id<'a>(res: &Resource<'a>) -> Result<Option<Cow<'a, str>>> {
    for field in ["Id", "GroupId"] {
        let value: Option<Cow<'a, str>> = res.field(field)?;
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            return Ok(Some(value));
        }
    }
    Ok(None)
}

/// The permissions of `field` (`IpPermissions` or `IpPermissionsEgress`; `null`: none).
fn permissions<'a>(res: &Resource<'a>, field: &str) -> Result<Vec<IpPermission<'a>>> {
    Ok(parse_ip_permissions(collected_text(res, field)?)?)
}

/// What a permission lets through, for messages.
pub(crate) fn describe(permission: &IpPermission<'_>) -> String {
    let protocol = permission.protocol();
    match (protocol, permission.port_range()) {
        (Protocol::All, _) => "a rule for all protocols and ports".to_owned(),
        (Protocol::Icmp | Protocol::Icmpv6, _) => format!("an {protocol} rule"),
        (_, Some(range)) if protocol.has_ports() && range.from == range.to => {
            format!("{protocol} port {range}")
        }
        (_, Some(range)) if protocol.has_ports() => format!("{protocol} ports {range}"),
        _ => format!("a rule for protocol {protocol}"),
    }
}

/// Every source (or destination) of a permission, for messages.
pub(crate) fn peers(permission: &IpPermission<'_>) -> String {
    let mut peers: Vec<&str> = permission.cidrs().collect();
    peers.extend(permission.prefix_list_ids());
    peers.extend(
        permission
            .security_group_pairs()
            .map(|id| id.unwrap_or("a security group named without id")),
    );
    if peers.is_empty() {
        "nowhere".to_owned()
    } else {
        peers.join(", ")
    }
}

/// One message per internet block of each permission: `{verb} {block} via {rule}`.
fn internet_exposure(permissions: &[IpPermission<'_>], verb: &str) -> Vec<String> {
    permissions
        .iter()
        .flat_map(|permission| {
            permission
                .world_cidrs()
                .map(move |cidr| format!("{verb} {cidr} via {}", describe(permission)))
        })
        .collect()
}

/// Failures for internet ingress to any of `ports` (TCP).
fn internet_ingress_to_ports(res: &Resource<'_>, ports: &[(u16, &str)]) -> Result<Verdict> {
    let ingress = permissions(res, "IpPermissions")?;
    let name = group_name(res)?;
    let mut failures = Vec::new();
    for permission in &ingress {
        for &(port, service) in ports {
            if !permission.covers_port(Protocol::Tcp, port) {
                continue;
            }
            for cidr in permission.world_cidrs() {
                failures.push(format!(
                    "security group {name} allows {service} (port {port}) from {cidr} via {}",
                    describe(permission)
                ));
            }
        }
    }
    Ok(Verdict::from_failures(failures))
}

fn administrative_ingress(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    internet_ingress_to_ports(res, ADMIN_PORTS)
}

fn cifs(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    internet_ingress_to_ports(res, CIFS_PORTS)
}

/// Fails naming each internet block of `field`'s permissions; `qualifier` follows the group's
/// name in messages (say why the group is held to the rule).
fn no_internet(res: &Resource<'_>, field: &str, qualifier: &str) -> Result<Verdict> {
    let permissions = permissions(res, field)?;
    let name = group_name(res)?;
    let verb = if field == "IpPermissions" {
        "allows ingress from"
    } else {
        "allows egress to"
    };
    Ok(Verdict::from_failures(
        internet_exposure(&permissions, verb)
            .into_iter()
            .map(|m| format!("security group {name}{qualifier} {m}"))
            .collect(),
    ))
}

fn restricts_inbound_traffic(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    no_internet(res, "IpPermissions", "")
}

fn restricts_outbound_traffic(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    no_internet(res, "IpPermissionsEgress", "")
}

/// Fails listing every permission of `field`.
fn no_rules(res: &Resource<'_>, field: &str) -> Result<Verdict> {
    let permissions = permissions(res, field)?;
    if permissions.is_empty() {
        return Ok(Verdict::Pass);
    }
    let (kind, preposition) = if field == "IpPermissions" {
        ("ingress", "from")
    } else {
        ("egress", "to")
    };
    let rules: Vec<String> = permissions
        .iter()
        .map(|p| format!("{} {preposition} {}", describe(p), peers(p)))
        .collect();
    Ok(Verdict::fail(format!(
        "security group {} has {} {kind} rule{}: {}",
        group_name(res)?,
        rules.len(),
        if rules.len() == 1 { "" } else { "s" },
        rules.join("; ")
    )))
}

fn tightly_restricts_inbound_traffic(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    no_rules(res, "IpPermissions")
}

fn tightly_restricts_outbound_traffic(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    no_rules(res, "IpPermissionsEgress")
}

fn restricts_inter_security_group_traffic(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let ingress = permissions(res, "IpPermissions")?;
    let own = group_id(res)?;
    let name = group_name(res)?;
    let mut failures = Vec::new();
    for permission in &ingress {
        for pair in permission.security_group_pairs() {
            match pair {
                Some(id) if own.as_deref() == Some(id) => {}
                Some(id) => failures.push(format!(
                    "security group {name} allows ingress from security group {id} via {}",
                    describe(permission)
                )),
                None => failures.push(format!(
                    "security group {name} allows ingress from a security group named without id \
                     via {}",
                    describe(permission)
                )),
            }
        }
    }
    Ok(Verdict::from_failures(failures))
}

/// The tag of the group that one of the entries of setting `setting` names.
fn marked_by(res: &Resource<'_>, ctx: &Ctx<'_>, setting: &str) -> Result<Option<String>> {
    let marks: BTreeMap<String, String> = ctx.setting(setting)?;
    let tags = tags(res)?;
    Ok(marking_tag(&tags, &marks).map(|(key, value)| format!("{key}={value}")))
}

fn only_dmz_publicly_accessible(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Verdict> {
    if marked_by(res, ctx, "dmz-tags")?.is_some() {
        return Ok(Verdict::Pass);
    }
    no_internet(res, "IpPermissions", " (not tagged as DMZ)")
}

fn restricts_access_to_cde(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Verdict> {
    match marked_by(res, ctx, "cde-tags")? {
        None => Ok(Verdict::Pass),
        Some(tag) => no_internet(res, "IpPermissions", &format!(" (CDE: tagged {tag})")),
    }
}

fn restricts_traffic_leaving_cde(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Verdict> {
    match marked_by(res, ctx, "cde-tags")? {
        None => Ok(Verdict::Pass),
        Some(tag) => no_internet(res, "IpPermissionsEgress", &format!(" (CDE: tagged {tag})")),
    }
}
