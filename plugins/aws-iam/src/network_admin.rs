//! Network administration: policies (managed, or inline on users, roles and groups) that let
//! their holder move the account's network boundaries: open security groups, rewrite network
//! ACLs and route tables, create or delete VPCs, attach internet gateways, peer VPCs.
//!
//! A statement counts when it is an Allow whose action element covers one of those EC2 actions
//! (named, through a wildcard such as `ec2:Authorize*`, `ec2:*` or `*`, in any letter case, or
//! through a `NotAction` that leaves it allowed) on every resource: `Resource` `*`, an EC2 ARN
//! wildcarding the whole resource part or a whole resource type (`...:security-group/*`), or a
//! `NotResource`. An action that an unconditional Deny of the same policy refuses on every
//! resource does not count. Conditions on the Allow do not change the answer: they narrow who
//! or when, not which network the holder can reshape.

use palisade_sdk::iam::{PolicyDocument, Statement};
use palisade_sdk::{Ctx, Resource, Result, Rule, Severity, Verdict};

use crate::policies::{
    ENTITIES, action_element, denied_everywhere, display_name, entity_label, inline_policies,
    reaches_every_resource, required_document, statement_label, summarize,
};

pub const POLICY_NETWORK_ADMIN: Rule = Rule::new(
    "AWS.IAM.Policy.DoesNotGrantNetworkAdminAccess",
    "IAM policy does not grant broad network administration",
    Severity::Medium,
    &["AWS.IAM.Policy"],
    policy_network_admin,
)
.description(
    "A managed policy that allows changing security groups, network ACLs, route tables, VPCs, \
     internet gateways or VPC peering on every resource lets its holders expose private \
     networks to the internet or to other accounts. Fails when an Allow statement grants one \
     of those EC2 actions (also through `ec2:*`, `*`, wildcards such as `ec2:Authorize*`, or \
     NotAction) on `*` (or NotResource, or every resource of a type) and no unconditional Deny \
     in the policy refuses it.",
)
.remediation(
    "Restrict the statement to the network resources the holder manages (specific security \
     group or route table ARNs, or an `ec2:Vpc` / `aws:ResourceTag` condition), or move network \
     changes to a dedicated network-administration role. Keep ec2:Describe* for read access.",
)
.references(&[
    "https://docs.aws.amazon.com/vpc/latest/userguide/vpc-policy-examples.html",
    "https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html",
]);

pub const INLINE_POLICY_NETWORK_ADMIN: Rule = Rule::new(
    "AWS.IAM.Entity.InlinePolicyDoesNotGrantNetworkAdminAccess",
    "IAM inline policy does not grant broad network administration",
    Severity::Medium,
    ENTITIES,
    inline_policy_network_admin,
)
.description(
    "Inline policies of users, roles and groups are reviewed less often than managed ones. \
     Fails when an inline policy has an Allow statement granting security group, network ACL, \
     route table, VPC, internet gateway or VPC peering changes (also through `ec2:*`, `*`, \
     wildcards or NotAction) on every resource, and no unconditional Deny of the same policy \
     refuses it.",
)
.remediation(
    "Remove the network actions from the inline policy, or scope them to specific resources; \
     grant network administration through a reviewed managed policy on a dedicated role.",
)
.references(&[
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-vs-inline.html",
    "https://docs.aws.amazon.com/vpc/latest/userguide/vpc-policy-examples.html",
]);

/// EC2 actions that change network boundaries.
const NETWORK_ACTIONS: &[&str] = &[
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:AuthorizeSecurityGroupEgress",
    "ec2:RevokeSecurityGroupIngress",
    "ec2:RevokeSecurityGroupEgress",
    "ec2:ModifySecurityGroupRules",
    "ec2:CreateNetworkAcl",
    "ec2:CreateNetworkAclEntry",
    "ec2:ReplaceNetworkAclEntry",
    "ec2:ReplaceNetworkAclAssociation",
    "ec2:DeleteNetworkAcl",
    "ec2:DeleteNetworkAclEntry",
    "ec2:CreateRoute",
    "ec2:ReplaceRoute",
    "ec2:DeleteRoute",
    "ec2:CreateVpc",
    "ec2:DeleteVpc",
    "ec2:ModifyVpcAttribute",
    "ec2:CreateInternetGateway",
    "ec2:DeleteInternetGateway",
    "ec2:AttachInternetGateway",
    "ec2:DetachInternetGateway",
    "ec2:CreateVpcPeeringConnection",
    "ec2:AcceptVpcPeeringConnection",
];

/// One finding per statement granting network actions: `statement "X" (Action ec2:*) allows
/// ec2:AuthorizeSecurityGroupIngress, ... on every resource`.
fn network_findings(document: &PolicyDocument) -> Vec<String> {
    document
        .statements
        .iter()
        .enumerate()
        .filter_map(|(index, statement)| {
            let grants = network_grants(document, statement);
            (!grants.is_empty()).then(|| {
                format!(
                    "{} ({}) allows {} on every resource",
                    statement_label(statement, index),
                    action_element(statement),
                    summarize(&grants)
                )
            })
        })
        .collect()
}

fn network_grants(document: &PolicyDocument, statement: &Statement) -> Vec<&'static str> {
    if !statement.is_allow() || !reaches_every_resource(statement, "ec2") {
        return Vec::new();
    }
    NETWORK_ACTIONS
        .iter()
        .copied()
        .filter(|action| {
            statement.allows_action(action) && !denied_everywhere(document, action, "ec2")
        })
        .collect()
}

fn policy_network_admin(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let name = display_name(res)?;
    let document = required_document(res, "PolicyDocument", &format!("policy {name}"))?;
    let findings = network_findings(&document);
    Ok(Verdict::from_failures(
        findings
            .into_iter()
            .map(|f| format!("policy {name}: {f}"))
            .collect(),
    ))
}

fn inline_policy_network_admin(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let who = entity_label(res)?;
    let mut failures = Vec::new();
    for (policy, document) in inline_policies(res)? {
        for finding in network_findings(&document) {
            failures.push(format!("{who}: inline policy {policy} {finding}"));
        }
    }
    Ok(Verdict::from_failures(failures))
}
