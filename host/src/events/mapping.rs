//! One CloudTrail record (a log file's `Records[]` entry or EventBridge's `detail`) → the
//! [`Target`]s a scanner must collect again. A static table maps (eventSource, eventName) to the
//! resource types a call touches and the record fields naming them; [`map`] reads a record
//! against it. Pure and synchronous: no AWS calls, no I/O, and no filtering by onboarded
//! accounts, regions or exclusions (the caller does that).

use std::collections::BTreeSet;

use serde_json::Value;

use super::{Action, Key, Target};

/// What a record means for the scanner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapped {
    /// Resources to collect again (deduplicated, sorted).
    Targets(Vec<Target>),
    /// Nothing to do, and why.
    Ignored(Ignored),
}

/// Why a record asks for nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ignored {
    /// A read-only call (Get*/List*/Describe*/Head*/Lookup*/BatchGet*/Search*/Select*, or
    /// `readOnly: true`).
    ReadOnly,
    /// The call failed (`errorCode` is set): nothing changed. Holds the errorCode.
    Failed(String),
    /// A call on a service or of a name that changes nothing the scanner collects (object-level
    /// S3 data events, unknown services, ...).
    Unmapped,
    /// The record lacks what is needed (eventSource, eventName, recipientAccountId/awsRegion, or
    /// the parameter naming the resource). The String says what is missing.
    Incomplete(String),
}

/// Maps one CloudTrail record to the resources it changed.
///
/// Failed and read-only calls are recognised before the table is consulted. A call in the
/// table is [`Ignored::Incomplete`] only when none of its rules finds anything and one of them
/// missed its parameter: what was found is worth collecting even if part is missing.
pub fn map(record: &Value) -> Mapped {
    if let Some(code) = text(record, "errorCode") {
        return Mapped::Ignored(Ignored::Failed(code.to_owned()));
    }
    if record.get("readOnly").and_then(Value::as_bool) == Some(true) {
        return Mapped::Ignored(Ignored::ReadOnly);
    }
    let Some(source) = text(record, "eventSource") else {
        return incomplete("eventSource");
    };
    let Some(name) = text(record, "eventName") else {
        return incomplete("eventName");
    };
    if READ_ONLY_PREFIXES
        .iter()
        .any(|prefix| name.starts_with(prefix))
    {
        return Mapped::Ignored(Ignored::ReadOnly);
    }
    let Some(entry) = TABLE
        .iter()
        .find(|entry| entry.source == source && entry.names.contains(&name))
    else {
        return Mapped::Ignored(Ignored::Unmapped);
    };
    let Some(account) =
        text(record, "recipientAccountId").or_else(|| text(record, "userIdentity.accountId"))
    else {
        return incomplete("recipientAccountId");
    };
    let region = text(record, "awsRegion");

    let mut targets = BTreeSet::new();
    let mut missing: Vec<String> = Vec::new();
    for rule in entry.targets {
        let region = match region {
            _ if GLOBAL_TYPES.contains(&rule.resource_type) => Ok("global"),
            Some(region) => Ok(region),
            None => Err("awsRegion".to_owned()),
        };
        let (keys, region) = match (rule.ids.find(record), region) {
            (Found::Nothing, _) => continue,
            (Found::Keys(keys), Ok(region)) => (keys, region),
            (Found::Missing(what), _) | (Found::Keys(_), Err(what)) => {
                if !missing.contains(&what) {
                    missing.push(what);
                }
                continue;
            }
        };
        targets.extend(keys.into_iter().map(|key| Target {
            account_id: account.to_owned(),
            region: region.to_owned(),
            resource_type: rule.resource_type.to_owned(),
            key,
            action: rule.action,
        }));
    }

    if !targets.is_empty() {
        Mapped::Targets(targets.into_iter().collect())
    } else if !missing.is_empty() {
        incomplete(&missing.join(", "))
    } else {
        Mapped::Ignored(Ignored::Unmapped)
    }
}

/// The (eventSource, eventName) pairs the table maps, for docs and metrics: every entry of the
/// table.
pub fn mapped_events() -> impl Iterator<Item = (&'static str, &'static str)> {
    TABLE
        .iter()
        .flat_map(|entry| entry.names.iter().map(move |name| (entry.source, *name)))
}

fn incomplete(what: &str) -> Mapped {
    Mapped::Ignored(Ignored::Incomplete(what.to_owned()))
}

// ---------------------------------------------------------------------------------------------
// Vocabulary

use crate::scan::types::{
    AMI, BUCKET, EC2_META, GROUP, IAM_META, INSTANCE, KMS_KEY, NETWORK_ACL, PASSWORD_POLICY,
    POLICY, ROLE, ROOT_USER, S3_META, SECURITY_GROUP, TRAIL, USER, VOLUME, VPC,
};

/// Types that exist once per account, not per region: their targets use region `global`.
const GLOBAL_TYPES: &[&str] = &[
    USER,
    ROLE,
    GROUP,
    POLICY,
    ROOT_USER,
    PASSWORD_POLICY,
    IAM_META,
    S3_META,
];

const S3: &str = "s3.amazonaws.com";
const EC2: &str = "ec2.amazonaws.com";
const IAM: &str = "iam.amazonaws.com";
const CLOUDTRAIL: &str = "cloudtrail.amazonaws.com";
const KMS: &str = "kms.amazonaws.com";

/// Names of calls that only read, whatever the service.
const READ_ONLY_PREFIXES: &[&str] = &[
    "Get", "List", "Describe", "Head", "Lookup", "BatchGet", "Search", "Select",
];

// ---------------------------------------------------------------------------------------------
// The table's shape

/// A family of calls of one service that touch the same resources in the same way.
struct Entry {
    source: &'static str,
    names: &'static [&'static str],
    targets: &'static [Rule],
}

/// One kind of resource a call touches, where the record names it, and what to do about it.
struct Rule {
    resource_type: &'static str,
    ids: Ids,
    action: Action,
}

const fn refresh(resource_type: &'static str, ids: Ids) -> Rule {
    Rule {
        resource_type,
        ids,
        action: Action::Refresh,
    }
}

const fn delete(resource_type: &'static str, ids: Ids) -> Rule {
    Rule {
        resource_type,
        ids,
        action: Action::Delete,
    }
}

/// Where a record names a rule's resources.
///
/// Paths are dotted field names from the record's root. `field[]` walks every element of a list
/// (EC2's `…Set.items[]`), a lone object counting as a one-element list. Of several paths, the
/// first that holds a value is used.
enum Ids {
    /// The resources at the first of these paths that holds a value.
    At(&'static [&'static str]),
    /// As `At`, but every resource of the type when the record names none.
    AtOrAll(&'static [&'static str]),
    /// Every resource of the type: the record names none by an identifier the scanner knows.
    All,
    /// The ids of an EC2 tag call's resource list that start with this prefix.
    Tagged(&'static str),
    /// KMS keys at these paths (see [`kms_keys`]).
    KmsKey(&'static [&'static str]),
    /// Anything a path cannot express.
    With(fn(&Value) -> Found),
}

/// What one rule finds in a record.
enum Found {
    Keys(Vec<Key>),
    /// The record lacks the parameter naming the resources (its path).
    Missing(String),
    /// The record names nothing of the rule's type, and need not (a tag on a subnet, an
    /// AWS-managed policy).
    Nothing,
}

impl Ids {
    fn find(&self, record: &Value) -> Found {
        match *self {
            Ids::At(paths) => match first_values(record, paths) {
                ids if ids.is_empty() => missing(paths),
                ids => Found::Keys(ids.into_iter().map(named).collect()),
            },
            Ids::AtOrAll(paths) => match first_values(record, paths) {
                ids if ids.is_empty() => Found::Keys(vec![Key::All]),
                ids => Found::Keys(ids.into_iter().map(named).collect()),
            },
            Ids::All => Found::Keys(vec![Key::All]),
            Ids::Tagged(prefix) => {
                let ids = values(record, TAGGED_RESOURCES);
                if ids.is_empty() {
                    return missing(&[TAGGED_RESOURCES]);
                }
                let keys: Vec<Key> = ids
                    .into_iter()
                    .filter(|id| id.starts_with(prefix))
                    .map(named)
                    .collect();
                if keys.is_empty() {
                    Found::Nothing
                } else {
                    Found::Keys(keys)
                }
            }
            Ids::KmsKey(paths) => kms_keys(record, paths),
            Ids::With(find) => find(record),
        }
    }
}

fn named(id: &str) -> Key {
    Key::Named(id.to_owned())
}

fn missing(paths: &[&str]) -> Found {
    Found::Missing(paths.join(" or "))
}

// ---------------------------------------------------------------------------------------------
// The table

const BUCKET_NAME: &[&str] = &["requestParameters.bucketName"];

// Default-VPC calls may name a group only by name; its document carries that as `Name`.
const GROUP_ID: &[&str] = &["requestParameters.groupId", "requestParameters.groupName"];
const RULES_GROUP_ID: &[&str] = &[
    "requestParameters.groupId",
    "requestParameters.ModifySecurityGroupRulesRequest.GroupId",
    "requestParameters.groupName",
];
const INSTANCE_IDS: &[&str] = &[
    "requestParameters.instancesSet.items[].instanceId",
    "requestParameters.instanceId",
];
const ATTACHED_INSTANCE: &[&str] = &[
    "requestParameters.instanceId",
    "responseElements.instanceId",
];
const ATTACHED_VOLUME: &[&str] = &["requestParameters.volumeId", "responseElements.volumeId"];
const VOLUME_ID: &[&str] = &["requestParameters.volumeId"];
const VPC_ID: &[&str] = &["requestParameters.vpcId"];
const NETWORK_ACL_ID: &[&str] = &["requestParameters.networkAclId"];
const IMAGE_ID: &[&str] = &["requestParameters.imageId"];
const TAGGED_RESOURCES: &str = "requestParameters.resourcesSet.items[].resourceId";
const FLOW_LOG_RESOURCES: &[&str] = &[
    "requestParameters.CreateFlowLogsRequest.ResourceId[]",
    "requestParameters.resourceIdSet.items[].resourceId",
];

const USER_NAME: &str = "requestParameters.userName";
const ROLE_NAME: &[&str] = &["requestParameters.roleName"];
const GROUP_NAME: &[&str] = &["requestParameters.groupName"];
const POLICY_ARN: &str = "requestParameters.policyArn";

const TRAIL_NAME: &[&str] = &["requestParameters.name"];

