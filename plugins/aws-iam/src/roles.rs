//! Role trust policies (`AssumeRolePolicyDocument`): who may assume the role. Not open to
//! everyone, only accounts of the organization, and GitHub Actions limited to known
//! repositories.
//!
//! Only Allow statements matter here (a Deny in a trust policy only takes away). Principals are
//! read in every form IAM accepts: `"*"`, `{"AWS": "*"}`, `{"AWS": [..., "*"]}`, account ids,
//! account root / role / user ARNs, `{"Service": ...}`, `{"Federated": ...}`; an Allow with
//! `NotPrincipal` applies to everyone not listed.

use std::borrow::Cow;

use palisade_sdk::iam::{ConditionTest, PolicyDocument, Statement};
use palisade_sdk::{Ctx, Error, Resource, Result, Rule, Setting, SettingKind, Severity, Verdict};

use crate::policies::{display_name, is_all_stars, required_document, statement_label};

const ROLE: &[&str] = &["AWS.IAM.Role"];

pub const RESTRICTS_USAGE: Rule = Rule::new(
    "AWS.IAM.Role.RestrictsUsage",
    "IAM role trust policy does not allow everyone to assume the role",
    Severity::Medium,
    ROLE,
    restricts_usage,
)
.description(
    "A trust policy that allows principal `*` (or `{\"AWS\": \"*\"}`, or everyone but a \
     NotPrincipal) lets any AWS account, any identity in it, assume the role, unless a \
     condition confines the caller. Counted as confining: an equality or match (StringEquals, \
     StringLike, ArnEquals, ArnLike and their IgnoreCase forms) on aws:PrincipalOrgID, \
     aws:PrincipalOrgPaths, aws:PrincipalAccount, aws:PrincipalArn, aws:SourceAccount, \
     aws:SourceArn, aws:SourceOrgID, aws:SourceOrgPaths or sts:ExternalId, without IfExists, \
     without ForAllValues and without a bare `*` value. Negated operators and Null checks do \
     not confine.",
)
.remediation(
    "Name the trusted principals in the trust policy (account root or role ARNs, or a \
     service), or add a condition such as `{\"StringEquals\": {\"aws:PrincipalOrgID\": \
     \"o-...\"}}`.",
)
.references(&[
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html",
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html",
]);

pub const EXTERNAL_PERMISSION: Rule = Rule::new(
    "AWS.IAM.Role.ExternalPermission",
    "IAM role can be assumed only from accounts of the organization",
    Severity::Critical,
    ROLE,
    external_permission,
)
.description(
    "Fails when the trust policy lets an AWS principal of another account assume the role: an \
     account id or an IAM ARN whose account is neither the role's own account nor listed in \
     `organization-accounts`; principal `*` (or an Allow with NotPrincipal) unless an \
     aws:PrincipalOrgID / aws:PrincipalOrgPaths condition confines it to the organization, or \
     an aws:PrincipalAccount condition to listed accounts. Service principals \
     (`ec2.amazonaws.com`) and federated identity providers are not accounts and pass; unique \
     ids that IAM leaves in place of deleted principals (`AROA...`) match no one and pass.",
)
.remediation(
    "Remove the foreign principal from the trust policy, or add its account to \
     `organization-accounts` if it belongs to the organization. For third parties that must \
     assume the role, review the trust and require an sts:ExternalId condition.",
)
.references(&[
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_common-scenarios_third-party.html",
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html",
])
.settings(&[Setting::new(
    "organization-accounts",
    SettingKind::TextList,
    "[]",
    "The 12-digit ids of the accounts of the organization, trusted besides the role's own \
     account.",
)])
.disabled_by_default();

pub const GITHUB_ACTIONS_TRUST: Rule = Rule::new(
    "AWS.IAM.Role.GitHubActionsTrust",
    "IAM role trusting GitHub Actions restricts the repository",
    Severity::High,
    ROLE,
    github_actions_trust,
)
.description(
    "GitHub's OIDC provider (token.actions.githubusercontent.com) issues tokens to every \
     workflow of every GitHub repository. A role that trusts it must restrict the token's \
     `sub` claim, or any repository on GitHub can assume the role. Fails when an Allow \
     statement with the federated principal `arn:aws:iam::ACCOUNT:oidc-provider/\
     token.actions.githubusercontent.com` has no StringEquals / StringLike test on \
     `token.actions.githubusercontent.com:sub` (without IfExists or ForAllValues) whose every \
     value names the repository owner literally: `repo:OWNER/REPO:...` and `repo:OWNER/*` (every \
     repository of one organization or user, the boundary GitHub itself controls) pass; `*`, \
     `repo:*`, `repo:OWNER*` (which also matches OWNER-evil) and `repo:*/REPO` fail. Under \
     StringLike, a value not in the `repo:` form passes only without wildcards. The `aud` \
     claim is not required here; AWS recommends also testing it equals sts.amazonaws.com.",
)
.remediation(
    "Add a condition such as `\"StringEquals\": {\"token.actions.githubusercontent.com:aud\": \
     \"sts.amazonaws.com\"}, \"StringLike\": {\"token.actions.githubusercontent.com:sub\": \
     \"repo:OWNER/REPO:ref:refs/heads/main\"}`, naming the repositories (and branches or \
     environments) that may deploy.",
)
.references(&[
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_oidc.html#idp_oidc_Create_GitHub",
    "https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/configuring-openid-connect-in-amazon-web-services",
])
.disabled_by_default();

