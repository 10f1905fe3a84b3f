//! Collector for EC2 in one region: security groups, instances, VPCs (with their flow logs, route
//! tables, default security group and network ACL), EBS volumes (with the account's snapshots of
//! them and who may create volumes from those), network ACLs and the account's own AMIs. The
//! region's listings run concurrently and once each; the few per-resource calls come after them.
//! A targeted run narrows each listing with an EC2 filter by the ids in its scope ([`narrowing`]).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::future::Future;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types;
use aws_sdk_ec2::types::{
    CreateVolumePermission, Filter, FlowLog, Image, Instance, NetworkAcl, RouteTable,
    SecurityGroup, Snapshot, SnapshotAttributeName, Tag, Volume, Vpc,
};
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use futures::{StreamExt, stream};
use serde_json::Value;

use super::Collect;
use super::doc::Doc;
use super::shape::{ToJson, tags};
use crate::aws::{AwsError, ErrorKind};
use crate::{json_enum, json_shape};

pub(crate) const SECURITY_GROUP: &str = "AWS.EC2.SecurityGroup";
pub(crate) const INSTANCE: &str = "AWS.EC2.Instance";
pub(crate) const VPC: &str = "AWS.EC2.VPC";
pub(crate) const VOLUME: &str = "AWS.EC2.Volume";
pub(crate) const NETWORK_ACL: &str = "AWS.EC2.NetworkACL";
pub(crate) const AMI: &str = "AWS.EC2.AMI";

/// The region's EC2 account settings (EBS encryption by default).
pub(crate) const META: &str = "AWS.EC2.Meta";

pub const RESOURCE_TYPES: [&str; 7] = [
    SECURITY_GROUP,
    INSTANCE,
    VPC,
    VOLUME,
    NETWORK_ACL,
    AMI,
    META,
];

/// Per-resource calls in flight at once: enough to hide latency, few enough not to be throttled.
const PER_RESOURCE_CONCURRENCY: usize = 8;

/// Most values EC2 accepts in one filter.
const FILTER_VALUES_MAX: usize = 200;

/// A whole listing, or why it failed.
type Listing<T> = Result<Vec<T>, AwsError>;

/// Results of per-resource calls, by resource id.
type PerId<T> = HashMap<String, Result<T, AwsError>>;

/// Collects the region's EC2 resources of every type in scope.
pub async fn collect(cx: &mut Collect<'_>) {
    let ec2 = cx.session.ec2(cx.region);
    let found = fetch(cx, &ec2).await;
    report(cx, &found);
    if cx.wants_type(META) && !cx.account.type_excluded(META) {
        let meta = region_settings(cx, &ec2).await;
        cx.push(meta);
    }
}

/// The region's `AWS.EC2.Meta` document: settings that apply to the whole region of the
/// account rather than to one resource.
async fn region_settings(cx: &Collect<'_>, ec2: &Client) -> Doc {
    let id = format!("{}:{}:{META}", cx.account_id(), cx.region);
    let mut doc = Doc::new(META, cx.account_id(), cx.region, &id);
    let by_default = cx
        .call("GetEbsEncryptionByDefault", || {
            ec2.get_ebs_encryption_by_default().send()
        })
        .await
        .map(|out| out.ebs_encryption_by_default);
    doc.set_result("EbsEncryptionByDefault", by_default);
    doc
}

/// Everything the region's calls returned, before it is shaped into documents.
struct Found {
    security_groups: Listing<SecurityGroup>,
    network_acls: Listing<NetworkAcl>,
    vpcs: Listing<Vpc>,
    route_tables: Listing<RouteTable>,
    instances: Listing<Instance>,
    volumes: Listing<Volume>,
    snapshots: Listing<Snapshot>,
    images: Listing<Image>,
    /// Flow logs of the VPCs in scope.
    flow_logs: Listing<FlowLog>,
    /// Ids of each VPC's stale security groups, for the VPCs in scope.
    stale_groups: PerId<Vec<String>>,
    /// Each snapshot's `createVolumePermission`, for snapshots of the volumes in scope.
    volume_permissions: PerId<Vec<CreateVolumePermission>>,
}