/// Every call the scanner follows. A (source, name) pair appears once.
#[rustfmt::skip]
static TABLE: &[Entry] = &[
    // --- S3: bucket-level configuration. Object-level data events and account-level calls
    // (PutAccountPublicAccessBlock) are deliberately absent.
    Entry {
        source: S3,
        names: &[
            "CreateBucket", "PutBucketAcl",
            "PutBucketPolicy", "DeleteBucketPolicy",
            "PutBucketCors", "DeleteBucketCors",
            "PutBucketEncryption", "DeleteBucketEncryption",
            "PutBucketLifecycle", "PutBucketLifecycleConfiguration", "DeleteBucketLifecycle",
            "PutBucketLogging",
            "PutBucketNotification", "PutBucketNotificationConfiguration",
            "PutBucketReplication", "DeleteBucketReplication",
            "PutBucketRequestPayment",
            "PutBucketTagging", "DeleteBucketTagging",
            "PutBucketVersioning",
            "PutBucketWebsite", "DeleteBucketWebsite",
            "PutBucketPublicAccessBlock", "DeleteBucketPublicAccessBlock",
            "PutPublicAccessBlock", "DeletePublicAccessBlock",
            "PutBucketOwnershipControls", "DeleteBucketOwnershipControls",
            "PutObjectLockConfiguration",
            "PutAccelerateConfiguration", "PutBucketAccelerateConfiguration",
            "PutBucketAnalyticsConfiguration", "DeleteBucketAnalyticsConfiguration",
            "PutBucketInventoryConfiguration", "DeleteBucketInventoryConfiguration",
            "PutBucketMetricsConfiguration", "DeleteBucketMetricsConfiguration",
            "PutBucketIntelligentTieringConfiguration",
            "DeleteBucketIntelligentTieringConfiguration",
        ],
        targets: &[refresh(BUCKET, Ids::At(BUCKET_NAME))],
    },
    // --- S3 account settings (S3 Control, logged under S3's event source).
    Entry {
        source: S3,
        names: &[
            "PutAccountPublicAccessBlock",
            "DeleteAccountPublicAccessBlock",
        ],
        targets: &[refresh(S3_META, Ids::All)],
    },
    Entry {
        source: S3,
        names: &["DeleteBucket"],
        targets: &[delete(BUCKET, Ids::At(BUCKET_NAME))],
    },

    // --- EC2 security groups. A VPC document lists its groups' ids.
    Entry {
        source: EC2,
        names: &[
            "AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress",
            "RevokeSecurityGroupIngress", "RevokeSecurityGroupEgress",
            "UpdateSecurityGroupRuleDescriptionsIngress",
            "UpdateSecurityGroupRuleDescriptionsEgress",
            "ModifySecurityGroupRules",
        ],
        targets: &[refresh(SECURITY_GROUP, Ids::At(RULES_GROUP_ID))],
    },
    Entry {
        source: EC2,
        names: &["CreateSecurityGroup"],
        targets: &[
            refresh(SECURITY_GROUP, Ids::At(&["responseElements.groupId"])),
            refresh(VPC, Ids::At(VPC_ID)),
        ],
    },
    Entry {
        source: EC2,
        names: &["DeleteSecurityGroup"],
        targets: &[delete(SECURITY_GROUP, Ids::At(GROUP_ID))],
    },

    // --- EC2 instances. Terminated instances stay visible for a while: a refresh, not a delete.
    Entry {
        source: EC2,
        names: &["RunInstances"],
        targets: &[refresh(INSTANCE, Ids::At(&[
            "responseElements.instancesSet.items[].instanceId",
        ]))],
    },
    Entry {
        source: EC2,
        names: &[
            "StartInstances", "StopInstances", "RebootInstances", "TerminateInstances",
            "MonitorInstances", "UnmonitorInstances",
            "ModifyInstanceAttribute", "ResetInstanceAttribute",
            "AttachNetworkInterface",
        ],
        targets: &[refresh(INSTANCE, Ids::At(INSTANCE_IDS))],
    },
    // Newer EC2 calls log their request (and response) wrapped in a `<Name>Request` object.
    Entry {
        source: EC2,
        names: &["ModifyInstanceMetadataOptions"],
        targets: &[refresh(INSTANCE, Ids::At(&[
            "requestParameters.ModifyInstanceMetadataOptionsRequest.InstanceId",
        ]))],
    },
    Entry {
        source: EC2,
        names: &["AssociateIamInstanceProfile"],
        targets: &[refresh(INSTANCE, Ids::At(&[
            "requestParameters.AssociateIamInstanceProfileRequest.InstanceId",
            "responseElements.AssociateIamInstanceProfileResponse.iamInstanceProfileAssociation.instanceId",
        ]))],
    },
    Entry {
        source: EC2,
        names: &["ReplaceIamInstanceProfileAssociation"],
        targets: &[refresh(INSTANCE, Ids::At(&[
            "responseElements.ReplaceIamInstanceProfileAssociationResponse.iamInstanceProfileAssociation.instanceId",
        ]))],
    },
    Entry {
        source: EC2,
        names: &["DisassociateIamInstanceProfile"],
        targets: &[refresh(INSTANCE, Ids::At(&[
            "responseElements.DisassociateIamInstanceProfileResponse.iamInstanceProfileAssociation.instanceId",
        ]))],
    },
    Entry {
        source: EC2,
        names: &["ModifyInstanceCapacityReservationAttributes"],
        targets: &[refresh(INSTANCE, Ids::AtOrAll(&[
            "requestParameters.ModifyInstanceCapacityReservationAttributesRequest.InstanceId",
        ]))],
    },
    Entry {
        source: EC2,
        names: &["ModifyInstanceCreditSpecification", "ModifyInstanceCreditSpecificationResponse"],
        targets: &[refresh(INSTANCE, Ids::AtOrAll(&[
            "requestParameters.ModifyInstanceCreditSpecificationRequest.InstanceCreditSpecification[].InstanceId",
        ]))],
    },
    // An Elastic IP given to a network interface rather than an instance: some instance changed.
    Entry {
        source: EC2,
        names: &["AssociateAddress"],
        targets: &[refresh(INSTANCE, Ids::AtOrAll(&["requestParameters.instanceId"]))],
    },
    // Only an association or attachment id, or an instance that does not exist yet.
    Entry {
        source: EC2,
        names: &[
            "DisassociateAddress", "DetachNetworkInterface",
            "ImportInstance", "RunScheduledInstances",
        ],
        targets: &[refresh(INSTANCE, Ids::All)],
    },

    // --- EC2 volumes. A volume document includes its snapshots and their sharing.
    Entry {
        source: EC2,
        names: &["CreateVolume"],
        targets: &[refresh(VOLUME, Ids::At(&["responseElements.volumeId"]))],
    },
    Entry {
        source: EC2,
        names: &["DeleteVolume"],
        targets: &[delete(VOLUME, Ids::At(VOLUME_ID))],
    },
    Entry {
        source: EC2,
        names: &["AttachVolume", "DetachVolume"],
        targets: &[
            refresh(VOLUME, Ids::At(ATTACHED_VOLUME)),
            refresh(INSTANCE, Ids::At(ATTACHED_INSTANCE)),
        ],
    },
    Entry {
        source: EC2,
        names: &["ModifyVolume"],
        targets: &[refresh(VOLUME, Ids::At(&[
            "requestParameters.ModifyVolumeRequest.VolumeId",
            "requestParameters.volumeId",
            "responseElements.ModifyVolumeResponse.volumeModification.volumeId",
        ]))],
    },
    Entry {
        source: EC2,
        names: &["ModifyVolumeAttribute", "CreateSnapshot"],
        targets: &[refresh(VOLUME, Ids::At(VOLUME_ID))],
    },
    // A snapshot id only, or a volume that does not exist yet.
    Entry {
        source: EC2,
        names: &[
            "DeleteSnapshot", "ModifySnapshotAttribute", "ResetSnapshotAttribute",
            "ImportVolume",
        ],
        targets: &[refresh(VOLUME, Ids::All)],
    },

    // --- EC2 VPCs. A VPC document lists its security groups and network ACLs and holds its
    // route tables and flow logs; a VPC comes and goes with a default group and ACL.
    Entry {
        source: EC2,
        names: &["CreateVpc", "CreateDefaultVpc"],
        targets: &[
            refresh(VPC, Ids::At(&["responseElements.vpc.vpcId"])),
            refresh(SECURITY_GROUP, Ids::All),
            refresh(NETWORK_ACL, Ids::All),
        ],
    },
    Entry {
        source: EC2,
        names: &["DeleteVpc"],
        targets: &[
            delete(VPC, Ids::At(VPC_ID)),
            refresh(SECURITY_GROUP, Ids::All),
            refresh(NETWORK_ACL, Ids::All),
        ],
    },
    Entry {
        source: EC2,
        names: &[
            "ModifyVpcAttribute", "AssociateVpcCidrBlock", "AssociateDhcpOptions",
            "AttachInternetGateway", "DetachInternetGateway",
        ],
        targets: &[refresh(VPC, Ids::At(VPC_ID))],
    },
    Entry {
        source: EC2,
        names: &["ModifyVpcTenancy"],
        targets: &[refresh(VPC, Ids::At(&[
            "requestParameters.ModifyVpcTenancyRequest.VpcId",
            "requestParameters.vpcId",
        ]))],
    },
    Entry {
        source: EC2,
        names: &["DisassociateVpcCidrBlock"],
        targets: &[refresh(VPC, Ids::AtOrAll(&["responseElements.vpcId"]))],
    },
    Entry {
        source: EC2,
        names: &["CreateFlowLogs"],
        targets: &[refresh(VPC, Ids::With(flow_log_vpcs))],
    },
    Entry {
        source: EC2,
        names: &["CreateRouteTable"],
        targets: &[refresh(VPC, Ids::At(&[
            "requestParameters.vpcId",
            "responseElements.routeTable.vpcId",
        ]))],
    },
    // A route table, association or flow log id only: some VPC of the region changed.
    Entry {
        source: EC2,
        names: &[
            "CreateRoute", "DeleteRoute", "ReplaceRoute",
            "AssociateRouteTable", "DisassociateRouteTable", "ReplaceRouteTableAssociation",
            "DeleteRouteTable",
            "DeleteFlowLogs",
        ],
        targets: &[refresh(VPC, Ids::All)],
    },

    // --- EC2 network ACLs.
    Entry {
        source: EC2,
        names: &["CreateNetworkAcl"],
        targets: &[
            refresh(NETWORK_ACL, Ids::At(&["responseElements.networkAcl.networkAclId"])),
            refresh(VPC, Ids::At(&[
                "requestParameters.vpcId",
                "responseElements.networkAcl.vpcId",
            ])),
        ],
    },
    Entry {
        source: EC2,
        names: &["DeleteNetworkAcl"],
        targets: &[delete(NETWORK_ACL, Ids::At(NETWORK_ACL_ID))],
    },
    Entry {
        source: EC2,
        names: &[
            "CreateNetworkAclEntry", "DeleteNetworkAclEntry", "ReplaceNetworkAclEntry",
            "ReplaceNetworkAclAssociation",
        ],
        targets: &[refresh(NETWORK_ACL, Ids::At(NETWORK_ACL_ID))],
    },
    // A subnet joins (and leaves) its VPC's default network ACL's associations.
    Entry {
        source: EC2,
        names: &["CreateSubnet", "CreateDefaultSubnet", "DeleteSubnet"],
        targets: &[refresh(NETWORK_ACL, Ids::All)],
    },

    // --- EC2 images.
    Entry {
        source: EC2,
        names: &["CreateImage", "RegisterImage", "CopyImage"],
        targets: &[refresh(AMI, Ids::At(&["responseElements.imageId"]))],
    },
    Entry {
        source: EC2,
        names: &["DeregisterImage"],
        targets: &[delete(AMI, Ids::At(IMAGE_ID))],
    },
    Entry {
        source: EC2,
        names: &["ModifyImageAttribute", "ResetImageAttribute"],
        targets: &[refresh(AMI, Ids::At(IMAGE_ID))],
    },
    Entry {
        source: EC2,
        names: &["ImportImage"],
        targets: &[refresh(AMI, Ids::All)],
    },
    // --- EC2 region settings.
    Entry {
        source: EC2,
        names: &[
            "EnableEbsEncryptionByDefault",
            "DisableEbsEncryptionByDefault",
        ],
        targets: &[refresh(EC2_META, Ids::All)],
    },

    // --- EC2 tags, on any resource: the id prefix says the type.
    Entry {
        source: EC2,
        names: &["CreateTags", "DeleteTags"],
        targets: &[
            refresh(SECURITY_GROUP, Ids::Tagged("sg-")),
            refresh(INSTANCE, Ids::Tagged("i-")),
            refresh(VOLUME, Ids::Tagged("vol-")),
            refresh(VPC, Ids::Tagged("vpc-")),
            refresh(NETWORK_ACL, Ids::Tagged("acl-")),
            refresh(AMI, Ids::Tagged("ami-")),
        ],
    },

    // --- IAM users.
    Entry {
        source: IAM,
        names: &[
            "CreateUser", "TagUser", "UntagUser",
            "PutUserPolicy", "DeleteUserPolicy",
            "PutUserPermissionsBoundary", "DeleteUserPermissionsBoundary",
            "UploadSSHPublicKey", "UpdateSSHPublicKey", "DeleteSSHPublicKey",
        ],
        targets: &[refresh(USER, Ids::At(&[USER_NAME]))],
    },
    // Credential calls act on the caller when they name no user.
    Entry {
        source: IAM,
        names: &[
            "CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey",
            "CreateLoginProfile", "UpdateLoginProfile", "DeleteLoginProfile", "ChangePassword",
            "EnableMFADevice", "DeactivateMFADevice", "ResyncMFADevice",
            "UploadSigningCertificate", "UpdateSigningCertificate", "DeleteSigningCertificate",
            "CreateServiceSpecificCredential", "UpdateServiceSpecificCredential",
            "ResetServiceSpecificCredential", "DeleteServiceSpecificCredential",
        ],
        targets: &[
            refresh(USER, Ids::With(user_or_calling_user)),
            refresh(ROOT_USER, Ids::With(calling_root)),
        ],
    },
    Entry {
        source: IAM,
        names: &["UpdateUser"],
        targets: &[
            refresh(USER, Ids::At(&[USER_NAME])),
            refresh(USER, Ids::At(&["requestParameters.newUserName"])),
        ],
    },
    Entry {
        source: IAM,
        names: &["DeleteUser"],
        targets: &[delete(USER, Ids::At(&[USER_NAME]))],
    },
    Entry {
        source: IAM,
        names: &["AttachUserPolicy", "DetachUserPolicy"],
        targets: &[
            refresh(USER, Ids::At(&[USER_NAME])),
            refresh(POLICY, Ids::With(customer_policy)),
            refresh(IAM_META, Ids::With(support_policy)),
        ],
    },
    Entry {
        source: IAM,
        names: &["AddUserToGroup", "RemoveUserFromGroup"],
        targets: &[
            refresh(USER, Ids::At(&[USER_NAME])),
            refresh(GROUP, Ids::At(GROUP_NAME)),
        ],
    },

    // --- IAM roles.
    Entry {
        source: IAM,
        names: &[
            "CreateRole", "UpdateRole", "UpdateRoleDescription", "UpdateAssumeRolePolicy",
            "PutRolePolicy", "DeleteRolePolicy", "TagRole", "UntagRole",
            "PutRolePermissionsBoundary", "DeleteRolePermissionsBoundary",
            "AddRoleToInstanceProfile", "RemoveRoleFromInstanceProfile",
        ],
        targets: &[refresh(ROLE, Ids::At(ROLE_NAME))],
    },
    Entry {
        source: IAM,
        names: &["CreateServiceLinkedRole"],
        targets: &[refresh(ROLE, Ids::At(&["responseElements.role.roleName"]))],
    },
    Entry {
        source: IAM,
        names: &["DeleteRole", "DeleteServiceLinkedRole"],
        targets: &[delete(ROLE, Ids::At(ROLE_NAME))],
    },
    Entry {
        source: IAM,
        names: &["AttachRolePolicy", "DetachRolePolicy"],
        targets: &[
            refresh(ROLE, Ids::At(ROLE_NAME)),
            refresh(POLICY, Ids::With(customer_policy)),
            refresh(IAM_META, Ids::With(support_policy)),
        ],
    },

    // --- IAM groups.
    Entry {
        source: IAM,
        names: &["CreateGroup", "PutGroupPolicy", "DeleteGroupPolicy"],
        targets: &[refresh(GROUP, Ids::At(GROUP_NAME))],
    },
    Entry {
        source: IAM,
        names: &["UpdateGroup"],
        targets: &[
            refresh(GROUP, Ids::At(GROUP_NAME)),
            refresh(GROUP, Ids::At(&["requestParameters.newGroupName"])),
        ],
    },
    Entry {
        source: IAM,
        names: &["DeleteGroup"],
        targets: &[delete(GROUP, Ids::At(GROUP_NAME))],
    },
    Entry {
        source: IAM,
        names: &["AttachGroupPolicy", "DetachGroupPolicy"],
        targets: &[
            refresh(GROUP, Ids::At(GROUP_NAME)),
            refresh(POLICY, Ids::With(customer_policy)),
            refresh(IAM_META, Ids::With(support_policy)),
        ],
    },

    // --- IAM customer-managed policies.
    Entry {
        source: IAM,
        names: &["CreatePolicy"],
        targets: &[refresh(POLICY, Ids::At(&["responseElements.policy.arn"]))],
    },
    Entry {
        source: IAM,
        names: &[
            "CreatePolicyVersion", "DeletePolicyVersion", "SetDefaultPolicyVersion",
            "TagPolicy", "UntagPolicy",
        ],
        targets: &[refresh(POLICY, Ids::At(&[POLICY_ARN]))],
    },
    Entry {
        source: IAM,
        names: &["DeletePolicy"],
        targets: &[delete(POLICY, Ids::At(&[POLICY_ARN]))],
    },

    // --- IAM account settings. Without a policy the document still exists and says so.
    Entry {
        source: IAM,
        names: &["UpdateAccountPasswordPolicy", "DeleteAccountPasswordPolicy"],
        targets: &[refresh(PASSWORD_POLICY, Ids::All)],
    },

    // --- CloudTrail trails. `name` may be the trail's name or its ARN.
    Entry {
        source: CLOUDTRAIL,
        names: &["CreateTrail", "UpdateTrail", "StartLogging", "StopLogging"],
        targets: &[refresh(TRAIL, Ids::At(TRAIL_NAME))],
    },
    Entry {
        source: CLOUDTRAIL,
        names: &["PutEventSelectors", "PutInsightSelectors"],
        targets: &[refresh(TRAIL, Ids::At(&["requestParameters.trailName"]))],
    },
    Entry {
        source: CLOUDTRAIL,
        names: &["AddTags", "RemoveTags"],
        targets: &[refresh(TRAIL, Ids::At(&["requestParameters.resourceId"]))],
    },
    Entry {
        source: CLOUDTRAIL,
        names: &["DeleteTrail"],
        targets: &[delete(TRAIL, Ids::At(TRAIL_NAME))],
    },

    // --- KMS keys. A key pending deletion still exists, so ScheduleKeyDeletion refreshes it;
    // KMS's own DeleteKey service event (naming the key in `resources[]`) deletes it.
    Entry {
        source: KMS,
        names: &["CreateKey"],
        targets: &[refresh(KMS_KEY, Ids::At(&["responseElements.keyMetadata.keyId"]))],
    },
    Entry {
        source: KMS,
        names: &[
            "ScheduleKeyDeletion", "CancelKeyDeletion", "DisableKey", "EnableKey",
            "EnableKeyRotation", "DisableKeyRotation", "PutKeyPolicy", "UpdateKeyDescription",
            "TagResource", "UntagResource", "CreateGrant", "RetireGrant", "RevokeGrant",
            "ImportKeyMaterial", "DeleteImportedKeyMaterial",
        ],
        targets: &[refresh(KMS_KEY, Ids::KmsKey(&["requestParameters.keyId"]))],
    },
    Entry {
        source: KMS,
        names: &["CreateAlias", "UpdateAlias"],
        targets: &[refresh(KMS_KEY, Ids::KmsKey(&["requestParameters.targetKeyId"]))],
    },
    Entry {
        source: KMS,
        names: &["DeleteAlias"],
        targets: &[refresh(KMS_KEY, Ids::KmsKey(&["requestParameters.aliasName"]))],
    },
    Entry {
        source: KMS,
        names: &["DeleteKey"],
        targets: &[delete(KMS_KEY, Ids::KmsKey(&["requestParameters.keyId", "resources[].ARN"]))],
    },
];

