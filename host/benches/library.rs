//! Library benchmark: every rule of every built-in pack (default-on and default-off, with
//! realistic operator settings where a rule needs them) over a synthetic 100,000-resource account
//! with a realistic type mix, through the WebAssembly engine on one thread and, in the same run,
//! through the same rules compiled natively (the SDK runtime, no component boundary).
//!
//! Run: `cargo bench -p palisade --bench library` (add `-- --quick` for a 10,000-resource
//! corpus). Prints Markdown tables for BENCHMARKS.md. Timings are medians of several rounds.
//! The target: the whole library over 100k resources in under 10 s on one core.

// The instance document is one large `json!`.
#![recursion_limit = "512"]

use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use palisade::engine::{
    BUILTIN_PACKS, Engine, EvalContext, Limits, Lookup, Pack, Plan, RuleSettings, Status, Subject,
};
use palisade_sdk::runtime::{StaticHost, evaluate_batch};
use palisade_sdk::wit::{self, RuleRequest};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

const ACCOUNT: &str = "123456789012";
const REGIONS: [&str; 4] = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"];
const NOW: OffsetDateTime = datetime!(2026-11-27 00:00 UTC);
/// Trails of the account (the first two are the multi-region ones).
const TRAILS: usize = 20;
/// AMIs the organisation builds and approves (the first ones of the AMI pool).
const GOLDEN_AMIS: usize = 24;
/// VPCs instances are meant to run in (the first ones of the VPC pool).
const LANDING_VPCS: usize = 40;
/// Dedicated Hosts the account runs instances on.
const HOSTS: [&str; 4] = [
    "h-0a1b2c3d4e5f60001",
    "h-0a1b2c3d4e5f60002",
    "h-0a1b2c3d4e5f60003",
    "h-0a1b2c3d4e5f60004",
];