/// Makes the region's calls: first every listing at once, then what depends on them (flow logs
/// of the VPCs found, stale security groups per VPC, permissions per snapshot).
async fn fetch(cx: &Collect<'_>, ec2: &Client) -> Found {
    let vpcs_wanted = want(cx, VPC, "vpc");
    // VPC documents name their security groups, network ACLs and route tables: those listings
    // serve both their own type and the VPCs.
    let groups = narrowing(("group-id", &want(cx, SECURITY_GROUP, "sg")), &vpcs_wanted);
    let acls = narrowing(
        ("network-acl-id", &want(cx, NETWORK_ACL, "acl")),
        &vpcs_wanted,
    );
    let routes = narrowing(("route-table-id", &Want::Nothing), &vpcs_wanted);
    let vpcs = narrowing(("vpc-id", &vpcs_wanted), &Want::Nothing);
    let instances = narrowing(("instance-id", &want(cx, INSTANCE, "i")), &Want::Nothing);
    // A volume's document lists its snapshots: they are listed by the volumes in scope.
    let volumes = narrowing(("volume-id", &want(cx, VOLUME, "vol")), &Want::Nothing);
    let images = narrowing(("image-id", &want(cx, AMI, "ami")), &Want::Nothing);

    let (security_groups, network_acls, vpcs, route_tables, instances, volumes, snapshots, images) = futures::join!(
        only_if(
            &groups,
            cx.call("DescribeSecurityGroups", || {
                ec2.describe_security_groups()
                    .set_filters(groups.filters())
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
            }),
        ),
        only_if(
            &acls,
            cx.call("DescribeNetworkAcls", || {
                ec2.describe_network_acls()
                    .set_filters(acls.filters())
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
            }),
        ),
        only_if(
            &vpcs,
            cx.call("DescribeVpcs", || {
                ec2.describe_vpcs()
                    .set_filters(vpcs.filters())
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
            }),
        ),
        only_if(
            &routes,
            cx.call("DescribeRouteTables", || {
                ec2.describe_route_tables()
                    .set_filters(routes.filters())
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
            }),
        ),
        only_if(&instances, list_instances(cx, ec2, instances.filters())),
        only_if(
            &volumes,
            cx.call("DescribeVolumes", || {
                ec2.describe_volumes()
                    .set_filters(volumes.filters())
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
            }),
        ),
        only_if(
            &volumes,
            cx.call("DescribeSnapshots", || {
                ec2.describe_snapshots()
                    .owner_ids("self")
                    .set_filters(volumes.filters())
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
            }),
        ),
        only_if(
            &images,
            cx.call("DescribeImages", || {
                ec2.describe_images()
                    .owners("self")
                    .set_filters(images.filters())
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
            }),
        ),
    );

    // Details only for resources in scope.
    let vpc_ids: Vec<String> = vpcs
        .iter()
        .flatten()
        .filter_map(|v| Some((v.vpc_id()?, v.tags())))
        .filter(|(id, tags)| in_scope(cx, VPC, "vpc", id, tags))
        .map(|(id, _)| id.to_owned())
        .collect();
    let volume_ids: HashSet<&str> = volumes
        .iter()
        .flatten()
        .filter_map(|v| Some((v.volume_id()?, v.tags())))
        .filter(|(id, tags)| in_scope(cx, VOLUME, "volume", id, tags))
        .map(|(id, _)| id)
        .collect();
    let snapshot_ids: Vec<String> = snapshots
        .iter()
        .flatten()
        .filter(|s| s.volume_id().is_some_and(|v| volume_ids.contains(v)))
        .filter_map(|s| s.snapshot_id().map(str::to_owned))
        .collect();

    let (flow_logs, stale_groups, volume_permissions) = futures::join!(
        list_flow_logs(cx, ec2, &vpc_ids),
        per_id(vpc_ids.clone(), |vpc_id| async move {
            let groups = cx
                .call("DescribeStaleSecurityGroups", || {
                    ec2.describe_stale_security_groups()
                        .vpc_id(vpc_id)
                        .into_paginator()
                        .items()
                        .send()
                        .try_collect()
                })
                .await?;
            Ok(groups.into_iter().filter_map(|g| g.group_id).collect())
        }),
        per_id(snapshot_ids, |snapshot_id| async move {
            let out = cx
                .call("DescribeSnapshotAttribute", || {
                    ec2.describe_snapshot_attribute()
                        .snapshot_id(snapshot_id)
                        .attribute(SnapshotAttributeName::CreateVolumePermission)
                        .send()
                })
                .await?;
            Ok(out.create_volume_permissions.unwrap_or_default())
        }),
    );

    Found {
        security_groups,
        network_acls,
        vpcs,
        route_tables,
        instances,
        volumes,
        snapshots,
        images,
        flow_logs,
        stale_groups,
        volume_permissions,
    }
}

/// Every instance of every reservation (that `filters` select).
async fn list_instances(
    cx: &Collect<'_>,
    ec2: &Client,
    filters: Option<Vec<Filter>>,
) -> Listing<Instance> {
    let reservations = cx
        .call("DescribeInstances", || {
            ec2.describe_instances()
                .set_filters(filters)
                .into_paginator()
                .items()
                .send()
                .try_collect()
        })
        .await?;
    Ok(reservations
        .into_iter()
        .flat_map(|r| r.instances.unwrap_or_default())
        .collect())
}

/// Flow logs attached to `vpc_ids`, in as few calls as the filter limit allows (one, usually).
async fn list_flow_logs(cx: &Collect<'_>, ec2: &Client, vpc_ids: &[String]) -> Listing<FlowLog> {
    let mut flow_logs = Vec::new();
    for chunk in vpc_ids.chunks(FILTER_VALUES_MAX) {
        let filter = Filter::builder()
            .name("resource-id")
            .set_values(Some(chunk.to_vec()))
            .build();
        let page = cx
            .call("DescribeFlowLogs", || {
                ec2.describe_flow_logs()
                    .filter(filter)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
            })
            .await?;
        flow_logs.extend(page);
    }
    Ok(flow_logs)
}

/// A listing when some type in scope needs it; an empty one (and no call) otherwise.
async fn only_if<T>(
    narrowing: &Narrowing,
    listing: impl Future<Output = Listing<T>>,
) -> Listing<T> {
    if *narrowing == Narrowing::Skip {
        Ok(Vec::new())
    } else {
        listing.await
    }
}

/// What a run asks of one resource type.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Want {
    Nothing,
    /// Every resource of the type in the region (a full scan, or a target that cannot be
    /// narrowed by id).
    Every,
    /// Only these ids.
    Ids(Vec<String>),
}

/// How the run wants `resource_type`, whose ids start with `prefix-`. A target may name a
/// resource by ARN (narrowed to its id) or by its `Name` tag or group name, which no id filter
/// can find: then the whole type is listed and `Collect::push` picks the document.
fn want(cx: &Collect<'_>, resource_type: &str, prefix: &str) -> Want {
    if !type_wanted(cx, resource_type) {
        return Want::Nothing;
    }
    match cx.names(resource_type) {
        Some(names) => want_named(names, prefix),
        None => Want::Every,
    }
}

/// What the names of a scope's targets ask for: their ids when every name is an id (`prefix-`
/// and hex digits) or an ARN ending in one, every resource otherwise.
fn want_named(names: BTreeSet<&str>, prefix: &str) -> Want {
    let ids: Option<Vec<String>> = names
        .into_iter()
        .map(|name| {
            let id = match name.strip_prefix("arn:") {
                Some(arn) => arn.rsplit('/').next().unwrap_or(arn),
                None => name,
            };
            let is_id = id
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|hex| !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()));
            is_id.then(|| id.to_owned())
        })
        .collect();
    match ids {
        Some(ids) if ids.is_empty() => Want::Nothing,
        Some(ids) if ids.len() <= FILTER_VALUES_MAX => Want::Ids(ids),
        _ => Want::Every,
    }
}

/// How one listing is made.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Narrowing {
    /// Not needed: no call.
    Skip,
    /// The whole region.
    Whole,
    /// Filtered by `(filter name, values)`. A filter that matches nothing answers an empty
    /// list, where asking by id would fail for a resource that is gone.
    By(&'static str, Vec<String>),
}

