//! Approved-configuration rules: an instance's AMI, Dedicated Host, instance type, tenancy and
//! VPC are on the operator's lists, globally (`AWS.EC2.Instance.Approved*`) or per AMI
//! (`AWS.EC2.AMI.Approved*`). All are off by default; enabled with an empty list they return an
//! error naming the setting (see the crate documentation). An entry ending in `*` matches by
//! prefix (`t3.*`); entries match ignoring ASCII case.

use palisade_sdk::{Ctx, Error, Resource, Result, Rule, Setting, SettingKind, Severity, Verdict};
use serde::Deserialize;

use crate::{
    INSTANCE, instance_gone, label, list_setting, map_setting, reported, show_list, split_list,
};

/// An instance attribute the approvals constrain.
#[derive(Debug, Clone, Copy)]
enum Attr {
    Ami,
    Host,
    InstanceType,
    Tenancy,
    Vpc,
}

impl Attr {
    /// What the value is, for messages.
    fn noun(self) -> &'static str {
        match self {
            Attr::Ami => "AMI",
            Attr::Host => "Dedicated Host",
            Attr::InstanceType => "instance type",
            Attr::Tenancy => "tenancy",
            Attr::Vpc => "VPC",
        }
    }

    /// Where the value is in the document.
    fn field(self) -> &'static str {
        match self {
            Attr::Ami => "ImageId",
            Attr::Host => "Placement.HostId",
            Attr::InstanceType => "InstanceType",
            Attr::Tenancy => "Placement.Tenancy",
            Attr::Vpc => "VpcId",
        }
    }

    /// The instance's value; `None` where absence is meaningful (no Dedicated Host, no VPC).
    fn read(self, res: &Resource<'_>) -> Result<Option<String>> {
        match self {
            Attr::Ami => reported(res, "ImageId").map(Some),
            Attr::InstanceType => reported(res, "InstanceType").map(Some),
            Attr::Vpc => res.collected("VpcId"),
            Attr::Host | Attr::Tenancy => {
                let placement: Placement = reported(res, "Placement")?;
                match self {
                    Attr::Host => Ok(placement.host_id.filter(|h| !h.is_empty())),
                    _ => placement.tenancy.map(Some).ok_or_else(|| {
                        Error::new("Placement.Tenancy is null, so the rule cannot decide")
                    }),
                }
            }
        }
    }

    /// The instance's value as a phrase: `uses instance type m5.large (InstanceType)`.
    fn describe(self, value: Option<&str>) -> String {
        match value {
            Some(value) => format!("uses {} {value} ({})", self.noun(), self.field()),
            None => format!("has no {} ({} is null)", self.noun(), self.field()),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Placement {
    host_id: Option<String>,
    tenancy: Option<String>,
}

/// Whether `value` matches one of `approved`: equal ignoring ASCII case, or starting with an
/// entry's text before its trailing `*`.
fn approves(approved: &[String], value: &str) -> bool {
    approved.iter().any(|entry| match entry.strip_suffix('*') {
        Some(prefix) => value
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix)),
        None => entry.eq_ignore_ascii_case(value),
    })
}

/// The instance's `attr` is in the text-list setting `setting`.
fn approved_globally(
    res: &Resource<'_>,
    ctx: &Ctx<'_>,
    attr: Attr,
    setting: &str,
) -> Result<Verdict> {
    if instance_gone(res)?.is_some() {
        return Ok(Verdict::Pass);
    }
    let what = format!("approved {} values", attr.noun());
    let approved = list_setting(ctx, setting, &what)?;
    let value = attr.read(res)?;
    if value.as_deref().is_some_and(|v| approves(&approved, v)) {
        return Ok(Verdict::Pass);
    }
    let instance = label(res, "instance")?;
    let found = attr.describe(value.as_deref());
    let approved = show_list(&approved);
    Ok(Verdict::fail(match value {
        Some(_) => format!("{instance} {found}, which is not in setting {setting} {approved}"),
        None => format!("{instance} {found}; setting {setting} approves only {approved}"),
    }))
}