// ---------------------------------------------------------------------------------------------
// Extractors

/// The text values at a path (syntax in [`Ids`]). EC2 writes some list items as
/// `{"tag": 1, "content": "vpc-…"}`: their `content` is the value. Empty strings do not count.
fn values<'a>(record: &'a Value, path: &str) -> Vec<&'a str> {
    let mut current = vec![record];
    for segment in path.split('.') {
        let (field, each) = match segment.strip_suffix("[]") {
            Some(field) => (field, true),
            None => (segment, false),
        };
        current = current
            .into_iter()
            .filter_map(|value| value.get(field))
            .flat_map(|value| match value {
                Value::Array(items) if each => items.as_slice(),
                value => std::slice::from_ref(value),
            })
            .collect();
    }
    current
        .into_iter()
        .filter_map(|value| match value {
            Value::String(text) => Some(text.as_str()),
            Value::Object(fields) => fields.get("content").and_then(Value::as_str),
            _ => None,
        })
        .filter(|text| !text.is_empty())
        .collect()
}

/// The values at the first of `paths` that holds any.
fn first_values<'a>(record: &'a Value, paths: &[&str]) -> Vec<&'a str> {
    paths
        .iter()
        .map(|path| values(record, path))
        .find(|found| !found.is_empty())
        .unwrap_or_default()
}

/// The first text value at a path.
fn text<'a>(record: &'a Value, path: &str) -> Option<&'a str> {
    values(record, path).into_iter().next()
}

/// KMS keys as a call names them: key ids and key ARNs name one key; an alias (`alias/x`, or
/// an alias ARN) stands for the keys the record lists in `resources[]`, or for every key of
/// the region when it lists none.
fn kms_keys(record: &Value, paths: &[&str]) -> Found {
    let ids = first_values(record, paths);
    if ids.is_empty() {
        return missing(paths);
    }
    let mut keys = Vec::new();
    for id in ids {
        if !(id.starts_with("alias/") || id.contains(":alias/")) {
            keys.push(named(id));
            continue;
        }
        let listed: Vec<Key> = values(record, "resources[].ARN")
            .into_iter()
            .filter(|arn| arn.contains(":key/"))
            .map(named)
            .collect();
        if listed.is_empty() {
            keys.push(Key::All);
        } else {
            keys.extend(listed);
        }
    }
    Found::Keys(keys)
}

/// The IAM user a credential call changes: the `userName` it names, or else the calling IAM
/// user itself. A root caller is [`calling_root`]'s.
fn user_or_calling_user(record: &Value) -> Found {
    if let Some(user) = text(record, USER_NAME) {
        return Found::Keys(vec![named(user)]);
    }
    match text(record, "userIdentity.type") {
        Some("IAMUser") => match text(record, "userIdentity.userName") {
            Some(user) => Found::Keys(vec![named(user)]),
            None => missing(&[USER_NAME, "userIdentity.userName"]),
        },
        Some("Root") => Found::Nothing,
        _ => missing(&[USER_NAME]),
    }
}

/// The root user, when a credential call names no user and root made it.
fn calling_root(record: &Value) -> Found {
    if text(record, USER_NAME).is_none() && text(record, "userIdentity.type") == Some("Root") {
        Found::Keys(vec![Key::All])
    } else {
        Found::Nothing
    }
}

/// The policy an attach or detach call names, when customer-managed (its attachment count
/// changed). AWS-managed policies (`arn:aws:iam::aws:policy/…`) are not collected.
fn customer_policy(record: &Value) -> Found {
    let Some(arn) = text(record, POLICY_ARN) else {
        return missing(&[POLICY_ARN]);
    };
    if arn.split(':').nth(4) == Some("aws") {
        Found::Nothing
    } else {
        Found::Keys(vec![named(arn)])
    }
}