impl Narrowing {
    fn filters(&self) -> Option<Vec<Filter>> {
        match self {
            Narrowing::By(name, values) => Some(vec![
                Filter::builder()
                    .name(*name)
                    .set_values(Some(values.clone()))
                    .build(),
            ]),
            Narrowing::Skip | Narrowing::Whole => None,
        }
    }
}

/// The narrowing of a listing that serves its own type (`own`: the filter by that type's ids,
/// and what is wanted of it) and possibly VPC documents (`vpcs`): filtered by its own ids when
/// only its own type is wanted, by `vpc-id` when only VPCs are, and whole when both are (one
/// EC2 filter cannot say "these ids or these VPCs") or when every resource of either is.
fn narrowing((filter, own): (&'static str, &Want), vpcs: &Want) -> Narrowing {
    match (own, vpcs) {
        (Want::Nothing, Want::Nothing) => Narrowing::Skip,
        (Want::Ids(ids), Want::Nothing) => Narrowing::By(filter, ids.clone()),
        (Want::Nothing, Want::Ids(ids)) => Narrowing::By("vpc-id", ids.clone()),
        _ => Narrowing::Whole,
    }
}

/// Runs `fetch` for each id and keeps the results by id. The first call runs alone: when the
/// endpoint does not implement the operation, `Collect::call` remembers it and the other ids fail
/// at once instead of each paying the retries. The rest run a few at a time.
async fn per_id<T, F, Fut>(ids: Vec<String>, fetch: F) -> PerId<T>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let mut ids = ids.into_iter();
    let mut out = HashMap::new();
    let Some(first) = ids.next() else {
        return out;
    };
    let result = fetch(first.clone()).await;
    out.insert(first, result);
    let rest: Vec<_> = stream::iter(ids)
        .map(|id| {
            let call = fetch(id.clone());
            async move { (id, call.await) }
        })
        .buffer_unordered(PER_RESOURCE_CONCURRENCY)
        .collect()
        .await;
    out.extend(rest);
    out
}

/// Shapes what was found into documents, and records the listings that failed.
fn report(cx: &mut Collect<'_>, found: &Found) {
    for (resource_type, listing) in [
        (SECURITY_GROUP, found.security_groups.as_ref().err()),
        (NETWORK_ACL, found.network_acls.as_ref().err()),
        (VPC, found.vpcs.as_ref().err()),
        (INSTANCE, found.instances.as_ref().err()),
        (VOLUME, found.volumes.as_ref().err()),
        (AMI, found.images.as_ref().err()),
    ] {
        if let Some(err) = listing
            && type_wanted(cx, resource_type)
        {
            cx.listing_failed(resource_type, err);
        }
    }

    if type_wanted(cx, SECURITY_GROUP) {
        for group in found.security_groups.iter().flatten() {
            let Some(id) = group.group_id() else { continue };
            let mut doc = envelope(cx, SECURITY_GROUP, "security-group", id, group.tags());
            doc.set("Name", group.group_name());
            set_members(&mut doc, group);
            cx.push(doc);
        }
    }

    for instance in found.instances.iter().flatten() {
        let Some(id) = instance.instance_id() else {
            continue;
        };
        let mut doc = envelope(cx, INSTANCE, "instance", id, instance.tags());
        doc.set("TimeCreated", instance.launch_time());
        set_members(&mut doc, instance);
        cx.push(doc);
    }

    if type_wanted(cx, VPC) {
        let related = VpcRelated {
            groups: found
                .security_groups
                .as_ref()
                .map(|g| index(g, SecurityGroup::vpc_id)),
            network_acls: found
                .network_acls
                .as_ref()
                .map(|n| index(n, NetworkAcl::vpc_id)),
            route_tables: found
                .route_tables
                .as_ref()
                .map(|r| index(r, RouteTable::vpc_id)),
            flow_logs: found
                .flow_logs
                .as_ref()
                .map(|f| index(f, FlowLog::resource_id)),
            stale_groups: &found.stale_groups,
        };
        for vpc in found.vpcs.iter().flatten() {
            let Some(id) = vpc.vpc_id() else { continue };
            if in_scope(cx, VPC, "vpc", id, vpc.tags()) {
                let doc = vpc_doc(cx, vpc, id, &related);
                cx.push(doc);
            }
        }
    }

    let snapshots = found
        .snapshots
        .as_ref()
        .map(|s| index(s, Snapshot::volume_id));
    for volume in found.volumes.iter().flatten() {
        let Some(id) = volume.volume_id() else {
            continue;
        };
        if !in_scope(cx, VOLUME, "volume", id, volume.tags()) {
            continue;
        }
        let mut doc = envelope(cx, VOLUME, "volume", id, volume.tags());
        doc.set("TimeCreated", volume.create_time());
        set_members(&mut doc, volume);
        let snapshots = snapshots
            .as_ref()
            .map_err(|e| (*e).clone())
            .and_then(|s| volume_snapshots(members(s, id), &found.volume_permissions));
        match snapshots {
            Ok(value) => doc.set("Snapshots", value),
            Err(err) => doc.failed("Snapshots", &err),
        };
        cx.push(doc);
    }

    if type_wanted(cx, NETWORK_ACL) {
        for acl in found.network_acls.iter().flatten() {
            let Some(id) = acl.network_acl_id() else {
                continue;
            };
            let mut doc = envelope(cx, NETWORK_ACL, "network-acl", id, acl.tags());
            set_members(&mut doc, acl);
            cx.push(doc);
        }
    }

    for image in found.images.iter().flatten() {
        let Some(id) = image.image_id() else { continue };
        let mut doc = envelope(cx, AMI, "image", id, image.tags());
        // An AMI's name is part of the image itself; without a Name tag it is the best name.
        if doc.get("Name") == Some(&Value::Null) {
            doc.set("Name", image.name());
        }
        doc.set("TimeCreated", image.creation_date().map(timestamp));
        set_members(&mut doc, image);
        cx.push(doc);
    }
}

/// The other listings a VPC document draws on, indexed by VPC id.
struct VpcRelated<'a> {
    groups: Result<HashMap<&'a str, Vec<&'a SecurityGroup>>, &'a AwsError>,
    network_acls: Result<HashMap<&'a str, Vec<&'a NetworkAcl>>, &'a AwsError>,
    route_tables: Result<HashMap<&'a str, Vec<&'a RouteTable>>, &'a AwsError>,
    flow_logs: Result<HashMap<&'a str, Vec<&'a FlowLog>>, &'a AwsError>,
    stale_groups: &'a PerId<Vec<String>>,
}