/// The instance's `attr` is among the values text-map setting `setting` allows for its AMI
/// (the entry `*` for AMIs without their own entry); instances of other AMIs pass.
fn approved_per_ami(
    res: &Resource<'_>,
    ctx: &Ctx<'_>,
    attr: Attr,
    setting: &str,
) -> Result<Verdict> {
    if instance_gone(res)?.is_some() {
        return Ok(Verdict::Pass);
    }
    let what = format!("AMIs and the {} values each may use", attr.noun());
    let map = map_setting(ctx, setting, &what)?;
    let ami: String = reported(res, "ImageId")?;
    let entry = map
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(&ami))
        .or_else(|| map.get_key_value("*"));
    let Some((key, allowed)) = entry else {
        return Ok(Verdict::Pass);
    };
    let allowed = split_list(allowed);
    let value = attr.read(res)?;
    if value.as_deref().is_some_and(|v| approves(&allowed, v)) {
        return Ok(Verdict::Pass);
    }
    let scope = if key == "*" {
        "AMIs without their own entry (`*`)".to_owned()
    } else {
        key.clone()
    };
    Ok(Verdict::fail(format!(
        "{} launched from {ami} {}, but setting {setting} allows only {} for {scope}",
        label(res, "instance")?,
        attr.describe(value.as_deref()),
        show_list(&allowed)
    )))
}

