//! Bucket policy rules: the resource policy (a JSON string in the document) must enforce TLS,
//! must not grant every S3 action, and must not open the bucket to everyone or to AWS services
//! acting for other accounts.
//!
//! A policy that does not parse is an `error` naming the defect, never a pass. Statements are
//! judged one at a time: a Deny elsewhere in the policy, an SCP or a public access block may
//! still stop what a statement allows, which these rules do not try to work out.

use std::borrow::Cow;

use palisade_sdk::iam::{ConditionTest, PolicyDocument, Principal, Statement};
use palisade_sdk::s3::{self, statement_actions, statement_label};
use palisade_sdk::{Ctx, Resource, Result, Rule, Severity, Value, Verdict};

use crate::{BUCKET, bucket_name};

pub const SECURE_ACCESS: Rule = Rule::new(
    "AWS.S3.Bucket.SecureAccess",
    "S3 bucket policy denies requests without TLS",
    Severity::Low,
    BUCKET,
    secure_access,
)
.description(
    "S3 accepts plain HTTP unless the bucket policy denies it. Passes when a Deny statement \
     applies to every principal, every S3 action (`s3:*` or `*`) and both the bucket and its \
     objects when `aws:SecureTransport` is false (a `Bool` condition).",
)
.remediation(
    "Add to the bucket policy: `{\"Sid\":\"DenyInsecureTransport\",\"Effect\":\"Deny\",\
     \"Principal\":\"*\",\"Action\":\"s3:*\",\"Resource\":[\"arn:aws:s3:::NAME\",\
     \"arn:aws:s3:::NAME/*\"],\"Condition\":{\"Bool\":{\"aws:SecureTransport\":\"false\"}}}`.",
)
.references(&[
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html",
    "https://repost.aws/knowledge-center/s3-bucket-policy-for-config-rule",
])
.compliance(&["CIS-AWS-7.0:3.1.1"]);

pub const ACTION_RESTRICTIONS: Rule = Rule::new(
    "AWS.S3.Bucket.ActionRestrictions",
    "S3 bucket policy does not allow every S3 action",
    Severity::Medium,
    BUCKET,
    action_restrictions,
)
.description(
    "An Allow statement with `s3:*` or `*` (or a NotAction that leaves every other S3 action \
     allowed) lets its principals delete objects, rewrite the policy and change the bucket's \
     settings. Grant the actions each principal needs instead.",
)
.remediation(
    "Replace the wildcard with the actions needed, e.g. `s3:GetObject` and `s3:PutObject` for \
     an application, and keep bucket administration with IAM roles of the owning account.",
)
.references(&[
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/example-bucket-policies.html",
]);

pub const PRINCIPAL_RESTRICTIONS: Rule = Rule::new(
    "AWS.S3.Bucket.PrincipalRestrictions",
    "S3 bucket policy does not allow everyone",
    Severity::High,
    BUCKET,
    principal_restrictions,
)
.description(
    "An Allow statement to principal `*` (or `{\"AWS\": \"*\"}`, or everyone but a NotPrincipal) \
     opens the bucket to anyone unless a condition narrows the caller: an equality or match on \
     aws:SourceArn, aws:SourceAccount, aws:SourceOrgID, aws:SourceOrgPaths, aws:SourceVpc, \
     aws:SourceVpce, aws:SourceIp, aws:PrincipalOrgID, aws:PrincipalOrgPaths, \
     aws:PrincipalAccount, aws:PrincipalArn or s3:DataAccessPointAccount/Arn, without \
     IfExists and without a bare wildcard or 0.0.0.0/0. Negated operators do not count.",
)
.remediation(
    "Name the principals (account, role or service ARNs) instead of `*`, or add a condition \
     such as `{\"StringEquals\":{\"aws:PrincipalOrgID\":\"o-...\"}}` or \
     `{\"StringEquals\":{\"aws:SourceVpce\":\"vpce-...\"}}`. Serve public websites through \
     CloudFront with origin access control.",
)
.references(&[
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html#access-control-block-public-access-policy-status",
])
.compliance(&["CIS-AWS-7.0:2.21"]);

pub const ALLOW_WITH_NOT_PRINCIPAL: Rule = Rule::new(
    "AWS.S3.Bucket.PolicyAllowWithNotPrincipal",
    "S3 bucket policy does not allow with NotPrincipal",
    Severity::High,
    BUCKET,
    allow_with_not_principal,
)
.description(
    "`Effect: Allow` with `NotPrincipal` grants access to every principal except those listed, \
     anonymous callers included. AWS advises never to combine them.",
)
.remediation("Rewrite the statement with `Principal` listing who may have access.")
.references(&[
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html",
]);