fn vpc_doc(cx: &Collect<'_>, vpc: &Vpc, id: &str, related: &VpcRelated<'_>) -> Doc {
    let mut doc = envelope(cx, VPC, "vpc", id, vpc.tags());
    set_members(&mut doc, vpc);
    derived(&mut doc, "SecurityGroups", &related.groups, |g| {
        ids(members(g, id), SecurityGroup::group_id)
    });
    derived(&mut doc, "DefaultSecurityGroupId", &related.groups, |g| {
        members(g, id)
            .iter()
            .find(|g| g.group_name() == Some("default"))
            .and_then(|g| g.group_id())
            .to_json()
    });
    derived(&mut doc, "NetworkAcls", &related.network_acls, |n| {
        ids(members(n, id), NetworkAcl::network_acl_id)
    });
    derived(
        &mut doc,
        "DefaultNetworkAclId",
        &related.network_acls,
        |n| {
            members(n, id)
                .iter()
                .find(|n| n.is_default() == Some(true))
                .and_then(|n| n.network_acl_id())
                .to_json()
        },
    );
    derived(&mut doc, "RouteTables", &related.route_tables, |r| {
        members(r, id).to_json()
    });
    derived(&mut doc, "FlowLogs", &related.flow_logs, |f| {
        members(f, id).to_json()
    });
    match related.stale_groups.get(id) {
        Some(result) => doc.set_result("StaleSecurityGroups", result.clone().map(Some)),
        None => doc.failed(
            "StaleSecurityGroups",
            &not_fetched("DescribeStaleSecurityGroups"),
        ),
    };
    doc
}

/// A volume's snapshots, each with its `CreateVolumePermissions`. One snapshot whose permissions
/// could not be read fails the whole field: a partial list would look compliant.
fn volume_snapshots(
    snapshots: &[&Snapshot],
    permissions: &PerId<Vec<CreateVolumePermission>>,
) -> Result<Value, AwsError> {
    let mut out = Vec::with_capacity(snapshots.len());
    for snapshot in snapshots {
        let permissions = match snapshot.snapshot_id().and_then(|id| permissions.get(id)) {
            Some(Ok(permissions)) => permissions,
            // Deleted since the listing.
            Some(Err(e)) if e.kind == ErrorKind::NotFound => continue,
            Some(Err(e)) => return Err(e.clone()),
            None => return Err(not_fetched("DescribeSnapshotAttribute")),
        };
        let mut value = snapshot.to_json();
        if let Value::Object(members) = &mut value {
            members.insert("CreateVolumePermissions".into(), permissions.to_json());
        }
        out.push(value);
    }
    Ok(Value::Array(out))
}

/// A detail that was not fetched for a resource. Cannot happen for resources in scope (details
/// are fetched for exactly those), but a missing answer must never read as "none".
fn not_fetched(operation: &'static str) -> AwsError {
    AwsError {
        operation,
        kind: ErrorKind::Other,
        code: None,
        message: "not fetched for this resource".into(),
    }
}

/// Whether the run wants `resource_type` in this region at all: the account does not exclude
/// it and, in a targeted run, some target is of that type.
fn type_wanted(cx: &Collect<'_>, resource_type: &str) -> bool {
    !cx.account.type_excluded(resource_type)
        && !cx.account.region_excluded(cx.region)
        && cx.wants_type(resource_type)
}

/// Whether one resource is in scope (checked before fetching its details).
fn in_scope(cx: &Collect<'_>, resource_type: &str, kind: &str, id: &str, tags: &[Tag]) -> bool {
    let doc = envelope(cx, resource_type, kind, id, tags);
    !cx.excluded(cx.region, resource_type, doc.resource_id()) && cx.in_scope(&doc)
}

/// `arn:<partition>:ec2:<region>:<account>:<kind>/<id>`.
fn arn(cx: &Collect<'_>, kind: &str, id: &str) -> String {
    let partition = if cx.region.starts_with("cn-") {
        "aws-cn"
    } else if cx.region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    };
    format!(
        "arn:{partition}:ec2:{}:{}:{kind}/{id}",
        cx.region,
        cx.account_id()
    )
}

/// A document with the envelope every EC2 resource shares: its ARN as ResourceId and Arn, the
/// AWS id, the `Name` tag as Name, and the tags.
fn envelope(cx: &Collect<'_>, resource_type: &str, kind: &str, id: &str, tag_list: &[Tag]) -> Doc {
    let arn = arn(cx, kind, id);
    let mut doc = Doc::new(resource_type, cx.account_id(), cx.region, &arn);
    let name = tag_list
        .iter()
        .find(|t| t.key() == Some("Name"))
        .and_then(Tag::value);
    doc.set("Arn", &arn)
        .set("Id", id)
        .set("Name", name)
        .set("Tags", tags(tag_list.iter().map(|t| (t.key(), t.value()))));
    doc
}

/// Sets every member of a rendered shape as a field of the document.
fn set_members(doc: &mut Doc, shape: &impl ToJson) {
    if let Value::Object(members) = shape.to_json() {
        for (name, value) in members {
            doc.set(&name, value);
        }
    }
}

/// Sets a field computed from another listing, or a collection error when that listing failed.
fn derived<T>(
    doc: &mut Doc,
    field: &str,
    source: &Result<T, &AwsError>,
    value: impl FnOnce(&T) -> Value,
) {
    match source {
        Ok(source) => doc.set(field, value(source)),
        Err(err) => doc.failed(field, err),
    };
}

/// Groups items by a key (a VPC id, a volume id); items without one are left out.
fn index<'a, T>(
    items: &'a [T],
    key: impl Fn(&'a T) -> Option<&'a str>,
) -> HashMap<&'a str, Vec<&'a T>> {
    let mut index: HashMap<&str, Vec<&T>> = HashMap::new();
    for item in items {
        if let Some(k) = key(item) {
            index.entry(k).or_default().push(item);
        }
    }
    index
}

/// The items grouped under `key`, or none.
fn members<'a, T>(index: &'a HashMap<&str, Vec<&'a T>>, key: &str) -> &'a [&'a T] {
    index.get(key).map_or(&[], Vec::as_slice)
}

