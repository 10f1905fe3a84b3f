//! The CloudFormation template that creates the read-only role Palisade assumes in an account:
//! AWS managed `SecurityAudit` + `ViewOnlyAccess`, trusted only by one principal, optionally
//! only with an external id, and the role ARN as the stack's output.

use serde_json::{Value, json};

/// Name of the role the template creates unless the stack overrides it.
pub const DEFAULT_ROLE_NAME: &str = "PalisadeAudit";

/// The template as JSON (which CloudFormation accepts, and which is also valid YAML).
/// `trusted_principal` and `external_id` become the parameters' defaults; a stack may still
/// set them.
pub fn role_template(trusted_principal: Option<&str>, external_id: Option<&str>) -> Value {
    let mut principal = json!({
        "Type": "String",
        "Description": "ARN of the identity Palisade runs as (a role or user); only it may assume the audit role.",
        "AllowedPattern": "^arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:.+$",
    });
    if let Some(p) = trusted_principal {
        principal["Default"] = p.into();
    }
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "Read-only role for Palisade cloud security scans (SecurityAudit + ViewOnlyAccess).",
        "Parameters": {
            "TrustedPrincipalArn": principal,
            "ExternalId": {
                "Type": "String",
                "Description": "External id Palisade must present when assuming the role; empty for none.",
                "Default": external_id.unwrap_or(""),
                "NoEcho": true,
            },
            "RoleName": {
                "Type": "String",
                "Default": DEFAULT_ROLE_NAME,
            },
        },
        "Conditions": {
            "HasExternalId": {"Fn::Not": [{"Fn::Equals": [{"Ref": "ExternalId"}, ""]}]},
        },
        "Resources": {
            "PalisadeAuditRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": {"Ref": "RoleName"},
                    "Description": "Assumed by Palisade to read resource configuration; grants no write access.",
                    "MaxSessionDuration": 3600,
                    "ManagedPolicyArns": [
                        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/SecurityAudit"},
                        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/job-function/ViewOnlyAccess"},
                    ],
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{
                            "Effect": "Allow",
                            "Principal": {"AWS": {"Ref": "TrustedPrincipalArn"}},
                            "Action": "sts:AssumeRole",
                            "Condition": {"Fn::If": [
                                "HasExternalId",
                                {"StringEquals": {"sts:ExternalId": {"Ref": "ExternalId"}}},
                                {"Ref": "AWS::NoValue"},
                            ]},
                        }],
                    },
                    "Tags": [{"Key": "managed-by", "Value": "palisade"}],
                },
            },
        },
        "Outputs": {
            "RoleArn": {
                "Description": "Give this ARN to `palisade account add --role-arn`.",
                "Value": {"Fn::GetAtt": ["PalisadeAuditRole", "Arn"]},
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_has_the_role_the_policies_the_trust_and_the_output() {
        let t = role_template(
            Some("arn:aws:iam::111122223333:role/palisade-host"),
            Some("ext-123"),
        );
        // Round-trips as text: what `palisade account role-template` prints parses back.
        let t: Value = serde_json::from_str(&serde_json::to_string_pretty(&t).unwrap()).unwrap();
        let role = &t["Resources"]["PalisadeAuditRole"];
        assert_eq!(role["Type"], "AWS::IAM::Role");
        let policies = role["Properties"]["ManagedPolicyArns"].to_string();
        assert!(policies.contains("policy/SecurityAudit"), "{policies}");
        assert!(
            policies.contains("policy/job-function/ViewOnlyAccess"),
            "{policies}"
        );
        let statement = &role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0];
        assert_eq!(statement["Action"], "sts:AssumeRole");
        assert_eq!(statement["Principal"]["AWS"]["Ref"], "TrustedPrincipalArn");
        assert_eq!(
            statement["Condition"]["Fn::If"][1]["StringEquals"]["sts:ExternalId"]["Ref"],
            "ExternalId"
        );
        assert_eq!(
            t["Parameters"]["TrustedPrincipalArn"]["Default"],
            "arn:aws:iam::111122223333:role/palisade-host"
        );
        assert_eq!(t["Parameters"]["ExternalId"]["Default"], "ext-123");
        assert_eq!(
            t["Outputs"]["RoleArn"]["Value"]["Fn::GetAtt"],
            json!(["PalisadeAuditRole", "Arn"])
        );
        // Only read-only managed policies, no inline grants.
        assert!(role["Properties"].get("Policies").is_none());
    }

    #[test]
    fn without_defaults_the_principal_must_be_given_at_stack_creation() {
        let t = role_template(None, None);
        assert!(
            t["Parameters"]["TrustedPrincipalArn"]
                .get("Default")
                .is_none()
        );
        assert_eq!(t["Parameters"]["ExternalId"]["Default"], "");
    }
}
