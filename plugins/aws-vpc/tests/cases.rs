//! Table-driven tests of the aws-vpc rules: every case of `cases.json` is a realistic resource
//! document (the resource model's shapes) with the verdict the rule must reach on it, and the
//! default security groups and network ACLs the VPC rules look up.
//!
//! All cases run before anything is asserted, so one run lists every case that disagrees.

use palisade_aws_vpc::RULES;

palisade_sdk::case_table_tests!(RULES);

#[test]
fn the_pack_holds_the_catalog_ec2_and_vpc_network_rules() {
    use palisade_sdk::Severity::{High, Low, Medium};
    const SG: &str = "AWS.EC2.SecurityGroup";
    const NACL: &str = "AWS.EC2.NetworkACL";
    const VPC: &str = "AWS.EC2.VPC";
    let catalog = [
        ("AWS.SecurityGroup.AdministrativeIngress", High, true, SG),
        (
            "AWS.SecurityGroup.RestrictsInboundTraffic",
            Medium,
            false,
            SG,
        ),
        ("AWS.SecurityGroup.RestrictsOutboundTraffic", Low, false, SG),
        (
            "AWS.SecurityGroup.TightlyRestrictsInboundTraffic",
            Low,
            false,
            SG,
        ),
        (
            "AWS.SecurityGroup.TightlyRestrictsOutboundTraffic",
            Low,
            false,
            SG,
        ),
        (
            "AWS.SecurityGroup.RestrictsInterSecurityGroupTraffic",
            Low,
            false,
            SG,
        ),
        (
            "AWS.SecurityGroup.OnlyDMZPubliclyAccessible",
            Medium,
            false,
            SG,
        ),
        ("AWS.SecurityGroup.RestrictsAccessToCDE", Medium, false, SG),
        (
            "AWS.SecurityGroup.RestrictsTrafficLeavingCDE",
            Medium,
            false,
            SG,
        ),
        ("AWS.EC2.SecurityGroup.CIFS", High, true, SG),
        ("AWS.NetworkACL.RestrictedSSH", High, true, NACL),
        (
            "AWS.NetworkACL.RestrictsInboundTraffic",
            Medium,
            false,
            NACL,
        ),
        ("AWS.NetworkACL.RestrictsOutboundTraffic", Low, false, NACL),
        (
            "AWS.NetworkACL.RestrictsInsecureProtocols",
            Low,
            false,
            NACL,
        ),
        ("AWS.EC2.NACL.AdminPorts", Medium, true, NACL),
        ("AWS.VPC.FlowLogs", Medium, true, VPC),
        ("AWS.VPC.DefaultSecurityGroup.Restrictions", Low, true, VPC),
        (
            "AWS.VPC.DefaultNetworkACLRestrictsAllTraffic",
            Low,
            false,
            VPC,
        ),
    ];
    let rules: Vec<_> = RULES
        .iter()
        .map(|r| (r.id, r.severity, r.default_enabled, r.resource_types[0]))
        .collect();
    assert_eq!(rules, catalog);
    for rule in RULES {
        assert_eq!(rule.resource_types.len(), 1, "{}", rule.id);
    }
}

#[test]
fn compliance_tags_follow_cis_aws_7() {
    let tagged: Vec<_> = RULES
        .iter()
        .filter(|r| !r.compliance.is_empty())
        .map(|r| (r.id, r.compliance))
        .collect();
    let expected: [(&str, &[&str]); 5] = [
        (
            "AWS.SecurityGroup.AdministrativeIngress",
            &["CIS-AWS-7.0:6.3", "CIS-AWS-7.0:6.4"],
        ),
        ("AWS.EC2.SecurityGroup.CIFS", &["CIS-AWS-7.0:6.1.2"]),
        ("AWS.EC2.NACL.AdminPorts", &["CIS-AWS-7.0:6.2"]),
        ("AWS.VPC.FlowLogs", &["CIS-AWS-7.0:4.7"]),
        (
            "AWS.VPC.DefaultSecurityGroup.Restrictions",
            &["CIS-AWS-7.0:6.5"],
        ),
    ];
    assert_eq!(tagged, expected);
}
