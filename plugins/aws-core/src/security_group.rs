//! EC2 security group rules.

use palisade_sdk::net::{IpPermission, Protocol, ip_permissions};
use palisade_sdk::{Ctx, Resource, Result, Rule, Severity, Verdict};
use serde::Deserialize;
use serde_json::Value;

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

/// Only the ingress rules are built as JSON values; the rest of the document is skipped.
#[derive(Deserialize)]
struct Group {
    /// The model's envelope `Name`; raw EC2 shapes call it `GroupName`.
    #[serde(rename = "Name")]
    name: Option<String>,
    #[serde(rename = "GroupName")]
    group_name: Option<String>,
    #[serde(rename = "IpPermissions")]
    ingress: Option<Value>,
}

fn administrative_ingress(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    res.require_collected(&["IpPermissions"])?;
    let group: Group = res.parse()?;
    let name = group
        .name
        .as_deref()
        .or(group.group_name.as_deref())
        .unwrap_or(res.id);
    let Some(ingress) = &group.ingress else {
        return Ok(Verdict::Pass);
    };
    let mut failures = Vec::new();
    for permission in ip_permissions(ingress) {
        let permission: IpPermission<'_> = permission?;
        for &(port, service) in ADMIN_PORTS {
            if !permission.covers_port(Protocol::Tcp, port) {
                continue;
            }
            for cidr in permission.world_cidrs() {
                failures.push(format!(
                    "security group {name} allows {service} (port {port}) from {cidr} via {}",
                    describe(&permission)
                ));
            }
        }
    }
    Ok(Verdict::from_failures(failures))
}

fn describe(permission: &IpPermission<'_>) -> String {
    match (permission.protocol(), permission.port_range()) {
        (Protocol::All, _) => "a rule for all protocols and ports".to_owned(),
        (_, Some(range)) => format!("tcp port range {range}"),
        (_, None) => "a rule".to_owned(),
    }
}