/// The ids of `items`, as a JSON list.
fn ids<T>(items: &[&T], id: impl Fn(&T) -> Option<&str>) -> Value {
    Value::Array(
        items
            .iter()
            .filter_map(|item| id(item))
            .map(Value::from)
            .collect(),
    )
}

/// An EC2 timestamp string (`2024-01-31T12:00:00.000Z`) as RFC 3339 in UTC; kept as sent if it
/// does not parse.
fn timestamp(text: &str) -> Value {
    DateTime::from_str(text, Format::DateTime)
        .map_or_else(|_| Value::String(text.to_owned()), |t| t.to_json())
}

// Top-level shapes: exactly the resource model's fields of each type, which `set_members` merges
// into the type's document.
json_shape! {
    SecurityGroup {
        "Description" => description,
        "IpPermissions" => ip_permissions,
        "IpPermissionsEgress" => ip_permissions_egress,
        "OwnerId" => owner_id,
        "VpcId" => vpc_id,
    }
    Instance {
        "AmiLaunchIndex" => ami_launch_index,
        "Architecture" => architecture,
        "BlockDeviceMappings" => block_device_mappings,
        "CapacityReservationId" => capacity_reservation_id,
        "CapacityReservationSpecification" => capacity_reservation_specification,
        "ClientToken" => client_token,
        "CpuOptions" => cpu_options,
        "EbsOptimized" => ebs_optimized,
        "ElasticGpuAssociations" => elastic_gpu_associations,
        "ElasticInferenceAcceleratorAssociations" => elastic_inference_accelerator_associations,
        "EnaSupport" => ena_support,
        "HibernationOptions" => hibernation_options,
        "Hypervisor" => hypervisor,
        "IamInstanceProfile" => iam_instance_profile,
        "ImageId" => image_id,
        "InstanceLifecycle" => instance_lifecycle,
        "InstanceType" => instance_type,
        "KernelId" => kernel_id,
        "KeyName" => key_name,
        "Licenses" => licenses,
        "MetadataOptions" => metadata_options,
        "Monitoring" => monitoring,
        "NetworkInterfaces" => network_interfaces,
        "Placement" => placement,
        "Platform" => platform,
        "PrivateDnsName" => private_dns_name,
        "PrivateIpAddress" => private_ip_address,
        "ProductCodes" => product_codes,
        "PublicDnsName" => public_dns_name,
        "PublicIpAddress" => public_ip_address,
        "RamdiskId" => ramdisk_id,
        "RootDeviceName" => root_device_name,
        "RootDeviceType" => root_device_type,
        "SecurityGroups" => security_groups,
        "SourceDestCheck" => source_dest_check,
        "SpotInstanceRequestId" => spot_instance_request_id,
        "SriovNetSupport" => sriov_net_support,
        "State" => state,
        "StateReason" => state_reason,
        "StateTransitionReason" => state_transition_reason,
        "SubnetId" => subnet_id,
        "VirtualizationType" => virtualization_type,
        "VpcId" => vpc_id,
    }
    // The rest of a VPC document comes from other listings (see `vpc_doc`).
    Vpc {
        "CidrBlock" => cidr_block,
        "CidrBlockAssociationSet" => cidr_block_association_set,
        "DhcpOptionsId" => dhcp_options_id,
        "InstanceTenancy" => instance_tenancy,
        "Ipv6CidrBlockAssociationSet" => ipv6_cidr_block_association_set,
        "IsDefault" => is_default,
        "OwnerId" => owner_id,
        "State" => state,
    }
    // `Snapshots` comes from DescribeSnapshots (see `volume_snapshots`).
    Volume {
        "Attachments" => attachments,
        "AvailabilityZone" => availability_zone,
        "Encrypted" => encrypted,
        "Iops" => iops,
        "KmsKeyId" => kms_key_id,
        "Size" => size,
        "SnapshotId" => snapshot_id,
        "State" => state,
        "VolumeType" => volume_type,
    }
    NetworkAcl {
        "Associations" => associations,
        "Entries" => entries,
        "IsDefault" => is_default,
        "OwnerId" => owner_id,
        "VpcId" => vpc_id,
    }
    Image {
        "Architecture" => architecture,
        "BlockDeviceMappings" => block_device_mappings,
        "Description" => description,
        "EnaSupport" => ena_support,
        "Hypervisor" => hypervisor,
        "ImageLocation" => image_location,
        "ImageOwnerAlias" => image_owner_alias,
        "ImageType" => image_type,
        "KernelId" => kernel_id,
        "OwnerId" => owner_id,
        "Platform" => platform,
        "ProductCodes" => product_codes,
        "Public" => public,
        "RamdiskId" => ramdisk_id,
        "RootDeviceName" => root_device_name,
        "RootDeviceType" => root_device_type,
        "SriovNetSupport" => sriov_net_support,
        "State" => state,
        "StateReason" => state_reason,
        "VirtualizationType" => virtualization_type,
    }
}

