//! Tests of the S3 collector against the emulator, seeded through the AWS SDK: bucket
//! configuration shapes, regions, exclusions and calls per bucket, and the malformed versioning
//! answer of unpatched moto. The CloudTrail and KMS collectors' tests sit in the nested modules
//! at the end.

use aws_sdk_s3::types::{
    BucketCannedAcl, BucketLifecycleConfiguration, BucketLocationConstraint, BucketLoggingStatus,
    BucketVersioningStatus, CreateBucketConfiguration, ExpirationStatus, LifecycleExpiration,
    LifecycleRule, LifecycleRuleFilter, LoggingEnabled, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule, Tag, Tagging, VersioningConfiguration,
};
use palisade::aws::ErrorKind;
use palisade::scan::Service;
use serde_json::{Value, json};

use crate::support::{self, Env};

const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";

/// The document of the bucket named `name`.
fn bucket<'a>(docs: &'a [Value], name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["Name"] == name)
        .unwrap_or_else(|| panic!("no document for bucket {name}"))
}

fn names(docs: &[Value]) -> Vec<&str> {
    let mut names: Vec<&str> = docs.iter().filter_map(|d| d["Name"].as_str()).collect();
    names.sort();
    names
}

async fn create_bucket(client: &aws_sdk_s3::Client, name: &str) {
    client.create_bucket().bucket(name).send().await.unwrap();
}

