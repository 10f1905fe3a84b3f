//! The EC2 collector against the emulator: resources seeded with the SDK in a fresh account come
//! back as documents of the resource model (security groups, instances, VPCs with their flow logs
//! and route tables, volumes with public snapshots, network ACLs, AMIs), exclusions are skipped
//! before any detail call, and a region costs a fixed number of calls however many VPCs it has.

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{
    ArchitectureValues, FlowLogsResourceType, HttpTokensState, InstanceMetadataOptionsRequest,
    InstanceType, IpPermission, IpRange, Ipv6Range, OperationType, PortRange, ResourceType,
    RuleAction, SnapshotAttributeName, Tag, TagSpecification, TrafficType,
};
use palisade::account::ResourceExclusion;
use palisade::aws::ErrorKind;
use palisade::scan::{ScanIssue, Service};
use serde_json::{Value, json};

use crate::support::{Env, collect_as, of_type, values};

const REGION: &str = "us-east-1";

/// What `seed` created.
struct Seeded {
    vpc: String,
    subnet: String,
    ssh_group: String,
    image: String,
    instance: String,
    volume: String,
    snapshot: String,
    acl: String,
    flow_log: String,
}

/// An image of our own to launch from: the emulator loads no public AMIs (MOTO_AMIS_PATH).
pub(crate) async fn register_image(ec2: &Client) -> String {
    ec2.register_image()
        .name("palisade-base")
        .root_device_name("/dev/xvda")
        .architecture(ArchitectureValues::X8664)
        .virtualization_type("hvm")
        .send()
        .await
        .expect("register image")
        .image_id
        .expect("image id")
}

/// One of each resource type, shaped to trip the usual rules: SSH open to the world, a publicly
/// restorable snapshot, a network ACL allowing SSH from anywhere, a VPC with a flow log.
async fn seed(env: &Env) -> Seeded {
    let ec2 = env.session.ec2(REGION);
    let vpc = create_vpc(&ec2, "10.20.0.0/16").await;
    let subnet = ec2
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block("10.20.1.0/24")
        .send()
        .await
        .expect("create subnet")
        .subnet
        .and_then(|s| s.subnet_id)
        .expect("subnet id");

    let ssh_group = ec2
        .create_security_group()
        .group_name("ssh-open")
        .description("SSH from anywhere")
        .vpc_id(&vpc)
        .send()
        .await
        .expect("create security group")
        .group_id
        .expect("group id");
    ec2.authorize_security_group_ingress()
        .group_id(&ssh_group)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .ipv6_ranges(Ipv6Range::builder().cidr_ipv6("::/0").build())
                .build(),
        )
        .send()
        .await
        .expect("open SSH");

    let image = register_image(&ec2).await;
    let instance = ec2
        .run_instances()
        .image_id(&image)
        .min_count(1)
        .max_count(1)
        .instance_type(InstanceType::T3Micro)
        .subnet_id(&subnet)
        .security_group_ids(&ssh_group)
        .metadata_options(
            InstanceMetadataOptionsRequest::builder()
                .http_tokens(HttpTokensState::Required)
                .build(),
        )
        .tag_specifications(name_tag(ResourceType::Instance, "web"))
        .send()
        .await
        .expect("run instance")
        .instances
        .and_then(|i| i.into_iter().next())
        .and_then(|i| i.instance_id)
        .expect("instance id");

    let (volume, snapshot) = create_public_snapshot(&ec2).await;

    let acl = ec2
        .create_network_acl()
        .vpc_id(&vpc)
        .send()
        .await
        .expect("create network ACL")
        .network_acl
        .and_then(|a| a.network_acl_id)
        .expect("network ACL id");
    ec2.create_network_acl_entry()
        .network_acl_id(&acl)
        .rule_number(100)
        .protocol("6")
        .rule_action(RuleAction::Allow)
        .egress(false)
        .cidr_block("0.0.0.0/0")
        .port_range(PortRange::builder().from(22).to(22).build())
        .send()
        .await
        .expect("allow SSH in the ACL");

    let flow_log = ec2
        .create_flow_logs()
        .resource_type(FlowLogsResourceType::Vpc)
        .resource_ids(&vpc)
        .traffic_type(TrafficType::All)
        .log_group_name("vpc-flow-logs")
        .deliver_logs_permission_arn(format!("arn:aws:iam::{}:role/flow-logs", env.account_id()))
        .send()
        .await
        .expect("create flow log")
        .flow_log_ids
        .and_then(|ids| ids.into_iter().next())
        .expect("flow log id");

    Seeded {
        vpc,
        subnet,
        ssh_group,
        image,
        instance,
        volume,
        snapshot,
        acl,
        flow_log,
    }
}