/// The account's IAM summary when the call attaches or detaches the AWS Support access policy.
fn support_policy(record: &Value) -> Found {
    match text(record, POLICY_ARN) {
        None => missing(&[POLICY_ARN]),
        Some(arn) if arn.ends_with(":iam::aws:policy/AWSSupportAccess") => {
            Found::Keys(vec![Key::All])
        }
        Some(_) => Found::Nothing,
    }
}

/// The VPCs a CreateFlowLogs call names. Flow logs of subnets or network interfaces are no
/// VPC document's; a record whose resource list cannot be read means any VPC of the region.
fn flow_log_vpcs(record: &Value) -> Found {
    let ids = first_values(record, FLOW_LOG_RESOURCES);
    if ids.is_empty() {
        return Found::Keys(vec![Key::All]);
    }
    let vpcs: Vec<Key> = ids
        .into_iter()
        .filter(|id| id.starts_with("vpc-"))
        .map(named)
        .collect();
    if vpcs.is_empty() {
        Found::Nothing
    } else {
        Found::Keys(vpcs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ACCOUNT: &str = "111122223333";
    const REGION: &str = "eu-west-1";

    fn alice() -> Value {
        json!({
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLEALICE0001",
            "arn": "arn:aws:iam::111122223333:user/alice",
            "accountId": ACCOUNT,
            "accessKeyId": "AKIAEXAMPLEALICE0001",
            "userName": "alice",
        })
    }

    fn root() -> Value {
        json!({
            "type": "Root",
            "principalId": ACCOUNT,
            "arn": "arn:aws:iam::111122223333:root",
            "accountId": ACCOUNT,
            "accessKeyId": "ASIAEXAMPLEROOT00001",
        })
    }

    fn assumed_role() -> Value {
        json!({
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLEDEPLOY001:ci",
            "arn": "arn:aws:sts::111122223333:assumed-role/deploy/ci",
            "accountId": ACCOUNT,
            "accessKeyId": "ASIAEXAMPLEDEPLOY001",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": "AROAEXAMPLEDEPLOY001",
                    "arn": "arn:aws:iam::111122223333:role/deploy",
                    "accountId": ACCOUNT,
                    "userName": "deploy",
                },
                "attributes": {"creationDate": "2026-03-02T10:00:00Z", "mfaAuthenticated": "false"},
            },
        })
    }

    /// A successful management-event record as CloudTrail writes it. IAM calls are logged in
    /// us-east-1.
    fn record(source: &str, name: &str, request: Value, response: Value) -> Value {
        json!({
            "eventVersion": "1.09",
            "userIdentity": alice(),
            "eventTime": "2026-03-02T10:15:00Z",
            "eventSource": source,
            "eventName": name,
            "awsRegion": if source == IAM { "us-east-1" } else { REGION },
            "sourceIPAddress": "198.51.100.7",
            "userAgent": "aws-cli/2.22.0 md/command#example",
            "requestParameters": request,
            "responseElements": response,
            "requestID": "4f0d3a5e-9b1c-4d7e-8f2a-6c5b4a3d2e1f",
            "eventID": "a1b2c3d4-e5f6-4a5b-9c8d-7e6f5a4b3c2d",
            "readOnly": false,
            "eventType": "AwsApiCall",
            "managementEvent": true,
            "recipientAccountId": ACCOUNT,
            "eventCategory": "Management",
        })
    }

    fn target(resource_type: &str, key: Key, action: Action) -> Target {
        let region = if GLOBAL_TYPES.contains(&resource_type) {
            "global"
        } else {
            REGION
        };
        Target {
            account_id: ACCOUNT.to_owned(),
            region: region.to_owned(),
            resource_type: resource_type.to_owned(),
            key,
            action,
        }
    }

    fn refreshed(resource_type: &str, id: &str) -> Target {
        target(resource_type, named(id), Action::Refresh)
    }

    fn deleted(resource_type: &str, id: &str) -> Target {
        target(resource_type, named(id), Action::Delete)
    }

    fn every(resource_type: &str) -> Target {
        target(resource_type, Key::All, Action::Refresh)
    }

    #[track_caller]
    fn assert_targets(record: &Value, mut expected: Vec<Target>) {
        expected.sort();
        assert_eq!(map(record), Mapped::Targets(expected), "{record:#}");
    }

    #[track_caller]
    fn assert_ignored(record: &Value, expected: Ignored) {
        assert_eq!(map(record), Mapped::Ignored(expected), "{record:#}");
    }

    // --- S3

    #[test]
    fn s3_bucket_configuration_writes_refresh_the_bucket() {
        let put_policy = record(
            S3,
            "PutBucketPolicy",
            json!({
                "bucketName": "billing-exports",
                "Host": "billing-exports.s3.eu-west-1.amazonaws.com",
                "policy": "",
                "bucketPolicy": {"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::billing-exports/*",
                }]},
            }),
            Value::Null,
        );
        assert_targets(&put_policy, vec![refreshed(BUCKET, "billing-exports")]);

        for name in [
            "CreateBucket",
            "PutBucketEncryption",
            "DeleteBucketEncryption",
            "DeleteBucketTagging",
            "PutBucketPublicAccessBlock",
            "DeletePublicAccessBlock",
            "PutBucketOwnershipControls",
            "PutObjectLockConfiguration",
        ] {
            let rec = record(
                S3,
                name,
                json!({"bucketName": "billing-exports", "Host": "s3.eu-west-1.amazonaws.com"}),
                Value::Null,
            );
            assert_targets(&rec, vec![refreshed(BUCKET, "billing-exports")]);
        }
    }

    #[test]
    fn s3_delete_bucket_deletes_it() {
        let rec = record(
            S3,
            "DeleteBucket",
            json!({
                "bucketName": "old-artifacts",
                "Host": "old-artifacts.s3.eu-west-1.amazonaws.com",
            }),
            Value::Null,
        );
        assert_targets(&rec, vec![deleted(BUCKET, "old-artifacts")]);
    }

    #[test]
    fn s3_object_level_calls_are_unmapped() {
        let put_object = json!({
            "eventVersion": "1.10",
            "userIdentity": alice(),
            "eventSource": S3,
            "eventName": "PutObject",
            "awsRegion": REGION,
            "requestParameters": {
                "bucketName": "billing-exports",
                "key": "2026/03/report.csv",
                "Host": "billing-exports.s3.eu-west-1.amazonaws.com",
            },
            "responseElements": {"x-amz-server-side-encryption": "AES256"},
            "readOnly": false,
            "resources": [
                {
                    "type": "AWS::S3::Object",
                    "ARN": "arn:aws:s3:::billing-exports/2026/03/report.csv",
                },
                {
                    "accountId": ACCOUNT,
                    "type": "AWS::S3::Bucket",
                    "ARN": "arn:aws:s3:::billing-exports",
                },
            ],
            "eventType": "AwsApiCall",
            "managementEvent": false,
            "recipientAccountId": ACCOUNT,
            "eventCategory": "Data",
        });
        assert_ignored(&put_object, Ignored::Unmapped);

        for name in [
            "DeleteObject",
            "DeleteObjects",
            "CopyObject",
            "PutObjectAcl",
            "CreateMultipartUpload",
            "UploadPart",
            "CompleteMultipartUpload",
            "RestoreObject",
        ] {
            let rec = record(
                S3,
                name,
                json!({"bucketName": "billing-exports"}),
                Value::Null,
            );
            assert_ignored(&rec, Ignored::Unmapped);
        }
    }

    // --- EC2 security groups

    #[test]
    fn ec2_security_group_rule_changes_refresh_the_group() {
        let rec = record(
            EC2,
            "AuthorizeSecurityGroupIngress",
            json!({
                "groupId": "sg-0a1b2c3d4e5f60718",
                "ipPermissions": {"items": [{
                    "ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "groups": {},
                    "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]},
                    "ipv6Ranges": {}, "prefixListIds": {},
                }]},
            }),
            json!({
                "requestId": "0e5c2b1a-3f4d-4e6a-9b8c-7d6e5f4a3b2c",
                "_return": true,
                "securityGroupRuleSet": {"items": [{
                    "groupOwnerId": ACCOUNT, "groupId": "sg-0a1b2c3d4e5f60718",
                    "securityGroupRuleId": "sgr-0123456789abcdef0", "isEgress": false,
                    "ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "cidrIpv4": "0.0.0.0/0",
                }]},
            }),
        );
        assert_targets(
            &rec,
            vec![refreshed(SECURITY_GROUP, "sg-0a1b2c3d4e5f60718")],
        );

        let modify = record(
            EC2,
            "ModifySecurityGroupRules",
            json!({"ModifySecurityGroupRulesRequest": {
                "GroupId": "sg-0a1b2c3d4e5f60718",
                "SecurityGroupRule": {
                    "SecurityGroupRuleId": "sgr-0123456789abcdef0",
                    "SecurityGroupRule": {
                        "IpProtocol": "tcp",
                        "FromPort": 443,
                        "ToPort": 443,
                        "CidrIpv4": "10.0.0.0/8",
                    },
                },
            }}),
            json!({
                "ModifySecurityGroupRulesResponse": {
                    "requestId": "8b7a6c5d-4e3f-4a2b-9c1d-0e9f8a7b6c5d",
                    "return": true,
                },
            }),
        );
        assert_targets(
            &modify,
            vec![refreshed(SECURITY_GROUP, "sg-0a1b2c3d4e5f60718")],
        );

        // A default-VPC call naming the group only.
        let by_name = record(
            EC2,
            "RevokeSecurityGroupIngress",
            json!({"groupName": "web", "ipPermissions": {"items": []}}),
            json!({"_return": true}),
        );
        assert_targets(&by_name, vec![refreshed(SECURITY_GROUP, "web")]);
    }

    #[test]
    fn ec2_create_security_group_refreshes_the_group_and_its_vpc() {
        let rec = record(
            EC2,
            "CreateSecurityGroup",
            json!({
                "groupName": "web",
                "groupDescription": "web tier",
                "vpcId": "vpc-0fedcba9876543210",
            }),
            json!({
                "requestId": "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
                "_return": true,
                "groupId": "sg-0a1b2c3d4e5f60718",
                "securityGroupArn": "arn:aws:ec2:eu-west-1:111122223333:security-group/sg-0a1b2c3d4e5f60718",
            }),
        );
        assert_targets(
            &rec,
            vec![
                refreshed(SECURITY_GROUP, "sg-0a1b2c3d4e5f60718"),
                refreshed(VPC, "vpc-0fedcba9876543210"),
            ],
        );
    }

    #[test]
    fn ec2_delete_security_group_deletes_it() {
        let rec = record(
            EC2,
            "DeleteSecurityGroup",
            json!({"groupId": "sg-0a1b2c3d4e5f60718"}),
            json!({
                "requestId": "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a",
                "_return": true,
                "groupId": "sg-0a1b2c3d4e5f60718",
            }),
        );
        assert_targets(&rec, vec![deleted(SECURITY_GROUP, "sg-0a1b2c3d4e5f60718")]);
    }

    // --- EC2 instances

    #[test]
    fn ec2_run_instances_refreshes_every_launched_instance() {
        let rec = record(
            EC2,
            "RunInstances",
            json!({
                "instancesSet": {
                    "items": [{"imageId": "ami-0abcdef1234567890", "minCount": 2, "maxCount": 2}],
                },
                "instanceType": "t3.micro",
                "blockDeviceMapping": {},
                "monitoring": {"enabled": false},
                "disableApiTermination": false,
                "clientToken": "3e4f5a6b-7c8d-4e9f-0a1b-2c3d4e5f6a7b",
            }),
            json!({
                "requestId": "3e4f5a6b-7c8d-4e9f-0a1b-2c3d4e5f6a7c",
                "reservationId": "r-0123456789abcdef0",
                "ownerId": ACCOUNT,
                "groupSet": {},
                "instancesSet": {"items": [
                    {
                        "instanceId": "i-0aaaaaaaaaaaaaaa1",
                        "imageId": "ami-0abcdef1234567890",
                        "instanceState": {"code": 0, "name": "pending"},
                    },
                    {
                        "instanceId": "i-0aaaaaaaaaaaaaaa2",
                        "imageId": "ami-0abcdef1234567890",
                        "instanceState": {"code": 0, "name": "pending"},
                    },
                ]},
            }),
        );
        assert_targets(
            &rec,
            vec![
                refreshed(INSTANCE, "i-0aaaaaaaaaaaaaaa1"),
                refreshed(INSTANCE, "i-0aaaaaaaaaaaaaaa2"),
            ],
        );
    }

    #[test]
    fn ec2_instance_state_and_attribute_changes_refresh_the_instance() {
        let terminate = record(
            EC2,
            "TerminateInstances",
            json!({
                "instancesSet": {
                    "items": [
                        {"instanceId": "i-0aaaaaaaaaaaaaaa1"},
                        {"instanceId": "i-0aaaaaaaaaaaaaaa2"},
                    ],
                },
            }),
            json!({
                "requestId": "4f5a6b7c-8d9e-4f0a-1b2c-3d4e5f6a7b8c",
                "instancesSet": {"items": [
                    {
                        "instanceId": "i-0aaaaaaaaaaaaaaa1",
                        "currentState": {"code": 32, "name": "shutting-down"},
                        "previousState": {"code": 16, "name": "running"},
                    },
                    {
                        "instanceId": "i-0aaaaaaaaaaaaaaa2",
                        "currentState": {"code": 32, "name": "shutting-down"},
                        "previousState": {"code": 16, "name": "running"},
                    },
                ]},
            }),
        );
        assert_targets(
            &terminate,
            vec![
                refreshed(INSTANCE, "i-0aaaaaaaaaaaaaaa1"),
                refreshed(INSTANCE, "i-0aaaaaaaaaaaaaaa2"),
            ],
        );

        let modify = record(
            EC2,
            "ModifyInstanceAttribute",
            json!({
                "instanceId": "i-0aaaaaaaaaaaaaaa1",
                "groupSet": {"items": [{"groupId": "sg-0a1b2c3d4e5f60718"}]},
            }),
            json!({"requestId": "5a6b7c8d-9e0f-4a1b-2c3d-4e5f6a7b8c9d", "_return": true}),
        );
        assert_targets(&modify, vec![refreshed(INSTANCE, "i-0aaaaaaaaaaaaaaa1")]);
    }

    #[test]
    fn ec2_wrapped_instance_requests_refresh_the_instance() {
        let metadata = record(
            EC2,
            "ModifyInstanceMetadataOptions",
            json!({
                "ModifyInstanceMetadataOptionsRequest": {
                    "InstanceId": "i-0aaaaaaaaaaaaaaa1",
                    "HttpTokens": "required",
                },
            }),
            json!({"ModifyInstanceMetadataOptionsResponse": {
                "requestId": "6b7c8d9e-0f1a-4b2c-3d4e-5f6a7b8c9d0e",
                "instanceId": "i-0aaaaaaaaaaaaaaa1",
                "instanceMetadataOptions": {
                    "state": "pending",
                    "httpTokens": "required",
                    "httpPutResponseHopLimit": 1,
                    "httpEndpoint": "enabled",
                },
            }}),
        );
        assert_targets(&metadata, vec![refreshed(INSTANCE, "i-0aaaaaaaaaaaaaaa1")]);

        let associate = record(
            EC2,
            "AssociateIamInstanceProfile",
            json!({"AssociateIamInstanceProfileRequest": {
                "InstanceId": "i-0aaaaaaaaaaaaaaa1",
                "IamInstanceProfile": {"Name": "app-profile"},
            }}),
            json!({"AssociateIamInstanceProfileResponse": {
                "requestId": "7c8d9e0f-1a2b-4c3d-4e5f-6a7b8c9d0e1f",
                "iamInstanceProfileAssociation": {
                    "associationId": "iip-assoc-0123456789abcdef0",
                    "instanceId": "i-0aaaaaaaaaaaaaaa1",
                    "iamInstanceProfile": {
                        "arn": "arn:aws:iam::111122223333:instance-profile/app-profile",
                        "id": "AIPAEXAMPLEPROFILE01",
                    },
                    "state": "associating",
                },
            }}),
        );
        assert_targets(&associate, vec![refreshed(INSTANCE, "i-0aaaaaaaaaaaaaaa1")]);

        // The request names only the association; the response names the instance.
        let replace = record(
            EC2,
            "ReplaceIamInstanceProfileAssociation",
            json!({"ReplaceIamInstanceProfileAssociationRequest": {
                "AssociationId": "iip-assoc-0123456789abcdef0",
                "IamInstanceProfile": {"Name": "admin-profile"},
            }}),
            json!({"ReplaceIamInstanceProfileAssociationResponse": {
                "requestId": "8d9e0f1a-2b3c-4d4e-5f6a-7b8c9d0e1f2a",
                "iamInstanceProfileAssociation": {
                    "associationId": "iip-assoc-0fedcba9876543210",
                    "instanceId": "i-0aaaaaaaaaaaaaaa1",
                    "state": "associating",
                },
            }}),
        );
        assert_targets(&replace, vec![refreshed(INSTANCE, "i-0aaaaaaaaaaaaaaa1")]);
    }

    #[test]
    fn ec2_addresses_and_interfaces_refresh_instances() {
        let to_instance = record(
            EC2,
            "AssociateAddress",
            json!({
                "allocationId": "eipalloc-0123456789abcdef0",
                "instanceId": "i-0aaaaaaaaaaaaaaa1",
                "allowReassociation": false,
            }),
            json!({
                "requestId": "9e0f1a2b-3c4d-4e5f-6a7b-8c9d0e1f2a3b",
                "_return": true,
                "associationId": "eipassoc-0123456789abcdef0",
            }),
        );
        assert_targets(
            &to_instance,
            vec![refreshed(INSTANCE, "i-0aaaaaaaaaaaaaaa1")],
        );

        let to_interface = record(
            EC2,
            "AssociateAddress",
            json!({
                "allocationId": "eipalloc-0123456789abcdef0",
                "networkInterfaceId": "eni-0123456789abcdef0",
            }),
            json!({"_return": true, "associationId": "eipassoc-0123456789abcdef1"}),
        );
        assert_targets(&to_interface, vec![every(INSTANCE)]);

        let detach = record(
            EC2,
            "DetachNetworkInterface",
            json!({"attachmentId": "eni-attach-0123456789abcdef0", "force": false}),
            json!({"_return": true}),
        );
        assert_targets(&detach, vec![every(INSTANCE)]);
    }

    // --- EC2 volumes

    #[test]
    fn ec2_volume_lifecycle() {
        let create = record(
            EC2,
            "CreateVolume",
            json!({"size": 100, "zone": "eu-west-1a", "volumeType": "gp3", "encrypted": true}),
            json!({
                "requestId": "0f1a2b3c-4d5e-4f6a-7b8c-9d0e1f2a3b4c",
                "volumeId": "vol-0123456789abcdef0",
                "size": "100",
                "zone": "eu-west-1a",
                "status": "creating",
                "createTime": 1772446500000_u64,
                "volumeType": "gp3",
                "iops": 3000,
                "encrypted": true,
                "throughput": 125,
                "multiAttachEnabled": false,
            }),
        );
        assert_targets(&create, vec![refreshed(VOLUME, "vol-0123456789abcdef0")]);

        let remove = record(
            EC2,
            "DeleteVolume",
            json!({"volumeId": "vol-0123456789abcdef0"}),
            json!({"requestId": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "_return": true}),
        );
        assert_targets(&remove, vec![deleted(VOLUME, "vol-0123456789abcdef0")]);

        let modify = record(
            EC2,
            "ModifyVolume",
            json!({"ModifyVolumeRequest": {"VolumeId": "vol-0123456789abcdef0", "Size": 200}}),
            json!({
                "ModifyVolumeResponse": {
                    "volumeModification": {
                        "volumeId": "vol-0123456789abcdef0",
                        "modificationState": "modifying",
                    },
                },
            }),
        );
        assert_targets(&modify, vec![refreshed(VOLUME, "vol-0123456789abcdef0")]);
    }

    #[test]
    fn ec2_attach_and_detach_volume_refresh_volume_and_instance() {
        let attach = record(
            EC2,
            "AttachVolume",
            json!({
                "volumeId": "vol-0123456789abcdef0",
                "instanceId": "i-0aaaaaaaaaaaaaaa1",
                "device": "/dev/sdf",
            }),
            json!({
                "requestId": "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e",
                "volumeId": "vol-0123456789abcdef0",
                "instanceId": "i-0aaaaaaaaaaaaaaa1",
                "device": "/dev/sdf",
                "status": "attaching",
                "attachTime": 1772446500000_u64,
                "deleteOnTermination": false,
            }),
        );
        let both = vec![
            refreshed(VOLUME, "vol-0123456789abcdef0"),
            refreshed(INSTANCE, "i-0aaaaaaaaaaaaaaa1"),
        ];
        assert_targets(&attach, both.clone());

        // DetachVolume need not name the instance; the response does.
        let detach = record(
            EC2,
            "DetachVolume",
            json!({"volumeId": "vol-0123456789abcdef0", "force": false}),
            json!({
                "volumeId": "vol-0123456789abcdef0",
                "instanceId": "i-0aaaaaaaaaaaaaaa1",
                "device": "/dev/sdf",
                "status": "detaching",
            }),
        );
        assert_targets(&detach, both);
    }

    #[test]
    fn ec2_snapshots_refresh_volumes() {
        let create = record(
            EC2,
            "CreateSnapshot",
            json!({"volumeId": "vol-0123456789abcdef0", "description": "nightly"}),
            json!({
                "requestId": "3c4d5e6f-7a8b-4c9d-0e1f-2a3b4c5d6e7f",
                "snapshotId": "snap-0123456789abcdef0",
                "volumeId": "vol-0123456789abcdef0",
                "status": "pending",
                "ownerId": ACCOUNT,
                "volumeSize": 100,
                "encrypted": true,
            }),
        );
        assert_targets(&create, vec![refreshed(VOLUME, "vol-0123456789abcdef0")]);

        let share = record(
            EC2,
            "ModifySnapshotAttribute",
            json!({
                "snapshotId": "snap-0123456789abcdef0",
                "createVolumePermission": {"add": {"items": [{"group": "all"}]}},
                "attributeType": "CREATE_VOLUME_PERMISSION",
            }),
            json!({"requestId": "4d5e6f7a-8b9c-4d0e-1f2a-3b4c5d6e7f8a", "_return": true}),
        );
        assert_targets(&share, vec![every(VOLUME)]);
    }

    // --- EC2 VPCs, route tables, flow logs

    #[test]
    fn ec2_vpc_lifecycle_includes_default_groups_and_acls() {
        let create = record(
            EC2,
            "CreateVpc",
            json!({
                "cidrBlock": "10.0.0.0/16",
                "instanceTenancy": "default",
                "amazonProvidedIpv6CidrBlock": false,
            }),
            json!({
                "requestId": "5e6f7a8b-9c0d-4e1f-2a3b-4c5d6e7f8a9b",
                "vpc": {
                    "vpcId": "vpc-0fedcba9876543210",
                    "state": "pending",
                    "ownerId": ACCOUNT,
                    "cidrBlock": "10.0.0.0/16",
                    "cidrBlockAssociationSet": {
                        "items": [
                            {
                                "cidrBlock": "10.0.0.0/16",
                                "associationId": "vpc-cidr-assoc-0123456789abcdef0",
                                "cidrBlockState": {"state": "associated"},
                            },
                        ],
                    },
                    "ipv6CidrBlockAssociationSet": {},
                    "dhcpOptionsId": "dopt-0123456789abcdef0",
                    "instanceTenancy": "default",
                    "tagSet": {},
                    "isDefault": false,
                },
            }),
        );
        assert_targets(
            &create,
            vec![
                refreshed(VPC, "vpc-0fedcba9876543210"),
                every(SECURITY_GROUP),
                every(NETWORK_ACL),
            ],
        );

        let remove = record(
            EC2,
            "DeleteVpc",
            json!({"vpcId": "vpc-0fedcba9876543210"}),
            json!({"requestId": "6f7a8b9c-0d1e-4f2a-3b4c-5d6e7f8a9b0c", "_return": true}),
        );
        assert_targets(
            &remove,
            vec![
                deleted(VPC, "vpc-0fedcba9876543210"),
                every(SECURITY_GROUP),
                every(NETWORK_ACL),
            ],
        );
    }

    #[test]
    fn ec2_vpc_changes_refresh_the_vpc() {
        let attribute = record(
            EC2,
            "ModifyVpcAttribute",
            json!({"vpcId": "vpc-0fedcba9876543210", "enableDnsHostnames": {"value": true}}),
            json!({"requestId": "7a8b9c0d-1e2f-4a3b-4c5d-6e7f8a9b0c1d", "_return": true}),
        );
        assert_targets(&attribute, vec![refreshed(VPC, "vpc-0fedcba9876543210")]);

        let gateway = record(
            EC2,
            "AttachInternetGateway",
            json!({"internetGatewayId": "igw-0123456789abcdef0", "vpcId": "vpc-0fedcba9876543210"}),
            json!({"_return": true}),
        );
        assert_targets(&gateway, vec![refreshed(VPC, "vpc-0fedcba9876543210")]);

        let cidr = record(
            EC2,
            "DisassociateVpcCidrBlock",
            json!({"associationId": "vpc-cidr-assoc-0123456789abcdef1"}),
            json!({
                "requestId": "8b9c0d1e-2f3a-4b4c-5d6e-7f8a9b0c1d2e",
                "vpcId": "vpc-0fedcba9876543210",
                "cidrBlockAssociation": {
                    "associationId": "vpc-cidr-assoc-0123456789abcdef1",
                    "cidrBlock": "10.1.0.0/16",
                    "cidrBlockState": {"state": "disassociating"},
                },
            }),
        );
        assert_targets(&cidr, vec![refreshed(VPC, "vpc-0fedcba9876543210")]);
    }

    #[test]
    fn ec2_flow_logs_refresh_their_vpcs() {
        let single = record(
            EC2,
            "CreateFlowLogs",
            json!({"CreateFlowLogsRequest": {
                "ResourceId": {"tag": 1, "content": "vpc-0fedcba9876543210"},
                "ResourceType": "VPC",
                "TrafficType": "ALL",
                "LogDestinationType": "s3",
                "LogDestination": "arn:aws:s3:::flow-logs-archive",
                "MaxAggregationInterval": 600,
            }}),
            json!({"CreateFlowLogsResponse": {
                "requestId": "9c0d1e2f-3a4b-4c5d-6e7f-8a9b0c1d2e3f",
                "flowLogIdSet": {"item": "fl-0123456789abcdef0"},
                "unsuccessful": "",
            }}),
        );
        assert_targets(&single, vec![refreshed(VPC, "vpc-0fedcba9876543210")]);

        let several = record(
            EC2,
            "CreateFlowLogs",
            json!({"CreateFlowLogsRequest": {
                "ResourceId": [
                    {"tag": 1, "content": "vpc-0fedcba9876543210"},
                    {"tag": 2, "content": "vpc-0123456789abcdef0"},
                ],
                "ResourceType": "VPC",
                "TrafficType": "REJECT",
            }}),
            json!({"CreateFlowLogsResponse": {"flowLogIdSet": {"item": ["fl-01", "fl-02"]}}}),
        );
        assert_targets(
            &several,
            vec![
                refreshed(VPC, "vpc-0fedcba9876543210"),
                refreshed(VPC, "vpc-0123456789abcdef0"),
            ],
        );

        let subnet = record(
            EC2,
            "CreateFlowLogs",
            json!({"CreateFlowLogsRequest": {
                "ResourceId": {"tag": 1, "content": "subnet-0123456789abcdef0"},
                "ResourceType": "Subnet",
                "TrafficType": "ALL",
            }}),
            Value::Null,
        );
        assert_ignored(&subnet, Ignored::Unmapped);

        let remove = record(
            EC2,
            "DeleteFlowLogs",
            json!({
                "DeleteFlowLogsRequest": {
                    "FlowLogId": {"tag": 1, "content": "fl-0123456789abcdef0"},
                },
            }),
            json!({"DeleteFlowLogsResponse": {"unsuccessful": ""}}),
        );
        assert_targets(&remove, vec![every(VPC)]);
    }

    #[test]
    fn ec2_route_tables_refresh_vpcs() {
        let create = record(
            EC2,
            "CreateRouteTable",
            json!({"vpcId": "vpc-0fedcba9876543210"}),
            json!({
                "routeTable": {
                    "routeTableId": "rtb-0123456789abcdef0",
                    "vpcId": "vpc-0fedcba9876543210",
                    "routeSet": {},
                    "associationSet": {},
                },
            }),
        );
        assert_targets(&create, vec![refreshed(VPC, "vpc-0fedcba9876543210")]);

        let route = record(
            EC2,
            "CreateRoute",
            json!({
                "routeTableId": "rtb-0123456789abcdef0",
                "destinationCidrBlock": "0.0.0.0/0",
                "gatewayId": "igw-0123456789abcdef0",
            }),
            json!({"_return": true}),
        );
        assert_targets(&route, vec![every(VPC)]);
    }

    // --- EC2 network ACLs

    #[test]
    fn ec2_network_acl_changes() {
        let create = record(
            EC2,
            "CreateNetworkAcl",
            json!({"vpcId": "vpc-0fedcba9876543210"}),
            json!({
                "requestId": "0d1e2f3a-4b5c-4d6e-7f8a-9b0c1d2e3f4a",
                "networkAcl": {
                    "networkAclId": "acl-0123456789abcdef0",
                    "vpcId": "vpc-0fedcba9876543210",
                    "default": false,
                    "entrySet": {
                        "items": [
                            {
                                "ruleNumber": 32767,
                                "protocol": "-1",
                                "ruleAction": "deny",
                                "egress": true,
                                "cidrBlock": "0.0.0.0/0",
                            },
                        ],
                    },
                    "associationSet": {},
                    "tagSet": {},
                    "ownerId": ACCOUNT,
                },
            }),
        );
        assert_targets(
            &create,
            vec![
                refreshed(NETWORK_ACL, "acl-0123456789abcdef0"),
                refreshed(VPC, "vpc-0fedcba9876543210"),
            ],
        );

        let entry = record(
            EC2,
            "CreateNetworkAclEntry",
            json!({
                "networkAclId": "acl-0123456789abcdef0",
                "ruleNumber": 100,
                "egress": false,
                "ruleAction": "allow",
                "icmpTypeCode": {},
                "portRange": {"from": 22, "to": 22},
                "aclProtocol": "6",
                "cidrBlock": "0.0.0.0/0",
            }),
            json!({"_return": true}),
        );
        assert_targets(
            &entry,
            vec![refreshed(NETWORK_ACL, "acl-0123456789abcdef0")],
        );

        let association = record(
            EC2,
            "ReplaceNetworkAclAssociation",
            json!({
                "associationId": "aclassoc-0123456789abcdef0",
                "networkAclId": "acl-0123456789abcdef0",
            }),
            json!({"newAssociationId": "aclassoc-0fedcba9876543210"}),
        );
        assert_targets(
            &association,
            vec![refreshed(NETWORK_ACL, "acl-0123456789abcdef0")],
        );

        let remove = record(
            EC2,
            "DeleteNetworkAcl",
            json!({"networkAclId": "acl-0123456789abcdef0"}),
            json!({"_return": true}),
        );
        assert_targets(&remove, vec![deleted(NETWORK_ACL, "acl-0123456789abcdef0")]);
    }

    #[test]
    fn ec2_subnets_refresh_network_acl_associations() {
        let rec = record(
            EC2,
            "CreateSubnet",
            json!({
                "vpcId": "vpc-0fedcba9876543210",
                "cidrBlock": "10.0.1.0/24",
                "availabilityZone": "eu-west-1a",
            }),
            json!({
                "subnet": {
                    "subnetId": "subnet-0123456789abcdef0",
                    "vpcId": "vpc-0fedcba9876543210",
                    "state": "pending",
                },
            }),
        );
        assert_targets(&rec, vec![every(NETWORK_ACL)]);
    }

    // --- EC2 images

    #[test]
    fn ec2_image_changes() {
        let create = record(
            EC2,
            "CreateImage",
            json!({
                "instanceId": "i-0aaaaaaaaaaaaaaa1",
                "name": "web-2026-03-02",
                "noReboot": true,
            }),
            json!({
                "requestId": "1e2f3a4b-5c6d-4e7f-8a9b-0c1d2e3f4a5b",
                "imageId": "ami-0123456789abcdef0",
            }),
        );
        assert_targets(&create, vec![refreshed(AMI, "ami-0123456789abcdef0")]);

        let share = record(
            EC2,
            "ModifyImageAttribute",
            json!({
                "imageId": "ami-0123456789abcdef0",
                "launchPermission": {"add": {"items": [{"group": "all"}]}},
                "attributeType": "launchPermission",
            }),
            json!({"_return": true}),
        );
        assert_targets(&share, vec![refreshed(AMI, "ami-0123456789abcdef0")]);

        let deregister = record(
            EC2,
            "DeregisterImage",
            json!({"imageId": "ami-0123456789abcdef0"}),
            json!({"_return": true}),
        );
        assert_targets(&deregister, vec![deleted(AMI, "ami-0123456789abcdef0")]);
    }

    #[test]
    fn ec2_imports_refresh_every_resource_of_the_type() {
        let image = record(
            EC2,
            "ImportImage",
            json!({"diskContainerSet": {"items": [{"url": "s3://imports/disk.vmdk"}]}}),
            json!({"importTaskId": "import-ami-0123456789abcdef0", "status": "active"}),
        );
        assert_targets(&image, vec![every(AMI)]);
    }

    // --- EC2 tags

    #[test]
    fn ec2_tags_map_each_resource_by_its_id_prefix() {
        let rec = record(
            EC2,
            "CreateTags",
            json!({
                "resourcesSet": {"items": [
                    {"resourceId": "sg-0a1b2c3d4e5f60718"},
                    {"resourceId": "i-0aaaaaaaaaaaaaaa1"},
                    {"resourceId": "vol-0123456789abcdef0"},
                    {"resourceId": "vpc-0fedcba9876543210"},
                    {"resourceId": "acl-0123456789abcdef0"},
                    {"resourceId": "ami-0123456789abcdef0"},
                    {"resourceId": "subnet-0123456789abcdef0"},
                    {"resourceId": "igw-0123456789abcdef0"},
                ]},
                "tagSet": {"items": [{"key": "Owner", "value": "platform"}]},
            }),
            json!({"requestId": "2f3a4b5c-6d7e-4f8a-9b0c-1d2e3f4a5b6c", "_return": true}),
        );
        assert_targets(
            &rec,
            vec![
                refreshed(SECURITY_GROUP, "sg-0a1b2c3d4e5f60718"),
                refreshed(INSTANCE, "i-0aaaaaaaaaaaaaaa1"),
                refreshed(VOLUME, "vol-0123456789abcdef0"),
                refreshed(VPC, "vpc-0fedcba9876543210"),
                refreshed(NETWORK_ACL, "acl-0123456789abcdef0"),
                refreshed(AMI, "ami-0123456789abcdef0"),
            ],
        );

        let only_others = record(
            EC2,
            "DeleteTags",
            json!({
                "resourcesSet": {"items": [{"resourceId": "subnet-0123456789abcdef0"}]},
                "tagSet": {"items": [{"key": "Owner"}]},
            }),
            json!({"_return": true}),
        );
        assert_ignored(&only_others, Ignored::Unmapped);
    }

    // --- IAM users

    #[test]
    fn iam_user_changes_refresh_the_user_globally() {
        let rec = record(
            IAM,
            "CreateUser",
            json!({"userName": "bob", "path": "/"}),
            json!({"user": {
                "path": "/",
                "userName": "bob",
                "userId": "AIDAEXAMPLEBOB000001",
                "arn": "arn:aws:iam::111122223333:user/bob",
                "createDate": "Mar 2, 2026, 10:15:00 AM",
            }}),
        );
        let expected = Target {
            account_id: ACCOUNT.to_owned(),
            region: "global".to_owned(),
            resource_type: USER.to_owned(),
            key: named("bob"),
            action: Action::Refresh,
        };
        assert_targets(&rec, vec![expected]);

        let inline = record(
            IAM,
            "PutUserPolicy",
            json!({
                "userName": "bob",
                "policyName": "inline",
                "policyDocument": "{\"Version\":\"2012-10-17\"}",
            }),
            Value::Null,
        );
        assert_targets(&inline, vec![refreshed(USER, "bob")]);
    }

    #[test]
    fn iam_update_user_refreshes_old_and_new_names() {
        let rec = record(
            IAM,
            "UpdateUser",
            json!({"userName": "bob", "newUserName": "robert"}),
            Value::Null,
        );
        assert_targets(
            &rec,
            vec![refreshed(USER, "bob"), refreshed(USER, "robert")],
        );

        let path_only = record(
            IAM,
            "UpdateUser",
            json!({"userName": "bob", "newPath": "/ops/"}),
            Value::Null,
        );
        assert_targets(&path_only, vec![refreshed(USER, "bob")]);
    }

    #[test]
    fn iam_delete_user_deletes_it() {
        let rec = record(IAM, "DeleteUser", json!({"userName": "bob"}), Value::Null);
        assert_targets(&rec, vec![deleted(USER, "bob")]);
    }

    #[test]
    fn iam_attach_user_policy_refreshes_customer_managed_policies_only() {
        let customer = record(
            IAM,
            "AttachUserPolicy",
            json!({
                "userName": "bob",
                "policyArn": "arn:aws:iam::111122223333:policy/billing-read",
            }),
            Value::Null,
        );
        assert_targets(
            &customer,
            vec![
                refreshed(USER, "bob"),
                refreshed(POLICY, "arn:aws:iam::111122223333:policy/billing-read"),
            ],
        );

        let aws_managed = record(
            IAM,
            "DetachUserPolicy",
            json!({"userName": "bob", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
            Value::Null,
        );
        assert_targets(&aws_managed, vec![refreshed(USER, "bob")]);
    }

    #[test]
    fn iam_credential_calls_name_a_user_or_the_caller() {
        let named_user = record(
            IAM,
            "CreateLoginProfile",
            json!({"userName": "bob", "passwordResetRequired": true}),
            json!({
                "loginProfile": {
                    "userName": "bob",
                    "createDate": "Mar 2, 2026, 10:15:00 AM",
                    "passwordResetRequired": true,
                },
            }),
        );
        assert_targets(&named_user, vec![refreshed(USER, "bob")]);

        // Self-service: alice creates her own key.
        let own_key = record(
            IAM,
            "CreateAccessKey",
            Value::Null,
            json!({"accessKey": {
                "userName": "alice",
                "accessKeyId": "AKIAEXAMPLENEWKEY001",
                "status": "Active",
                "createDate": "Mar 2, 2026, 10:15:00 AM",
            }}),
        );
        assert_targets(&own_key, vec![refreshed(USER, "alice")]);
    }

    #[test]
    fn iam_root_credential_calls_refresh_the_root_user() {
        let mut rec = record(
            IAM,
            "EnableMFADevice",
            json!({"serialNumber": "arn:aws:iam::111122223333:mfa/root-account-mfa-device"}),
            Value::Null,
        );
        rec["userIdentity"] = root();
        assert_targets(&rec, vec![every(ROOT_USER)]);

        // Root acting on a named user changes that user, not itself.
        let mut for_bob = record(
            IAM,
            "DeleteAccessKey",
            json!({"userName": "bob", "accessKeyId": "AKIAEXAMPLEBOBKEY001"}),
            Value::Null,
        );
        for_bob["userIdentity"] = root();
        assert_targets(&for_bob, vec![refreshed(USER, "bob")]);
    }

    #[test]
    fn iam_credential_call_by_a_role_without_user_name_is_incomplete() {
        let mut rec = record(
            IAM,
            "UpdateAccessKey",
            json!({"accessKeyId": "AKIAEXAMPLEBOBKEY001", "status": "Inactive"}),
            Value::Null,
        );
        rec["userIdentity"] = assumed_role();
        assert_ignored(
            &rec,
            Ignored::Incomplete("requestParameters.userName".to_owned()),
        );
    }

    #[test]
    fn iam_group_membership_refreshes_user_and_group() {
        let rec = record(
            IAM,
            "AddUserToGroup",
            json!({"groupName": "admins", "userName": "bob"}),
            Value::Null,
        );
        assert_targets(
            &rec,
            vec![refreshed(USER, "bob"), refreshed(GROUP, "admins")],
        );
    }

    // --- IAM groups, roles, policies, password policy

    #[test]
    fn iam_group_changes() {
        let rename = record(
            IAM,
            "UpdateGroup",
            json!({"groupName": "admins", "newGroupName": "administrators"}),
            Value::Null,
        );
        assert_targets(
            &rename,
            vec![
                refreshed(GROUP, "admins"),
                refreshed(GROUP, "administrators"),
            ],
        );

        let attach = record(
            IAM,
            "AttachGroupPolicy",
            json!({
                "groupName": "admins",
                "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess",
            }),
            Value::Null,
        );
        assert_targets(&attach, vec![refreshed(GROUP, "admins")]);

        let remove = record(
            IAM,
            "DeleteGroup",
            json!({"groupName": "admins"}),
            Value::Null,
        );
        assert_targets(&remove, vec![deleted(GROUP, "admins")]);
    }

    #[test]
    fn the_support_policy_and_ebs_defaults_refresh_the_account_summaries() {
        let support = record(
            IAM,
            "AttachRolePolicy",
            json!({
                "roleName": "support",
                "policyArn": "arn:aws:iam::aws:policy/AWSSupportAccess",
            }),
            Value::Null,
        );
        assert_targets(&support, vec![refreshed(ROLE, "support"), every(IAM_META)]);
        let other = record(
            IAM,
            "DetachGroupPolicy",
            json!({
                "groupName": "ops",
                "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess",
            }),
            Value::Null,
        );
        assert_targets(&other, vec![refreshed(GROUP, "ops")]);
        let ebs = record(EC2, "DisableEbsEncryptionByDefault", json!({}), Value::Null);
        assert_targets(&ebs, vec![every(EC2_META)]);
        let block = record(
            S3,
            "PutAccountPublicAccessBlock",
            json!({"PublicAccessBlockConfiguration": {"BlockPublicAcls": true}}),
            Value::Null,
        );
        assert_targets(&block, vec![every(S3_META)]);
    }

    #[test]
    fn iam_role_changes() {
        let trust = record(
            IAM,
            "UpdateAssumeRolePolicy",
            json!({
                "roleName": "deploy",
                "policyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[]}",
            }),
            Value::Null,
        );
        assert_targets(&trust, vec![refreshed(ROLE, "deploy")]);

        let attach = record(
            IAM,
            "AttachRolePolicy",
            json!({
                "roleName": "deploy",
                "policyArn": "arn:aws:iam::111122223333:policy/deploy-extra",
            }),
            Value::Null,
        );
        assert_targets(
            &attach,
            vec![
                refreshed(ROLE, "deploy"),
                refreshed(POLICY, "arn:aws:iam::111122223333:policy/deploy-extra"),
            ],
        );

        let linked = record(
            IAM,
            "CreateServiceLinkedRole",
            json!({"aWSServiceName": "elasticloadbalancing.amazonaws.com"}),
            json!({"role": {
                "path": "/aws-service-role/elasticloadbalancing.amazonaws.com/",
                "roleName": "AWSServiceRoleForElasticLoadBalancing",
                "roleId": "AROAEXAMPLEELB000001",
                "arn": "arn:aws:iam::111122223333:role/aws-service-role/elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing",
            }}),
        );
        assert_targets(
            &linked,
            vec![refreshed(ROLE, "AWSServiceRoleForElasticLoadBalancing")],
        );

        let profile = record(
            IAM,
            "AddRoleToInstanceProfile",
            json!({"instanceProfileName": "app-profile", "roleName": "app"}),
            Value::Null,
        );
        assert_targets(&profile, vec![refreshed(ROLE, "app")]);

        let remove = record(
            IAM,
            "DeleteRole",
            json!({"roleName": "deploy"}),
            Value::Null,
        );
        assert_targets(&remove, vec![deleted(ROLE, "deploy")]);
    }

    #[test]
    fn iam_policy_changes() {
        let create = record(
            IAM,
            "CreatePolicy",
            json!({"policyName": "billing-read", "policyDocument": "{\"Version\":\"2012-10-17\"}"}),
            json!({"policy": {
                "policyName": "billing-read",
                "policyId": "ANPAEXAMPLEPOLICY001",
                "arn": "arn:aws:iam::111122223333:policy/billing-read",
                "path": "/",
                "defaultVersionId": "v1",
                "attachmentCount": 0,
                "permissionsBoundaryUsageCount": 0,
                "isAttachable": true,
                "createDate": "Mar 2, 2026, 10:15:00 AM",
                "updateDate": "Mar 2, 2026, 10:15:00 AM",
            }}),
        );
        assert_targets(
            &create,
            vec![refreshed(
                POLICY,
                "arn:aws:iam::111122223333:policy/billing-read",
            )],
        );

        let version = record(
            IAM,
            "CreatePolicyVersion",
            json!({
                "policyArn": "arn:aws:iam::111122223333:policy/billing-read",
                "policyDocument": "{\"Version\":\"2012-10-17\"}",
                "setAsDefault": true,
            }),
            json!({"policyVersion": {"versionId": "v2", "isDefaultVersion": true}}),
        );
        assert_targets(
            &version,
            vec![refreshed(
                POLICY,
                "arn:aws:iam::111122223333:policy/billing-read",
            )],
        );

        let remove = record(
            IAM,
            "DeletePolicy",
            json!({"policyArn": "arn:aws:iam::111122223333:policy/billing-read"}),
            Value::Null,
        );
        assert_targets(
            &remove,
            vec![deleted(
                POLICY,
                "arn:aws:iam::111122223333:policy/billing-read",
            )],
        );
    }

    #[test]
    fn iam_password_policy_changes_refresh_the_account_document() {
        let update = record(
            IAM,
            "UpdateAccountPasswordPolicy",
            json!({
                "minimumPasswordLength": 14,
                "requireSymbols": true,
                "maxPasswordAge": 90,
                "passwordReusePrevention": 24,
            }),
            Value::Null,
        );
        assert_targets(&update, vec![every(PASSWORD_POLICY)]);

        let remove = record(IAM, "DeleteAccountPasswordPolicy", Value::Null, Value::Null);
        assert_targets(&remove, vec![every(PASSWORD_POLICY)]);
    }

    // --- CloudTrail

    #[test]
    fn cloudtrail_trail_changes() {
        let trail_arn = "arn:aws:cloudtrail:eu-west-1:111122223333:trail/org-trail";
        let create = record(
            CLOUDTRAIL,
            "CreateTrail",
            json!({
                "name": "org-trail",
                "s3BucketName": "trail-logs",
                "isMultiRegionTrail": true,
                "enableLogFileValidation": true,
            }),
            json!({
                "name": "org-trail",
                "s3BucketName": "trail-logs",
                "includeGlobalServiceEvents": true,
                "isMultiRegionTrail": true,
                "trailARN": trail_arn,
                "logFileValidationEnabled": true,
                "isOrganizationTrail": false,
            }),
        );
        assert_targets(&create, vec![refreshed(TRAIL, "org-trail")]);

        let stop = record(
            CLOUDTRAIL,
            "StopLogging",
            json!({"name": trail_arn}),
            Value::Null,
        );
        assert_targets(&stop, vec![refreshed(TRAIL, trail_arn)]);

        let selectors = record(
            CLOUDTRAIL,
            "PutEventSelectors",
            json!({
                "trailName": "org-trail",
                "eventSelectors": [
                    {
                        "readWriteType": "WriteOnly",
                        "includeManagementEvents": true,
                        "dataResources": [],
                    },
                ],
            }),
            json!({"trailARN": trail_arn, "eventSelectors": []}),
        );
        assert_targets(&selectors, vec![refreshed(TRAIL, "org-trail")]);

        let tags = record(
            CLOUDTRAIL,
            "AddTags",
            json!({"resourceId": trail_arn, "tagsList": [{"key": "Owner", "value": "security"}]}),
            Value::Null,
        );
        assert_targets(&tags, vec![refreshed(TRAIL, trail_arn)]);

        let remove = record(
            CLOUDTRAIL,
            "DeleteTrail",
            json!({"name": "org-trail"}),
            Value::Null,
        );
        assert_targets(&remove, vec![deleted(TRAIL, "org-trail")]);
    }

    // --- KMS

    const KEY: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";
    const KEY_ARN: &str =
        "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn kms_create_key_refreshes_the_new_key() {
        let rec = record(
            KMS,
            "CreateKey",
            json!({
                "keySpec": "SYMMETRIC_DEFAULT",
                "keyUsage": "ENCRYPT_DECRYPT",
                "description": "backups",
            }),
            json!({"keyMetadata": {
                "aWSAccountId": ACCOUNT,
                "keyId": KEY,
                "arn": KEY_ARN,
                "creationDate": "Mar 2, 2026, 10:15:00 AM",
                "enabled": true,
                "description": "backups",
                "keyUsage": "ENCRYPT_DECRYPT",
                "keyState": "Enabled",
                "origin": "AWS_KMS",
                "keyManager": "CUSTOMER",
                "keySpec": "SYMMETRIC_DEFAULT",
                "encryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
                "multiRegion": false,
            }}),
        );
        assert_targets(&rec, vec![refreshed(KMS_KEY, KEY)]);
    }

    #[test]
    fn kms_key_changes_refresh_the_key() {
        let schedule = record(
            KMS,
            "ScheduleKeyDeletion",
            json!({"keyId": KEY, "pendingWindowInDays": 30}),
            json!({
                "keyId": KEY_ARN,
                "deletionDate": "Apr 1, 2026, 12:00:00 AM",
                "keyState": "PendingDeletion",
                "pendingWindowInDays": 30,
            }),
        );
        assert_targets(&schedule, vec![refreshed(KMS_KEY, KEY)]);

        let rotation = record(
            KMS,
            "DisableKeyRotation",
            json!({"keyId": KEY_ARN}),
            Value::Null,
        );
        assert_targets(&rotation, vec![refreshed(KMS_KEY, KEY_ARN)]);
    }

    #[test]
    fn kms_aliases_mean_every_key_unless_resources_name_it() {
        let create = record(
            KMS,
            "CreateAlias",
            json!({"aliasName": "alias/backups", "targetKeyId": KEY}),
            Value::Null,
        );
        assert_targets(&create, vec![refreshed(KMS_KEY, KEY)]);

        let bare = record(
            KMS,
            "DeleteAlias",
            json!({"aliasName": "alias/backups"}),
            Value::Null,
        );
        assert_targets(&bare, vec![every(KMS_KEY)]);

        let mut listed = bare.clone();
        listed["resources"] = json!([
            {"ARN": "arn:aws:kms:eu-west-1:111122223333:alias/backups", "accountId": ACCOUNT},
            {"ARN": KEY_ARN, "accountId": ACCOUNT},
        ]);
        assert_targets(&listed, vec![refreshed(KMS_KEY, KEY_ARN)]);

        let by_alias_arn = record(
            KMS,
            "UpdateAlias",
            json!({
                "aliasName": "alias/backups",
                "targetKeyId": "arn:aws:kms:eu-west-1:111122223333:alias/other",
            }),
            Value::Null,
        );
        assert_targets(&by_alias_arn, vec![every(KMS_KEY)]);
    }

    #[test]
    fn kms_delete_key_service_event_deletes_the_key() {
        let rec = json!({
            "eventVersion": "1.08",
            "userIdentity": {"accountId": ACCOUNT, "invokedBy": "AWS Internal"},
            "eventTime": "2026-04-01T00:07:00Z",
            "eventSource": KMS,
            "eventName": "DeleteKey",
            "awsRegion": REGION,
            "sourceIPAddress": "AWS Internal",
            "userAgent": "AWS Internal",
            "requestParameters": null,
            "responseElements": null,
            "eventID": "b25f9cda-74e1-4458-847b-4972a0bf9668",
            "readOnly": false,
            "resources": [{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": KEY_ARN}],
            "eventType": "AwsServiceEvent",
            "recipientAccountId": ACCOUNT,
            "managementEvent": true,
            "eventCategory": "Management",
        });
        assert_targets(&rec, vec![deleted(KMS_KEY, KEY_ARN)]);
    }

    // --- What is ignored, and why

    #[test]
    fn read_only_names_are_ignored() {
        for (source, name) in [
            (S3, "GetBucketPolicy"),
            (S3, "HeadBucket"),
            (S3, "ListObjectsV2"),
            (S3, "SelectObjectContent"),
            (EC2, "DescribeSecurityGroups"),
            (IAM, "GetAccountAuthorizationDetails"),
            (CLOUDTRAIL, "LookupEvents"),
            (KMS, "ListAliases"),
        ] {
            let mut rec = record(source, name, json!({}), Value::Null);
            // Some readers omit the flag: the name alone must do.
            rec.as_object_mut().unwrap().remove("readOnly");
            assert_ignored(&rec, Ignored::ReadOnly);
        }
    }

    #[test]
    fn read_only_flag_is_ignored() {
        let mut rec = record(
            KMS,
            "Decrypt",
            json!({"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
            Value::Null,
        );
        rec["readOnly"] = json!(true);
        assert_ignored(&rec, Ignored::ReadOnly);
    }

    #[test]
    fn failed_calls_are_ignored_with_their_error_code() {
        let mut rec = record(
            EC2,
            "AuthorizeSecurityGroupIngress",
            json!({"groupId": "sg-0a1b2c3d4e5f60718"}),
            Value::Null,
        );
        rec["errorCode"] = json!("Client.UnauthorizedOperation");
        rec["errorMessage"] = json!("You are not authorized to perform this operation.");
        assert_ignored(
            &rec,
            Ignored::Failed("Client.UnauthorizedOperation".to_owned()),
        );
    }

    #[test]
    fn unknown_services_and_names_are_unmapped() {
        let lambda = record(
            "lambda.amazonaws.com",
            "UpdateFunctionConfiguration20150331v2",
            json!({"functionName": "f"}),
            Value::Null,
        );
        assert_ignored(&lambda, Ignored::Unmapped);

        let peering = record(
            EC2,
            "AcceptVpcPeeringConnection",
            json!({"vpcPeeringConnectionId": "pcx-0123456789abcdef0"}),
            Value::Null,
        );
        assert_ignored(&peering, Ignored::Unmapped);
    }

    #[test]
    fn missing_parameters_are_incomplete() {
        let rec = record(
            EC2,
            "DeleteSecurityGroup",
            json!({}),
            json!({"_return": true}),
        );
        assert_ignored(
            &rec,
            Ignored::Incomplete(
                "requestParameters.groupId or requestParameters.groupName".to_owned(),
            ),
        );

        let mut no_name = record(
            S3,
            "PutBucketPolicy",
            json!({"bucketName": "b"}),
            Value::Null,
        );
        no_name.as_object_mut().unwrap().remove("eventName");
        assert_ignored(&no_name, Ignored::Incomplete("eventName".to_owned()));

        let mut no_region = record(
            S3,
            "PutBucketPolicy",
            json!({"bucketName": "b"}),
            Value::Null,
        );
        no_region.as_object_mut().unwrap().remove("awsRegion");
        assert_ignored(&no_region, Ignored::Incomplete("awsRegion".to_owned()));

        let mut no_account = record(
            S3,
            "PutBucketPolicy",
            json!({"bucketName": "b"}),
            Value::Null,
        );
        no_account
            .as_object_mut()
            .unwrap()
            .remove("recipientAccountId");
        no_account["userIdentity"] = json!({"type": "AWSService", "invokedBy": "s3.amazonaws.com"});
        assert_ignored(
            &no_account,
            Ignored::Incomplete("recipientAccountId".to_owned()),
        );
    }

    #[test]
    fn account_falls_back_to_the_caller_account() {
        let mut rec = record(
            S3,
            "PutBucketVersioning",
            json!({"bucketName": "b", "VersioningConfiguration": {"Status": "Enabled"}}),
            Value::Null,
        );
        rec.as_object_mut().unwrap().remove("recipientAccountId");
        assert_targets(&rec, vec![refreshed(BUCKET, "b")]);
    }

    #[test]
    fn duplicates_in_one_record_are_merged() {
        let rec = record(
            EC2,
            "CreateTags",
            json!({
                "resourcesSet": {"items": [
                    {"resourceId": "sg-0a1b2c3d4e5f60718"},
                    {"resourceId": "sg-0a1b2c3d4e5f60718"},
                ]},
                "tagSet": {"items": [{"key": "Name", "value": "web"}]},
            }),
            json!({"_return": true}),
        );
        assert_targets(
            &rec,
            vec![refreshed(SECURITY_GROUP, "sg-0a1b2c3d4e5f60718")],
        );
    }

    // --- The table itself

    #[test]
    fn every_mapped_event_is_reachable() {
        for (source, name) in mapped_events() {
            let mut rec = record(source, name, Value::Null, Value::Null);
            rec["userIdentity"] = assumed_role();
            match map(&rec) {
                Mapped::Targets(_) | Mapped::Ignored(Ignored::Incomplete(_)) => {}
                other => panic!("{source} {name}: {other:?}"),
            }
        }
    }

    #[test]
    fn table_pairs_are_unique_and_not_read_only() {
        let mut seen = BTreeSet::new();
        for (source, name) in mapped_events() {
            assert!(
                seen.insert((source, name)),
                "{source} {name} is in the table twice"
            );
            assert!(
                !READ_ONLY_PREFIXES
                    .iter()
                    .any(|prefix| name.starts_with(prefix)),
                "{source} {name} would be ignored as read-only",
            );
        }
    }
}
