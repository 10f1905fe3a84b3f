//! S3 collector: every bucket of the account as an `AWS.S3.Bucket` document, whatever its
//! region, with its encryption, ACL, policy, public access block, versioning, logging,
//! lifecycle, object lock and tags. S3 is global: this runs once, from the home region, and
//! reads each bucket's details through a client for the bucket's own region. A targeted run
//! still lists the buckets but reads details only for those in its scope.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_sdk_s3::Client;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BlockedEncryptionTypes, BucketLogsPermission,
    BucketVersioningStatus, DefaultRetention, EncryptionType, EventHoldDuration, ExpirationStatus,
    Grant, Grantee, LifecycleExpiration, LifecycleRuleAndOperator, LifecycleRuleFilter,
    LoggingEnabled, MfaDeleteStatus, NoncurrentVersionExpiration, NoncurrentVersionTransition,
    ObjectLockConfiguration, ObjectLockEnabled, ObjectLockRetentionMode, ObjectLockRule, Owner,
    PartitionDateSource, PartitionedPrefix, Permission, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionRule, SimplePrefix,
    Tag, TargetGrant, TargetObjectKeyFormat, Transition, TransitionStorageClass, Type,
};
use aws_smithy_types::DateTime;
use futures::stream::{self, StreamExt};
use serde_json::Value;

use super::Collect;
use super::doc::Doc;
use super::shape::{ToJson, tags};
use crate::aws::{AwsError, ErrorKind, Session};
use crate::{json_enum, json_shape};

pub const BUCKET: &str = "AWS.S3.Bucket";

/// The account's S3 settings (the account-level public access block).
pub(crate) const META: &str = "AWS.S3.Meta";

pub const RESOURCE_TYPES: [&str; 2] = [BUCKET, META];

/// Buckets whose details are read at the same time; each has nine calls in flight.
const CONCURRENT_BUCKETS: usize = 8;

/// Page size for `ListBuckets`. Asking for pages (any `max-buckets`) also makes S3 report each
/// bucket's region, which saves a `GetBucketLocation` per bucket; 10,000 is the largest page.
const BUCKETS_PER_PAGE: i32 = 10_000;

/// The fields read after listing: one call each, except that `Grants` and `Owner` share
/// `GetBucketAcl` and `Versioning` and `MFADelete` share `GetBucketVersioning`.
const DETAIL_FIELDS: [&str; 11] = [
    "Tags",
    "EncryptionRules",
    "Grants",
    "Owner",
    "Policy",
    "PublicAccessBlockConfiguration",
    "Versioning",
    "MFADelete",
    "LoggingPolicy",
    "LifecycleRules",
    "ObjectLockConfiguration",
];

pub async fn collect(cx: &mut Collect<'_>) {
    if cx.wants_type(META) && !cx.account.type_excluded(META) {
        let doc = account_settings(cx).await;
        cx.push(doc);
    }
    if cx.account.type_excluded(BUCKET) || !cx.wants_type(BUCKET) {
        return;
    }
    let clients = Clients::new(cx.session);
    // Listed even for one bucket: a single call gives its creation date and region, and its
    // absence from a complete listing proves the bucket gone. Details only for buckets in scope.
    let buckets: Vec<Listed> = match list_buckets(cx, &clients.get(cx.region)).await {
        Ok(buckets) => buckets
            .into_iter()
            .filter(|b| cx.in_scope(&envelope(cx, cx.region, &arn_of(&b.name), b)))
            .collect(),
        Err(e) => {
            cx.listing_failed(BUCKET, &e);
            return;
        }
    };
    let docs: Vec<Doc> = {
        let cx = &*cx;
        stream::iter(buckets)
            .map(|b| bucket(cx, &clients, b))
            .buffered(CONCURRENT_BUCKETS)
            .filter_map(std::future::ready)
            .collect()
            .await
    };
    for doc in docs {
        cx.push(doc);
    }
}