fn approved_ami(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Verdict> {
    approved_globally(res, ctx, Attr::Ami, "approved-amis")
}

fn approved_host(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Verdict> {
    approved_globally(res, ctx, Attr::Host, "approved-hosts")
}

fn approved_instance_type(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Verdict> {
    approved_globally(res, ctx, Attr::InstanceType, "approved-instance-types")
}

fn approved_tenancy(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Verdict> {
    approved_globally(res, ctx, Attr::Tenancy, "approved-tenancies")
}

fn approved_vpc(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Verdict> {
    approved_globally(res, ctx, Attr::Vpc, "approved-vpcs")
}

fn ami_approved_host(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Verdict> {
    approved_per_ami(res, ctx, Attr::Host, "ami-approved-hosts")
}

fn ami_approved_instance_type(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Verdict> {
    approved_per_ami(res, ctx, Attr::InstanceType, "ami-approved-instance-types")
}

fn ami_approved_tenancy(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Verdict> {
    approved_per_ami(res, ctx, Attr::Tenancy, "ami-approved-tenancies")
}

pub const APPROVED_AMI: Rule = Rule::new(
    "AWS.EC2.Instance.ApprovedAMI",
    "EC2 instance runs an approved AMI",
    Severity::High,
    INSTANCE,
    approved_ami,
)
.description(
    "Instances should start only from images the organisation has built, hardened and patched. \
     The instance's `ImageId` must be in setting `approved-amis`. Off by default; enabled with \
     an empty list the rule reports an error instead of deciding.",
)
.remediation(
    "Rebuild the instance from an approved AMI (update its launch template or Auto Scaling \
     group), or add the AMI to `approved-amis` once it has been reviewed. An EC2 allowed-AMIs \
     policy (`aws ec2 enable-allowed-images-settings`) stops unapproved images at launch.",
)
.references(&[
    "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-allowed-amis.html",
    "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/AMIs.html",
])
.settings(&[Setting::new(
    "approved-amis",
    SettingKind::TextList,
    "[]",
    "AMI ids instances may run (`ami-0abc...`); an entry ending in `*` matches by prefix. \
     Empty: the rule reports an error until it is filled in.",
)])
.disabled_by_default();

pub const APPROVED_HOST: Rule = Rule::new(
    "AWS.EC2.Instance.ApprovedHost",
    "EC2 instance runs on an approved Dedicated Host",
    Severity::Low,
    INSTANCE,
    approved_host,
)
.description(
    "Where licensing or isolation requires instances to run on specific Dedicated Hosts, the \
     instance's `Placement.HostId` must be in setting `approved-hosts`. An instance on shared \
     or dedicated-instance tenancy has no host and fails: it is not on an approved host. Off by \
     default; enabled with an empty list the rule reports an error instead of deciding.",
)
.remediation(
    "Stop the instance and move it to an approved host (`aws ec2 modify-instance-placement \
     --instance-id INSTANCE --tenancy host --host-id HOST`), or add the host to `approved-hosts`.",
)
.references(&["https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/dedicated-hosts-overview.html"])
.settings(&[Setting::new(
    "approved-hosts",
    SettingKind::TextList,
    "[]",
    "Dedicated Host ids instances may run on (`h-0abc...`); an entry ending in `*` matches by \
     prefix. Empty: the rule reports an error until it is filled in.",
)])
.disabled_by_default();

pub const APPROVED_INSTANCE_TYPE: Rule = Rule::new(
    "AWS.EC2.Instance.ApprovedInstanceType",
    "EC2 instance uses an approved instance type",
    Severity::Low,
    INSTANCE,
    approved_instance_type,
)
.description(
    "Restricting instance types keeps spend predictable and catches instances launched by \
     stolen credentials, which favour large GPU and compute types. The instance's \
     `InstanceType` must be in setting `approved-instance-types`. Off by default; enabled with \
     an empty list the rule reports an error instead of deciding.",
)
.remediation(
    "Stop the instance and change its type (`aws ec2 modify-instance-attribute --instance-id \
     INSTANCE --instance-type '{\"Value\":\"TYPE\"}'`), terminate it if nobody launched it on \
     purpose, or add the type to `approved-instance-types`. An SCP with `ec2:InstanceType` \
     conditions prevents such launches.",
)
.references(&["https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-resize.html"])
.settings(&[Setting::new(
    "approved-instance-types",
    SettingKind::TextList,
    "[]",
    "Instance types instances may use (`t3.micro`); an entry ending in `*` matches by prefix \
     (`t3.*`). Empty: the rule reports an error until it is filled in.",
)])
.disabled_by_default();

pub const APPROVED_TENANCY: Rule = Rule::new(
    "AWS.EC2.Instance.ApprovedTenancy",
    "EC2 instance uses an approved tenancy",
    Severity::Low,
    INSTANCE,
    approved_tenancy,
)
.description(
    "Tenancy decides whether an instance shares hardware with other accounts (`default`), runs \
     on hardware dedicated to the account (`dedicated`) or on a Dedicated Host (`host`). The \
     instance's `Placement.Tenancy` must be in setting `approved-tenancies` (default: \
     `default` only). Off by default.",
)
.remediation(
    "Stop the instance and change its tenancy (`aws ec2 modify-instance-placement --instance-id \
     INSTANCE --tenancy TENANCY`), or add the tenancy to `approved-tenancies`.",
)
.references(&["https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/dedicated-instance.html"])
.settings(&[Setting::new(
    "approved-tenancies",
    SettingKind::TextList,
    r#"["default"]"#,
    "Tenancies instances may use: `default`, `dedicated`, `host`. Empty: the rule reports an \
     error until it is filled in.",
)])
.disabled_by_default();

pub const APPROVED_VPC: Rule = Rule::new(
    "AWS.EC2.Instance.ApprovedVPC",
    "EC2 instance runs in an approved VPC",
    Severity::High,
    INSTANCE,
    approved_vpc,
)
.description(
    "Instances outside the VPCs whose routing, flow logs and controls have been reviewed (the \
     default VPC, an ad-hoc VPC) escape the network design. The instance's `VpcId` must be in \
     setting `approved-vpcs`. Off by default; enabled with an empty list the rule reports an \
     error instead of deciding.",
)
.remediation(
    "Relaunch the instance in an approved VPC (an AMI of it, then a launch into an approved \
     subnet), or add the VPC to `approved-vpcs` once it has been reviewed.",
)
.references(&["https://docs.aws.amazon.com/vpc/latest/userguide/configure-your-vpc.html"])
.settings(&[Setting::new(
    "approved-vpcs",
    SettingKind::TextList,
    "[]",
    "VPC ids instances may run in (`vpc-0abc...`); an entry ending in `*` matches by prefix. \
     Empty: the rule reports an error until it is filled in.",
)])
.disabled_by_default();

pub const AMI_APPROVED_HOST: Rule = Rule::new(
    "AWS.EC2.AMI.ApprovedHost",
    "Instances of an AMI run on the Dedicated Hosts approved for it",
    Severity::Low,
    INSTANCE,
    ami_approved_host,
)
.description(
    "Some images (BYOL Windows or SQL Server, licensed appliances) may only run on particular \
     Dedicated Hosts. For an instance whose `ImageId` has an entry in setting \
     `ami-approved-hosts`, `Placement.HostId` must be one of that entry's hosts; an instance not \
     on a Dedicated Host fails. Instances of AMIs without an entry pass, unless a `*` entry \
     applies to them. Off by default; enabled with an empty map the rule reports an error.",
)
.remediation(
    "Stop the instance and move it to an approved host (`aws ec2 modify-instance-placement \
     --instance-id INSTANCE --tenancy host --host-id HOST`), or add the host to the AMI's entry \
     in `ami-approved-hosts`.",
)
.references(&["https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/dedicated-hosts-overview.html"])
.settings(&[Setting::new(
    "ami-approved-hosts",
    SettingKind::TextMap,
    "{}",
    "AMI id to the comma-separated Dedicated Host ids its instances may run on, e.g. \
     {\"ami-0abc\": \"h-01, h-02\"}. The key `*` applies to AMIs without their own entry. \
     Empty: the rule reports an error until it is filled in.",
)])
.disabled_by_default();

pub const AMI_APPROVED_INSTANCE_TYPE: Rule = Rule::new(
    "AWS.EC2.AMI.ApprovedInstanceType",
    "Instances of an AMI use the instance types approved for it",
    Severity::Low,
    INSTANCE,
    ami_approved_instance_type,
)
.description(
    "Images are often built and licensed for particular instance types (a GPU image, an \
     appliance sized by vCPU). For an instance whose `ImageId` has an entry in setting \
     `ami-approved-instance-types`, `InstanceType` must be one of that entry's types. Instances \
     of AMIs without an entry pass, unless a `*` entry applies to them. Off by default; enabled \
     with an empty map the rule reports an error.",
)
.remediation(
    "Stop the instance and change its type to one approved for its AMI (`aws ec2 \
     modify-instance-attribute --instance-id INSTANCE --instance-type '{\"Value\":\"TYPE\"}'`), \
     or add the type to the AMI's entry in `ami-approved-instance-types`.",
)
.references(&["https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-resize.html"])
.settings(&[Setting::new(
    "ami-approved-instance-types",
    SettingKind::TextMap,
    "{}",
    "AMI id to the comma-separated instance types its instances may use, e.g. \
     {\"ami-0abc\": \"t3.micro, t3.small\"}; an entry ending in `*` matches by prefix (`g5.*`). \
     The key `*` applies to AMIs without their own entry. Empty: the rule reports an error \
     until it is filled in.",
)])
.disabled_by_default();

pub const AMI_APPROVED_TENANCY: Rule = Rule::new(
    "AWS.EC2.AMI.ApprovedTenancy",
    "Instances of an AMI use the tenancies approved for it",
    Severity::Low,
    INSTANCE,
    ami_approved_tenancy,
)
.description(
    "Licensed images may require dedicated hardware. For an instance whose `ImageId` has an \
     entry in setting `ami-approved-tenancies`, `Placement.Tenancy` must be one of that entry's \
     tenancies (`default`, `dedicated`, `host`). Instances of AMIs without an entry pass, unless \
     a `*` entry applies to them. Off by default; enabled with an empty map the rule reports an \
     error.",
)
.remediation(
    "Stop the instance and change its tenancy (`aws ec2 modify-instance-placement --instance-id \
     INSTANCE --tenancy TENANCY`), or add the tenancy to the AMI's entry in \
     `ami-approved-tenancies`.",
)
.references(&["https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/dedicated-instance.html"])
.settings(&[Setting::new(
    "ami-approved-tenancies",
    SettingKind::TextMap,
    "{}",
    "AMI id to the comma-separated tenancies its instances may use, e.g. \
     {\"ami-0abc\": \"dedicated, host\"}. The key `*` applies to AMIs without their own entry. \
     Empty: the rule reports an error until it is filled in.",
)])
.disabled_by_default();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approval_matches_exactly_or_by_prefix() {
        let list = split_list("t3.*, m5.large");
        assert!(approves(&list, "t3.micro"));
        assert!(approves(&list, "M5.LARGE"));
        assert!(!approves(&list, "m5.xlarge"));
        assert!(!approves(&list, "t3"));
        assert!(approves(&split_list("*"), "anything"));
    }
}