async fn create_vpc(ec2: &Client, cidr: &str) -> String {
    ec2.create_vpc()
        .cidr_block(cidr)
        .send()
        .await
        .expect("create VPC")
        .vpc
        .and_then(|v| v.vpc_id)
        .expect("VPC id")
}

/// A tagged volume and a snapshot of it that anyone may create volumes from.
async fn create_public_snapshot(ec2: &Client) -> (String, String) {
    let volume = ec2
        .create_volume()
        .availability_zone("us-east-1a")
        .size(8)
        .tag_specifications(name_tag(ResourceType::Volume, "data"))
        .send()
        .await
        .expect("create volume")
        .volume_id
        .expect("volume id");
    let snapshot = ec2
        .create_snapshot()
        .volume_id(&volume)
        .description("shared with everyone")
        .send()
        .await
        .expect("create snapshot")
        .snapshot_id
        .expect("snapshot id");
    ec2.modify_snapshot_attribute()
        .snapshot_id(&snapshot)
        .attribute(SnapshotAttributeName::CreateVolumePermission)
        .operation_type(OperationType::Add)
        .group_names("all")
        .send()
        .await
        .expect("share the snapshot publicly");
    (volume, snapshot)
}

fn name_tag(resource_type: ResourceType, name: &str) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(resource_type)
        .tags(Tag::builder().key("Name").value(name).build())
        .build()
}

fn arn(env: &Env, kind: &str, id: &str) -> String {
    format!("arn:aws:ec2:{REGION}:{}:{kind}/{id}", env.account_id())
}

/// The one document with this ARN.
fn doc<'a>(docs: &'a [Value], arn: &str) -> &'a Value {
    let found: Vec<_> = docs.iter().filter(|d| d["ResourceId"] == arn).collect();
    assert_eq!(found.len(), 1, "documents for {arn}: {found:#?}");
    found[0]
}

/// The ids (`Id`) of the documents of one type.
fn ids_of(docs: &[Value], resource_type: &str) -> Vec<String> {
    of_type(docs, resource_type)
        .iter()
        .map(|d| d["Id"].as_str().expect("Id").to_owned())
        .collect()
}