/// The `AWS.S3.Meta` document: the account-level public access block (S3 Control), `null`
/// when the account has none.
async fn account_settings(cx: &Collect<'_>) -> Doc {
    let id = format!("{}::{META}", cx.account_id());
    let mut doc = Doc::new(META, cx.account_id(), "global", &id);
    let client = cx.session.s3control(cx.region);
    let block = cx
        .call("GetPublicAccessBlock", || {
            client
                .get_public_access_block()
                .account_id(cx.account_id())
                .send()
        })
        .await
        .map(|out| {
            out.public_access_block_configuration().map(|c| {
                serde_json::json!({
                    "BlockPublicAcls": c.block_public_acls(),
                    "IgnorePublicAcls": c.ignore_public_acls(),
                    "BlockPublicPolicy": c.block_public_policy(),
                    "RestrictPublicBuckets": c.restrict_public_buckets(),
                })
            })
        });
    doc.set_result("PublicAccessBlockConfiguration", block);
    doc
}

/// A bucket as `ListBuckets` reports it.
struct Listed {
    name: String,
    created: Option<DateTime>,
    /// Present when S3 reports it with the listing (paginated requests, on AWS).
    region: Option<String>,
}

async fn list_buckets(cx: &Collect<'_>, client: &Client) -> Result<Vec<Listed>, AwsError> {
    let mut buckets = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = cx
            .call("ListBuckets", || {
                client
                    .list_buckets()
                    .max_buckets(BUCKETS_PER_PAGE)
                    .set_continuation_token(token.clone())
                    .send()
            })
            .await?;
        buckets.extend(page.buckets().iter().filter_map(|b| {
            Some(Listed {
                name: b.name()?.to_owned(),
                created: b.creation_date().copied(),
                region: b
                    .bucket_region()
                    .filter(|r| !r.is_empty())
                    .map(str::to_owned),
            })
        }));
        match page.continuation_token().filter(|t| !t.is_empty()) {
            None => return Ok(buckets),
            // Following a token that does not move on would loop for ever.
            Some(next) if token.as_deref() == Some(next) => {
                return Err(AwsError::malformed(
                    "ListBuckets",
                    "the answer repeats the continuation token",
                ));
            }
            Some(next) => token = Some(next.to_owned()),
        }
    }
}

/// One bucket's document, or `None` when it is excluded or was deleted during the scan.
async fn bucket(cx: &Collect<'_>, clients: &Clients<'_>, listed: Listed) -> Option<Doc> {
    let name = listed.name.as_str();
    let arn = arn_of(name);
    let region = match &listed.region {
        Some(region) => Ok(region.clone()),
        None => location(cx, &clients.get(cx.region), name).await,
    };
    let region = match region {
        Ok(region) => region,
        Err(e) if is_gone(&e) => return None,
        Err(e) => {
            // Without its region the bucket's details cannot be read; report it where the
            // scan runs, with every detail marked uncollected rather than left looking clean.
            if cx.excluded(cx.region, BUCKET, &arn) {
                return None;
            }
            let mut doc = envelope(cx, cx.region, &arn, &listed);
            for field in DETAIL_FIELDS {
                doc.failed(field, &e);
            }
            return Some(doc);
        }
    };
    if cx.excluded(&region, BUCKET, &arn) {
        return None;
    }

    let client = clients.get(&region);
    // Every detail is one `Get...` call on the bucket; all nine go out at once.
    macro_rules! get {
        ($operation:literal, $method:ident) => {
            cx.call($operation, || client.$method().bucket(name).send())
        };
    }
    let details = futures::join!(
        get!("GetBucketTagging", get_bucket_tagging),
        get!("GetBucketEncryption", get_bucket_encryption),
        get!("GetBucketAcl", get_bucket_acl),
        get!("GetBucketPolicy", get_bucket_policy),
        get!("GetPublicAccessBlock", get_public_access_block),
        get!("GetBucketVersioning", get_bucket_versioning),
        get!("GetBucketLogging", get_bucket_logging),
        get!(
            "GetBucketLifecycleConfiguration",
            get_bucket_lifecycle_configuration
        ),
        get!("GetObjectLockConfiguration", get_object_lock_configuration),
    );
    let (tagging, encryption, acl, policy, public_access, versioning, logging, lifecycle, lock) =
        details;

    let errors = [
        tagging.as_ref().err(),
        encryption.as_ref().err(),
        acl.as_ref().err(),
        policy.as_ref().err(),
        public_access.as_ref().err(),
        versioning.as_ref().err(),
        logging.as_ref().err(),
        lifecycle.as_ref().err(),
        lock.as_ref().err(),
    ];
    if errors.into_iter().flatten().any(is_gone) {
        return None;
    }

    let mut doc = envelope(cx, &region, &arn, &listed);
    doc.set_result(
        "Tags",
        tagging.map(|o| {
            Some(tags(
                o.tag_set().iter().map(|t| (Some(t.key()), Some(t.value()))),
            ))
        }),
    );
    doc.set_result(
        "EncryptionRules",
        encryption.map(|o| {
            o.server_side_encryption_configuration()
                .map(|c| c.rules().to_json())
        }),
    );
    match acl {
        Ok(o) => {
            doc.set("Grants", o.grants()).set("Owner", o.owner());
        }
        Err(e) => set_error(&mut doc, &["Grants", "Owner"], e),
    }
    doc.set_result("Policy", policy.map(|o| o.policy().map(str::to_owned)));
    doc.set_result(
        "PublicAccessBlockConfiguration",
        public_access.map(|o| o.public_access_block_configuration().map(ToJson::to_json)),
    );
    match versioning {
        Ok(o) => {
            doc.set("Versioning", o.status())
                .set("MFADelete", o.mfa_delete());
        }
        Err(e) => set_error(&mut doc, &["Versioning", "MFADelete"], e),
    }
    doc.set_result(
        "LoggingPolicy",
        logging.map(|o| o.logging_enabled().map(ToJson::to_json)),
    );
    doc.set_result(
        "LifecycleRules",
        lifecycle.map(|o| Some(o.rules().to_json())),
    );
    doc.set_result(
        "ObjectLockConfiguration",
        lock.map(|o| o.object_lock_configuration().map(ToJson::to_json)),
    );
    Some(doc)
}

