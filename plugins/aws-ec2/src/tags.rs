//! Tagging rules on instances, VPCs, security groups and IAM users: a minimum number of tags,
//! and the tag keys required per resource type. Tags are the envelope's `Tags` map; null means
//! the resource has no tags. AWS-reserved `aws:` tags (added by CloudFormation, Auto Scaling,
//! ...) are not the owner's tagging and do not count.

use std::collections::{BTreeMap, BTreeSet};

use palisade_sdk::{Ctx, Error, Resource, Result, Rule, Setting, SettingKind, Severity, Verdict};

use crate::{label, map_setting, show_list, split_list};

/// The resource types the tagging rules apply to.
const TAGGED: &[&str] = &[
    "AWS.EC2.Instance",
    "AWS.EC2.VPC",
    "AWS.EC2.SecurityGroup",
    "AWS.IAM.User",
];

pub const MINIMUM_TAGS: Rule = Rule::new(
    "AWS.Resource.MinimumTags",
    "Resource has at least the minimum number of tags",
    Severity::Low,
    TAGGED,
    minimum_tags,
)
.description(
    "Tags say who owns a resource, what it is for and what it costs; an untagged resource is \
     hard to attribute during an incident or a cost review. The resource must carry at least \
     `minimum-tags` tags of its own: AWS-reserved `aws:` tags do not count. Off by default.",
)
.remediation(
    "Tag the resource (`aws ec2 create-tags --resources ID --tags Key=owner,Value=TEAM`, \
     `aws iam tag-user --user-name USER --tags Key=owner,Value=TEAM`), and enforce tags at \
     creation with tag policies and SCPs on `aws:RequestTag`.",
)
.references(&[
    "https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html",
    "https://docs.aws.amazon.com/whitepapers/latest/tagging-best-practices/tagging-best-practices.html",
])
.settings(&[Setting::new(
    "minimum-tags",
    SettingKind::Integer,
    "1",
    "Least number of tags a resource must carry, not counting AWS-reserved `aws:` tags.",
)])
.disabled_by_default();

pub const REQUIRED_TAGS: Rule = Rule::new(
    "AWS.Resource.RequiredTags",
    "Resource carries the tag keys required for its type",
    Severity::Low,
    TAGGED,
    required_tags,
)
.description(
    "Ownership, cost and data-classification processes rely on specific tag keys. The \
     resource must carry every key setting `required-tags` lists for its resource type and \
     under `*` (all types). Keys match exactly, as AWS tag keys are case sensitive; a tag with \
     an empty value counts as present. Types without an entry (and no `*` entry) pass. Off by \
     default; enabled with an empty map the rule reports an error instead of deciding.",
)
.remediation(
    "Add the missing tags (`aws ec2 create-tags --resources ID --tags Key=KEY,Value=VALUE`, \
     `aws iam tag-user --user-name USER --tags Key=KEY,Value=VALUE`), and enforce them at \
     creation with tag policies and SCPs on `aws:RequestTag`.",
)
.references(&[
    "https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_tag-policies.html",
    "https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html",
])
.settings(&[Setting::new(
    "required-tags",
    SettingKind::TextMap,
    "{}",
    "Resource type (`AWS.EC2.Instance`, `AWS.EC2.VPC`, `AWS.EC2.SecurityGroup`, \
     `AWS.IAM.User`) or `*` for every type, to the comma-separated tag keys required, e.g. \
     {\"*\": \"owner\", \"AWS.EC2.Instance\": \"owner, cost-center\"}. Empty: the rule reports \
     an error until it is filled in.",
)])
.disabled_by_default();

/// The kind of resource, for messages.
fn kind(resource_type: &str) -> &'static str {
    match resource_type {
        "AWS.EC2.Instance" => "instance",
        "AWS.EC2.VPC" => "VPC",
        "AWS.EC2.SecurityGroup" => "security group",
        "AWS.IAM.User" => "IAM user",
        _ => "resource",
    }
}

/// The resource's tags; null (no tags) reads as none.
fn tags(res: &Resource<'_>) -> Result<BTreeMap<String, String>> {
    let tags: Option<BTreeMap<String, String>> = res.collected_present("Tags")?;
    Ok(tags.unwrap_or_default())
}

/// Whether a tag key is reserved by AWS (`aws:` in any case).
fn reserved(key: &str) -> bool {
    key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:"))
}

fn minimum_tags(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Verdict> {
    let minimum: i64 = ctx.setting("minimum-tags")?;
    if minimum < 0 {
        return Err(Error::new(format!(
            "setting `minimum-tags` of {} is {minimum}; it must be 0 or more",
            ctx.rule_id()
        )));
    }
    let tags = tags(res)?;
    let own: Vec<&str> = tags
        .keys()
        .map(String::as_str)
        .filter(|k| !reserved(k))
        .collect();
    let count = i64::try_from(own.len()).unwrap_or(i64::MAX);
    if count >= minimum {
        return Ok(Verdict::Pass);
    }
    let found = if own.is_empty() {
        "no tags".to_owned()
    } else {
        format!("{count} tag(s) ({})", own.join(", "))
    };
    let reserved_note = match tags.len() - own.len() {
        0 => String::new(),
        n => format!(", not counting {n} AWS-reserved aws: tag(s)"),
    };
    Ok(Verdict::fail(format!(
        "{} has {found}{reserved_note}; setting minimum-tags requires at least {minimum}",
        label(res, kind(res.resource_type))?
    )))
}

fn required_tags(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Verdict> {
    let map = map_setting(ctx, "required-tags", "required tag keys per resource type")?;
    let mut required = BTreeSet::new();
    let mut entries = Vec::new();
    for key in [res.resource_type, "*"] {
        if let Some(keys) = map.get(key) {
            required.extend(split_list(keys));
            entries.push(key);
        }
    }
    if required.is_empty() {
        return Ok(Verdict::Pass);
    }
    let tags = tags(res)?;
    let missing: Vec<String> = required
        .into_iter()
        .filter(|key| !tags.contains_key(key))
        .collect();
    if missing.is_empty() {
        return Ok(Verdict::Pass);
    }
    Ok(Verdict::fail(format!(
        "{} is missing required tag(s) {} (setting required-tags, entries {})",
        label(res, kind(res.resource_type))?,
        show_list(&missing),
        entries.join(" and ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_prefix_is_reserved_in_any_case() {
        assert!(reserved("aws:cloudformation:stack-name"));
        assert!(reserved("AWS:foo"));
        assert!(!reserved("awsome"));
        assert!(!reserved("aw"));
    }
}