/// Condition keys that confine an assuming caller to a bounded set of principals.
const CALLER_KEYS: &[&str] = &[
    "aws:PrincipalOrgID",
    "aws:PrincipalOrgPaths",
    "aws:PrincipalAccount",
    "aws:PrincipalArn",
    "aws:SourceAccount",
    "aws:SourceArn",
    "aws:SourceOrgID",
    "aws:SourceOrgPaths",
    "sts:ExternalId",
];

/// The role's trust policy; a role always has one, so null is an error.
fn trust_policy<'a>(res: &Resource<'a>) -> Result<(Cow<'a, str>, PolicyDocument)> {
    let name = display_name(res)?;
    let document = required_document(
        res,
        "AssumeRolePolicyDocument",
        &format!("role {name}'s trust policy"),
    )?;
    Ok((name, document))
}

/// The statement's actions for messages (`sts:AssumeRole`), or `every action except ...`.
fn actions(statement: &Statement) -> String {
    match (&statement.action, &statement.not_action) {
        (Some(actions), _) => actions.join(", "),
        (None, Some(excluded)) => format!("every action except {}", excluded.join(", ")),
        (None, None) => "no action".to_owned(),
    }
}

/// How the statement names everyone: `principal "*"`, or `NotPrincipal ...`.
fn everyone(statement: &Statement) -> String {
    match (&statement.principal, &statement.not_principal) {
        (Some(principal), _) if principal.is_public() => format!("principal {principal}"),
        (_, Some(not)) => format!("everyone except NotPrincipal {not}"),
        _ => "everyone".to_owned(),
    }
}

fn restricts_usage(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let (name, document) = trust_policy(res)?;
    let failures = document
        .public_statements()
        .filter(|(_, statement)| !statement.narrowed_by(CALLER_KEYS))
        .map(|(index, statement)| {
            let unless = if statement.has_condition() {
                "with no condition that confines the caller"
            } else {
                "without a condition"
            };
            format!(
                "role {name}: trust policy {} allows {} to {} {unless}",
                statement_label(statement, index),
                everyone(statement),
                actions(statement),
            )
        })
        .collect();
    Ok(Verdict::from_failures(failures))
}

/// The account of an AWS principal: a 12-digit id, or the account field of an IAM/STS ARN.
/// `None` for anything else (unique ids of deleted principals, `*`).
fn principal_account(principal: &str) -> Option<&str> {
    let account = if principal.starts_with("arn:") {
        principal.split(':').nth(4)?
    } else {
        principal
    };
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

/// A bounded aws:PrincipalOrgID / aws:PrincipalOrgPaths test, or a bounded aws:PrincipalAccount
/// test whose accounts are all trusted.
fn confined_to_organization(statement: &Statement, trusted: &dyn Fn(&str) -> bool) -> bool {
    statement.narrowed_by(&["aws:PrincipalOrgID", "aws:PrincipalOrgPaths"])
        || statement.condition_tests().any(|test: ConditionTest<'_>| {
            test.key_is("aws:PrincipalAccount")
                && test.matches_bounded_values()
                && test.values().all(|v| trusted(&v))
        })
}

fn external_permission(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Verdict> {
    let accounts: Vec<String> = ctx.setting("organization-accounts")?;
    if let Some(bad) = accounts
        .iter()
        .find(|a| principal_account(a.trim()) != Some(a.trim()))
    {
        return Err(Error::new(format!(
            "setting organization-accounts: {bad:?} is not a 12-digit account id"
        )));
    }
    let own = res.account_id();
    if own.is_empty() {
        return Err(Error::new("the document has no AccountId"));
    }
    let trusted = |account: &str| account == own || accounts.iter().any(|a| a.trim() == account);
    let (name, document) = trust_policy(res)?;
    let mut failures = Vec::new();
    for (index, statement) in document.statements.iter().enumerate() {
        if !statement.is_allow() {
            continue;
        }
        let label = statement_label(statement, index);
        if statement.has_public_principal() {
            if !confined_to_organization(statement, &trusted) {
                failures.push(format!(
                    "role {name}: trust policy {label} allows {} (any AWS account)",
                    everyone(statement)
                ));
            }
            continue;
        }
        let Some(principal) = &statement.principal else {
            continue;
        };
        for aws in principal.values("AWS") {
            if let Some(account) = principal_account(aws)
                && !trusted(account)
            {
                let who = if aws == account {
                    format!("account {account}")
                } else {
                    format!("{aws} of account {account}")
                };
                failures.push(format!(
                    "role {name}: trust policy {label} allows {who}, which is neither the role's \
                     account {own} nor in organization-accounts"
                ));
            }
        }
    }
    Ok(Verdict::from_failures(failures))
}

/// The GitHub OIDC provider path (`token.actions.githubusercontent.com`, or with an enterprise
/// slug) of a federated principal ARN, if it is one.
fn github_provider(federated: &str) -> Option<&str> {
    let (_, path) = federated.split_once(":oidc-provider/")?;
    let host = path.split('/').next()?;
    host.eq_ignore_ascii_case("token.actions.githubusercontent.com")
        .then_some(path)
}

/// Why a `sub` value does not restrict the repository owner, or `None` when it does.
fn sub_value_problem(value: &str, like: bool) -> Option<&'static str> {
    if is_all_stars(value) {
        return Some("matches every repository");
    }
    if !like {
        // StringEquals compares literally: `*` in the value is just a character.
        return None;
    }
    let wildcard = value.find(['*', '?']);
    let Some(rest) = value.strip_prefix("repo:") else {
        return wildcard.map(|_| "is not in the repo:OWNER/REPO form and has a wildcard");
    };
    let at = wildcard?;
    // The literal prefix must hold the whole owner and its `/`.
    let literal = &rest[..at - "repo:".len()];
    match literal.split_once('/') {
        Some((owner, _)) if !owner.is_empty() => None,
        _ => Some("wildcards the repository owner"),
    }
}