fn arn_of(bucket: &str) -> String {
    format!("arn:aws:s3:::{bucket}")
}

/// The document with its envelope filled in.
fn envelope(cx: &Collect<'_>, region: &str, arn: &str, listed: &Listed) -> Doc {
    let mut doc = Doc::new(BUCKET, cx.account_id(), region, arn);
    doc.set("Arn", arn)
        .set("Name", listed.name.as_str())
        .set("TimeCreated", listed.created);
    doc
}

/// The bucket's region from `GetBucketLocation`, which names us-east-1 by no constraint at all
/// and eu-west-1 by its legacy name `EU`.
async fn location(cx: &Collect<'_>, client: &Client, bucket: &str) -> Result<String, AwsError> {
    let out = cx
        .call("GetBucketLocation", || {
            client.get_bucket_location().bucket(bucket).send()
        })
        .await?;
    Ok(region_of(out.location_constraint().map(|c| c.as_str())).to_owned())
}

/// The region a location constraint names: none at all is us-east-1, `EU` is the legacy name
/// of eu-west-1.
fn region_of(constraint: Option<&str>) -> &str {
    match constraint {
        None | Some("") => "us-east-1",
        Some("EU") => "eu-west-1",
        Some(region) => region,
    }
}

/// Several fields read by one call that failed.
fn set_error(doc: &mut Doc, fields: &[&str], err: AwsError) {
    for field in fields {
        doc.set_result::<Value>(field, Err(err.clone()));
    }
}

/// The bucket no longer exists (deleted since it was listed): it has no document at all,
/// rather than one whose every detail reads "not configured".
fn is_gone(err: &AwsError) -> bool {
    err.kind == ErrorKind::NotFound && err.code.as_deref() == Some("NoSuchBucket")
}

/// S3 clients by region, each made once per run.
struct Clients<'a> {
    session: &'a Session,
    by_region: Mutex<HashMap<String, Client>>,
}