/// The native build of the built-in pack `name`: the same rule list its component exports.
/// The one place to change when the built-in pack list changes.
fn native_rules(name: &str) -> &'static [palisade_sdk::Rule] {
    match name {
        "aws-cloudtrail-kms" => palisade_aws_cloudtrail_kms::RULES,
        "aws-ec2" => palisade_aws_ec2::RULES,
        "aws-iam" => palisade_aws_iam::RULES,
        "aws-s3" => palisade_aws_s3::RULES,
        "aws-vpc" => palisade_aws_vpc::RULES,
        other => panic!(
            "built-in pack {other} has no native build here: add its crate to host's \
             dev-dependencies and to native_rules"
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Corpus

/// Deterministic xorshift, so every run evaluates the same corpus.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    /// An AWS-style hex id: `prefix-0` and 16 hex digits.
    fn id(&mut self, prefix: &str) -> String {
        format!("{prefix}-0{:016x}", self.next())
    }
    /// An RFC 3339 time up to `max_days` before [`NOW`].
    fn within_days(&mut self, max_days: usize) -> String {
        let days = self.below(max_days.max(1));
        self.days_ago(days)
    }
    /// An RFC 3339 time `days_ago` (± a few hours) before [`NOW`].
    fn days_ago(&mut self, days: usize) -> String {
        rfc3339(
            NOW - time::Duration::days(days as i64)
                - time::Duration::minutes(self.below(720) as i64),
        )
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// The zero time the credential report's "no value" becomes.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

struct Doc {
    id: String,
    resource_type: String,
    text: String,
}

/// How many resources of each type a corpus of `n` holds: fixed shares of the common types,
/// the account's singletons, and the rest (rounding) in instances, so the total is exactly `n`.
fn mix(n: usize) -> Vec<(&'static str, usize)> {
    let share = |percent: usize| n * percent / 100;
    let mut counts = vec![
        ("AWS.EC2.Instance", 0),
        ("AWS.EC2.Volume", share(18)),
        ("AWS.EC2.SecurityGroup", share(14)),
        ("AWS.IAM.Role", share(10)),
        ("AWS.IAM.User", share(8)),
        ("AWS.S3.Bucket", share(8)),
        ("AWS.IAM.Policy", share(6)),
        ("AWS.EC2.NetworkACL", share(4)),
        ("AWS.KMS.Key", share(4)),
        ("AWS.EC2.AMI", share(3)),
        ("AWS.EC2.VPC", share(2)),
        ("AWS.IAM.Group", share(1)),
        ("AWS.CloudTrail", TRAILS),
        ("AWS.IAM.RootUser", 1),
        ("AWS.PasswordPolicy", 1),
        ("AWS.IAM.Meta", 1),
        ("AWS.CloudTrail.Meta", 1),
        ("AWS.S3.Meta", 1),
        ("AWS.EC2.Meta", REGIONS.len()),
    ];
    let rest: usize = counts.iter().map(|(_, c)| c).sum();
    counts[0].1 = n - rest;
    counts
}

/// Ids shared across documents, decided before any document is written so that references
/// (an instance's VPC and AMI, a volume's instance, a trail's bucket, ...) resolve.
struct Pools {
    /// (region, VPC id, default security group id, default network ACL id)
    vpcs: Vec<(&'static str, String, String, String)>,
    /// (region, AMI id)
    amis: Vec<(&'static str, String)>,
    /// (region, instance id)
    instances: Vec<(&'static str, String)>,
    /// (trail name, home region, bucket name)
    trails: Vec<(String, &'static str, String)>,
    users: Vec<String>,
    groups: Vec<String>,
}

impl Pools {
    fn new(rng: &mut Rng, counts: &HashMap<&str, usize>) -> Self {
        let vpcs = (0..counts["AWS.EC2.VPC"])
            .map(|i| {
                (
                    REGIONS[i % REGIONS.len()],
                    rng.id("vpc"),
                    rng.id("sg"),
                    rng.id("acl"),
                )
            })
            .collect();
        let amis = (0..counts["AWS.EC2.AMI"])
            .map(|i| (REGIONS[i % REGIONS.len()], rng.id("ami")))
            .collect();
        let instances = (0..counts["AWS.EC2.Instance"])
            .map(|i| (REGIONS[i % REGIONS.len()], rng.id("i")))
            .collect();
        let trails = (0..TRAILS)
            .map(|i| {
                let name = match i {
                    0 => "organization-audit".to_owned(),
                    1 => "data-events-s3".to_owned(),
                    _ => format!("team-{i:02}-trail"),
                };
                // Two trails share the central bucket, the others have their own.
                let bucket = if i < 2 {
                    format!("corp-cloudtrail-{ACCOUNT}")
                } else {
                    format!("corp-cloudtrail-{ACCOUNT}-team-{i:02}")
                };
                (name, REGIONS[i % REGIONS.len()], bucket)
            })
            .collect();
        let users = (0..counts["AWS.IAM.User"])
            .map(|i| format!("user-{i:05}"))
            .collect();
        let mut groups: Vec<String> = [
            "admins",
            "auditors",
            "billing",
            "deployers",
            "approvers",
            "developers",
            "readers",
            "security-admins",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let extra = counts["AWS.IAM.Group"].saturating_sub(groups.len());
        groups.extend((0..extra).map(|i| format!("team-{i:04}")));
        groups.truncate(counts["AWS.IAM.Group"].max(1));
        Pools {
            vpcs,
            amis,
            instances,
            trails,
            users,
            groups,
        }
    }

    /// A VPC of `region`: a landing-zone VPC most of the time.
    fn vpc_in(&self, rng: &mut Rng, region: &str) -> &(&'static str, String, String, String) {
        let pool = if rng.chance(85) {
            &self.vpcs[..LANDING_VPCS.min(self.vpcs.len())]
        } else {
            &self.vpcs[..]
        };
        pool.iter()
            .cycle()
            .skip(rng.below(pool.len()))
            .find(|v| v.0 == region)
            .unwrap_or(&pool[0])
    }
}

fn arn_ec2(region: &str, kind: &str, id: &str) -> String {
    format!("arn:aws:ec2:{region}:{ACCOUNT}:{kind}/{id}")
}

/// Tags as a resource's owner writes them: null for about 1 in 12 resources, otherwise 1 to 6
/// tags, usually with an owner and a cost center.
fn tags(rng: &mut Rng, name: &str, i: usize) -> Value {
    if rng.chance(8) {
        return Value::Null;
    }
    let mut tags = Map::new();
    tags.insert("Name".into(), json!(name));
    if rng.chance(88) {
        tags.insert(
            "owner".into(),
            json!(format!("team-{}@corp.example.com", i % 41)),
        );
    }
    if rng.chance(85) {
        tags.insert("cost-center".into(), json!(format!("cc-{:04}", i % 997)));
    }
    if rng.chance(70) {
        let env = *rng.pick(&["prod", "prod", "staging", "dev", "cde"]);
        tags.insert("environment".into(), json!(env));
    }
    if rng.chance(40) {
        tags.insert("managed-by".into(), json!("terraform"));
    }
    if rng.chance(15) {
        tags.insert(
            "aws:cloudformation:stack-name".into(),
            json!(format!("stack-{}", i % 113)),
        );
    }
    Value::Object(tags)
}

/// The envelope every document starts with; `Arn` is the resource id when that is an ARN.
fn envelope(
    resource_type: &str,
    id: &str,
    region: &str,
    aws_id: Option<&str>,
    name: Option<&str>,
    tags: Value,
    created: Option<String>,
) -> Map<String, Value> {
    let arn = id.starts_with("arn:").then_some(id);
    let mut doc = Map::new();
    doc.insert("ResourceId".into(), json!(id));
    doc.insert("ResourceType".into(), json!(resource_type));
    doc.insert("AccountId".into(), json!(ACCOUNT));
    doc.insert("Region".into(), json!(region));
    doc.insert("Arn".into(), json!(arn));
    doc.insert("Id".into(), json!(aws_id));
    doc.insert("Name".into(), json!(name));
    doc.insert("Tags".into(), tags);
    doc.insert("TimeCreated".into(), json!(created));
    doc
}

/// `fields` (an object) merged into `doc`.
fn with(mut doc: Map<String, Value>, fields: Value) -> Value {
    if let Value::Object(fields) = fields {
        doc.extend(fields);
    }
    Value::Object(doc)
}

const INSTANCE_TYPES: &[&str] = &[
    "t3.micro",
    "t3.small",
    "t3.medium",
    "m5.large",
    "m5.xlarge",
    "m6i.large",
    "m6i.2xlarge",
    "c6i.large",
    "c6i.4xlarge",
    "r6g.large",
    "r6g.xlarge",
    "m3.xlarge",
    "t2.micro",
    "x2idn.16xlarge",
];

fn instance(rng: &mut Rng, pools: &Pools, i: usize) -> Value {
    let (region, id) = pools.instances[i].clone();
    let name = format!("svc-{}-{i}", ["web", "api", "worker", "batch", "db"][i % 5]);
    let (_, vpc, default_sg, _) = pools.vpc_in(rng, region).clone();
    // Mostly golden images; some other AMIs of the account; a few marketplace ones.
    let (ami, golden) = if rng.chance(75) {
        let g = rng.below(GOLDEN_AMIS.min(pools.amis.len()));
        (pools.amis[g].1.clone(), Some(g))
    } else if rng.chance(80) {
        (rng.pick(&pools.amis).1.clone(), None)
    } else {
        (rng.id("ami"), None)
    };
    // Instances of the first two golden AMIs run on Dedicated Hosts.
    let on_host = matches!(golden, Some(0 | 1));
    let (tenancy, host) = if on_host {
        // Mostly an approved host; now and then one not on the lists.
        let host = if rng.chance(90) {
            rng.pick(&HOSTS).to_string()
        } else {
            "h-0ffffffffffff0099".to_owned()
        };
        ("host", Some(host))
    } else if rng.chance(4) {
        ("dedicated", None)
    } else {
        ("default", None)
    };
    let instance_type = *rng.pick(INSTANCE_TYPES);
    let state = if rng.chance(85) {
        json!({"Code": 16, "Name": "running"})
    } else if rng.chance(70) {
        json!({"Code": 80, "Name": "stopped"})
    } else {
        json!({"Code": 48, "Name": "terminated"})
    };
    let ip = format!(
        "10.{}.{}.{}",
        rng.below(256),
        rng.below(256),
        1 + rng.below(254)
    );
    let subnet = rng.id("subnet");
    let eni = rng.id("eni");
    let group = if rng.chance(20) {
        default_sg
    } else {
        rng.id("sg")
    };
    let root_volume = rng.id("vol");
    let monitoring = if rng.chance(70) {
        "enabled"
    } else {
        "disabled"
    };
    let tokens = if rng.chance(75) {
        "required"
    } else {
        "optional"
    };
    let profile = if rng.chance(85) {
        json!({"Arn": format!("arn:aws:iam::{ACCOUNT}:instance-profile/{name}"), "Id": format!("AIPA{:016X}", rng.next())})
    } else {
        Value::Null
    };
    let ebs_optimized = !instance_type.starts_with("m3.") && !instance_type.starts_with("t2.");
    let launched = rng.within_days(900);
    let private_dns = format!("ip-{}.{region}.compute.internal", ip.replace('.', "-"));
    let doc = envelope(
        "AWS.EC2.Instance",
        &arn_ec2(region, "instance", &id),
        region,
        Some(&id),
        Some(&name),
        tags(rng, &name, i),
        Some(launched.clone()),
    );
    with(
        doc,
        json!({
            "AmiLaunchIndex": 0, "Architecture": "x86_64",
            "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"AssociatedResource": null, "AttachTime": launched, "DeleteOnTermination": true,
                "EbsCardIndex": null, "Operator": null, "Status": "attached", "VolumeId": root_volume, "VolumeOwnerId": null}}],
            "CapacityReservationId": null, "CapacityReservationSpecification": {"CapacityReservationPreference": "open", "CapacityReservationTarget": null},
            "ClientToken": format!("terraform-{:020}", rng.next()),
            "CpuOptions": {"AmdSevSnp": null, "CoreCount": 1 + rng.below(8), "NestedVirtualization": null, "ThreadsPerCore": 2},
            "EbsOptimized": ebs_optimized, "ElasticGpuAssociations": [], "ElasticInferenceAcceleratorAssociations": [], "EnaSupport": true,
            "HibernationOptions": {"Configured": false}, "Hypervisor": "xen", "IamInstanceProfile": profile, "ImageId": ami,
            "InstanceLifecycle": null, "InstanceType": instance_type, "KernelId": null, "KeyName": if rng.chance(30) { json!("ops-2024") } else { Value::Null },
            "Licenses": [],
            "MetadataOptions": {"HttpEndpoint": "enabled", "HttpProtocolIpv6": "disabled", "HttpPutResponseHopLimit": 2, "HttpTokens": tokens,
                "InstanceMetadataTags": "disabled", "State": "applied"},
            "Monitoring": {"State": monitoring},
            "NetworkInterfaces": [{"Association": null, "Attachment": {"AttachTime": launched, "AttachmentId": rng.id("eni-attach"), "DeleteOnTermination": true,
                    "DeviceIndex": 0, "EnaQueueCount": null, "EnaSrdSpecification": null, "NetworkCardIndex": 0, "Status": "attached"},
                "ConnectionTrackingConfiguration": null, "Description": "", "Groups": [{"GroupId": group, "GroupName": name}], "InterfaceType": "interface",
                "Ipv4Prefixes": [], "Ipv6Addresses": [], "Ipv6Prefixes": [], "MacAddress": format!("0e:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", rng.below(256), rng.below(256), rng.below(256), rng.below(256), rng.below(256)),
                "NetworkInterfaceId": eni, "Operator": null, "OwnerId": ACCOUNT, "PrivateDnsName": private_dns, "PrivateIpAddress": ip,
                "PrivateIpAddresses": [{"Association": null, "Primary": true, "PrivateDnsName": private_dns, "PrivateIpAddress": ip}],
                "SourceDestCheck": true, "Status": "in-use", "SubnetId": subnet, "VpcId": vpc}],
            "Placement": {"Affinity": null, "AvailabilityZone": format!("{region}a"), "AvailabilityZoneId": null, "GroupId": null, "GroupName": "",
                "HostId": host, "HostResourceGroupArn": null, "PartitionNumber": null, "SpreadDomain": null, "Tenancy": tenancy},
            "Platform": null, "PrivateDnsName": private_dns, "PrivateIpAddress": ip, "ProductCodes": [], "PublicDnsName": "",
            "PublicIpAddress": null, "RamdiskId": null, "RootDeviceName": "/dev/xvda", "RootDeviceType": "ebs",
            "SecurityGroups": [{"GroupId": group, "GroupName": name}], "SourceDestCheck": true, "SpotInstanceRequestId": null,
            "SriovNetSupport": null, "State": state, "StateReason": null, "StateTransitionReason": "", "SubnetId": subnet,
            "VirtualizationType": "hvm", "VpcId": vpc,
        }),
    )
}

fn volume(rng: &mut Rng, pools: &Pools, i: usize) -> Value {
    let (region, instance) = rng.pick(&pools.instances).clone();
    let id = rng.id("vol");
    let name = format!("data-{i}");
    let encrypted = rng.chance(85);
    let snapshots: Vec<Value> = (0..rng.below(3))
        .map(|_| {
            let snapshot_id = rng.id("snap");
            let permissions = if rng.chance(3) {
                json!([{"Group": "all", "UserId": null}])
            } else {
                json!([])
            };
            json!({"DataEncryptionKeyId": null, "Description": format!("nightly backup of {id}"), "Encrypted": encrypted || rng.chance(50),
                   "KmsKeyId": null, "OwnerId": ACCOUNT, "Progress": "100%", "SnapshotId": snapshot_id, "StartTime": rng.within_days(30),
                   "State": "completed", "StorageTier": "standard", "VolumeId": id, "VolumeSize": 50, "CreateVolumePermissions": permissions})
        })
        .collect();
    let attached = rng.chance(90);
    let attach_time = rng.within_days(600);
    let doc = envelope(
        "AWS.EC2.Volume",
        &arn_ec2(region, "volume", &id),
        region,
        Some(&id),
        Some(&name),
        tags(rng, &name, i),
        Some(attach_time.clone()),
    );
    with(
        doc,
        json!({
            "Attachments": if attached { json!([{"AssociatedResource": null, "AttachTime": attach_time, "DeleteOnTermination": true, "Device": "/dev/xvdf",
                "EbsCardIndex": null, "InstanceId": instance, "InstanceOwningService": null, "State": "attached", "VolumeId": id}]) } else { json!([]) },
            "AvailabilityZone": format!("{region}a"), "Encrypted": encrypted, "FastRestored": null, "Iops": 3000,
            "KmsKeyId": if encrypted { json!(format!("arn:aws:kms:{region}:{ACCOUNT}:key/{:032x}", rng.next())) } else { Value::Null },
            "MultiAttachEnabled": false, "OutpostArn": null, "Size": 20 + rng.below(500), "SnapshotId": if rng.chance(50) { json!(rng.id("snap")) } else { json!("") },
            "Snapshots": snapshots, "State": if attached { "in-use" } else { "available" }, "Throughput": 125, "VolumeType": "gp3",
        }),
    )
}

fn ip_permission(rng: &mut Rng) -> Value {
    let (from, to) = *rng.pick(&[
        (443, 443),
        (443, 443),
        (80, 80),
        (8080, 8080),
        (5432, 5432),
        (22, 22),
        (3389, 3389),
        (1024, 65535),
    ]);
    // The internet for about 1 rule in 12, else private ranges.
    let cidr = if rng.chance(8) {
        "0.0.0.0/0".to_owned()
    } else {
        format!("10.{}.0.0/16", rng.below(256))
    };
    json!({"IpProtocol": if rng.chance(3) { "-1" } else { "tcp" }, "FromPort": from, "ToPort": to,
           "IpRanges": [{"CidrIp": cidr, "Description": "service traffic"}, {"CidrIp": format!("172.16.{}.0/24", rng.below(256)), "Description": "office VPN"}],
           "Ipv6Ranges": if rng.chance(4) { json!([{"CidrIpv6": "::/0", "Description": null}]) } else { json!([]) },
           "PrefixListIds": [], "UserIdGroupPairs": []})
}

fn security_group(rng: &mut Rng, pools: &Pools, i: usize) -> Value {
    // The first groups are the VPCs' default groups.
    let (region, vpc, id, name, ingress) = match pools.vpcs.get(i) {
        Some((region, vpc, default_sg, _)) => (
            *region,
            vpc.clone(),
            default_sg.clone(),
            "default".to_owned(),
            json!([{"IpProtocol": "-1", "FromPort": null, "ToPort": null, "IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": [],
                    "UserIdGroupPairs": [{"GroupId": default_sg, "UserId": ACCOUNT, "Description": null}]}]),
        ),
        None => {
            let region = REGIONS[i % REGIONS.len()];
            let vpc = pools.vpc_in(rng, region).1.clone();
            let rules: Vec<Value> = (0..1 + rng.below(4)).map(|_| ip_permission(rng)).collect();
            (region, vpc, rng.id("sg"), format!("svc-{i}"), json!(rules))
        }
    };
    let doc = envelope(
        "AWS.EC2.SecurityGroup",
        &arn_ec2(region, "security-group", &id),
        region,
        Some(&id),
        Some(&name),
        tags(rng, &name, i),
        None,
    );
    with(
        doc,
        json!({
            "Description": format!("{name} managed by terraform (see runbook RB-{})", 1000 + i % 3000), "OwnerId": ACCOUNT, "VpcId": vpc,
            "IpPermissions": ingress,
            "IpPermissionsEgress": [{"IpProtocol": "-1", "FromPort": null, "ToPort": null, "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": null}],
                "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []}],
            "SecurityGroupArn": arn_ec2(region, "security-group", &id),
        }),
    )
}

fn network_acl(rng: &mut Rng, pools: &Pools, i: usize) -> Value {
    let (region, vpc, id, default) = match pools.vpcs.get(i) {
        Some((region, vpc, _, acl)) => (*region, vpc.clone(), acl.clone(), true),
        None => {
            let region = REGIONS[i % REGIONS.len()];
            (
                region,
                pools.vpc_in(rng, region).1.clone(),
                rng.id("acl"),
                false,
            )
        }
    };
    let open_admin = rng.chance(10);
    let entry = |number: u32,
                 egress: bool,
                 protocol: &str,
                 cidr: &str,
                 ports: Option<(u32, u32)>,
                 action: &str| {
        json!({"CidrBlock": cidr, "Egress": egress, "IcmpTypeCode": null, "Ipv6CidrBlock": null,
               "PortRange": ports.map(|(f, t)| json!({"From": f, "To": t})), "Protocol": protocol, "RuleAction": action, "RuleNumber": number})
    };
    let mut entries = vec![
        entry(100, false, "6", "0.0.0.0/0", Some((443, 443)), "allow"),
        entry(110, false, "6", "10.0.0.0/8", Some((1024, 65535)), "allow"),
        entry(32767, false, "-1", "0.0.0.0/0", None, "deny"),
        entry(100, true, "-1", "0.0.0.0/0", None, "allow"),
        entry(32767, true, "-1", "0.0.0.0/0", None, "deny"),
    ];
    if open_admin || default {
        entries.push(entry(120, false, "-1", "0.0.0.0/0", None, "allow"));
    }
    let doc = envelope(
        "AWS.EC2.NetworkACL",
        &arn_ec2(region, "network-acl", &id),
        region,
        Some(&id),
        None,
        tags(rng, &id, i),
        None,
    );
    with(
        doc,
        json!({
            "Associations": [{"NetworkAclAssociationId": rng.id("aclassoc"), "NetworkAclId": id, "SubnetId": rng.id("subnet")}],
            "Entries": entries, "IsDefault": default, "NetworkAclId": id, "OwnerId": ACCOUNT, "VpcId": vpc,
        }),
    )
}

fn vpc(rng: &mut Rng, pools: &Pools, i: usize) -> Value {
    let (region, id, default_sg, default_acl) = pools.vpcs[i].clone();
    let cidr = format!("10.{}.0.0/16", i % 256);
    let flow_logs = if rng.chance(75) {
        json!([{"FlowLogId": rng.id("fl"), "FlowLogStatus": "ACTIVE", "ResourceId": id, "TrafficType": "ALL", "LogDestinationType": "s3",
                "LogDestination": format!("arn:aws:s3:::corp-flow-logs-{ACCOUNT}"), "DeliverLogsStatus": "SUCCESS"}])
    } else {
        json!([])
    };
    let name = format!("vpc-{}-{i}", ["prod", "staging", "dev"][i % 3]);
    let doc = envelope(
        "AWS.EC2.VPC",
        &arn_ec2(region, "vpc", &id),
        region,
        Some(&id),
        Some(&name),
        tags(rng, &name, i),
        None,
    );
    with(
        doc,
        json!({
            "CidrBlock": cidr,
            "CidrBlockAssociationSet": [{"AssociationId": rng.id("vpc-cidr-assoc"), "CidrBlock": cidr, "CidrBlockState": {"State": "associated", "StatusMessage": null}}],
            "DefaultNetworkAclId": default_acl, "DefaultSecurityGroupId": default_sg, "DhcpOptionsId": rng.id("dopt"), "FlowLogs": flow_logs,
            "InstanceTenancy": "default", "Ipv6CidrBlockAssociationSet": [], "IsDefault": i < REGIONS.len(), "NetworkAcls": [default_acl],
            "OwnerId": ACCOUNT,
            "RouteTables": [{"RouteTableId": rng.id("rtb"), "Routes": [{"DestinationCidrBlock": cidr, "GatewayId": "local", "Origin": "CreateRouteTable", "State": "active"},
                {"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": rng.id("nat"), "Origin": "CreateRoute", "State": "active"}]}],
            "SecurityGroups": [default_sg], "StaleSecurityGroups": [], "State": "available",
        }),
    )
}

fn ami(rng: &mut Rng, pools: &Pools, i: usize) -> Value {
    let (region, id) = pools.amis[i].clone();
    let name = format!(
        "{}-base-2026-{:02}-{:02}",
        ["web", "api", "worker", "ml"][i % 4],
        1 + i % 11,
        1 + i % 28
    );
    let public = i >= GOLDEN_AMIS && rng.chance(4);
    let doc = envelope(
        "AWS.EC2.AMI",
        &arn_ec2(region, "image", &id),
        region,
        Some(&id),
        Some(&name),
        if rng.chance(50) {
            Value::Null
        } else {
            tags(rng, &name, i)
        },
        Some(rng.within_days(700)),
    );
    with(
        doc,
        json!({
            "Architecture": "x86_64",
            "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"AvailabilityZone": null, "AvailabilityZoneId": null, "DeleteOnTermination": true,
                "EbsCardIndex": null, "Encrypted": true, "Iops": 3000, "KmsKeyId": null, "OutpostArn": null, "SnapshotId": rng.id("snap"),
                "Throughput": 125, "VolumeInitializationRate": null, "VolumeSize": 8, "VolumeType": "gp3"}, "NoDevice": null, "VirtualName": null}],
            "Description": "Hardened base image, built by Packer", "EnaSupport": true, "Hypervisor": "xen",
            "ImageLocation": format!("{ACCOUNT}/{name}"), "ImageOwnerAlias": null, "ImageType": "machine", "KernelId": null, "OwnerId": ACCOUNT,
            "Platform": null, "ProductCodes": [], "Public": public, "RamdiskId": null, "RootDeviceName": "/dev/xvda", "RootDeviceType": "ebs",
            "SriovNetSupport": "simple", "State": "available", "StateReason": null, "VirtualizationType": "hvm",
        }),
    )
}

/// A policy document as the JSON string IAM documents are stored as.
fn policy_text(statements: Value) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

/// An application's least-privilege statements.
fn app_statements(i: usize) -> Value {
    json!([{"Sid": "ReadData", "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket", "dynamodb:GetItem", "dynamodb:Query", "kms:Decrypt"],
            "Resource": [format!("arn:aws:s3:::corp-data-{i:06}"), format!("arn:aws:s3:::corp-data-{i:06}/*"), format!("arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/app-{i}")]},
           {"Sid": "Logs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": format!("arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/app/{i}:*")}])
}

/// Statements that grant too much, each failing a different rule.
fn risky_statements(rng: &mut Rng) -> Value {
    match rng.below(4) {
        0 => json!([{"Sid": "Everything", "Effect": "Allow", "Action": "*", "Resource": "*"}]),
        1 => {
            json!([{"Sid": "Network", "Effect": "Allow", "Action": ["ec2:CreateRoute", "ec2:AuthorizeSecurityGroupIngress", "ec2:CreateVpcPeeringConnection"], "Resource": "*"}])
        }
        2 => {
            json!([{"Sid": "Trail", "Effect": "Allow", "Action": ["cloudtrail:StopLogging", "cloudtrail:DeleteTrail"], "Resource": "*"}])
        }
        _ => {
            json!([{"Sid": "AllButIam", "Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"}])
        }
    }
}

fn credential_report(rng: &mut Rng, name: &str, arn: &str, created_days: usize) -> Value {
    let created_at = NOW - time::Duration::days(created_days as i64);
    let created = rfc3339(created_at);
    let console = rng.chance(60);
    let (password_used, password_changed) = if console {
        let used = if rng.chance(85) {
            rng.within_days(150)
        } else {
            ZERO_TIME.to_owned()
        };
        (used, rng.within_days(created_days.max(1)))
    } else {
        (ZERO_TIME.to_owned(), ZERO_TIME.to_owned())
    };
    let key = |rng: &mut Rng, active: bool| -> (bool, String, String, String, String) {
        if !active {
            return (
                false,
                ZERO_TIME.into(),
                ZERO_TIME.into(),
                "N/A".into(),
                "N/A".into(),
            );
        }
        let rotated_days = rng.below(created_days.clamp(1, 200));
        // Some keys were created with the user and never rotated since.
        let rotated = if rng.chance(10) {
            rfc3339(created_at + time::Duration::seconds(7))
        } else {
            rng.days_ago(rotated_days)
        };
        if rng.chance(15) {
            (true, rotated, ZERO_TIME.into(), "N/A".into(), "N/A".into())
        } else {
            let used = rng.within_days(rotated_days.clamp(1, 120));
            (true, rotated, used, "us-east-1".into(), "s3".into())
        }
    };
    let active = rng.chance(55);
    let one = key(rng, active);
    let active = rng.chance(8);
    let two = key(rng, active);
    json!({"UserName": name, "ARN": arn, "UserCreationTime": created, "PasswordEnabled": console, "PasswordLastUsed": password_used,
           "PasswordLastChanged": password_changed, "PasswordNextRotation": ZERO_TIME, "MfaActive": console && rng.chance(85) || rng.chance(5),
           "AccessKey1Active": one.0, "AccessKey1LastRotated": one.1, "AccessKey1LastUsedDate": one.2, "AccessKey1LastUsedRegion": one.3, "AccessKey1LastUsedService": one.4,
           "AccessKey2Active": two.0, "AccessKey2LastRotated": two.1, "AccessKey2LastUsedDate": two.2, "AccessKey2LastUsedRegion": two.3, "AccessKey2LastUsedService": two.4,
           "Cert1Active": false, "Cert1LastRotated": ZERO_TIME, "Cert2Active": false, "Cert2LastRotated": ZERO_TIME})
}

fn group_ref(name: &str, i: usize) -> Value {
    json!({"Arn": format!("arn:aws:iam::{ACCOUNT}:group/{name}"), "CreateDate": "2021-11-03T08:15:00Z",
           "GroupId": format!("AGPA{:017X}", i * 7919 + 17), "GroupName": name, "Path": "/"})
}

fn user(rng: &mut Rng, pools: &Pools, i: usize) -> Value {
    let name = pools.users[i].clone();
    let arn = format!("arn:aws:iam::{ACCOUNT}:user/{name}");
    let created_days = 30 + rng.below(1500);
    let report = credential_report(rng, &name, &arn, created_days);
    let groups: Vec<Value> = (0..rng.below(4))
        .map(|_| {
            // The well-known groups (admins, auditors, ...) half of the time.
            let g = if rng.chance(50) {
                rng.below(pools.groups.len().min(8))
            } else {
                rng.below(pools.groups.len())
            };
            group_ref(&pools.groups[g], g)
        })
        .collect();
    let inline = if rng.chance(12) {
        json!({"ci-artifacts": policy_text(if rng.chance(30) { risky_statements(rng) } else { app_statements(i) })})
    } else {
        Value::Null
    };
    let managed = if rng.chance(25) {
        json!(
            rng.pick(&[
                vec!["ReadOnlyAccess"],
                vec!["AdministratorAccess"],
                vec!["IAMFullAccess", "ReadOnlyAccess"],
                vec!["AmazonS3ReadOnlyAccess"]
            ])
            .clone()
        )
    } else {
        Value::Null
    };
    let mfa = if report["MfaActive"] == json!(true) {
        json!({"SerialNumber": format!("arn:aws:iam::{ACCOUNT}:mfa/{name}"), "EnableDate": rng.days_ago(created_days.saturating_sub(1))})
    } else {
        Value::Null
    };
    let password_used = report["PasswordLastUsed"].clone();
    let doc = envelope(
        "AWS.IAM.User",
        &arn,
        "global",
        Some(&format!("AIDA{:017X}", rng.next() >> 4)),
        Some(&name),
        tags(rng, &name, i),
        Some(report["UserCreationTime"].as_str().unwrap().to_owned()),
    );
    with(
        doc,
        json!({
            "CredentialReport": report, "Groups": if groups.is_empty() { Value::Null } else { json!(groups) }, "InlinePolicies": inline,
            "ManagedPolicyNames": managed, "PasswordLastUsed": if password_used == json!(ZERO_TIME) { Value::Null } else { password_used },
            "Path": "/", "PermissionsBoundary": null, "VirtualMFA": mfa,
        }),
    )
}

fn trust_policy(rng: &mut Rng, i: usize) -> String {
    let github = "token.actions.githubusercontent.com";
    let statements = match rng.below(20) {
        0..=7 => {
            json!([{"Effect": "Allow", "Principal": {"Service": *rng.pick(&["lambda.amazonaws.com", "ec2.amazonaws.com", "ecs-tasks.amazonaws.com"])}, "Action": "sts:AssumeRole"}])
        }
        8..=10 => {
            json!([{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "sts:AssumeRole",
                          "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}])
        }
        11 => {
            json!([{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::210987654321:role/ci"}, "Action": "sts:AssumeRole"}])
        }
        12 => {
            json!([{"Effect": "Allow", "Principal": {"AWS": "999988887777"}, "Action": "sts:AssumeRole",
                      "Condition": {"StringEquals": {"sts:ExternalId": format!("vendor-{i}")}}}])
        }
        13 => json!([{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]),
        14 => json!([{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole",
                      "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}}]),
        15 | 16 => {
            json!([{"Effect": "Allow", "Principal": {"Federated": format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{github}")},
                           "Action": "sts:AssumeRoleWithWebIdentity",
                           "Condition": {"StringEquals": {format!("{github}:aud"): "sts.amazonaws.com"},
                                         "StringLike": {format!("{github}:sub"): format!("repo:corp/service-{i}:ref:refs/heads/main")}}}])
        }
        17 => {
            json!([{"Effect": "Allow", "Principal": {"Federated": format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{github}")},
                      "Action": "sts:AssumeRoleWithWebIdentity",
                      "Condition": {"StringEquals": {format!("{github}:aud"): "sts.amazonaws.com"}}}])
        }
        _ => {
            json!([{"Effect": "Allow", "Principal": {"Federated": format!("arn:aws:iam::{ACCOUNT}:saml-provider/okta")},
                     "Action": "sts:AssumeRoleWithSAML", "Condition": {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}}}])
        }
    };
    policy_text(statements)
}

fn role(rng: &mut Rng, i: usize) -> Value {
    let name = format!(
        "{}-{i}",
        [
            "app",
            "lambda",
            "ecs-task",
            "ci-deploy",
            "finance-admin",
            "oncall"
        ][i % 6]
    );
    let arn = format!("arn:aws:iam::{ACCOUNT}:role/{name}");
    let inline = if rng.chance(40) {
        json!({"app": policy_text(if rng.chance(15) { risky_statements(rng) } else { app_statements(i) })})
    } else {
        Value::Null
    };
    let managed: Vec<&str> = rng
        .pick(&[
            vec![],
            vec!["AWSLambdaBasicExecutionRole"],
            vec![
                "AmazonECSTaskExecutionRolePolicy",
                "CloudWatchAgentServerPolicy",
            ],
            vec!["ReadOnlyAccess"],
            vec!["AdministratorAccess"],
        ])
        .clone();
    let doc = envelope(
        "AWS.IAM.Role",
        &arn,
        "global",
        Some(&format!("AROA{:017X}", rng.next() >> 4)),
        Some(&name),
        tags(rng, &name, i),
        Some(rng.within_days(1500)),
    );
    with(
        doc,
        json!({
            "AssumeRolePolicyDocument": trust_policy(rng, i), "Description": format!("{name} role"), "InlinePolicies": inline,
            "ManagedPolicyNames": if managed.is_empty() { Value::Null } else { json!(managed) }, "MaxSessionDuration": 3600, "Path": "/",
            "PermissionsBoundary": null,
            "RoleLastUsed": {"LastUsedDate": rng.within_days(90), "Region": *rng.pick(&REGIONS)},
        }),
    )
}

fn group(rng: &mut Rng, pools: &Pools, i: usize) -> Value {
    let name = pools.groups[i].clone();
    let arn = format!("arn:aws:iam::{ACCOUNT}:group/{name}");
    let inline = if rng.chance(15) {
        json!({"extra": policy_text(if rng.chance(30) { risky_statements(rng) } else { app_statements(i) })})
    } else {
        Value::Null
    };
    let managed = match name.as_str() {
        "admins" => json!(["arn:aws:iam::aws:policy/AdministratorAccess"]),
        "security-admins" => json!([
            "arn:aws:iam::aws:policy/AWSCloudTrail_FullAccess",
            "arn:aws:iam::aws:policy/SecurityAudit"
        ]),
        _ => match rng.below(3) {
            0 => json!(["arn:aws:iam::aws:policy/ReadOnlyAccess"]),
            1 => json!([
                "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
                "arn:aws:iam::aws:policy/AWSCloudTrail_ReadOnlyAccess"
            ]),
            _ => json!([format!("arn:aws:iam::{ACCOUNT}:policy/app-policy-{i}")]),
        },
    };
    let users: Vec<Value> = if rng.chance(10) {
        Vec::new()
    } else {
        (0..1 + rng.below(5))
            .map(|_| {
                let user = rng.pick(&pools.users).clone();
                json!({"Arn": format!("arn:aws:iam::{ACCOUNT}:user/{user}"), "CreateDate": "2022-04-19T13:07:22Z", "PasswordLastUsed": null,
                       "Path": "/", "PermissionsBoundary": null, "Tags": null, "UserId": format!("AIDA{:017X}", rng.next() >> 4), "UserName": user})
            })
            .collect()
    };
    let doc = envelope(
        "AWS.IAM.Group",
        &arn,
        "global",
        Some(&format!("AGPA{:017X}", i * 7919 + 17)),
        Some(&name),
        Value::Null,
        Some("2021-11-03T08:15:00Z".to_owned()),
    );
    with(
        doc,
        json!({"InlinePolicies": inline, "ManagedPolicyARNs": managed, "Path": "/", "Users": users}),
    )
}

fn policy(rng: &mut Rng, i: usize) -> Value {
    let name = match i {
        0 => "billing-admin".to_owned(),
        1 => "break-glass".to_owned(),
        _ => format!("app-policy-{i}"),
    };
    let arn = format!("arn:aws:iam::{ACCOUNT}:policy/{name}");
    let statements = if rng.chance(12) {
        risky_statements(rng)
    } else {
        app_statements(i)
    };
    let roles: Vec<Value> = (0..rng.below(3))
        .map(|k| {
            let role = match (i, k) {
                (0, 0) => "finance-admin".to_owned(),
                (0, _) => "contractor-access".to_owned(),
                _ => format!("app-{i}-{k}"),
            };
            json!({"RoleName": role, "RoleId": format!("AROA{:017X}", rng.next() >> 4)})
        })
        .collect();
    let groups: Vec<Value> = if rng.chance(10) {
        vec![json!({"GroupName": "developers", "GroupId": "AGPA3KQ7ZX2WM5NR8TLBH"})]
    } else {
        Vec::new()
    };
    let attachments = roles.len() + groups.len();
    let doc = envelope(
        "AWS.IAM.Policy",
        &arn,
        "global",
        Some(&format!("ANPA{:017X}", rng.next() >> 4)),
        Some(&name),
        tags(rng, &name, i),
        Some(rng.within_days(1200)),
    );
    with(
        doc,
        json!({
            "AttachmentCount": attachments, "DefaultVersionId": format!("v{}", 1 + rng.below(5)),
            "Description": format!("Customer managed policy {name}, source: github.com/corp/iam-policies"),
            "Entities": {"PolicyGroups": groups, "PolicyRoles": roles, "PolicyUsers": []}, "IsAttachable": true, "Path": "/",
            "PermissionsBoundaryUsageCount": 0, "PolicyDocument": policy_text(statements), "UpdateDate": rng.within_days(300),
        }),
    )
}

fn bucket_policy(rng: &mut Rng, name: &str) -> Value {
    let deny_insecure = json!({"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [format!("arn:aws:s3:::{name}"), format!("arn:aws:s3:::{name}/*")], "Condition": {"Bool": {"aws:SecureTransport": "false"}}});
    let statements = match rng.below(20) {
        0..=2 => return Value::Null,
        3..=13 => json!([deny_insecure]),
        14 | 15 => {
            json!([deny_insecure, {"Sid": "CloudFrontRead", "Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
                           "Resource": format!("arn:aws:s3:::{name}/*"), "Condition": {"StringEquals": {"AWS:SourceArn": format!("arn:aws:cloudfront::{ACCOUNT}:distribution/E2ABC{}", rng.below(1000))}}}])
        }
        16 => {
            json!([{"Sid": "LogDelivery", "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"}, "Action": "s3:PutObject",
                      "Resource": format!("arn:aws:s3:::{name}/*")}])
        }
        17 => {
            json!([deny_insecure, {"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{name}/*")}])
        }
        18 => {
            json!([{"Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "s3:*",
                      "Resource": [format!("arn:aws:s3:::{name}"), format!("arn:aws:s3:::{name}/*")]}])
        }
        _ => {
            json!([deny_insecure, {"Sid": "AllButAuditors", "Effect": "Allow", "NotPrincipal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:role/auditor")},
                                    "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{name}/*")}])
        }
    };
    json!(policy_text(statements))
}

fn bucket(rng: &mut Rng, pools: &Pools, i: usize) -> Value {
    // The first buckets are the trails' buckets, which the CloudTrail rules look up.
    let trail_buckets: Vec<&String> = {
        let mut names: Vec<&String> = pools.trails.iter().map(|t| &t.2).collect();
        names.dedup();
        names
    };
    let (name, region) = match trail_buckets.get(i) {
        Some(name) => ((*name).clone(), "us-east-1"),
        None if rng.chance(3) => (format!("Corp.Legacy_Data.{i}"), REGIONS[i % REGIONS.len()]),
        None => (
            format!(
                "corp-{}-{i:06}",
                ["data", "logs", "artifacts", "backups", "static"][i % 5]
            ),
            REGIONS[i % REGIONS.len()],
        ),
    };
    let arn = format!("arn:aws:s3:::{name}");
    let owner = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be";
    let encryption = if rng.chance(90) {
        let kms = rng.chance(50);
        json!([{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": if kms { "aws:kms" } else { "AES256" },
                 "KMSMasterKeyID": if kms { json!(format!("arn:aws:kms:{region}:{ACCOUNT}:key/{:032x}", rng.next())) } else { Value::Null }},
                "BucketKeyEnabled": kms}])
    } else {
        Value::Null
    };
    let mut grants = vec![
        json!({"Grantee": {"DisplayName": null, "EmailAddress": null, "ID": owner, "Type": "CanonicalUser", "URI": null}, "Permission": "FULL_CONTROL"}),
    ];
    if rng.chance(10) {
        grants.push(json!({"Grantee": {"DisplayName": null, "EmailAddress": null, "ID": null, "Type": "Group", "URI": "http://acs.amazonaws.com/groups/s3/LogDelivery"}, "Permission": "WRITE"}));
    }
    if rng.chance(4) {
        let permission = if rng.chance(30) { "WRITE" } else { "READ" };
        grants.push(json!({"Grantee": {"DisplayName": null, "EmailAddress": null, "ID": null, "Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"}, "Permission": permission}));
    }
    let block = if rng.chance(88) {
        json!({"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true})
    } else if rng.chance(50) {
        json!({"BlockPublicAcls": false, "BlockPublicPolicy": true, "IgnorePublicAcls": false, "RestrictPublicBuckets": true})
    } else {
        Value::Null
    };
    let lifecycle = if rng.chance(75) {
        json!([{"ID": "expire-noncurrent-versions", "Filter": {"Prefix": ""}, "Status": "Enabled", "NoncurrentVersionExpiration": {"NoncurrentDays": 90},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}},
               {"ID": "archive", "Status": "Enabled", "Filter": {"Prefix": "archive/"}, "Transitions": [{"Days": 90, "StorageClass": "GLACIER_IR"}]}])
    } else {
        Value::Null
    };
    let logging = if rng.chance(78) {
        json!({"TargetBucket": format!("corp-s3-access-logs-{region}"), "TargetGrants": null, "TargetPrefix": format!("{name}/")})
    } else {
        Value::Null
    };
    let versioning = if rng.chance(80) {
        json!("Enabled")
    } else if rng.chance(50) {
        json!("Suspended")
    } else {
        Value::Null
    };
    let mfa_delete = if rng.chance(15) {
        json!("Enabled")
    } else if rng.chance(50) {
        json!("Disabled")
    } else {
        Value::Null
    };
    let lock = if rng.chance(20) {
        json!({"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 30, "Years": null}}})
    } else {
        Value::Null
    };
    let doc = envelope(
        "AWS.S3.Bucket",
        &arn,
        region,
        None,
        Some(&name),
        tags(rng, &name, i),
        Some(rng.within_days(2000)),
    );
    with(
        doc,
        json!({
            "EncryptionRules": encryption, "Grants": grants, "LifecycleRules": lifecycle, "LoggingPolicy": logging, "MFADelete": mfa_delete,
            "ObjectLockConfiguration": lock, "Owner": {"DisplayName": null, "ID": owner}, "Policy": bucket_policy(rng, &name),
            "PublicAccessBlockConfiguration": block, "Versioning": versioning,
        }),
    )
}

fn kms_key(rng: &mut Rng, i: usize) -> Value {
    let region = REGIONS[i % REGIONS.len()];
    let id = format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        rng.next() as u32,
        rng.below(1 << 16),
        rng.below(1 << 12),
        rng.below(1 << 12),
        rng.next() >> 16
    );
    let arn = format!("arn:aws:kms:{region}:{ACCOUNT}:key/{id}");
    let aws_managed = rng.chance(10);
    let statements = if rng.chance(6) {
        json!([{"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "kms:*", "Resource": "*"},
               {"Sid": "Everyone", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"}])
    } else {
        json!([{"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "kms:*", "Resource": "*"},
               {"Sid": "Allow use of the key", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:role/app-{i}")},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"], "Resource": "*"}])
    };
    let doc = envelope(
        "AWS.KMS.Key",
        &arn,
        region,
        Some(&id),
        None,
        if aws_managed {
            Value::Null
        } else {
            tags(rng, &id, i)
        },
        Some(rng.within_days(1500)),
    );
    with(
        doc,
        json!({
            "AWSAccountId": ACCOUNT, "CloudHsmClusterId": null, "CustomKeyStoreId": null, "DeletionDate": null,
            "Description": if aws_managed { "Default key that protects my EBS volumes when no other key is defined".to_owned() } else { format!("envelope encryption for service {i}") },
            "Enabled": true, "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"], "ExpirationModel": null,
            "KeyManager": if aws_managed { "AWS" } else { "CUSTOMER" }, "KeyRotationEnabled": aws_managed || rng.chance(80),
            "KeySpec": "SYMMETRIC_DEFAULT", "KeyState": "Enabled", "KeyUsage": "ENCRYPT_DECRYPT", "MultiRegion": false, "Origin": "AWS_KMS",
            "ValidTo": null, "Policy": policy_text(statements),
        }),
    )
}

fn trail(rng: &mut Rng, pools: &Pools, i: usize) -> Value {
    let (name, region, bucket) = pools.trails[i].clone();
    let arn = format!("arn:aws:cloudtrail:{region}:{ACCOUNT}:trail/{name}");
    let multi_region = i < 2;
    let selectors = if i == 1 {
        json!([{"ReadWriteType": "All", "IncludeManagementEvents": true, "ExcludeManagementEventSources": [],
                "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}]}])
    } else {
        json!([{"ReadWriteType": "All", "IncludeManagementEvents": true, "DataResources": [], "ExcludeManagementEventSources": []}])
    };
    let cloudwatch = i < 2 || rng.chance(60);
    let delivered = if rng.chance(85) {
        "2026-11-26T23:55:31Z"
    } else {
        "2026-10-02T08:00:00Z"
    };
    let doc = envelope(
        "AWS.CloudTrail",
        &arn,
        region,
        None,
        Some(&name),
        json!({"team": "security", "env": "prod"}),
        None,
    );
    with(
        doc,
        json!({
            "AdvancedEventSelectors": null,
            "CloudWatchLogsLogGroupArn": if cloudwatch { json!(format!("arn:aws:logs:{region}:{ACCOUNT}:log-group:aws-cloudtrail-logs-{name}:*")) } else { Value::Null },
            "CloudWatchLogsRoleArn": if cloudwatch { json!(format!("arn:aws:iam::{ACCOUNT}:role/CloudTrailRoleForCloudWatchLogs_{name}")) } else { Value::Null },
            "EventSelectors": selectors, "HasCustomEventSelectors": i == 1, "HomeRegion": region, "IncludeGlobalServiceEvents": multi_region,
            "IsMultiRegionTrail": multi_region, "IsOrganizationTrail": false,
            "KmsKeyId": if i < 2 || rng.chance(70) { json!(format!("arn:aws:kms:{region}:{ACCOUNT}:key/4d2c7a1e-3b9f-4c61-9a57-0e8f5d7b2c{i:02}")) } else { Value::Null },
            "LogFileValidationEnabled": i < 2 || rng.chance(75), "S3BucketName": bucket, "S3KeyPrefix": null, "SnsTopicARN": null, "SnsTopicName": null,
            "Status": {"IsLogging": i < 2 || rng.chance(90), "LatestDeliveryError": null, "LatestNotificationError": null, "LatestDeliveryTime": "2026-11-26T23:52:08Z",
                "LatestNotificationTime": null, "StartLoggingTime": "2024-02-06T10:11:42Z", "StopLoggingTime": null, "LatestCloudWatchLogsDeliveryError": null,
                "LatestCloudWatchLogsDeliveryTime": if cloudwatch { json!(delivered) } else { Value::Null }, "LatestDigestDeliveryTime": "2026-11-26T23:13:02Z",
                "LatestDigestDeliveryError": null, "LatestDeliveryAttemptTime": "2026-11-26T23:52:08Z", "LatestNotificationAttemptTime": "",
                "LatestNotificationAttemptSucceeded": "", "LatestDeliveryAttemptSucceeded": "2026-11-26T23:52:08Z", "TimeLoggingStarted": "2024-02-06T10:11:42Z",
                "TimeLoggingStopped": ""},
        }),
    )
}

/// The account's singleton documents: root user, password policy and the `*.Meta` summaries.
fn singleton(rng: &mut Rng, pools: &Pools, resource_type: &str, i: usize) -> Value {
    let summary = |id: String, region: &str| {
        envelope(resource_type, &id, region, None, None, Value::Null, None)
    };
    match resource_type {
        "AWS.IAM.RootUser" => {
            let arn = format!("arn:aws:iam::{ACCOUNT}:root");
            let doc = envelope(
                resource_type,
                &arn,
                "global",
                Some(ACCOUNT),
                Some("<root_account>"),
                Value::Null,
                Some("2015-07-21T16:42:05Z".to_owned()),
            );
            with(
                doc,
                json!({
                    "CredentialReport": {"UserName": "<root_account>", "ARN": arn, "UserCreationTime": "2015-07-21T16:42:05+00:00", "PasswordEnabled": null,
                        "PasswordLastUsed": rng.days_ago(64), "PasswordLastChanged": ZERO_TIME, "PasswordNextRotation": ZERO_TIME, "MfaActive": true,
                        "AccessKey1Active": false, "AccessKey1LastRotated": ZERO_TIME, "AccessKey1LastUsedDate": ZERO_TIME, "AccessKey1LastUsedRegion": "N/A",
                        "AccessKey1LastUsedService": "N/A", "AccessKey2Active": false, "AccessKey2LastRotated": ZERO_TIME, "AccessKey2LastUsedDate": ZERO_TIME,
                        "AccessKey2LastUsedRegion": "N/A", "AccessKey2LastUsedService": "N/A", "Cert1Active": false, "Cert1LastRotated": ZERO_TIME,
                        "Cert2Active": false, "Cert2LastRotated": ZERO_TIME},
                    "VirtualMFA": {"SerialNumber": format!("arn:aws:iam::{ACCOUNT}:mfa/root-account-mfa-device"), "EnableDate": "2016-01-04T10:00:00Z"},
                }),
            )
        }
        "AWS.PasswordPolicy" => with(
            summary(format!("{ACCOUNT}::AWS.PasswordPolicy"), "global"),
            json!({
                "AllowUsersToChangePassword": true, "ExpirePasswords": true, "HardExpiry": false, "MaxPasswordAge": 90, "MinimumPasswordLength": 12,
                "PasswordReusePrevention": 24, "RequireLowercaseCharacters": true, "RequireNumbers": true, "RequireSymbols": false,
                "RequireUppercaseCharacters": true, "AnyExist": true,
            }),
        ),
        "AWS.IAM.Meta" => with(
            summary(format!("{ACCOUNT}::AWS.IAM.Meta"), "global"),
            json!({
                "SupportAccessEntities": {"PolicyGroups": [], "PolicyRoles": [{"RoleName": "aws-support", "RoleId": "AROACRLFSM7BUQSV43KHV"}], "PolicyUsers": []},
            }),
        ),
        "AWS.CloudTrail.Meta" => {
            let trails: Vec<String> = pools
                .trails
                .iter()
                .map(|(name, region, _)| {
                    format!("arn:aws:cloudtrail:{region}:{ACCOUNT}:trail/{name}")
                })
                .collect();
            with(
                summary(format!("{ACCOUNT}::AWS.CloudTrail.Meta"), "global"),
                json!({
                    "Trails": trails,
                    "GlobalEventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": true, "DataResources": [], "ExcludeManagementEventSources": []}],
                }),
            )
        }
        "AWS.S3.Meta" => with(
            summary(format!("{ACCOUNT}::AWS.S3.Meta"), "global"),
            json!({
                "PublicAccessBlockConfiguration": {"BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": true, "RestrictPublicBuckets": false},
            }),
        ),
        "AWS.EC2.Meta" => {
            let region = REGIONS[i % REGIONS.len()];
            with(
                summary(format!("{ACCOUNT}:{region}:AWS.EC2.Meta"), region),
                json!({
                    "EbsEncryptionByDefault": i != 2, "EbsDefaultKmsKeyId": "alias/aws/ebs",
                }),
            )
        }
        other => panic!("no generator for {other}"),
    }
}

fn corpus(n: usize) -> (Vec<Doc>, Pools) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let counts = mix(n);
    let by_type: HashMap<&str, usize> = counts.iter().copied().collect();
    let pools = Pools::new(&mut rng, &by_type);
    let mut docs = Vec::with_capacity(n);
    for (resource_type, count) in &counts {
        for i in 0..*count {
            let r = &mut rng;
            let doc = match *resource_type {
                "AWS.EC2.Instance" => instance(r, &pools, i),
                "AWS.EC2.Volume" => volume(r, &pools, i),
                "AWS.EC2.SecurityGroup" => security_group(r, &pools, i),
                "AWS.EC2.NetworkACL" => network_acl(r, &pools, i),
                "AWS.EC2.VPC" => vpc(r, &pools, i),
                "AWS.EC2.AMI" => ami(r, &pools, i),
                "AWS.IAM.Role" => role(r, i),
                "AWS.IAM.User" => user(r, &pools, i),
                "AWS.IAM.Group" => group(r, &pools, i),
                "AWS.IAM.Policy" => policy(r, i),
                "AWS.S3.Bucket" => bucket(r, &pools, i),
                "AWS.KMS.Key" => kms_key(r, i),
                "AWS.CloudTrail" => trail(r, &pools, i),
                other => singleton(r, &pools, other, i),
            };
            docs.push(Doc {
                id: doc["ResourceId"].as_str().unwrap().to_owned(),
                resource_type: (*resource_type).to_owned(),
                text: doc.to_string(),
            });
        }
    }
    // Interleave types the way an account's inventory arrives (region by region, service by
    // service, not sorted by type): a deterministic shuffle.
    for i in (1..docs.len()).rev() {
        let j = rng.below(i + 1);
        docs.swap(i, j);
    }
    (docs, pools)
}

// ---------------------------------------------------------------------------------------------
// Settings

/// What an operator would configure: the lists the approval rules decide on (the corpus's
/// golden AMIs, landing-zone VPCs and Dedicated Hosts), and the usual tuning of the tagging,
/// IAM and CDE rules. Every other rule runs on its defaults.
fn operator_settings(pools: &Pools) -> RuleSettings {
    let golden: Vec<&str> = pools.amis[..GOLDEN_AMIS.min(pools.amis.len())]
        .iter()
        .map(|a| a.1.as_str())
        .collect();
    let landing: Vec<&str> = pools.vpcs[..LANDING_VPCS.min(pools.vpcs.len())]
        .iter()
        .map(|v| v.1.as_str())
        .collect();
    let approved_types = ["t3.*", "m5.*", "m6i.*", "c6i.*", "r6g.*"];
    let mut per_ami_hosts = Map::new();
    per_ami_hosts.insert(
        golden[0].into(),
        json!(format!("{}, {}", HOSTS[0], HOSTS[1])),
    );
    per_ami_hosts.insert(
        golden[1].into(),
        json!(format!("{}, {}", HOSTS[2], HOSTS[3])),
    );
    let mut per_ami_types = Map::new();
    per_ami_types.insert(golden[2].into(), json!("c6i.*, c7i.*"));
    per_ami_types.insert("*".into(), json!(approved_types.join(", ")));
    let mut per_ami_tenancies = Map::new();
    per_ami_tenancies.insert(golden[0].into(), json!("host"));
    per_ami_tenancies.insert(golden[1].into(), json!("host"));
    per_ami_tenancies.insert("*".into(), json!("default, dedicated"));

    let settings = [
        (
            "AWS.EC2.Instance.ApprovedAMI",
            json!({"approved-amis": golden}),
        ),
        (
            "AWS.EC2.Instance.ApprovedHost",
            json!({"approved-hosts": HOSTS}),
        ),
        (
            "AWS.EC2.Instance.ApprovedInstanceType",
            json!({"approved-instance-types": approved_types}),
        ),
        (
            "AWS.EC2.Instance.ApprovedTenancy",
            json!({"approved-tenancies": ["default", "host"]}),
        ),
        (
            "AWS.EC2.Instance.ApprovedVPC",
            json!({"approved-vpcs": landing}),
        ),
        (
            "AWS.EC2.AMI.ApprovedHost",
            json!({"ami-approved-hosts": per_ami_hosts}),
        ),
        (
            "AWS.EC2.AMI.ApprovedInstanceType",
            json!({"ami-approved-instance-types": per_ami_types}),
        ),
        (
            "AWS.EC2.AMI.ApprovedTenancy",
            json!({"ami-approved-tenancies": per_ami_tenancies}),
        ),
        (
            "AWS.EC2.CDEVolumeEncrypted",
            json!({"cde-tags": {"environment": "cde", "pci-scope": "*"}}),
        ),
        ("AWS.Resource.MinimumTags", json!({"minimum-tags": 2})),
        (
            "AWS.Resource.RequiredTags",
            json!({"required-tags": {"*": "owner", "AWS.EC2.Instance": "owner, cost-center"}}),
        ),
        (
            "AWS.CloudTrail.LeastPrivilege",
            json!({"allowed-groups": ["security-admins"]}),
        ),
        (
            "AWS.IAM.Policy.Blacklist",
            json!({"blocked-policies": ["AdministratorAccess", "IAMFullAccess", "arn:aws:iam::aws:policy/AWSCloudTrail_FullAccess"]}),
        ),
        (
            "AWS.IAM.Policy.RoleMapping",
            json!({"role-mapping": {"billing-admin": "finance-admin, finance-auditor", "break-glass": "oncall-breakglass"}}),
        ),
        (
            "AWS.IAM.Role.ExternalPermission",
            json!({"organization-accounts": ["210987654321", "345678901234"]}),
        ),
        (
            "AWS.IAM.User.NotInConflictingGroups",
            json!({"conflicting-groups": {"admins": "auditors", "deployers": "approvers"}}),
        ),
    ];
    settings
        .into_iter()
        .map(|(rule, value)| match value {
            Value::Object(map) => (rule.to_owned(), map),
            _ => unreachable!("settings are objects"),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/// Lookups over the corpus, by resource id, for the engine.
struct CorpusLookup(HashMap<String, String>);

impl Lookup for CorpusLookup {
    fn lookup(&self, account_id: &str, resource_id: &str) -> Option<String> {
        if account_id != ACCOUNT {
            return None;
        }
        self.0.get(resource_id).cloned()
    }
}

/// Verdicts by status: pass, fail, error.
type Counts = [usize; 3];

fn slot(status: Status) -> usize {
    match status {
        Status::Pass => 0,
        Status::Fail => 1,
        Status::Error => 2,
    }
}

fn native_slot(status: wit::Status) -> usize {
    match status {
        wit::Status::Pass => 0,
        wit::Status::Fail => 1,
        wit::Status::Error => 2,
    }
}

/// A built-in pack, loaded and planned, with its native twin.
struct Loaded {
    pack: Pack,
    plan: Plan,
    native: &'static [palisade_sdk::Rule],
    /// Per resource type of the corpus: the planned rules that apply, as native requests.
    requests: HashMap<String, Vec<RuleRequest>>,
}

/// The documents of each type, in corpus order (what the engine's grouping produces).
fn group_by_type(docs: &[Doc]) -> Vec<(&str, Vec<&str>)> {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for d in docs {
        match groups.iter_mut().find(|(t, _)| *t == d.resource_type) {
            Some((_, texts)) => texts.push(&d.text),
            None => groups.push((&d.resource_type, vec![&d.text])),
        }
    }
    groups
}

/// The WASM side: each pack's plan over every subject on this thread (the engine groups by
/// account and type and batches). Verdicts by status.
fn wasm_evaluate(packs: &[Loaded], ctx: &EvalContext, subjects: &[Subject<'_>]) -> Counts {
    let mut counts = [0; 3];
    for p in packs {
        for e in p.pack.evaluate(&p.plan, ctx, subjects) {
            counts[slot(e.status)] += 1;
        }
    }
    counts
}

/// The native side: the same rules and settings through the SDK runtime, grouped by type and
/// batched as the engine batches them, with no component boundary. Verdicts by status.
fn native_evaluate(packs: &[Loaded], docs: &[Doc], host: &StaticHost, batch: usize) -> Counts {
    let mut counts = [0; 3];
    let groups = group_by_type(docs);
    for p in packs {
        for (ty, texts) in &groups {
            let Some(requests) = p.requests.get(*ty).filter(|r| !r.is_empty()) else {
                continue;
            };
            for chunk in texts.chunks(batch) {
                for o in evaluate_batch(p.native, requests, ty, chunk, host) {
                    counts[native_slot(o.verdict.status)] += 1;
                }
            }
        }
    }
    counts
}

/// Verdicts by (resource type, pack, rule id) and the first error message of each rule.
type Detail = BTreeMap<(String, String, String), Counts>;

fn wasm_detail(
    packs: &[Loaded],
    ctx: &EvalContext,
    subjects: &[Subject<'_>],
) -> (Detail, BTreeMap<String, String>) {
    let mut detail = Detail::new();
    let mut errors = BTreeMap::new();
    for p in packs {
        for e in p.pack.evaluate(&p.plan, ctx, subjects) {
            let rule = &p.pack.rules()[e.rule].id;
            let key = (
                subjects[e.subject].resource_type.to_owned(),
                p.pack.name().to_owned(),
                rule.clone(),
            );
            detail.entry(key).or_default()[slot(e.status)] += 1;
            if e.status == Status::Error {
                errors
                    .entry(rule.clone())
                    .or_insert_with(|| e.message.clone().unwrap_or_default());
            }
        }
    }
    (detail, errors)
}

fn native_detail(packs: &[Loaded], docs: &[Doc], host: &StaticHost, batch: usize) -> Detail {
    let mut detail = Detail::new();
    let groups = group_by_type(docs);
    for p in packs {
        for (ty, texts) in &groups {
            let Some(requests) = p.requests.get(*ty).filter(|r| !r.is_empty()) else {
                continue;
            };
            for chunk in texts.chunks(batch) {
                for o in evaluate_batch(p.native, requests, ty, chunk, host) {
                    let key = (
                        (*ty).to_owned(),
                        p.pack.name().to_owned(),
                        requests[o.rule as usize].rule_id.clone(),
                    );
                    detail.entry(key).or_default()[native_slot(o.verdict.status)] += 1;
                }
            }
        }
    }
    detail
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// CPU time this thread has run, from the scheduler (Linux): unlike wall time it excludes time
/// the virtual machine was descheduled, which on shared machines swings wall-clock figures.
fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// Wall and thread-CPU time of one call of `f`, and its result.
fn timed(f: impl FnOnce() -> Counts) -> (Duration, Option<Duration>, Counts) {
    let cpu = thread_cpu();
    let start = Instant::now();
    let counts = black_box(f());
    let wall = start.elapsed();
    let cpu = cpu.zip(thread_cpu()).map(|(a, b)| b - a);
    (wall, cpu, counts)
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn share(part: usize, total: usize) -> String {
    format!("{:.1}%", 100.0 * part as f64 / total.max(1) as f64)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (n, rounds) = if quick { (10_000, 3) } else { (100_000, 5) };

    let build_start = Instant::now();
    let (docs, pools) = corpus(n);
    let build = build_start.elapsed();
    let bytes: usize = docs.iter().map(|d| d.text.len()).sum();
    let largest = docs.iter().map(|d| d.text.len()).max().unwrap_or(0);
    println!(
        "corpus: {n} resources of account {ACCOUNT} in {} regions, {:.1} MB, mean {} bytes, largest {} bytes (built in {:.1} s); {rounds} rounds each, medians\n",
        REGIONS.len(),
        bytes as f64 / 1e6,
        bytes / n,
        largest,
        build.as_secs_f64()
    );
    let settings = operator_settings(&pools);
    let types: Vec<&str> = mix(n).iter().map(|(t, _)| *t).collect();

    // Load and compile every built-in pack in a fresh engine (no artefact cache), then plan
    // every rule, default-on and default-off.
    let limits = Limits::default();
    let batch = limits.batch_size;
    let load_start = Instant::now();
    let engine = Engine::new(limits).unwrap();
    let mut loads = Vec::new();
    let mut packs = Vec::new();
    for builtin in BUILTIN_PACKS {
        let start = Instant::now();
        let pack = engine.load(builtin.name, builtin.wasm).unwrap();
        loads.push((builtin.name, builtin.wasm.len(), start.elapsed()));
        let plan = pack.plan(|_| true, &settings).unwrap();
        let native = native_rules(builtin.name);
        for rule in pack.rules() {
            assert!(
                native.iter().any(|r| r.id == rule.id),
                "{} of {} has no native twin",
                rule.id,
                builtin.name
            );
        }
        let requests = types
            .iter()
            .map(|ty| {
                let requests = pack
                    .rules()
                    .iter()
                    .filter(|r| r.applies_to(ty))
                    .map(|r| RuleRequest {
                        rule_id: r.id.clone(),
                        settings_json: r.settings_json(settings.get(&r.id)).unwrap(),
                    })
                    .collect();
                ((*ty).to_owned(), requests)
            })
            .collect();
        packs.push(Loaded {
            pack,
            plan,
            native,
            requests,
        });
    }
    let load_total = load_start.elapsed();
    for rule in settings.keys() {
        assert!(
            packs
                .iter()
                .any(|p| p.pack.rules().iter().any(|r| &r.id == rule)),
            "settings name rule {rule}, which no built-in pack has"
        );
    }
    let rule_count: usize = packs.iter().map(|p| p.pack.rules().len()).sum();
    let default_off: usize = packs
        .iter()
        .flat_map(|p| p.pack.rules())
        .filter(|r| !r.default_enabled)
        .count();

    let resources: HashMap<String, String> = docs
        .iter()
        .map(|d| (d.id.clone(), d.text.clone()))
        .collect();
    assert_eq!(resources.len(), n, "resource ids are unique");
    let ctx = EvalContext {
        now: NOW,
        lookup: Arc::new(CorpusLookup(resources.clone())),
    };
    let host = StaticHost {
        now: palisade_sdk::time::Timestamp::from_unix(NOW.unix_timestamp()),
        resources,
    };
    let subjects: Vec<Subject<'_>> = docs
        .iter()
        .map(|d| Subject {
            id: &d.id,
            resource_type: &d.resource_type,
            account_id: ACCOUNT,
            document: &d.text,
        })
        .collect();

    // One untimed pass each, verdict by verdict: both sides must agree on every rule and type.
    let (wasm_by_rule, error_samples) = wasm_detail(&packs, &ctx, &subjects);
    let native_by_rule = native_detail(&packs, &docs, &host, batch);
    assert_eq!(
        wasm_by_rule, native_by_rule,
        "WASM and native verdicts differ by rule"
    );

    // Timed rounds alternate native and WASM so that machine noise hits both alike.
    let (mut wasm_wall, mut wasm_cpu, mut native_wall, mut native_cpu, mut ratios) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut totals = ([0; 3], [0; 3]);
    for round in 0..rounds {
        let (nw, nc, native_counts) = timed(|| native_evaluate(&packs, &docs, &host, batch));
        let (ww, wc, wasm_counts) = timed(|| wasm_evaluate(&packs, &ctx, &subjects));
        assert_eq!(
            wasm_counts, native_counts,
            "round {round}: verdicts by status differ"
        );
        totals = (wasm_counts, native_counts);
        ratios.push(ww.as_secs_f64() / nw.as_secs_f64());
        native_wall.push(nw);
        wasm_wall.push(ww);
        native_cpu.extend(nc);
        wasm_cpu.extend(wc);
    }
    let counts = totals.0;
    let evaluations: usize = counts.iter().sum();
    ratios.sort_by(f64::total_cmp);
    let ratio = ratios[ratios.len() / 2];
    let (ww, nw) = (median(wasm_wall), median(native_wall));
    let cpu = |samples: Vec<Duration>| (!samples.is_empty()).then(|| median(samples));
    let (wc, nc) = (cpu(wasm_cpu), cpu(native_cpu));
    let rate = |d: Duration| format!("{:.0}", evaluations as f64 / d.as_secs_f64());
    let show_cpu = |d: Option<Duration>| d.map_or("n/a".to_owned(), secs);
    let rate_cpu = |d: Option<Duration>| d.map_or("n/a".to_owned(), rate);

    println!(
        "| resources | rules (default-off) | evaluations | WASM total (wall) | WASM total (thread CPU) | WASM evaluations / s (wall) | WASM evaluations / CPU-s | native total (wall) | native total (thread CPU) | native evaluations / CPU-s | WASM / native | load + compile {} packs |",
        packs.len()
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    println!(
        "| {n} | {rule_count} ({default_off}) | {evaluations} | {} | {} | {} | {} | {} | {} | {} | {ratio:.2}× | {} |",
        secs(ww),
        show_cpu(wc),
        rate(ww),
        rate_cpu(wc),
        secs(nw),
        show_cpu(nc),
        rate_cpu(nc),
        secs(load_total)
    );
    let mut owners: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for p in &packs {
        for r in p.pack.rules() {
            owners.entry(&r.id).or_default().push(p.pack.name());
        }
    }
    for (rule, packs) in owners.iter().filter(|(_, packs)| packs.len() > 1) {
        println!(
            "\nnote: rule {rule} is declared by {} (each pack's copy is evaluated)",
            packs.join(" and ")
        );
    }
    let one_core = wc.unwrap_or(ww);
    println!(
        "\ntarget (whole library over 100k resources in under 10 s on one core): {} ({} of thread CPU for {n} resources)",
        if n == 100_000 {
            if one_core.as_secs_f64() < 10.0 {
                "met"
            } else {
                "NOT met"
            }
        } else {
            "n/a for --quick"
        },
        secs(one_core)
    );

    println!("\n| status | verdicts | share |\n| --- | --- | --- |");
    for (name, count) in ["pass", "fail", "error"].iter().zip(counts) {
        println!("| {name} | {count} | {} |", share(count, evaluations));
    }
    println!(
        "\nWASM and native verdicts by status: identical ({} / {} / {}), and identical per rule and type",
        totals.1[0], totals.1[1], totals.1[2]
    );

    println!(
        "\n| resource type | resources | rules applying | evaluations | pass | fail | error |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let per_type_resources: HashMap<&str, usize> = mix(n).into_iter().collect();
    for ty in &types {
        let rows: Vec<&Counts> = wasm_by_rule
            .iter()
            .filter(|((t, _, _), _)| t == ty)
            .map(|(_, c)| c)
            .collect();
        let sum = |i: usize| rows.iter().map(|c| c[i]).sum::<usize>();
        let total = sum(0) + sum(1) + sum(2);
        println!(
            "| {ty} | {} | {} | {total} | {} | {} | {} |",
            per_type_resources[ty],
            rows.len(),
            sum(0),
            sum(1),
            sum(2)
        );
    }

    println!("\n| rule | pack | resource type | evaluations | fail | error |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for ((ty, pack, rule), c) in &wasm_by_rule {
        let total = c.iter().sum::<usize>();
        println!(
            "| {rule} | {pack} | {ty} | {total} | {} | {} |",
            share(c[1], total),
            share(c[2], total)
        );
    }
    if !error_samples.is_empty() {
        println!("\nfirst error message per rule:");
        for (rule, message) in &error_samples {
            println!("- {rule}: {message}");
        }
    }

    println!("\n| pack | component size | load + compile (wall, cranelift) |\n| --- | --- | --- |");
    for (name, size, time) in &loads {
        println!(
            "| {name} | {} KB | {:.0} ms |",
            size / 1024,
            time.as_secs_f64() * 1e3
        );
    }
    println!(
        "| all ({} packs, fresh engine) | – | {:.0} ms |",
        loads.len(),
        load_total.as_secs_f64() * 1e3
    );
}