fn github_actions_trust(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let (name, document) = trust_policy(res)?;
    let mut failures = Vec::new();
    for (index, statement) in document.statements.iter().enumerate() {
        if !statement.is_allow() {
            continue;
        }
        let Some(principal) = &statement.principal else {
            continue;
        };
        let Some(provider) = principal
            .values("Federated")
            .iter()
            .find_map(|f| github_provider(f))
        else {
            continue;
        };
        let label = statement_label(statement, index);
        let sub_key = format!("{provider}:sub");
        let tests: Vec<ConditionTest<'_>> = statement
            .condition_tests()
            .filter(|t| t.key_is(&sub_key))
            .collect();
        let mut problems = Vec::new();
        let restricted = tests.iter().any(|test| {
            let like = test.operator_is("StringLike");
            if !(like || test.operator_is("StringEquals")) {
                problems.push(format!(
                    "{} test does not restrict it to listed values",
                    test.operator
                ));
                return false;
            }
            if !test.matches_bounded_values()
                && test.values().all(|v: Cow<'_, str>| !is_all_stars(&v))
            {
                problems.push(format!(
                    "{} test can be skipped (IfExists, ForAllValues or no value)",
                    test.operator
                ));
                return false;
            }
            let bad: Vec<String> = test
                .values()
                .filter_map(|v: Cow<'_, str>| {
                    sub_value_problem(&v, like).map(|why| format!("{v:?} {why}"))
                })
                .collect();
            if bad.is_empty() {
                return true;
            }
            problems.push(format!("{} value {}", test.operator, bad.join(", ")));
            false
        });
        if restricted {
            continue;
        }
        let why = if tests.is_empty() {
            format!("has no condition on {sub_key}")
        } else {
            format!("does not restrict {sub_key}: {}", problems.join("; "))
        };
        failures.push(format!(
            "role {name}: trust policy {label} trusts GitHub Actions (oidc-provider/{provider}) \
             but {why}, so workflows of other GitHub repositories can assume the role"
        ));
    }
    Ok(Verdict::from_failures(failures))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_values() {
        for ok in [
            "repo:acme/web-api:ref:refs/heads/main",
            "repo:acme/web-api:*",
            "repo:acme/*",
            "repo:acme/web-?pi:environment:prod",
            "environment:production",
        ] {
            assert_eq!(sub_value_problem(ok, true), None, "{ok}");
        }
        for bad in [
            "*",
            "**",
            "repo:*",
            "repo:acme*",
            "repo:*/infra:*",
            "repo:?cme/x",
            "env:*",
        ] {
            assert!(sub_value_problem(bad, true).is_some(), "{bad}");
        }
        // StringEquals compares literally.
        assert_eq!(sub_value_problem("repo:*", false), None);
        assert!(sub_value_problem("*", false).is_some());
    }

    #[test]
    fn accounts_of_principals() {
        assert_eq!(principal_account("123456789012"), Some("123456789012"));
        assert_eq!(
            principal_account("arn:aws:iam::123456789012:role/x"),
            Some("123456789012")
        );
        assert_eq!(
            principal_account("arn:aws-us-gov:sts::123456789012:assumed-role/r/s"),
            Some("123456789012")
        );
        assert_eq!(principal_account("AROA4Q7ZK2XW5NM8RT3LB"), None);
        assert_eq!(principal_account("*"), None);
        assert_eq!(principal_account("12345678901"), None);
    }

    #[test]
    fn github_providers() {
        assert_eq!(
            github_provider(
                "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
            ),
            Some("token.actions.githubusercontent.com")
        );
        assert_eq!(
            github_provider(
                "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com/acme"
            ),
            Some("token.actions.githubusercontent.com/acme")
        );
        assert_eq!(
            github_provider("arn:aws:iam::123456789012:oidc-provider/gitlab.com"),
            None
        );
        assert_eq!(
            github_provider("arn:aws:iam::123456789012:saml-provider/okta"),
            None
        );
    }
}