async fn create_bucket_in(env: &Env, region: &str, name: &str) {
    env.session
        .s3(region)
        .create_bucket()
        .bucket(name)
        .create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        )
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buckets_are_collected_with_their_configuration() {
    let env = Env::new().await;
    let account = env.account_id();
    let s3 = env.session.s3("us-east-1");
    let [encrypted, plain, public, logs, eu] =
        ["encrypted", "plain", "public", "logs", "eu"].map(|s| format!("{s}-{account}"));

    let key_arn = env
        .session
        .kms("us-east-1")
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .arn
        .unwrap();

    // Encrypted with KMS, versioned, tagged, logging to `logs`.
    create_bucket(&s3, &encrypted).await;
    s3.put_bucket_encryption()
        .bucket(&encrypted)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(
                            ServerSideEncryptionByDefault::builder()
                                .sse_algorithm(ServerSideEncryption::AwsKms)
                                .kms_master_key_id(&key_arn)
                                .build()
                                .unwrap(),
                        )
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    s3.put_bucket_versioning()
        .bucket(&encrypted)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    s3.put_bucket_tagging()
        .bucket(&encrypted)
        .tagging(
            Tagging::builder()
                .tag_set(
                    Tag::builder()
                        .key("Team")
                        .value("payments")
                        .build()
                        .unwrap(),
                )
                .tag_set(Tag::builder().key("Env").value("prod").build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    // The log bucket: writable by S3 log delivery, objects expire after 90 days.
    create_bucket(&s3, &logs).await;
    let log_delivery = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": ["s3:PutObject"],
            "Resource": format!("arn:aws:s3:::{logs}/*"),
        }],
    });
    s3.put_bucket_policy()
        .bucket(&logs)
        .policy(log_delivery.to_string())
        .send()
        .await
        .unwrap();
    s3.put_bucket_lifecycle_configuration()
        .bucket(&logs)
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .rules(
                    LifecycleRule::builder()
                        .id("expire-logs")
                        .status(ExpirationStatus::Enabled)
                        .filter(LifecycleRuleFilter::builder().prefix("access/").build())
                        .expiration(LifecycleExpiration::builder().days(90).build())
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    s3.put_bucket_logging()
        .bucket(&encrypted)
        .bucket_logging_status(
            BucketLoggingStatus::builder()
                .logging_enabled(
                    LoggingEnabled::builder()
                        .target_bucket(&logs)
                        .target_prefix("access/")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();

    // Nothing configured at all.
    create_bucket(&s3, &plain).await;

    // Public through its ACL and its policy.
    s3.create_bucket()
        .bucket(&public)
        .acl(BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "PublicRead",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": format!("arn:aws:s3:::{public}/*"),
        }],
    });
    s3.put_bucket_policy()
        .bucket(&public)
        .policy(policy.to_string())
        .send()
        .await
        .unwrap();

    // In another region, with every public access block setting on.
    create_bucket_in(&env, "eu-west-1", &eu).await;
    env.session
        .s3("eu-west-1")
        .put_public_access_block()
        .bucket(&eu)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(false)
                .build(),
        )
        .send()
        .await
        .unwrap();

    let out = env.collect(Service::S3, "us-east-1").await;
    assert_eq!(out.issues, vec![], "no call failed");
    assert!(out.incomplete.is_empty());
    let docs = support::values(out.docs);
    assert_eq!(names(&docs), {
        let mut all = vec![&*encrypted, &*plain, &*public, &*logs, &*eu];
        all.sort();
        all
    });

    // The unconfigured bucket, whole: every detail present and null, nothing uncollected.
    let doc = bucket(&docs, &plain);
    let owner = doc["Owner"].clone();
    let owner_id = owner["ID"]
        .as_str()
        .expect("the owner has an id")
        .to_owned();
    let owner_full_control = json!({
        "Grantee": {
            "DisplayName": null,
            "EmailAddress": null,
            "ID": owner_id,
            "Type": "CanonicalUser",
            "URI": null,
        },
        "Permission": "FULL_CONTROL",
    });
    let created = doc["TimeCreated"].as_str().expect("a creation time");
    assert!(
        time::OffsetDateTime::parse(created, &time::format_description::well_known::Rfc3339)
            .is_ok(),
        "TimeCreated {created} is RFC 3339"
    );
    assert_eq!(
        doc,
        &json!({
            "ResourceId": format!("arn:aws:s3:::{plain}"),
            "ResourceType": "AWS.S3.Bucket",
            "AccountId": account,
            "Region": "us-east-1",
            "Arn": format!("arn:aws:s3:::{plain}"),
            "Id": null,
            "Name": plain,
            "Tags": null,
            "TimeCreated": created,
            "EncryptionRules": null,
            "Grants": [owner_full_control],
            "Owner": owner,
            "Policy": null,
            "PublicAccessBlockConfiguration": null,
            "Versioning": null,
            "MFADelete": null,
            "LoggingPolicy": null,
            "LifecycleRules": null,
            "ObjectLockConfiguration": null,
            "CollectionErrors": null,
        })
    );

    let doc = bucket(&docs, &encrypted);
    assert_eq!(doc["Region"], "us-east-1");
    assert_eq!(
        doc["EncryptionRules"],
        json!([{
            "ApplyServerSideEncryptionByDefault": {
                "SSEAlgorithm": "aws:kms",
                "KMSMasterKeyID": key_arn,
            },
            "BucketKeyEnabled": false,
            "BlockedEncryptionTypes": null,
        }])
    );
    assert_eq!(doc["Versioning"], "Enabled");
    assert_eq!(doc["MFADelete"], Value::Null);
    assert_eq!(doc["Tags"], json!({"Team": "payments", "Env": "prod"}));
    assert_eq!(
        doc["LoggingPolicy"],
        json!({
            "TargetBucket": logs,
            "TargetGrants": [],
            "TargetPrefix": "access/",
            "TargetObjectKeyFormat": null,
        })
    );
    assert_eq!(doc["CollectionErrors"], Value::Null);

    let doc = bucket(&docs, &public);
    let grants = doc["Grants"].as_array().unwrap();
    assert!(
        grants.contains(&json!({
            "Grantee": {
                "DisplayName": null,
                "EmailAddress": null,
                "ID": null,
                "Type": "Group",
                "URI": ALL_USERS,
            },
            "Permission": "READ",
        })),
        "AllUsers may read: {grants:?}"
    );
    let policy_read: Value =
        serde_json::from_str(doc["Policy"].as_str().expect("the policy is a string")).unwrap();
    assert_eq!(policy_read, policy);
    assert_eq!(doc["PublicAccessBlockConfiguration"], Value::Null);

    let doc = bucket(&docs, &logs);
    assert_eq!(
        doc["LifecycleRules"],
        json!([{
            "Expiration": {"Date": null, "Days": 90, "ExpiredObjectDeleteMarker": null},
            "ID": "expire-logs",
            "Prefix": null,
            "Filter": {
                "Prefix": "access/",
                "Tag": null,
                "ObjectSizeGreaterThan": null,
                "ObjectSizeLessThan": null,
                "And": null,
            },
            "Status": "Enabled",
            "Transitions": [],
            "NoncurrentVersionTransitions": [],
            "NoncurrentVersionExpiration": null,
            "AbortIncompleteMultipartUpload": null,
        }])
    );

    let doc = bucket(&docs, &eu);
    assert_eq!(doc["Region"], "eu-west-1");
    assert_eq!(
        doc["PublicAccessBlockConfiguration"],
        json!({
            "BlockPublicAcls": true,
            "IgnorePublicAcls": true,
            "BlockPublicPolicy": true,
            "RestrictPublicBuckets": false,
        })
    );
    assert_eq!(doc["CollectionErrors"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excluded_buckets_and_regions_are_not_read() {
    let env = Env::new().await;
    let account_id = env.account_id();
    let s3 = env.session.s3("us-east-1");
    let [kept, scratch, eu] = ["kept", "scratch", "eu"].map(|s| format!("{s}-{account_id}"));
    create_bucket(&s3, &kept).await;
    create_bucket(&s3, &scratch).await;
    create_bucket_in(&env, "eu-west-1", &eu).await;

    let mut account = env.account.clone();
    account.excluded_resources = vec!["us-east-1=arn:aws:s3:::scratch-*".parse().unwrap()];
    account.excluded_regions = vec!["eu-west-1".into()];
    let before = env.session.api_calls();
    let out = support::collect_as(&env.session, &account, Service::S3, "us-east-1").await;
    let calls = env.session.api_calls() - before;

    assert_eq!(out.issues, vec![]);
    let docs = support::values(out.docs);
    assert_eq!(names(&docs), vec![kept.as_str()]);
    // The account's public access block, one listing, a location per bucket (exclusions depend
    // on it), and the nine detail calls for the one bucket in scope only.
    assert_eq!(calls, 1 + 1 + 3 + 9, "calls made");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_versioning_answer_is_a_collection_error() {
    // moto as installed, without the harness's fix to `GetBucketVersioning`: its answer has a
    // root element the Rust SDK refuses. A server of its own, gone when this test ends.
    let moto = support::Emulator::start(&["--stock"]);
    let Env {
        session, account, ..
    } = Env::at(moto.options()).await;
    let name = format!("versioned-{}", account.account_id);
    let s3 = session.s3("us-east-1");
    create_bucket(&s3, &name).await;
    s3.put_bucket_versioning()
        .bucket(&name)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();

    let out = support::collect_as(&session, &account, Service::S3, "us-east-1").await;

    // Both fields of the call are marked uncollected, so rules on them report an error
    // rather than a pass; the rest of the bucket is read as usual. (The SDK reports the
    // unparseable 200 answer as an unhandled service error without a code, which
    // `AwsError::from_sdk` classifies as `Other`; what matters here is that it is neither
    // "not found", which would read as "never configured", nor fatal to the scan.)
    let fields: Vec<_> = out.issues.iter().map(|i| i.field.as_deref()).collect();
    assert_eq!(fields, vec![Some("Versioning"), Some("MFADelete")]);
    for issue in &out.issues {
        assert!(
            !matches!(
                issue.kind,
                ErrorKind::NotFound | ErrorKind::Unreachable | ErrorKind::Credentials
            ),
            "{issue:?}"
        );
        assert_eq!(
            issue.resource_id.as_deref(),
            Some(&*format!("arn:aws:s3:::{name}"))
        );
    }
    let docs = support::values(out.docs);
    let doc = bucket(&docs, &name);
    assert_eq!(doc["Versioning"], Value::Null);
    assert_eq!(doc["MFADelete"], Value::Null);
    let errors = doc["CollectionErrors"]
        .as_object()
        .expect("collection errors");
    assert_eq!(
        errors.keys().collect::<Vec<_>>(),
        vec!["MFADelete", "Versioning"]
    );
    for message in errors.values() {
        let message = message.as_str().unwrap();
        assert!(message.starts_with("GetBucketVersioning: "), "{message}");
    }
    assert_eq!(doc["Region"], "us-east-1");
    assert!(doc["Grants"].is_array());
}

mod cloudtrail {
    use aws_sdk_cloudtrail::types::{EventSelector, ReadWriteType, Tag};
    use palisade::scan::Service;
    use serde_json::json;

    use crate::support::{self, Env};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_multi_region_trail_is_reported_once_in_its_home_region() {
        let env = Env::new().await;
        let account = env.account_id();
        let bucket = format!("trail-logs-{account}");
        env.session
            .s3("us-east-1")
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .unwrap();
        let trails = env.session.cloudtrail("us-east-1");
        let arn = trails
            .create_trail()
            .name("org-audit")
            .s3_bucket_name(&bucket)
            .s3_key_prefix("audit")
            .is_multi_region_trail(true)
            .include_global_service_events(true)
            .enable_log_file_validation(true)
            .tags_list(
                Tag::builder()
                    .key("Owner")
                    .value("security")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap()
            .trail_arn
            .unwrap();
        trails
            .put_event_selectors()
            .trail_name("org-audit")
            .event_selectors(
                EventSelector::builder()
                    .read_write_type(ReadWriteType::All)
                    .include_management_events(true)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        trails
            .start_logging()
            .name("org-audit")
            .send()
            .await
            .unwrap();

        let out = env.collect(Service::CloudTrail, "us-east-1").await;
        assert_eq!(out.issues, vec![]);
        let docs = support::values(out.docs);
        assert_eq!(docs.len(), 1);
        let doc = &docs[0];
        let status = &doc["Status"];
        assert_eq!(status["IsLogging"], true);
        assert_eq!(status["StopLoggingTime"], serde_json::Value::Null);
        let started = status["StartLoggingTime"].as_str().expect("a start time");
        assert!(
            time::OffsetDateTime::parse(started, &time::format_description::well_known::Rfc3339)
                .is_ok(),
            "StartLoggingTime {started} is RFC 3339"
        );
        // The whole GetTrailStatus shape, every member present.
        let mut members: Vec<&str> = status
            .as_object()
            .expect("Status is an object")
            .keys()
            .map(String::as_str)
            .collect();
        members.sort();
        assert_eq!(
            members,
            [
                "IsLogging",
                "LatestCloudWatchLogsDeliveryError",
                "LatestCloudWatchLogsDeliveryTime",
                "LatestDeliveryAttemptSucceeded",
                "LatestDeliveryAttemptTime",
                "LatestDeliveryError",
                "LatestDeliveryTime",
                "LatestDigestDeliveryError",
                "LatestDigestDeliveryTime",
                "LatestNotificationAttemptSucceeded",
                "LatestNotificationAttemptTime",
                "LatestNotificationError",
                "LatestNotificationTime",
                "StartLoggingTime",
                "StopLoggingTime",
                "TimeLoggingStarted",
                "TimeLoggingStopped",
            ]
        );
        assert_eq!(
            doc,
            &json!({
                "ResourceId": arn,
                "ResourceType": "AWS.CloudTrail",
                "AccountId": account,
                "Region": "us-east-1",
                "Arn": arn,
                "Id": null,
                "Name": "org-audit",
                "Tags": {"Owner": "security"},
                "TimeCreated": null,
                "CloudWatchLogsLogGroupArn": null,
                "CloudWatchLogsRoleArn": null,
                "EventSelectors": [{
                    "ReadWriteType": "All",
                    "IncludeManagementEvents": true,
                    "DataResources": [],
                    "ExcludeManagementEventSources": [],
                }],
                "AdvancedEventSelectors": null,
                // AWS says true once selectors are put; moto never sets it.
                "HasCustomEventSelectors": false,
                "HomeRegion": "us-east-1",
                "IncludeGlobalServiceEvents": true,
                "IsMultiRegionTrail": true,
                "IsOrganizationTrail": false,
                "KmsKeyId": null,
                "LogFileValidationEnabled": true,
                "S3BucketName": bucket,
                "S3KeyPrefix": "audit",
                "SnsTopicARN": null,
                "SnsTopicName": null,
                "Status": status.clone(),
                "CollectionErrors": null,
            })
        );

        // Advanced selectors (S3 object writes of every bucket) are collected as AWS gives them.
        trails
            .put_event_selectors()
            .trail_name("org-audit")
            .advanced_event_selectors(
                aws_sdk_cloudtrail::types::AdvancedEventSelector::builder()
                    .name("s3-writes")
                    .field_selectors(
                        aws_sdk_cloudtrail::types::AdvancedFieldSelector::builder()
                            .field("eventCategory")
                            .equals("Data")
                            .build()
                            .unwrap(),
                    )
                    .field_selectors(
                        aws_sdk_cloudtrail::types::AdvancedFieldSelector::builder()
                            .field("resources.type")
                            .equals("AWS::S3::Object")
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        let out = env.collect(Service::CloudTrail, "us-east-1").await;
        let docs = support::values(out.docs);
        let advanced = &docs[0]["AdvancedEventSelectors"];
        assert_eq!(advanced[0]["Name"], "s3-writes", "{advanced}");
        assert_eq!(
            advanced[0]["FieldSelectors"][1],
            json!({"Field": "resources.type", "Equals": ["AWS::S3::Object"],
                   "StartsWith": [], "EndsWith": [], "NotEquals": [], "NotStartsWith": [],
                   "NotEndsWith": []}),
            "{advanced}"
        );

        // Seen from another region it is a shadow trail: not reported there again.
        let out = env.collect(Service::CloudTrail, "eu-west-1").await;
        assert_eq!(out.issues, vec![]);
        assert!(
            out.docs.is_empty(),
            "the trail is reported only in its home region"
        );
    }
}

mod kms {
    use aws_sdk_kms::types::{KeySpec, KeyUsageType, Tag};
    use palisade::scan::Service;
    use serde_json::{Value, json};

    use crate::support::{self, Env};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn keys_report_rotation_policy_and_tags() {
        let env = Env::new().await;
        let kms = env.session.kms("us-east-1");
        let create = |description: &'static str| kms.create_key().description(description);
        // moto leaves KeyUsage unset unless CreateKey names it (AWS: ENCRYPT_DECRYPT).
        let rotated = create("rotated")
            .key_usage(KeyUsageType::EncryptDecrypt)
            .tags(
                Tag::builder()
                    .tag_key("Team")
                    .tag_value("payments")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        kms.enable_key_rotation()
            .key_id(rotated.key_id())
            .send()
            .await
            .unwrap();
        let fixed = create("fixed").send().await.unwrap().key_metadata.unwrap();
        let signing = create("signing")
            .key_spec(KeySpec::Rsa2048)
            .key_usage(KeyUsageType::SignVerify)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();

        let out = env.collect(Service::Kms, "us-east-1").await;
        assert_eq!(out.issues, vec![]);
        let docs = support::values(out.docs);
        assert_eq!(docs.len(), 3);
        let doc = |description: &str| -> &Value {
            docs.iter()
                .find(|d| d["Description"] == description)
                .unwrap_or_else(|| panic!("no key {description}"))
        };

        let d = doc("rotated");
        let arn = rotated.arn().unwrap();
        let created = d["TimeCreated"].as_str().expect("a creation time");
        let policy = d["Policy"].as_str().expect("the policy is a string");
        assert_eq!(
            d,
            &json!({
                "ResourceId": arn,
                "ResourceType": "AWS.KMS.Key",
                "AccountId": env.account_id(),
                "Region": "us-east-1",
                "Arn": arn,
                "Id": rotated.key_id(),
                "Name": null,
                "Tags": {"Team": "payments"},
                "TimeCreated": created,
                "CloudHsmClusterId": null,
                "CustomKeyStoreId": null,
                "DeletionDate": null,
                "Description": "rotated",
                "Enabled": true,
                "ExpirationModel": null,
                "KeyManager": "CUSTOMER",
                "KeyRotationEnabled": true,
                "KeyState": "Enabled",
                "KeyUsage": "ENCRYPT_DECRYPT",
                "Origin": "AWS_KMS",
                "Policy": policy,
                "ValidTo": null,
                "CollectionErrors": null,
            })
        );
        let policy: Value = serde_json::from_str(policy).expect("the policy is JSON");
        assert!(policy["Statement"].is_array(), "{policy}");

        let d = doc("fixed");
        assert_eq!(d["Id"], fixed.key_id());
        assert_eq!(d["KeyRotationEnabled"], false);
        assert_eq!(d["Tags"], Value::Null);
        assert!(serde_json::from_str::<Value>(d["Policy"].as_str().unwrap()).is_ok());

        // Rotation does not apply to asymmetric keys: null, and not an error.
        let d = doc("signing");
        assert_eq!(d["Id"], signing.key_id());
        assert_eq!(d["KeyUsage"], "SIGN_VERIFY");
        assert_eq!(d["KeyRotationEnabled"], Value::Null);
        assert_eq!(d["CollectionErrors"], Value::Null);
    }
}
