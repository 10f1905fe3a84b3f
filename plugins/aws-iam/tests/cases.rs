//! Table-driven tests of the aws-iam rules: every case of `cases.json` is a realistic resource
//! document (the resource model's shapes) with the verdict the rule must reach on it.
//!
//! All cases run before anything is asserted, so one run lists every case that disagrees.

use palisade_aws_iam::RULES;

palisade_sdk::case_table_tests!(RULES);

#[test]
fn every_rule_has_an_error_case() {
    use palisade_sdk::cases::Expect;
    for rule in RULES {
        assert!(
            table()
                .cases()
                .iter()
                .any(|c| c.rule == rule.id && c.expect == Expect::Error),
            "{} has no error case",
            rule.id
        );
    }
}

#[test]
fn the_pack_holds_the_catalog_iam_rules() {
    use palisade_sdk::Severity::{Critical, High, Low, Medium};
    let catalog = [
        ("AWS.AccessKey.Rotation", Medium, true),
        ("AWS.AccessKey.Unused", Low, true),
        ("AWS.AccessKeys.AccountCreation", Low, true),
        ("AWS.Password.Unused", Low, true),
        ("AWS.IAM.User.MFA", High, true),
        ("AWS.IAM.Policy.AssignedToUser", Low, true),
        ("AWS.IAM.Resource.DoesNotHaveInlinePolicy", Medium, true),
        ("AWS.IAM.User.NotInConflictingGroups", Medium, false),
        ("AWS.IAM.Group.Users", Low, true),
        ("AWS.IAM.SupportRole", Low, true),
        ("AWS.RootAccount.AccessKeys", Critical, true),
        ("AWS.RootAccount.MFA", Critical, true),
        ("AWS.RootAccount.HardwareMFA", High, true),
        ("AWS.RootAccount.RecentUse", Medium, false),
        ("AWS.PasswordPolicy.ComplexityGuidelines", High, true),
        ("AWS.PasswordPolicy.PasswordAgeLimit", Medium, true),
        ("AWS.PasswordPolicy.PasswordReuse", Medium, true),
        ("AWS.PasswordPolicy.MinimumLength", Medium, true),
        (
            "AWS.IAM.Entity.InlinePolicyDoesNotGrantNetworkAdminAccess",
            Medium,
            true,
        ),
        ("AWS.IAM.Policy.Blacklist", Medium, false),
        ("AWS.CloudTrail.LeastPrivilege", Medium, false),
        ("AWS.IAM.Policy.AdministrativePrivileges", High, true),
        ("AWS.IAM.Policy.DoesNotGrantAdminAccess", Medium, true),
        (
            "AWS.IAM.Policy.DoesNotGrantNetworkAdminAccess",
            Medium,
            true,
        ),
        ("AWS.IAM.Policy.RoleMapping", High, false),
        ("AWS.IAM.Role.RestrictsUsage", Medium, true),
        ("AWS.IAM.Role.ExternalPermission", Critical, false),
        ("AWS.IAM.Role.GitHubActionsTrust", High, false),
    ];
    let rules: Vec<_> = RULES
        .iter()
        .map(|r| (r.id, r.severity, r.default_enabled))
        .collect();
    assert_eq!(rules, catalog);
}

#[test]
fn rules_carry_the_cis_controls_they_implement() {
    let expected: &[(&str, &[&str])] = &[
        ("AWS.AccessKey.Rotation", &["CIS-AWS-7.0:2.12"]),
        ("AWS.AccessKey.Unused", &["CIS-AWS-7.0:2.11"]),
        ("AWS.AccessKeys.AccountCreation", &[]),
        ("AWS.Password.Unused", &["CIS-AWS-7.0:2.11"]),
        ("AWS.IAM.User.MFA", &["CIS-AWS-7.0:2.10"]),
        ("AWS.IAM.Policy.AssignedToUser", &["CIS-AWS-7.0:2.13"]),
        (
            "AWS.IAM.Resource.DoesNotHaveInlinePolicy",
            &["CIS-AWS-7.0:2.13"],
        ),
        ("AWS.IAM.User.NotInConflictingGroups", &[]),
        ("AWS.IAM.Group.Users", &[]),
        ("AWS.IAM.SupportRole", &["CIS-AWS-7.0:2.15"]),
        ("AWS.RootAccount.AccessKeys", &["CIS-AWS-7.0:2.4"]),
        ("AWS.RootAccount.MFA", &["CIS-AWS-7.0:2.5"]),
        ("AWS.RootAccount.HardwareMFA", &["CIS-AWS-7.0:2.6"]),
        ("AWS.RootAccount.RecentUse", &["CIS-AWS-7.0:2.7"]),
        ("AWS.PasswordPolicy.ComplexityGuidelines", &[]),
        ("AWS.PasswordPolicy.PasswordAgeLimit", &[]),
        ("AWS.PasswordPolicy.PasswordReuse", &["CIS-AWS-7.0:2.9"]),
        ("AWS.PasswordPolicy.MinimumLength", &["CIS-AWS-7.0:2.8"]),
        (
            "AWS.IAM.Entity.InlinePolicyDoesNotGrantNetworkAdminAccess",
            &[],
        ),
        ("AWS.IAM.Policy.Blacklist", &[]),
        ("AWS.CloudTrail.LeastPrivilege", &[]),
        (
            "AWS.IAM.Policy.AdministrativePrivileges",
            &["CIS-AWS-7.0:2.14"],
        ),
        (
            "AWS.IAM.Policy.DoesNotGrantAdminAccess",
            &["CIS-AWS-7.0:2.14"],
        ),
        ("AWS.IAM.Policy.DoesNotGrantNetworkAdminAccess", &[]),
        ("AWS.IAM.Policy.RoleMapping", &[]),
        ("AWS.IAM.Role.RestrictsUsage", &[]),
        ("AWS.IAM.Role.ExternalPermission", &[]),
        ("AWS.IAM.Role.GitHubActionsTrust", &[]),
    ];
    let actual: Vec<(&str, &[&str])> = RULES.iter().map(|r| (r.id, r.compliance)).collect();
    assert_eq!(actual, expected);
}
