//! VPC rules (`AWS.EC2.VPC`): flow logs, and the VPC's default security group and default
//! network ACL, which the rules read through `ctx.lookup` under the ids the scanner files them
//! by: `arn:<partition>:ec2:<region>:<account>:security-group/<sg-id>` and
//! `…:network-acl/<acl-id>`. A default group or ACL the lookup does not find is an error,
//! never a pass.

use std::borrow::Cow;

use palisade_sdk::net::{Direction, IpPermission, NetworkAcl, Traffic, ip_permissions};
use palisade_sdk::{Ctx, Error, Resource, Result, Rule, Severity, Value, Verdict};
use serde::Deserialize;

use crate::{network_acl, require_collected_in, security_group};

const VPC: &[&str] = &["AWS.EC2.VPC"];

pub const FLOW_LOGS: Rule = Rule::new(
    "AWS.VPC.FlowLogs",
    "VPC has an active flow log",
    Severity::Medium,
    VPC,
    flow_logs,
)
.description(
    "VPC flow logs record the traffic accepted and rejected in the VPC: the evidence for \
     investigating anomalous traffic and lateral movement. The VPC needs a flow log that is \
     ACTIVE, whose log delivery has not failed (DeliverLogsStatus FAILED, e.g. a missing \
     delivery role or destination), and that records rejected traffic (TrafficType ALL or \
     REJECT; CIS asks for rejects at a minimum).",
)
.remediation(
    "Create a flow log for the VPC with traffic type ALL (or REJECT) to CloudWatch Logs, S3 or \
     Firehose, and fix the delivery role or destination of a flow log whose delivery fails.",
)
.references(&["https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs.html"])
.compliance(&["CIS-AWS-7.0:4.7"]);

pub const DEFAULT_SECURITY_GROUP_RESTRICTIONS: Rule = Rule::new(
    "AWS.VPC.DefaultSecurityGroup.Restrictions",
    "The VPC's default security group has no rules",
    Severity::Low,
    VPC,
    default_security_group_restrictions,
)
.description(
    "Resources launched without a security group land in the VPC's default group, which allows \
     all traffic among its members and all egress until changed. With no inbound and no \
     outbound rules it restricts all traffic, so nothing is exposed by accident and every \
     resource gets a deliberate group.",
)
.remediation(
    "Remove every inbound and outbound rule of the default security group (it cannot be \
     deleted), and move resources that use it to least-privilege groups.",
)
.references(&["https://docs.aws.amazon.com/vpc/latest/userguide/default-security-group.html"])
.compliance(&["CIS-AWS-7.0:6.5"]);

pub const DEFAULT_NETWORK_ACL_RESTRICTS_ALL_TRAFFIC: Rule = Rule::new(
    "AWS.VPC.DefaultNetworkACLRestrictsAllTraffic",
    "The VPC's default network ACL denies all traffic",
    Severity::Low,
    VPC,
    default_network_acl_restricts_all_traffic,
)
.description(
    "Subnets not associated with a network ACL use the VPC's default one, which allows all \
     traffic in and out until changed. It restricts all traffic when no allow entry, inbound or \
     outbound, decides any traffic (only deny entries, or allows that earlier denies shadow \
     completely), so a new subnet gets no traffic until it is given a deliberate ACL.",
)
.remediation(
    "Remove the allow entries of the default network ACL (or add lower-numbered deny-all \
     entries), and associate each subnet with a network ACL made for it.",
)
.references(&["https://docs.aws.amazon.com/vpc/latest/userguide/default-network-acl.html"])
.disabled_by_default();

/// The VPC's id for messages: `Id`, `VpcId`, else the resource id.
fn vpc_id<'a>(res: &Resource<'a>) -> Result<Cow<'a, str>> {
    for field in ["Id", "VpcId"] {
        let value: Option<Cow<'a, str>> = res.field(field)?;
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            return Ok(value);
        }
    }
    Ok(res.id())
}

/// One EC2 `FlowLog`, the fields the rule reads.
#[derive(Deserialize)]
struct FlowLog {
    #[serde(rename = "FlowLogId")]
    id: Option<String>,
    #[serde(rename = "FlowLogStatus")]
    status: Option<String>,
    #[serde(rename = "DeliverLogsStatus")]
    delivery: Option<String>,
    #[serde(rename = "DeliverLogsErrorMessage")]
    delivery_error: Option<String>,
    #[serde(rename = "TrafficType")]
    traffic: Option<String>,
}

impl FlowLog {
    /// Why the flow log does not count, or `None` when it does.
    fn shortfall(&self) -> Option<String> {
        let id = self.id.as_deref().unwrap_or("(no id)");
        let status = self.status.as_deref().unwrap_or("");
        if !status.eq_ignore_ascii_case("ACTIVE") {
            let status = if status.is_empty() {
                "not active"
            } else {
                status
            };
            return Some(format!("flow log {id} is {status}"));
        }
        if self
            .delivery
            .as_deref()
            .is_some_and(|d| d.eq_ignore_ascii_case("FAILED"))
        {
            return Some(match self.delivery_error.as_deref() {
                Some(why) if !why.is_empty() => {
                    format!("flow log {id} fails to deliver its logs ({why})")
                }
                _ => format!("flow log {id} fails to deliver its logs"),
            });
        }
        if self
            .traffic
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("ACCEPT"))
        {
            return Some(format!(
                "flow log {id} records only accepted traffic (TrafficType ACCEPT)"
            ));
        }
        None
    }
}