// Shapes nested in documents: the full AWS API shape, every member the SDK knows.
json_shape! {
    types::IpPermission {
        "FromPort" => from_port,
        "IpProtocol" => ip_protocol,
        "IpRanges" => ip_ranges,
        "Ipv6Ranges" => ipv6_ranges,
        "PrefixListIds" => prefix_list_ids,
        "ToPort" => to_port,
        "UserIdGroupPairs" => user_id_group_pairs,
    }
    types::UserIdGroupPair {
        "Description" => description,
        "GroupId" => group_id,
        "GroupName" => group_name,
        "PeeringStatus" => peering_status,
        "UserId" => user_id,
        "VpcId" => vpc_id,
        "VpcPeeringConnectionId" => vpc_peering_connection_id,
    }
    types::IpRange {
        "CidrIp" => cidr_ip,
        "Description" => description,
    }
    types::Ipv6Range {
        "CidrIpv6" => cidr_ipv6,
        "Description" => description,
    }
    types::PrefixListId {
        "Description" => description,
        "PrefixListId" => prefix_list_id,
    }
    types::Tag {
        "Key" => key,
        "Value" => value,
    }
    types::InstanceBlockDeviceMapping {
        "DeviceName" => device_name,
        "Ebs" => ebs,
    }
    types::EbsInstanceBlockDevice {
        "AssociatedResource" => associated_resource,
        "AttachTime" => attach_time,
        "DeleteOnTermination" => delete_on_termination,
        "EbsCardIndex" => ebs_card_index,
        "Operator" => operator,
        "Status" => status,
        "VolumeId" => volume_id,
        "VolumeOwnerId" => volume_owner_id,
    }
    types::OperatorResponse {
        "HiddenByDefault" => hidden_by_default,
        "Managed" => managed,
        "Principal" => principal,
    }
    types::IamInstanceProfile {
        "Arn" => arn,
        "Id" => id,
    }
    types::ElasticGpuAssociation {
        "ElasticGpuAssociationId" => elastic_gpu_association_id,
        "ElasticGpuAssociationState" => elastic_gpu_association_state,
        "ElasticGpuAssociationTime" => elastic_gpu_association_time,
        "ElasticGpuId" => elastic_gpu_id,
    }
    types::ElasticInferenceAcceleratorAssociation {
        "ElasticInferenceAcceleratorArn" => elastic_inference_accelerator_arn,
        "ElasticInferenceAcceleratorAssociationId" => elastic_inference_accelerator_association_id,
        "ElasticInferenceAcceleratorAssociationState" => elastic_inference_accelerator_association_state,
        "ElasticInferenceAcceleratorAssociationTime" => elastic_inference_accelerator_association_time,
    }
    types::InstanceNetworkInterface {
        "Association" => association,
        "Attachment" => attachment,
        "ConnectionTrackingConfiguration" => connection_tracking_configuration,
        "Description" => description,
        "Groups" => groups,
        "InterfaceType" => interface_type,
        "Ipv4Prefixes" => ipv4_prefixes,
        "Ipv6Addresses" => ipv6_addresses,
        "Ipv6Prefixes" => ipv6_prefixes,
        "MacAddress" => mac_address,
        "NetworkInterfaceId" => network_interface_id,
        "Operator" => operator,
        "OwnerId" => owner_id,
        "PrivateDnsName" => private_dns_name,
        "PrivateIpAddress" => private_ip_address,
        "PrivateIpAddresses" => private_ip_addresses,
        "SourceDestCheck" => source_dest_check,
        "Status" => status,
        "SubnetId" => subnet_id,
        "VpcId" => vpc_id,
    }
    types::InstanceNetworkInterfaceAssociation {
        "CarrierIp" => carrier_ip,
        "CustomerOwnedIp" => customer_owned_ip,
        "IpOwnerId" => ip_owner_id,
        "PublicDnsName" => public_dns_name,
        "PublicIp" => public_ip,
    }
    types::InstanceNetworkInterfaceAttachment {
        "AttachTime" => attach_time,
        "AttachmentId" => attachment_id,
        "DeleteOnTermination" => delete_on_termination,
        "DeviceIndex" => device_index,
        "EnaQueueCount" => ena_queue_count,
        "EnaSrdSpecification" => ena_srd_specification,
        "NetworkCardIndex" => network_card_index,
        "Status" => status,
    }
    types::InstanceAttachmentEnaSrdSpecification {
        "EnaSrdEnabled" => ena_srd_enabled,
        "EnaSrdUdpSpecification" => ena_srd_udp_specification,
    }
    types::InstanceAttachmentEnaSrdUdpSpecification {
        "EnaSrdUdpEnabled" => ena_srd_udp_enabled,
    }
    types::GroupIdentifier {
        "GroupId" => group_id,
        "GroupName" => group_name,
    }
    types::InstanceIpv6Address {
        "Ipv6Address" => ipv6_address,
        "IsPrimaryIpv6" => is_primary_ipv6,
    }
    types::InstancePrivateIpAddress {
        "Association" => association,
        "Primary" => primary,
        "PrivateDnsName" => private_dns_name,
        "PrivateIpAddress" => private_ip_address,
    }
    types::InstanceIpv4Prefix {
        "Ipv4Prefix" => ipv4_prefix,
    }
    types::InstanceIpv6Prefix {
        "Ipv6Prefix" => ipv6_prefix,
    }
    types::ConnectionTrackingSpecificationResponse {
        "TcpEstablishedTimeout" => tcp_established_timeout,
        "UdpStreamTimeout" => udp_stream_timeout,
        "UdpTimeout" => udp_timeout,
    }
    types::StateReason {
        "Code" => code,
        "Message" => message,
    }
    types::CpuOptions {
        "AmdSevSnp" => amd_sev_snp,
        "CoreCount" => core_count,
        "NestedVirtualization" => nested_virtualization,
        "ThreadsPerCore" => threads_per_core,
    }
    types::CapacityReservationSpecificationResponse {
        "CapacityReservationPreference" => capacity_reservation_preference,
        "CapacityReservationTarget" => capacity_reservation_target,
    }
    types::CapacityReservationTargetResponse {
        "CapacityReservationId" => capacity_reservation_id,
        "CapacityReservationResourceGroupArn" => capacity_reservation_resource_group_arn,
    }
    types::HibernationOptions {
        "Configured" => configured,
    }
    types::LicenseConfiguration {
        "LicenseConfigurationArn" => license_configuration_arn,
    }
    types::InstanceMetadataOptionsResponse {
        "HttpEndpoint" => http_endpoint,
        "HttpProtocolIpv6" => http_protocol_ipv6,
        "HttpPutResponseHopLimit" => http_put_response_hop_limit,
        "HttpTokens" => http_tokens,
        "InstanceMetadataTags" => instance_metadata_tags,
        "State" => state,
    }
    types::InstanceState {
        "Code" => code,
        "Name" => name,
    }
    types::ProductCode {
        "ProductCodeId" => product_code_id,
        "ProductCodeType" => product_code_type,
    }
    types::Placement {
        "Affinity" => affinity,
        "AvailabilityZone" => availability_zone,
        "AvailabilityZoneId" => availability_zone_id,
        "GroupId" => group_id,
        "GroupName" => group_name,
        "HostId" => host_id,
        "HostResourceGroupArn" => host_resource_group_arn,
        "PartitionNumber" => partition_number,
        "SpreadDomain" => spread_domain,
        "Tenancy" => tenancy,
    }
    types::Monitoring {
        "State" => state,
    }
    types::VpcIpv6CidrBlockAssociation {
        "AssociationId" => association_id,
        "IpSource" => ip_source,
        "Ipv6AddressAttribute" => ipv6_address_attribute,
        "Ipv6CidrBlock" => ipv6_cidr_block,
        "Ipv6CidrBlockState" => ipv6_cidr_block_state,
        "Ipv6Pool" => ipv6_pool,
        "NetworkBorderGroup" => network_border_group,
    }
    types::VpcCidrBlockState {
        "State" => state,
        "StatusMessage" => status_message,
    }
    types::VpcCidrBlockAssociation {
        "AssociationId" => association_id,
        "CidrBlock" => cidr_block,
        "CidrBlockState" => cidr_block_state,
    }
    types::FlowLog {
        "CreationTime" => creation_time,
        "DeliverCrossAccountRole" => deliver_cross_account_role,
        "DeliverLogsErrorMessage" => deliver_logs_error_message,
        "DeliverLogsPermissionArn" => deliver_logs_permission_arn,
        "DeliverLogsStatus" => deliver_logs_status,
        "DestinationOptions" => destination_options,
        "FlowLogId" => flow_log_id,
        "FlowLogStatus" => flow_log_status,
        "LogDestination" => log_destination,
        "LogDestinationType" => log_destination_type,
        "LogFormat" => log_format,
        "LogGroupName" => log_group_name,
        "MaxAggregationInterval" => max_aggregation_interval,
        "ResourceId" => resource_id,
        "TagFieldSpecifications" => tag_field_specifications,
        "Tags" => tags,
        "TrafficType" => traffic_type,
    }
    types::DestinationOptionsResponse {
        "FileFormat" => file_format,
        "HiveCompatiblePartitions" => hive_compatible_partitions,
        "PerHourPartition" => per_hour_partition,
    }
    types::TagFieldSpecificationResponse {
        "ResourceType" => resource_type,
        "TagKeys" => tag_keys,
    }
    types::RouteTable {
        "Associations" => associations,
        "OwnerId" => owner_id,
        "PropagatingVgws" => propagating_vgws,
        "RouteTableId" => route_table_id,
        "Routes" => routes,
        "Tags" => tags,
        "VpcId" => vpc_id,
    }
    types::RouteTableAssociation {
        "AssociationState" => association_state,
        "GatewayId" => gateway_id,
        "Main" => main,
        "PublicIpv4Pool" => public_ipv4_pool,
        "RouteTableAssociationId" => route_table_association_id,
        "RouteTableId" => route_table_id,
        "SubnetId" => subnet_id,
    }
    types::RouteTableAssociationState {
        "State" => state,
        "StatusMessage" => status_message,
    }
    types::PropagatingVgw {
        "GatewayId" => gateway_id,
    }
    types::Route {
        "CarrierGatewayId" => carrier_gateway_id,
        "CoreNetworkArn" => core_network_arn,
        "DestinationCidrBlock" => destination_cidr_block,
        "DestinationIpv6CidrBlock" => destination_ipv6_cidr_block,
        "DestinationPrefixListId" => destination_prefix_list_id,
        "EgressOnlyInternetGatewayId" => egress_only_internet_gateway_id,
        "GatewayId" => gateway_id,
        "InstanceId" => instance_id,
        "InstanceOwnerId" => instance_owner_id,
        "IpAddress" => ip_address,
        "LocalGatewayId" => local_gateway_id,
        "NatGatewayId" => nat_gateway_id,
        "NetworkInterfaceId" => network_interface_id,
        "OdbNetworkArn" => odb_network_arn,
        "Origin" => origin,
        "State" => state,
        "TransitGatewayId" => transit_gateway_id,
        "VpcPeeringConnectionId" => vpc_peering_connection_id,
    }
    types::VolumeAttachment {
        "AssociatedResource" => associated_resource,
        "AttachTime" => attach_time,
        "DeleteOnTermination" => delete_on_termination,
        "Device" => device,
        "EbsCardIndex" => ebs_card_index,
        "InstanceId" => instance_id,
        "InstanceOwningService" => instance_owning_service,
        "State" => state,
        "VolumeId" => volume_id,
    }
    types::Snapshot {
        "AvailabilityZone" => availability_zone,
        "CompletionDurationMinutes" => completion_duration_minutes,
        "CompletionTime" => completion_time,
        "DataEncryptionKeyId" => data_encryption_key_id,
        "Description" => description,
        "Encrypted" => encrypted,
        "FullSnapshotSizeInBytes" => full_snapshot_size_in_bytes,
        "KmsKeyId" => kms_key_id,
        "OutpostArn" => outpost_arn,
        "OwnerAlias" => owner_alias,
        "OwnerId" => owner_id,
        "Progress" => progress,
        "RestoreExpiryTime" => restore_expiry_time,
        "SnapshotId" => snapshot_id,
        "SseType" => sse_type,
        "StartTime" => start_time,
        "State" => state,
        "StateMessage" => state_message,
        "StorageTier" => storage_tier,
        "Tags" => tags,
        "TransferType" => transfer_type,
        "VolumeId" => volume_id,
        "VolumeSize" => volume_size,
    }
    types::CreateVolumePermission {
        "Group" => group,
        "UserId" => user_id,
    }
    types::NetworkAclAssociation {
        "NetworkAclAssociationId" => network_acl_association_id,
        "NetworkAclId" => network_acl_id,
        "SubnetId" => subnet_id,
    }
    types::NetworkAclEntry {
        "CidrBlock" => cidr_block,
        "Egress" => egress,
        "IcmpTypeCode" => icmp_type_code,
        "Ipv6CidrBlock" => ipv6_cidr_block,
        "PortRange" => port_range,
        "Protocol" => protocol,
        "RuleAction" => rule_action,
        "RuleNumber" => rule_number,
    }
    types::IcmpTypeCode {
        "Code" => code,
        "Type" => r#type,
    }
    types::PortRange {
        "From" => from,
        "To" => to,
    }
    types::BlockDeviceMapping {
        "DeviceName" => device_name,
        "Ebs" => ebs,
        "NoDevice" => no_device,
        "VirtualName" => virtual_name,
    }
    types::EbsBlockDevice {
        "AvailabilityZone" => availability_zone,
        "AvailabilityZoneId" => availability_zone_id,
        "DeleteOnTermination" => delete_on_termination,
        "EbsCardIndex" => ebs_card_index,
        "Encrypted" => encrypted,
        "Iops" => iops,
        "KmsKeyId" => kms_key_id,
        "OutpostArn" => outpost_arn,
        "SnapshotId" => snapshot_id,
        "Throughput" => throughput,
        "VolumeInitializationRate" => volume_initialization_rate,
        "VolumeSize" => volume_size,
        "VolumeType" => volume_type,
    }
}