pub const CONFUSED_DEPUTY_PROTECTION: Rule = Rule::new(
    "AWS.S3.Bucket.PolicyConfusedDeputyProtection",
    "S3 bucket policy scopes AWS service principals to the source",
    Severity::High,
    BUCKET,
    confused_deputy_protection,
)
.description(
    "A service principal (such as `logging.s3.amazonaws.com` or `cloudtrail.amazonaws.com`) \
     acts for every AWS customer. Without an aws:SourceAccount, aws:SourceArn, aws:SourceOrgID \
     or aws:SourceOrgPaths condition, another account can make the service read or write this \
     bucket on its behalf (the confused deputy problem).",
)
.remediation(
    "Add a condition naming the resource or account the service acts for, e.g. \
     `{\"StringEquals\":{\"aws:SourceAccount\":\"123456789012\"}}` or \
     `{\"ArnLike\":{\"aws:SourceArn\":\"arn:aws:cloudtrail:REGION:123456789012:trail/NAME\"}}`.",
)
.references(&["https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html"]);

/// Condition keys that tie a service principal to the resource or account it acts for.
const SOURCE_KEYS: &[&str] = &[
    "aws:SourceAccount",
    "aws:SourceArn",
    "aws:SourceOrgID",
    "aws:SourceOrgPaths",
];

fn secure_access(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let name = bucket_name(res)?;
    let Some(policy) = bucket_policy(res, &name, Missing::ReadsAsNull)? else {
        return Ok(Verdict::fail(format!(
            "bucket {name} has no bucket policy, so nothing denies requests without TLS \
             (aws:SecureTransport false)"
        )));
    };
    let arn = bucket_arn(res, &name);
    let object = format!("{arn}/any-key");
    let mut partial = None;
    for (index, statement) in policy.statements.iter().enumerate() {
        if statement.is_allow() || !statement.condition_tests().any(|t| insecure_transport(&t)) {
            continue;
        }
        let everyone = statement
            .principal
            .as_ref()
            .is_some_and(Principal::is_public);
        let every_action = statement
            .action
            .iter()
            .flatten()
            .any(|a| covers_every_s3_action(a));
        let everywhere = statement.matches_resource(&arn) && statement.matches_resource(&object);
        if everyone && every_action && everywhere {
            return Ok(Verdict::Pass);
        }
        let limit = if !everyone {
            "only to some principals"
        } else if !every_action {
            "only for some actions"
        } else {
            "only for some of the bucket's resources"
        };
        if partial.is_none() {
            partial = Some(format!(
                " ({} denies it {limit})",
                statement_label(index, statement)
            ));
        }
    }
    Ok(Verdict::fail(format!(
        "bucket {name}: no Deny statement covers every principal and S3 action on the bucket and \
         its objects when aws:SecureTransport is false{}",
        partial.unwrap_or_default()
    )))
}

/// `"Bool": {"aws:SecureTransport": "false"}` (or `false`, or a list holding it).
fn insecure_transport(test: &ConditionTest<'_>) -> bool {
    test.key_is("aws:SecureTransport")
        && test.operator_is("Bool")
        && test.set_qualifier().is_none()
        && test.values().any(|v| v.eq_ignore_ascii_case("false"))
}

fn action_restrictions(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let name = bucket_name(res)?;
    let Some(policy) = bucket_policy(res, &name, Missing::IsAnError)? else {
        return Ok(Verdict::Pass);
    };
    let failures = allow_statements(&policy)
        .filter_map(|(index, statement)| {
            let how = match (&statement.action, &statement.not_action) {
                (Some(actions), _) => {
                    let broad: Vec<&str> = actions
                        .iter()
                        .map(String::as_str)
                        .filter(|a| covers_every_s3_action(a))
                        .collect();
                    if broad.is_empty() {
                        return None;
                    }
                    format!("allows {}", broad.join(", "))
                }
                (None, Some(excluded)) if !excluded.iter().any(|a| covers_every_s3_action(a)) => {
                    format!(
                        "allows every S3 action except NotAction {}",
                        excluded.join(", ")
                    )
                }
                _ => return None,
            };
            Some(format!("{} {how}", statement_label(index, statement)))
        })
        .collect();
    Ok(verdict(&name, failures))
}