fn flow_logs(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    res.require_collected(&["FlowLogs"])?;
    let logs: Option<Vec<FlowLog>> = res.field("FlowLogs")?;
    let logs = logs.unwrap_or_default();
    let vpc = vpc_id(res)?;
    if logs.is_empty() {
        return Ok(Verdict::fail(format!("VPC {vpc} has no flow log")));
    }
    let mut shortfalls = Vec::new();
    for log in &logs {
        match log.shortfall() {
            None => return Ok(Verdict::Pass),
            Some(why) => shortfalls.push(why),
        }
    }
    Ok(Verdict::fail(format!(
        "VPC {vpc} has no active flow log recording rejected traffic: {}",
        shortfalls.join("; ")
    )))
}

/// The id in `field` (`DefaultSecurityGroupId`, `DefaultNetworkAclId`), which every VPC has.
fn required_id(res: &Resource<'_>, field: &str) -> Result<String> {
    res.require_collected(&[field])?;
    let id: Option<String> = res.field(field)?;
    id.filter(|id| !id.is_empty()).ok_or_else(|| {
        Error::new(format!(
            "the VPC document has no {field}, so the rule cannot decide"
        ))
    })
}

/// The resource id the scanner files the VPC's `kind` (`security-group`, `network-acl`)
/// `id` under: the VPC's partition (from its `Arn`, else its resource id, else `aws`), region
/// and account.
fn sibling_arn(res: &Resource<'_>, kind: &str, id: &str) -> Result<String> {
    let arn: Option<Cow<'_, str>> = res.field("Arn")?;
    let arn = arn
        .filter(|arn| arn.starts_with("arn:"))
        .unwrap_or_else(|| res.id());
    let partition = arn
        .strip_prefix("arn:")
        .and_then(|rest| rest.split(':').next())
        .filter(|p| !p.is_empty())
        .unwrap_or("aws");
    let (region, account) = (res.region(), res.account_id());
    if region.is_empty() || account.is_empty() {
        return Err(Error::new(
            "the VPC document has no Region or AccountId, so its default resources cannot be \
             looked up",
        ));
    }
    Ok(format!(
        "arn:{partition}:ec2:{region}:{account}:{kind}/{id}"
    ))
}

/// The looked-up document filed under `arn`; an error naming `what` when there is none.
fn look_up(ctx: &Ctx<'_>, arn: &str, what: &str) -> Result<Value> {
    ctx.lookup(arn)?.ok_or_else(|| {
        Error::new(format!(
            "{what} was not collected (no resource {arn}), so the rule cannot decide"
        ))
    })
}

fn default_security_group_restrictions(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Verdict> {
    let group_id = required_id(res, "DefaultSecurityGroupId")?;
    let arn = sibling_arn(res, "security-group", &group_id)?;
    let what = format!("default security group {group_id}");
    let group = look_up(ctx, &arn, &what)?;
    let fields = [
        ("IpPermissions", "ingress", "from"),
        ("IpPermissionsEgress", "egress", "to"),
    ];
    require_collected_in(&group, &what, &fields.map(|(field, ..)| field))?;
    let mut rules = Vec::new();
    for (field, kind, preposition) in fields {
        let permissions: Vec<IpPermission<'_>> =
            ip_permissions(&group[field]).collect::<Result<_, _>>()?;
        rules.extend(permissions.iter().map(|p| {
            format!(
                "{kind} {} {preposition} {}",
                security_group::describe(p),
                security_group::peers(p)
            )
        }));
    }
    if rules.is_empty() {
        return Ok(Verdict::Pass);
    }
    Ok(Verdict::fail(format!(
        "{what} of VPC {} has {} rule{}: {}",
        vpc_id(res)?,
        rules.len(),
        if rules.len() == 1 { "" } else { "s" },
        rules.join("; ")
    )))
}

fn default_network_acl_restricts_all_traffic(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Verdict> {
    let acl_id = required_id(res, "DefaultNetworkAclId")?;
    let arn = sibling_arn(res, "network-acl", &acl_id)?;
    let what = format!("default network ACL {acl_id}");
    let doc = look_up(ctx, &arn, &what)?;
    require_collected_in(&doc, &what, &["Entries"])?;
    let acl = NetworkAcl::from_value(&doc["Entries"])?;
    let vpc = vpc_id(res)?;
    let mut failures = Vec::new();
    for (direction, kind) in [
        (Direction::Ingress, "ingress"),
        (Direction::Egress, "egress"),
    ] {
        for entry in acl.effective_allows(direction, &Traffic::ALL) {
            failures.push(format!(
                "{what} of VPC {vpc} allows {kind} {} {} via {}",
                network_acl::preposition(direction),
                entry.cidr_text(),
                network_acl::describe(entry)
            ));
        }
    }
    Ok(Verdict::from_failures(failures))
}
