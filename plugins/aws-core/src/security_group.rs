//! EC2 security group rules.

use palisade_sdk::net::{IpPermission, Protocol, parse_ip_permissions};
use palisade_sdk::{Ctx, Resource, Result, Rule, Severity, Verdict};
use std::borrow::Cow;

pub const ADMINISTRATIVE_INGRESS: Rule = Rule::new(
    "AWS.SecurityGroup.AdministrativeIngress",
    "Security group allows no SSH or RDP from the internet",
    Severity::High,
    &["AWS.EC2.SecurityGroup"],
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
.references(&["https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html"])
.compliance(&["CIS-AWS-7.0:6.3", "CIS-AWS-7.0:6.4"]);

/// Remote administration ports and what listens there.
const ADMIN_PORTS: &[(u16, &str)] = &[(22, "SSH"), (3389, "RDP")];

fn administrative_ingress(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    res.require_collected(&["IpPermissions"])?;
    // The model's envelope `Name`; raw EC2 shapes call it `GroupName`.
    let name: Option<Cow<'_, str>> = match res.field("Name")? {
        Some(name) => Some(name),
        None => res.field("GroupName")?,
    };
    let id = res.id();
    let name = name.as_deref().unwrap_or(&id);
    let ingress = parse_ip_permissions(res.raw_field("IpPermissions")?.unwrap_or("null"))?;
    let mut failures = Vec::new();
    for permission in &ingress {
        for &(port, service) in ADMIN_PORTS {
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

fn describe(permission: &IpPermission<'_>) -> String {
    match (permission.protocol(), permission.port_range()) {
        (Protocol::All, _) => "a rule for all protocols and ports".to_owned(),
        (_, Some(range)) if range.from == range.to => format!("tcp port {range}"),
        (_, Some(range)) => format!("tcp ports {range}"),
        (_, None) => "a rule".to_owned(),
    }
}