// Enumerations, as their wire strings.
json_enum!(
    types::AmdSevSnpSpecification,
    types::ArchitectureValues,
    types::AttachmentStatus,
    types::BootModeValues,
    types::CapacityReservationPreference,
    types::DestinationFileFormat,
    types::DeviceType,
    types::HttpTokensState,
    types::HypervisorType,
    types::ImageState,
    types::ImageTypeValues,
    types::InstanceLifecycleType,
    types::InstanceMetadataEndpointState,
    types::InstanceMetadataOptionsState,
    types::InstanceMetadataProtocolState,
    types::InstanceMetadataTagsState,
    types::InstanceStateName,
    types::InstanceType,
    types::IpSource,
    types::Ipv6AddressAttribute,
    types::LogDestinationType,
    types::MonitoringState,
    types::NestedVirtualizationSpecification,
    types::NetworkInterfaceStatus,
    types::PermissionGroup,
    types::PlatformValues,
    types::ProductCodeValues,
    types::RouteOrigin,
    types::RouteState,
    types::RouteTableAssociationStateCode,
    types::RuleAction,
    types::SnapshotState,
    types::SseType,
    types::StorageTier,
    types::TaggableResourceType,
    types::Tenancy,
    types::TrafficType,
    types::TransferType,
    types::VirtualizationType,
    types::VolumeAttachmentState,
    types::VolumeState,
    types::VolumeType,
    types::VpcCidrBlockStateCode,
    types::VpcState,
);

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::types::PermissionGroup;
    use serde_json::json;

    fn snapshot(id: &str) -> Snapshot {
        Snapshot::builder()
            .snapshot_id(id)
            .volume_id("vol-1")
            .build()
    }

    fn error(kind: ErrorKind) -> AwsError {
        AwsError {
            operation: "DescribeSnapshotAttribute",
            kind,
            code: None,
            message: "refused".into(),
        }
    }

    #[test]
    fn snapshots_carry_their_permissions_and_vanished_ones_drop_out() {
        let (public, gone) = (snapshot("snap-public"), snapshot("snap-gone"));
        let everyone = CreateVolumePermission::builder()
            .group(PermissionGroup::All)
            .build();
        let permissions = HashMap::from([
            ("snap-public".to_owned(), Ok(vec![everyone])),
            ("snap-gone".to_owned(), Err(error(ErrorKind::NotFound))),
        ]);
        let value = volume_snapshots(&[&public, &gone], &permissions).unwrap();
        assert_eq!(value.as_array().map(Vec::len), Some(1));
        assert_eq!(value[0]["SnapshotId"], "snap-public");
        assert_eq!(
            value[0]["CreateVolumePermissions"],
            json!([{"Group": "all", "UserId": null}])
        );
    }

    #[test]
    fn one_unreadable_snapshot_fails_the_whole_list() {
        let permissions =
            HashMap::from([("snap-1".to_owned(), Err(error(ErrorKind::AccessDenied)))]);
        let err = volume_snapshots(&[&snapshot("snap-1")], &permissions).unwrap_err();
        assert_eq!(err.kind, ErrorKind::AccessDenied);
        // Not fetched at all is an error too, never an empty list.
        assert!(volume_snapshots(&[&snapshot("snap-2")], &permissions).is_err());
    }

    #[test]
    fn targets_by_id_or_arn_narrow_and_names_do_not() {
        let named = |names: &[&'static str]| want_named(names.iter().copied().collect(), "sg");
        // In the order of the names: the ARN sorts first.
        assert_eq!(
            named(&["sg-0abc12", "arn:aws:ec2:us-east-1:1:security-group/sg-9f"]),
            Want::Ids(vec!["sg-9f".into(), "sg-0abc12".into()])
        );
        // A group name (or a Name tag) cannot be filtered by id.
        assert_eq!(named(&["sg-0abc12", "sg-web"]), Want::Every);
        assert_eq!(named(&["bastion"]), Want::Every);
        assert_eq!(named(&["team/sg-0abc12"]), Want::Every);
        assert_eq!(named(&[]), Want::Nothing);
    }

    #[test]
    fn listings_narrow_by_their_own_ids_or_by_vpc_never_both() {
        let ids = |v: &[&str]| Want::Ids(v.iter().map(|s| (*s).to_owned()).collect());
        let groups = |own: &Want, vpcs: &Want| narrowing(("group-id", own), vpcs);
        let (sg, vpc) = (ids(&["sg-1"]), ids(&["vpc-1"]));
        assert_eq!(
            groups(&sg, &Want::Nothing),
            Narrowing::By("group-id", vec!["sg-1".into()])
        );
        assert_eq!(
            groups(&Want::Nothing, &vpc),
            Narrowing::By("vpc-id", vec!["vpc-1".into()])
        );
        assert_eq!(groups(&sg, &vpc), Narrowing::Whole);
        assert_eq!(groups(&Want::Every, &Want::Nothing), Narrowing::Whole);
        assert_eq!(groups(&Want::Nothing, &Want::Every), Narrowing::Whole);
        assert_eq!(groups(&sg, &Want::Every), Narrowing::Whole);
        assert_eq!(groups(&Want::Nothing, &Want::Nothing), Narrowing::Skip);
        assert_eq!(
            groups(&Want::Nothing, &vpc).filters().unwrap()[0].name(),
            Some("vpc-id")
        );
        assert_eq!(Narrowing::Whole.filters(), None);
    }

    #[test]
    fn ami_creation_dates_become_rfc3339_utc() {
        assert_eq!(
            timestamp("2024-01-31T12:00:00.000Z"),
            json!("2024-01-31T12:00:00Z")
        );
        assert_eq!(timestamp("yesterday"), json!("yesterday"));
    }
}