/// A VPC document may only miss its stale security groups, and only because the endpoint does
/// not implement DescribeStaleSecurityGroups (moto); everything else must have been read.
fn assert_only_stale_groups_missing(vpc: &Value, issues: &[ScanIssue]) {
    match &vpc["CollectionErrors"] {
        Value::Null => {}
        Value::Object(errors) => {
            assert_eq!(
                errors.keys().collect::<Vec<_>>(),
                ["StaleSecurityGroups"],
                "{vpc:#}"
            );
            assert_eq!(vpc["StaleSecurityGroups"], Value::Null);
            let issue = issues
                .iter()
                .find(|i| i.resource_id.as_deref() == vpc["ResourceId"].as_str())
                .expect("the stale-group error is reported as an issue");
            assert_eq!(issue.kind, ErrorKind::NotImplemented, "{issue:?}");
            assert_eq!(issue.field.as_deref(), Some("StaleSecurityGroups"));
        }
        other => panic!("CollectionErrors is {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ec2_documents_follow_the_resource_model() {
    let env = Env::new().await;
    let s = seed(&env).await;
    let account = env.account_id().to_owned();

    let before = env.session.api_calls();
    let out = env.collect(Service::Ec2, REGION).await;
    eprintln!(
        "EC2 region scan of the seeded account: {} calls",
        env.session.api_calls() - before
    );
    assert!(out.incomplete.is_empty(), "{:?}", out.issues);
    let docs = values(out.docs.clone());

    // Security group: envelope, and the SSH rule in the AWS API shape.
    let group = doc(&docs, &arn(&env, "security-group", &s.ssh_group));
    assert_eq!(group["ResourceType"], "AWS.EC2.SecurityGroup");
    assert_eq!(group["Arn"], group["ResourceId"]);
    assert_eq!(group["Id"], s.ssh_group.as_str());
    assert_eq!(group["Name"], "ssh-open");
    assert_eq!(group["AccountId"], account.as_str());
    assert_eq!(group["Region"], REGION);
    assert_eq!(group["Tags"], Value::Null);
    assert_eq!(group["Description"], "SSH from anywhere");
    assert_eq!(group["VpcId"], s.vpc.as_str());
    assert_eq!(group["OwnerId"], account.as_str());
    assert_eq!(
        group["IpPermissions"],
        json!([{
            "FromPort": 22,
            "ToPort": 22,
            "IpProtocol": "tcp",
            "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": null}],
            "Ipv6Ranges": [{"CidrIpv6": "::/0", "Description": null}],
            "PrefixListIds": [],
            "UserIdGroupPairs": [],
        }])
    );
    assert_eq!(group["IpPermissionsEgress"][0]["IpProtocol"], "-1");
    assert_eq!(
        group["IpPermissionsEgress"][0]["IpRanges"][0]["CidrIp"],
        "0.0.0.0/0"
    );
    assert_eq!(group["CollectionErrors"], Value::Null);

    // Instance.
    let instance = doc(&docs, &arn(&env, "instance", &s.instance));
    assert_eq!(instance["ResourceType"], "AWS.EC2.Instance");
    assert_eq!(instance["Id"], s.instance.as_str());
    assert_eq!(instance["Name"], "web");
    assert_eq!(instance["Tags"], json!({"Name": "web"}));
    assert!(
        instance["TimeCreated"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_eq!(instance["ImageId"], s.image.as_str());
    assert_eq!(instance["InstanceType"], "t3.micro");
    assert_eq!(instance["SubnetId"], s.subnet.as_str());
    assert_eq!(instance["VpcId"], s.vpc.as_str());
    assert_eq!(instance["MetadataOptions"]["HttpTokens"], "required");
    assert_eq!(instance["MetadataOptions"]["HttpEndpoint"], "enabled");
    assert_eq!(
        instance["SecurityGroups"],
        json!([{"GroupId": s.ssh_group, "GroupName": "ssh-open"}])
    );
    assert_eq!(
        instance["NetworkInterfaces"][0]["Groups"][0]["GroupId"],
        s.ssh_group.as_str()
    );
    assert!(
        instance["State"]["Name"].is_string(),
        "{}",
        instance["State"]
    );
    assert!(instance["Monitoring"]["State"].is_string());
    assert!(
        instance
            .get("IamInstanceProfile")
            .is_some_and(Value::is_null)
    );
    assert_eq!(instance["CollectionErrors"], Value::Null);

    // VPC: its default group and ACL, flow log and route table come from other listings.
    let groups = ec2_groups_in(&env, &s.vpc).await;
    let default_group = groups
        .iter()
        .find(|(_, name)| name == "default")
        .map(|(id, _)| id.clone())
        .expect("the VPC's default security group");
    let vpc = doc(&docs, &arn(&env, "vpc", &s.vpc));
    assert_eq!(vpc["ResourceType"], "AWS.EC2.VPC");
    assert_eq!(vpc["Id"], s.vpc.as_str());
    assert_eq!(vpc["CidrBlock"], "10.20.0.0/16");
    assert_eq!(vpc["IsDefault"], false);
    assert_eq!(vpc["State"], "available");
    assert_eq!(vpc["OwnerId"], account.as_str());
    assert_eq!(vpc["DefaultSecurityGroupId"], default_group.as_str());
    let mut group_ids: Vec<_> = groups.into_iter().map(|(id, _)| id).collect();
    group_ids.sort();
    let mut listed: Vec<String> = serde_json::from_value(vpc["SecurityGroups"].clone()).unwrap();
    listed.sort();
    assert_eq!(listed, group_ids);
    let acls: Vec<String> = serde_json::from_value(vpc["NetworkAcls"].clone()).unwrap();
    assert_eq!(acls.len(), 2, "the default ACL and ours: {acls:?}");
    assert!(acls.contains(&s.acl));
    let default_acl = vpc["DefaultNetworkAclId"].as_str().expect("default ACL id");
    assert_ne!(default_acl, s.acl);
    assert!(acls.iter().any(|a| a == default_acl));
    assert_eq!(vpc["FlowLogs"].as_array().map(Vec::len), Some(1), "{vpc:#}");
    assert_eq!(vpc["FlowLogs"][0]["FlowLogId"], s.flow_log.as_str());
    assert_eq!(vpc["FlowLogs"][0]["ResourceId"], s.vpc.as_str());
    assert_eq!(vpc["FlowLogs"][0]["TrafficType"], "ALL");
    assert_eq!(vpc["FlowLogs"][0]["LogGroupName"], "vpc-flow-logs");
    assert_eq!(
        vpc["RouteTables"].as_array().map(Vec::len),
        Some(1),
        "{vpc:#}"
    );
    let main_table = &vpc["RouteTables"][0];
    assert_eq!(main_table["VpcId"], s.vpc.as_str());
    assert_eq!(main_table["Associations"][0]["Main"], true);
    assert_eq!(
        main_table["Routes"][0],
        json!({
            "CarrierGatewayId": null,
            "CoreNetworkArn": null,
            "DestinationCidrBlock": "10.20.0.0/16",
            "DestinationIpv6CidrBlock": null,
            "DestinationPrefixListId": null,
            "EgressOnlyInternetGatewayId": null,
            "GatewayId": "local",
            "InstanceId": null,
            "InstanceOwnerId": null,
            "IpAddress": null,
            "LocalGatewayId": null,
            "NatGatewayId": null,
            "NetworkInterfaceId": null,
            "OdbNetworkArn": null,
            "Origin": "CreateRouteTable",
            "State": "active",
            "TransitGatewayId": null,
            "VpcPeeringConnectionId": null,
        })
    );
    assert_eq!(
        vpc["CidrBlockAssociationSet"][0]["CidrBlockState"]["State"],
        "associated"
    );
    assert_only_stale_groups_missing(vpc, &out.issues);

    // Volume, with its publicly restorable snapshot.
    let volume = doc(&docs, &arn(&env, "volume", &s.volume));
    assert_eq!(volume["ResourceType"], "AWS.EC2.Volume");
    assert_eq!(volume["Name"], "data");
    assert_eq!(volume["Size"], 8);
    assert_eq!(volume["Encrypted"], false);
    assert_eq!(volume["AvailabilityZone"], "us-east-1a");
    assert_eq!(volume["State"], "available");
    assert_eq!(volume["Attachments"], json!([]));
    assert!(volume["TimeCreated"].is_string());
    let snapshots = volume["Snapshots"].as_array().expect("Snapshots");
    assert_eq!(snapshots.len(), 1, "{snapshots:#?}");
    assert_eq!(snapshots[0]["SnapshotId"], s.snapshot.as_str());
    assert_eq!(snapshots[0]["VolumeId"], s.volume.as_str());
    assert_eq!(snapshots[0]["Description"], "shared with everyone");
    assert_eq!(snapshots[0]["Encrypted"], false);
    assert_eq!(snapshots[0]["OwnerId"], account.as_str());
    assert_eq!(
        snapshots[0]["CreateVolumePermissions"],
        json!([{"Group": "all", "UserId": null}])
    );
    assert_eq!(volume["CollectionErrors"], Value::Null);

    // The instance's root volume is a volume too, with no snapshots.
    let root = of_type(&docs, "AWS.EC2.Volume")
        .into_iter()
        .find(|v| v["Attachments"][0]["InstanceId"] == s.instance.as_str())
        .expect("the instance's root volume");
    assert_eq!(root["Snapshots"], json!([]));
    assert_eq!(root["Attachments"][0]["State"], "attached");

    // Network ACL.
    let acl = doc(&docs, &arn(&env, "network-acl", &s.acl));
    assert_eq!(acl["ResourceType"], "AWS.EC2.NetworkACL");
    assert_eq!(acl["Id"], s.acl.as_str());
    assert_eq!(acl["IsDefault"], false);
    assert_eq!(acl["VpcId"], s.vpc.as_str());
    assert_eq!(acl["OwnerId"], account.as_str());
    let ssh_entry = acl["Entries"]
        .as_array()
        .expect("Entries")
        .iter()
        .find(|e| e["RuleNumber"] == 100 && e["Egress"] == false)
        .expect("the SSH entry");
    assert_eq!(
        *ssh_entry,
        json!({
            "CidrBlock": "0.0.0.0/0",
            "Egress": false,
            "IcmpTypeCode": null,
            "Ipv6CidrBlock": null,
            "PortRange": {"From": 22, "To": 22},
            "Protocol": "6",
            "RuleAction": "allow",
            "RuleNumber": 100,
        })
    );
    assert_eq!(acl["CollectionErrors"], Value::Null);

    // AMI.
    let image = doc(&docs, &arn(&env, "image", &s.image));
    assert_eq!(image["ResourceType"], "AWS.EC2.AMI");
    assert_eq!(image["Id"], s.image.as_str());
    assert_eq!(image["Name"], "palisade-base");
    assert_eq!(image["OwnerId"], account.as_str());
    assert_eq!(image["Public"], false);
    assert_eq!(image["State"], "available");
    assert_eq!(image["ImageType"], "machine");
    let created = image["TimeCreated"].as_str().expect("TimeCreated");
    assert!(
        time::OffsetDateTime::parse(created, &time::format_description::well_known::Rfc3339)
            .is_ok(),
        "{created}"
    );
    assert_eq!(image["CollectionErrors"], Value::Null);

    // Every document has the full envelope and nothing else went wrong.
    for d in &docs {
        for key in [
            "ResourceId",
            "ResourceType",
            "AccountId",
            "Region",
            "Arn",
            "Id",
            "Name",
        ] {
            assert!(d.get(key).is_some(), "{key} missing from {d:#}");
        }
        // The region's settings are no AWS resource: no ARN.
        if d["ResourceType"] != "AWS.EC2.Meta" {
            assert_eq!(d["Arn"], d["ResourceId"]);
        }
        if d["ResourceType"] != "AWS.EC2.VPC" {
            assert_eq!(d["CollectionErrors"], Value::Null, "{d:#}");
        }
    }
    assert!(
        out.issues
            .iter()
            .all(|i| i.field.as_deref() == Some("StaleSecurityGroups")),
        "{:?}",
        out.issues
    );
}

/// The security groups of a VPC as (id, name), straight from the SDK.
async fn ec2_groups_in(env: &Env, vpc: &str) -> Vec<(String, String)> {
    env.session
        .ec2(REGION)
        .describe_security_groups()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("vpc-id")
                .values(vpc)
                .build(),
        )
        .send()
        .await
        .expect("describe security groups")
        .security_groups()
        .iter()
        .map(|g| {
            (
                g.group_id().unwrap_or_default().to_owned(),
                g.group_name().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ec2_default_vpc_and_its_defaults_are_collected() {
    let env = Env::new().await;
    let out = env.collect(Service::Ec2, REGION).await;
    let docs = values(out.docs.clone());

    // A new account holds moto's default VPC with its default security group and ACL, nothing else.
    let vpcs = of_type(&docs, "AWS.EC2.VPC");
    assert_eq!(vpcs.len(), 1, "{vpcs:#?}");
    let vpc = vpcs[0];
    assert_eq!(vpc["IsDefault"], true);
    assert_only_stale_groups_missing(vpc, &out.issues);

    let default_group = vpc["DefaultSecurityGroupId"]
        .as_str()
        .expect("default group");
    assert_eq!(vpc["SecurityGroups"], json!([default_group]));
    let group = doc(&docs, &arn(&env, "security-group", default_group));
    assert_eq!(group["Name"], "default");
    assert_eq!(group["VpcId"], vpc["Id"]);
    assert_eq!(group["IpPermissions"], json!([]));

    let default_acl = vpc["DefaultNetworkAclId"].as_str().expect("default ACL");
    assert_eq!(vpc["NetworkAcls"], json!([default_acl]));
    let acl = doc(&docs, &arn(&env, "network-acl", default_acl));
    assert_eq!(acl["IsDefault"], true);
    assert_eq!(acl["VpcId"], vpc["Id"]);
    assert!(
        !acl["Associations"]
            .as_array()
            .expect("Associations")
            .is_empty()
    );

    assert_eq!(vpc["FlowLogs"], json!([]));
    assert_eq!(vpc["RouteTables"].as_array().map(Vec::len), Some(1));
    assert_eq!(ids_of(&docs, "AWS.EC2.SecurityGroup"), [default_group]);
    assert_eq!(ids_of(&docs, "AWS.EC2.NetworkACL"), [default_acl]);
    assert!(ids_of(&docs, "AWS.EC2.Instance").is_empty());
    assert!(ids_of(&docs, "AWS.EC2.Volume").is_empty());
    assert!(ids_of(&docs, "AWS.EC2.AMI").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ec2_excluded_resources_are_skipped_before_detail_calls() {
    let env = Env::new().await;
    let ec2 = env.session.ec2(REGION);
    let kept_vpc = create_vpc(&ec2, "10.30.0.0/16").await;
    let skipped_vpc = create_vpc(&ec2, "10.31.0.0/16").await;
    let (kept_volume, _) = create_public_snapshot(&ec2).await;
    let (skipped_volume, _) = create_public_snapshot(&ec2).await;

    let mut account = env.account.clone();
    account.excluded_resources = vec![
        format!("{REGION}=*:vpc/{skipped_vpc}").parse().unwrap(),
        ResourceExclusion {
            region: "*".into(),
            pattern: arn(&env, "volume", &skipped_volume),
        },
    ];
    let out = collect_as(&env.session, &account, Service::Ec2, REGION).await;
    let docs = values(out.docs);
    let vpcs = ids_of(&docs, "AWS.EC2.VPC");
    assert!(vpcs.contains(&kept_vpc), "{vpcs:?}");
    assert!(!vpcs.contains(&skipped_vpc), "{vpcs:?}");
    assert_eq!(ids_of(&docs, "AWS.EC2.Volume"), [kept_volume.as_str()]);
    let volume = doc(&docs, &arn(&env, "volume", &kept_volume));
    assert_eq!(
        volume["Snapshots"][0]["CreateVolumePermissions"],
        json!([{"Group": "all", "UserId": null}])
    );
    // The excluded VPC's default security group is a resource of its own: still there.
    let groups = ec2_groups_in(&env, &skipped_vpc).await;
    assert!(ids_of(&docs, "AWS.EC2.SecurityGroup").contains(&groups[0].0));

    // With every VPC and volume excluded, only the eight listings and the region's EBS default
    // are read: no flow logs, stale groups or snapshot permissions for resources out of scope.
    account.excluded_resources = vec![
        "*=*:vpc/*".parse().unwrap(),
        "*=*:volume/*".parse().unwrap(),
    ];
    let before = env.session.api_calls();
    let out = collect_as(&env.session, &account, Service::Ec2, REGION).await;
    assert_eq!(env.session.api_calls() - before, 9);
    let docs = values(out.docs);
    assert!(ids_of(&docs, "AWS.EC2.VPC").is_empty());
    assert!(ids_of(&docs, "AWS.EC2.Volume").is_empty());
    assert!(out.issues.is_empty(), "{:?}", out.issues);

    // An excluded type is not even listed.
    account.excluded_resources.clear();
    account.excluded_resource_types = [
        "AWS.EC2.VPC",
        "AWS.EC2.Volume",
        "AWS.EC2.Instance",
        "AWS.EC2.AMI",
        "AWS.EC2.NetworkACL",
        "AWS.EC2.Meta",
    ]
    .map(String::from)
    .to_vec();
    let before = env.session.api_calls();
    let out = collect_as(&env.session, &account, Service::Ec2, REGION).await;
    assert_eq!(
        env.session.api_calls() - before,
        1,
        "DescribeSecurityGroups only"
    );
    let docs = values(out.docs);
    assert!(
        docs.iter()
            .all(|d| d["ResourceType"] == "AWS.EC2.SecurityGroup")
    );
    assert_eq!(
        docs.len(),
        3,
        "the default VPC's group and the two new VPCs' groups"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ec2_region_scan_costs_the_same_however_many_vpcs() {
    let env = Env::new().await;
    let ec2 = env.session.ec2(REGION);
    create_vpc(&ec2, "10.40.0.0/16").await;

    let before = env.session.api_calls();
    let first = env.collect(Service::Ec2, REGION).await;
    let calls_two_vpcs = env.session.api_calls() - before;

    for cidr in ["10.41.0.0/16", "10.42.0.0/16", "10.43.0.0/16"] {
        create_vpc(&ec2, cidr).await;
    }
    let before = env.session.api_calls();
    let second = env.collect(Service::Ec2, REGION).await;
    let calls_five_vpcs = env.session.api_calls() - before;

    assert_eq!(of_type(&values(first.docs), "AWS.EC2.VPC").len(), 2);
    assert_eq!(of_type(&values(second.docs), "AWS.EC2.VPC").len(), 5);
    let stale_failures = second
        .issues
        .iter()
        .filter(|i| i.field.as_deref() == Some("StaleSecurityGroups"))
        .count();
    if stale_failures > 0 {
        // The emulator lacks DescribeStaleSecurityGroups: one failing call per scan, not
        // retried (it can never succeed), then the memo answers for the other VPCs. So: eight
        // listings, the flow logs, the EBS default, and that one call.
        assert_eq!(stale_failures, 5);
        assert_eq!(calls_two_vpcs, 11);
        assert_eq!(calls_five_vpcs, calls_two_vpcs);
    } else {
        // Implemented: one call per VPC on top of the fixed listings.
        assert_eq!(calls_five_vpcs, calls_two_vpcs + 3);
    }
    eprintln!("EC2 region scan: {calls_two_vpcs} calls with 2 VPCs, {calls_five_vpcs} with 5");
}