impl<'a> Clients<'a> {
    fn new(session: &'a Session) -> Self {
        Clients {
            session,
            by_region: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, region: &str) -> Client {
        let mut clients = self.by_region.lock().unwrap_or_else(|e| e.into_inner());
        clients
            .entry(region.to_owned())
            .or_insert_with(|| self.session.s3(region))
            .clone()
    }
}

json_enum!(
    BucketLogsPermission,
    BucketVersioningStatus,
    EncryptionType,
    ExpirationStatus,
    MfaDeleteStatus,
    ObjectLockEnabled,
    ObjectLockRetentionMode,
    PartitionDateSource,
    Permission,
    ServerSideEncryption,
    TransitionStorageClass,
    Type,
);

json_shape! {
    ServerSideEncryptionRule {
        "ApplyServerSideEncryptionByDefault" => apply_server_side_encryption_by_default,
        "BucketKeyEnabled" => bucket_key_enabled,
        "BlockedEncryptionTypes" => blocked_encryption_types,
    }
    ServerSideEncryptionByDefault {
        "SSEAlgorithm" => sse_algorithm,
        "KMSMasterKeyID" => kms_master_key_id,
    }
    BlockedEncryptionTypes {
        "EncryptionType" => encryption_type,
    }
    Grant {
        "Grantee" => grantee,
        "Permission" => permission,
    }
    Grantee {
        "DisplayName" => display_name,
        "EmailAddress" => email_address,
        "ID" => id,
        "Type" => r#type,
        "URI" => uri,
    }
    Owner {
        "DisplayName" => display_name,
        "ID" => id,
    }
    PublicAccessBlockConfiguration {
        "BlockPublicAcls" => block_public_acls,
        "IgnorePublicAcls" => ignore_public_acls,
        "BlockPublicPolicy" => block_public_policy,
        "RestrictPublicBuckets" => restrict_public_buckets,
    }
    LoggingEnabled {
        "TargetBucket" => target_bucket,
        "TargetGrants" => target_grants,
        "TargetPrefix" => target_prefix,
        "TargetObjectKeyFormat" => target_object_key_format,
    }
    TargetGrant {
        "Grantee" => grantee,
        "Permission" => permission,
    }
    TargetObjectKeyFormat {
        "SimplePrefix" => simple_prefix,
        "PartitionedPrefix" => partitioned_prefix,
    }
    SimplePrefix {}
    PartitionedPrefix {
        "PartitionDateSource" => partition_date_source,
    }
    LifecycleExpiration {
        "Date" => date,
        "Days" => days,
        "ExpiredObjectDeleteMarker" => expired_object_delete_marker,
    }
    LifecycleRuleFilter {
        "Prefix" => prefix,
        "Tag" => tag,
        "ObjectSizeGreaterThan" => object_size_greater_than,
        "ObjectSizeLessThan" => object_size_less_than,
        "And" => and,
    }
    LifecycleRuleAndOperator {
        "Prefix" => prefix,
        "Tags" => tags,
        "ObjectSizeGreaterThan" => object_size_greater_than,
        "ObjectSizeLessThan" => object_size_less_than,
    }
    Tag {
        "Key" => key,
        "Value" => value,
    }
    Transition {
        "Date" => date,
        "Days" => days,
        "StorageClass" => storage_class,
    }
    NoncurrentVersionTransition {
        "NoncurrentDays" => noncurrent_days,
        "StorageClass" => storage_class,
        "NewerNoncurrentVersions" => newer_noncurrent_versions,
    }
    NoncurrentVersionExpiration {
        "NoncurrentDays" => noncurrent_days,
        "NewerNoncurrentVersions" => newer_noncurrent_versions,
    }
    AbortIncompleteMultipartUpload {
        "DaysAfterInitiation" => days_after_initiation,
    }
    ObjectLockConfiguration {
        "ObjectLockEnabled" => object_lock_enabled,
        "Rule" => rule,
    }
    ObjectLockRule {
        "DefaultRetention" => default_retention,
    }
    DefaultRetention {
        "Mode" => mode,
        "Days" => days,
        "Years" => years,
        "DefaultEventHold" => default_event_hold,
    }
    EventHoldDuration {
        "Days" => days,
        "Years" => years,
    }
}

/// `LifecycleRule.Prefix` is deprecated in favour of `Filter`, but older rules still set it.
#[allow(deprecated)]
mod lifecycle_rule {
    use aws_sdk_s3::types::LifecycleRule;

    use crate::json_shape;

    json_shape! {
        LifecycleRule {
            "Expiration" => expiration,
            "ID" => id,
            "Prefix" => prefix,
            "Filter" => filter,
            "Status" => status,
            "Transitions" => transitions,
            "NoncurrentVersionTransitions" => noncurrent_version_transitions,
            "NoncurrentVersionExpiration" => noncurrent_version_expiration,
            "AbortIncompleteMultipartUpload" => abort_incomplete_multipart_upload,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_constraints_name_regions() {
        assert_eq!(region_of(None), "us-east-1");
        assert_eq!(region_of(Some("")), "us-east-1");
        assert_eq!(region_of(Some("EU")), "eu-west-1");
        assert_eq!(region_of(Some("ap-south-2")), "ap-south-2");
    }
}