fn principal_restrictions(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let name = bucket_name(res)?;
    let Some(policy) = bucket_policy(res, &name, Missing::IsAnError)? else {
        return Ok(Verdict::Pass);
    };
    let failures = s3::public_statements(&policy)
        .into_iter()
        .map(|(index, statement)| s3::describe_public_statement(index, statement))
        .collect();
    Ok(verdict(&name, failures))
}

fn allow_with_not_principal(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let name = bucket_name(res)?;
    let Some(policy) = bucket_policy(res, &name, Missing::IsAnError)? else {
        return Ok(Verdict::Pass);
    };
    let failures = allow_statements(&policy)
        .filter_map(|(index, statement)| {
            let excluded = statement.not_principal.as_ref()?;
            Some(format!(
                "{} allows {} to every principal except NotPrincipal {}",
                statement_label(index, statement),
                statement_actions(statement),
                excluded
            ))
        })
        .collect();
    Ok(verdict(&name, failures))
}

fn confused_deputy_protection(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let name = bucket_name(res)?;
    let Some(policy) = bucket_policy(res, &name, Missing::IsAnError)? else {
        return Ok(Verdict::Pass);
    };
    let failures = allow_statements(&policy)
        .filter_map(|(index, statement)| {
            let services = statement.principal.as_ref()?.values("Service");
            if services.is_empty() || statement.narrowed_by(SOURCE_KEYS) {
                return None;
            }
            Some(format!(
                "{} allows {} to service principal {} without an aws:SourceAccount, \
                 aws:SourceArn, aws:SourceOrgID or aws:SourceOrgPaths condition",
                statement_label(index, statement),
                statement_actions(statement),
                services.join(", ")
            ))
        })
        .collect();
    Ok(verdict(&name, failures))
}

/// Whether a document without a `Policy` key may be judged as a bucket without a policy.
#[derive(Clone, Copy)]
enum Missing {
    /// Yes: the rule fails a bucket without a policy anyway.
    ReadsAsNull,
    /// No: the rule passes a bucket without a policy, so it must know there is none.
    IsAnError,
}

/// The bucket policy, parsed; `None` when the bucket has none. `Policy` is the policy text (a
/// JSON string); an object is accepted too.
fn bucket_policy(
    res: &Resource<'_>,
    name: &str,
    missing: Missing,
) -> Result<Option<PolicyDocument>> {
    let policy: Option<Value> = match missing {
        Missing::ReadsAsNull => res.collected("Policy")?,
        Missing::IsAnError => res.collected_present("Policy")?,
    };
    policy
        .map(|policy| s3::parse_bucket_policy(&policy, name))
        .transpose()
}

/// The bucket's ARN: the resource id when it is one, else built from the name.
fn bucket_arn<'a>(res: &Resource<'a>, name: &str) -> Cow<'a, str> {
    let id = res.id();
    if id.starts_with("arn:") {
        id
    } else {
        Cow::Owned(format!("arn:aws:s3:::{name}"))
    }
}

/// The Allow statements, with their positions.
fn allow_statements(policy: &PolicyDocument) -> impl Iterator<Item = (usize, &Statement)> {
    policy
        .statements
        .iter()
        .enumerate()
        .filter(|(_, statement)| statement.is_allow())
}

/// `*`, `*:*`, `s3:*` (any case, runs of stars): an action pattern matching every S3 action.
fn covers_every_s3_action(pattern: &str) -> bool {
    let stars = |s: &str| !s.is_empty() && s.bytes().all(|b| b == b'*');
    match pattern.split_once(':') {
        Some((service, action)) => {
            (service.eq_ignore_ascii_case("s3") || stars(service)) && stars(action)
        }
        None => stars(pattern),
    }
}

/// Pass without failures, else one failure naming the bucket and every offending statement.
fn verdict(name: &str, failures: Vec<String>) -> Verdict {
    if failures.is_empty() {
        Verdict::Pass
    } else {
        Verdict::fail(format!("bucket {name}: {}", failures.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_wildcards() {
        for pattern in ["*", "**", "*:*", "s3:*", "S3:*", "s3:**"] {
            assert!(covers_every_s3_action(pattern), "{pattern}");
        }
        for pattern in ["s3:Get*", "s3:*Object", "ec2:*", "s3:", ":*", "", "s3"] {
            assert!(!covers_every_s3_action(pattern), "{pattern}");
        }
    }
}
