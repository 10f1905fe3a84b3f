//! Targeted refreshes against the emulator: after a full scan, a change made with the SDK is
//! picked up by refreshing only the resource an event would name, in a handful of calls; what
//! is gone is marked deleted with its findings closed; findings follow the new documents; and
//! exclusions and other accounts' targets are left alone.

use aws_sdk_ec2::types::InstanceType;
use aws_sdk_kms::types::KeyUsageType;
use palisade::events::{Action, Key, Target};
use palisade::scan::{Quiet, Refresh, ScanError};
use palisade::store::{FindingState, FindingStatus, ResourceRecord, Store};
use serde_json::Value;

use crate::ec2::register_image;
use crate::scan::{Rig, bucket, bucket_arn, iam_arn, sg_arn, ssh_permission};
use crate::support::{Env, encrypt};

const REGION: &str = "us-east-1";
const BUCKET: &str = "AWS.S3.Bucket";
const GROUP: &str = "AWS.EC2.SecurityGroup";
const VPC: &str = "AWS.EC2.VPC";
const INSTANCE: &str = "AWS.EC2.Instance";
const VOLUME: &str = "AWS.EC2.Volume";
const AMI: &str = "AWS.EC2.AMI";
const NETWORK_ACL: &str = "AWS.EC2.NetworkACL";
const USER: &str = "AWS.IAM.User";
const PASSWORD_POLICY: &str = "AWS.PasswordPolicy";
const KEY: &str = "AWS.KMS.Key";
const TRAIL: &str = "AWS.CloudTrail";
const ENCRYPTION_RULE: &str = "AWS.S3.Bucket.Encryption";
const INGRESS_RULE: &str = "AWS.SecurityGroup.AdministrativeIngress";

/// A target in `env`'s account, as the event path would make it.
fn target(env: &Env, region: &str, resource_type: &str, key: Key, action: Action) -> Target {
    Target {
        account_id: env.account_id().to_owned(),
        region: region.to_owned(),
        resource_type: resource_type.to_owned(),
        key,
        action,
    }
}

/// "Collect this one again", by whichever identifier.
fn named(env: &Env, region: &str, resource_type: &str, name: &str) -> Target {
    let key = Key::Named(name.to_owned());
    target(env, region, resource_type, key, Action::Refresh)
}

/// "This one was deleted".
fn deleted(env: &Env, region: &str, resource_type: &str, name: &str) -> Target {
    let key = Key::Named(name.to_owned());
    target(env, region, resource_type, key, Action::Delete)
}

impl Rig {
    fn stored(&self, env: &Env, resource_type: &str, id: &str) -> ResourceRecord {
        self.store
            .get_resource(env.account_id(), resource_type, id)
            .unwrap()
            .unwrap_or_else(|| panic!("{id} is not stored"))
    }

    async fn refresh(&self, env: &Env, targets: &[Target]) -> Refresh {
        self.scanner.refresh(&env.account, targets).await.unwrap()
    }

    /// The states a finding went through.
    fn history(&self, rule: &str, resource: &str) -> Vec<FindingState> {
        self.store
            .finding_history(rule, resource)
            .unwrap()
            .into_iter()
            .map(|c| c.to)
            .collect()
    }
}

/// The ARN of an EC2 resource of `kind` (`vpc`, `instance`, ...) in `REGION`.
fn ec2_arn(env: &Env, kind: &str, id: &str) -> String {
    format!("arn:aws:ec2:{REGION}:{}:{kind}/{id}", env.account_id())
}

/// Whether a security group document allows `port` from 0.0.0.0/0.
fn opens(doc: &Value, port: i64) -> bool {
    doc["IpPermissions"].as_array().is_some_and(|rules| {
        rules.iter().any(|r| {
            r["FromPort"] == port
                && r["IpRanges"]
                    .as_array()
                    .is_some_and(|ranges| ranges.iter().any(|x| x["CidrIp"] == "0.0.0.0/0"))
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_bucket_is_refreshed_alone_and_its_finding_follows() {
    let env = Env::new().await;
    let s3 = env.session.s3(REGION);
    let (data, logs) = (bucket(&env, "data"), bucket(&env, "logs"));
    for name in [&data, &logs] {
        s3.create_bucket().bucket(name).send().await.unwrap();
    }
    encrypt(&env, &data).await;
    let rig = Rig::new(&env.host);
    let scan = rig.scanner.scan(&env.account, &Quiet).await.unwrap();
    let data_arn = bucket_arn(&data);
    assert_eq!(
        rig.finding(ENCRYPTION_RULE, &data_arn).status,
        FindingStatus::Pass
    );
    let logs_before = rig.stored(&env, BUCKET, &bucket_arn(&logs));

    // Encryption off, a public read policy on.
    s3.delete_bucket_encryption()
        .bucket(&data)
        .send()
        .await
        .unwrap();
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{data}/*"}}]}}"#
    );
    s3.put_bucket_policy()
        .bucket(&data)
        .policy(&policy)
        .send()
        .await
        .unwrap();

    let started = std::time::Instant::now();
    let refresh = rig
        .refresh(&env, &[named(&env, REGION, BUCKET, &data)])
        .await;
    eprintln!(
        "one-bucket refresh: {} calls in {:?}; full scan: {} calls",
        refresh.api_calls,
        started.elapsed(),
        scan.api_calls
    );
    assert_eq!(
        (refresh.collected, refresh.changed, refresh.deleted),
        (1, 1, 0)
    );
    assert_eq!(refresh.resources, std::slice::from_ref(&data_arn));
    assert!(
        refresh.api_calls * 2 < scan.api_calls,
        "{} calls to refresh one bucket, {} for the whole scan",
        refresh.api_calls,
        scan.api_calls
    );
    let doc = rig.stored(&env, BUCKET, &data_arn).document;
    assert!(
        doc["Policy"]
            .as_str()
            .is_some_and(|p| p.contains("s3:GetObject")),
        "{doc}"
    );
    assert_eq!(doc["EncryptionRules"], Value::Null);
    // The other bucket was not even read.
    assert_eq!(
        rig.stored(&env, BUCKET, &bucket_arn(&logs)).updated_at,
        logs_before.updated_at
    );

    // The refreshed bucket was evaluated: its finding flipped.
    assert!(refresh.outcome.changed >= 1, "{:?}", refresh.outcome);
    assert_eq!(
        rig.finding(ENCRYPTION_RULE, &data_arn).status,
        FindingStatus::Fail
    );
    assert_eq!(
        rig.history(ENCRYPTION_RULE, &data_arn),
        [FindingState::Pass, FindingState::Fail]
    );

    // Again, unchanged: nothing written, still evaluated, and the kept session saves the
    // identity check.
    let again = rig
        .refresh(&env, &[named(&env, REGION, BUCKET, &data)])
        .await;
    assert_eq!((again.collected, again.changed), (1, 0));
    assert!(again.outcome.verdicts > 0);
    assert_eq!(again.api_calls + 1, refresh.api_calls);
    // What the refresh stored is what a full scan stores.
    let rescan = rig.scanner.scan(&env.account, &Quiet).await.unwrap();
    assert_eq!(rescan.changed, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_bucket_is_marked_deleted_and_its_findings_closed() {
    let env = Env::new().await;
    let s3 = env.session.s3(REGION);
    let (gone, kept) = (bucket(&env, "gone"), bucket(&env, "kept"));
    for name in [&gone, &kept] {
        s3.create_bucket().bucket(name).send().await.unwrap();
    }
    let rig = Rig::new(&env.host);
    rig.scanner.scan(&env.account, &Quiet).await.unwrap();
    // The emulator's new buckets are unencrypted: both fail.
    let (gone_arn, kept_arn) = (bucket_arn(&gone), bucket_arn(&kept));
    assert_eq!(
        rig.finding(ENCRYPTION_RULE, &gone_arn).status,
        FindingStatus::Fail
    );

    s3.delete_bucket().bucket(&gone).send().await.unwrap();
    // One named by ARN, one by name; the second still exists (a late or wrong event).
    let targets = [
        deleted(&env, REGION, BUCKET, &gone_arn),
        deleted(&env, REGION, BUCKET, &kept),
    ];
    let refresh = rig.refresh(&env, &targets).await;
    assert_eq!((refresh.collected, refresh.deleted), (1, 1));
    assert_eq!(refresh.resources, [kept_arn.clone(), gone_arn.clone()]);

    assert!(rig.stored(&env, BUCKET, &gone_arn).deleted_at.is_some());
    let closed = rig.finding(ENCRYPTION_RULE, &gone_arn);
    assert!(closed.closed_at.is_some(), "{closed:?}");
    assert_eq!(
        rig.history(ENCRYPTION_RULE, &gone_arn),
        [FindingState::Fail, FindingState::Closed]
    );
    assert!(rig.stored(&env, BUCKET, &kept_arn).deleted_at.is_none());
    assert!(rig.finding(ENCRYPTION_RULE, &kept_arn).closed_at.is_none());

    // A refresh of a bucket that is already gone deletes nothing more.
    let again = rig.refresh(&env, &targets[..1]).await;
    assert_eq!((again.collected, again.deleted), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_groups_and_vpcs_are_refreshed_by_their_own_listings() {
    let env = Env::new().await;
    let ec2 = env.session.ec2(REGION);
    let create = |name: &'static str| {
        ec2.create_security_group()
            .group_name(name)
            .description(name)
            .send()
    };
    let web = create("web").await.unwrap().group_id.unwrap();
    let described = ec2.describe_security_groups().group_ids(&web).send().await;
    let vpc = described.unwrap().security_groups()[0]
        .vpc_id()
        .unwrap()
        .to_owned();
    let rig = Rig::new(&env.host);
    let scan = rig.scanner.scan(&env.account, &Quiet).await.unwrap();
    let (web_arn, vpc_arn) = (sg_arn(&env, REGION, &web), ec2_arn(&env, "vpc", &vpc));
    assert_eq!(
        rig.finding(INGRESS_RULE, &web_arn).status,
        FindingStatus::Pass
    );
    let vpc_before = rig.stored(&env, VPC, &vpc_arn);

    // SSH opened: the group alone is collected (filtered by its id), not its VPC.
    ec2.authorize_security_group_ingress()
        .group_id(&web)
        .ip_permissions(ssh_permission())
        .send()
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let refresh = rig.refresh(&env, &[named(&env, REGION, GROUP, &web)]).await;
    eprintln!(
        "one-group refresh: {} calls in {:?}; full scan: {} calls",
        refresh.api_calls,
        started.elapsed(),
        scan.api_calls
    );
    assert_eq!((refresh.collected, refresh.changed), (1, 1));
    assert!(refresh.api_calls * 2 < scan.api_calls);
    assert!(opens(&rig.stored(&env, GROUP, &web_arn).document, 22));
    assert_eq!(
        rig.stored(&env, VPC, &vpc_arn).updated_at,
        vpc_before.updated_at
    );
    assert_eq!(
        rig.finding(INGRESS_RULE, &web_arn).status,
        FindingStatus::Fail
    );
    assert_eq!(
        rig.history(INGRESS_RULE, &web_arn),
        [FindingState::Pass, FindingState::Fail]
    );

    // A new group, refreshed through its VPC only (the listings filtered by VPC id): the VPC
    // document lists it, the group itself is not collected.
    let api = create("api").await.unwrap().group_id.unwrap();
    let api_arn = sg_arn(&env, REGION, &api);
    let refresh = rig.refresh(&env, &[named(&env, REGION, VPC, &vpc)]).await;
    assert_eq!((refresh.collected, refresh.changed), (1, 1));
    let groups = &rig.stored(&env, VPC, &vpc_arn).document["SecurityGroups"];
    assert!(
        groups.as_array().unwrap().iter().any(|g| g == &api),
        "{groups}"
    );
    assert!(!rig.ids(&env.account, GROUP).contains(&api_arn));

    // The group and its VPC in one refresh (whole listings): both collected, the group by ARN.
    let targets = [
        named(&env, REGION, GROUP, &api_arn),
        named(&env, REGION, VPC, &vpc_arn),
    ];
    let refresh = rig.refresh(&env, &targets).await;
    assert_eq!((refresh.collected, refresh.changed), (2, 1));
    assert!(rig.ids(&env.account, GROUP).contains(&api_arn));

    // The VPC's network ACL, by its id.
    let vpc_doc = rig.stored(&env, VPC, &vpc_arn).document;
    let acl = vpc_doc["DefaultNetworkAclId"].as_str().unwrap();
    let refresh = rig
        .refresh(&env, &[named(&env, REGION, NETWORK_ACL, acl)])
        .await;
    assert_eq!((refresh.collected, refresh.changed), (1, 0));
    assert_eq!(refresh.resources, [ec2_arn(&env, "network-acl", acl)]);

    // A deleted group goes, with its finding.
    ec2.delete_security_group()
        .group_id(&web)
        .send()
        .await
        .unwrap();
    let refresh = rig
        .refresh(&env, &[deleted(&env, REGION, GROUP, &web)])
        .await;
    assert_eq!((refresh.collected, refresh.deleted), (0, 1));
    assert!(rig.finding(INGRESS_RULE, &web_arn).closed_at.is_some());

    // What the refreshes stored is what a full scan stores (the VPC still lists the deleted
    // group until it is refreshed itself, as the event path does).
    let rescan = rig.scanner.scan(&env.account, &Quiet).await.unwrap();
    assert_eq!((rescan.changed, rescan.deleted), (1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_images_and_volumes_are_refreshed_by_id() {
    let env = Env::new().await;
    let ec2 = env.session.ec2(REGION);
    let rig = Rig::new(&env.host);
    rig.scanner.scan(&env.account, &Quiet).await.unwrap();

    // Launched from an image of our own, in a default subnet.
    let image = register_image(&ec2).await;
    let subnets = ec2.describe_subnets().send().await.unwrap();
    let subnet = subnets.subnets()[0].subnet_id().unwrap().to_owned();
    let instance = ec2
        .run_instances()
        .image_id(&image)
        .min_count(1)
        .max_count(1)
        .instance_type(InstanceType::T3Micro)
        .subnet_id(&subnet)
        .send()
        .await
        .unwrap()
        .instances()[0]
        .instance_id()
        .unwrap()
        .to_owned();
    let arn = ec2_arn(&env, "instance", &instance);

    let refresh = rig
        .refresh(&env, &[named(&env, REGION, INSTANCE, &instance)])
        .await;
    assert_eq!((refresh.collected, refresh.changed), (1, 1));
    assert_eq!(refresh.resources, std::slice::from_ref(&arn));
    let doc = rig.stored(&env, INSTANCE, &arn).document;
    assert_eq!(doc["Id"], instance.as_str());

    // A terminated instance stays listed for a while, terminated: so it is stored.
    ec2.terminate_instances()
        .instance_ids(&instance)
        .send()
        .await
        .unwrap();
    let refresh = rig
        .refresh(&env, &[deleted(&env, REGION, INSTANCE, &instance)])
        .await;
    assert_eq!(
        (refresh.collected, refresh.changed, refresh.deleted),
        (1, 1, 0)
    );
    let stored = rig.stored(&env, INSTANCE, &arn);
    assert_eq!(stored.document["State"]["Name"], "terminated");
    assert!(stored.deleted_at.is_none());

    // The image, and a volume with its snapshot (listed by the volume's id).
    let refresh = rig.refresh(&env, &[named(&env, REGION, AMI, &image)]).await;
    assert_eq!(refresh.resources, [ec2_arn(&env, "image", &image)]);
    let zone = subnets.subnets()[0].availability_zone().unwrap();
    let volume = ec2
        .create_volume()
        .availability_zone(zone)
        .size(8)
        .send()
        .await
        .unwrap()
        .volume_id
        .unwrap();
    let snapshot = ec2
        .create_snapshot()
        .volume_id(&volume)
        .send()
        .await
        .unwrap()
        .snapshot_id
        .unwrap();
    let refresh = rig
        .refresh(&env, &[named(&env, REGION, VOLUME, &volume)])
        .await;
    assert_eq!((refresh.collected, refresh.changed), (1, 1));
    let doc = rig
        .stored(&env, VOLUME, &ec2_arn(&env, "volume", &volume))
        .document;
    assert_eq!(
        doc["Snapshots"][0]["SnapshotId"],
        snapshot.as_str(),
        "{doc}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_users_and_the_password_policy_are_refreshed() {
    let env = Env::new().await;
    let iam = env.session.iam();
    for user in ["carol", "dave"] {
        iam.create_user().user_name(user).send().await.unwrap();
    }
    iam.update_account_password_policy()
        .minimum_password_length(8)
        .send()
        .await
        .unwrap();
    let rig = Rig::new(&env.host);
    rig.scanner.scan(&env.account, &Quiet).await.unwrap();
    let (carol, dave) = (iam_arn(&env, "user/carol"), iam_arn(&env, "user/dave"));
    let report = |rig: &Rig| rig.stored(&env, USER, &carol).document["CredentialReport"].clone();
    assert_eq!(report(&rig)["AccessKey1Active"], false);

    iam.create_access_key()
        .user_name("carol")
        .send()
        .await
        .unwrap();
    iam.delete_user().user_name("dave").send().await.unwrap();
    let targets = [
        named(&env, "global", USER, "carol"),
        deleted(&env, "global", USER, &dave),
    ];
    let refresh = rig.refresh(&env, &targets).await;
    assert_eq!(
        (refresh.collected, refresh.changed, refresh.deleted),
        (1, 1, 1)
    );
    assert_eq!(report(&rig)["AccessKey1Active"], true);
    assert!(rig.stored(&env, USER, &dave).deleted_at.is_some());
    assert!(rig.stored(&env, USER, &carol).deleted_at.is_none());

    // The password policy is one per account: an event names no resource, only the type.
    iam.update_account_password_policy()
        .minimum_password_length(14)
        .send()
        .await
        .unwrap();
    let all = target(&env, "global", PASSWORD_POLICY, Key::All, Action::Refresh);
    let refresh = rig.refresh(&env, &[all]).await;
    assert_eq!((refresh.collected, refresh.changed), (1, 1));
    let id = format!("{}::{PASSWORD_POLICY}", env.account_id());
    assert_eq!(
        rig.stored(&env, PASSWORD_POLICY, &id).document["MinimumPasswordLength"],
        14
    );
    // The users were not collected for it.
    assert_eq!(refresh.resources, [id]);

    let rescan = rig.scanner.scan(&env.account, &Quiet).await.unwrap();
    assert_eq!((rescan.changed, rescan.deleted), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_keys_and_trails_are_refreshed_by_id_arn_or_name() {
    let env = Env::new().await;
    let kms = env.session.kms(REGION);
    let key = kms
        .create_key()
        .key_usage(KeyUsageType::EncryptDecrypt)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    let (key_id, key_arn) = (key.key_id().to_owned(), key.arn().unwrap().to_owned());
    let logs = bucket(&env, "trail-logs");
    env.session
        .s3(REGION)
        .create_bucket()
        .bucket(&logs)
        .send()
        .await
        .unwrap();
    let trails = env.session.cloudtrail(REGION);
    let trail_arn = trails
        .create_trail()
        .name("audit")
        .s3_bucket_name(&logs)
        .send()
        .await
        .unwrap()
        .trail_arn
        .unwrap();
    trails.start_logging().name("audit").send().await.unwrap();
    let rig = Rig::new(&env.host);
    rig.scanner.scan(&env.account, &Quiet).await.unwrap();
    let rotation =
        |rig: &Rig| rig.stored(&env, KEY, &key_arn).document["KeyRotationEnabled"].clone();
    assert_eq!(rotation(&rig), false);

    // Rotation on, refreshed by key id; off again, by ARN.
    for (rotate, name) in [(true, &key_id), (false, &key_arn)] {
        if rotate {
            kms.enable_key_rotation()
                .key_id(&key_id)
                .send()
                .await
                .unwrap();
        } else {
            kms.disable_key_rotation()
                .key_id(&key_id)
                .send()
                .await
                .unwrap();
        }
        let refresh = rig.refresh(&env, &[named(&env, REGION, KEY, name)]).await;
        assert_eq!((refresh.collected, refresh.changed), (1, 1), "{name}");
        assert_eq!(rotation(&rig), rotate);
    }

    trails.stop_logging().name("audit").send().await.unwrap();
    let refresh = rig
        .refresh(&env, &[named(&env, REGION, TRAIL, "audit")])
        .await;
    // The trail, and the account's trail summary rebuilt (unchanged: the same trails).
    assert_eq!((refresh.collected, refresh.changed), (2, 1));
    let status = &rig.stored(&env, TRAIL, &trail_arn).document["Status"];
    assert_eq!(status["IsLogging"], false, "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excluded_and_foreign_targets_do_nothing() {
    let mut env = Env::new().await;
    let skipped = bucket(&env, "scratch");
    let s3 = env.session.s3(REGION);
    s3.create_bucket().bucket(&skipped).send().await.unwrap();
    let rig = Rig::new(&env.host);
    rig.scanner.scan(&env.account, &Quiet).await.unwrap();
    let skipped_arn = bucket_arn(&skipped);
    let before = rig.stored(&env, BUCKET, &skipped_arn);

    env.account.excluded_regions = vec!["eu-west-1".into()];
    env.account.excluded_resource_types = vec![KEY.into()];
    let mut foreign = named(&env, REGION, GROUP, "sg-0123456789abcdef0");
    foreign.account_id = "999999999999".into();
    let targets = [
        named(&env, "eu-west-1", GROUP, "sg-0123456789abcdef0"),
        target(&env, REGION, KEY, Key::All, Action::Refresh),
        foreign,
        named(&env, REGION, "AWS.Unknown.Thing", "x"),
    ];
    let refresh = rig.refresh(&env, &targets).await;
    assert_eq!((refresh.collected, refresh.deleted), (0, 0));
    assert_eq!(
        refresh.api_calls, 0,
        "nothing to collect, not even a session"
    );

    // An excluded bucket, even deleted, is left to the next scan.
    env.account.excluded_resources = vec![format!("*={skipped_arn}").parse().unwrap()];
    s3.delete_bucket().bucket(&skipped).send().await.unwrap();
    let refresh = rig
        .refresh(&env, &[deleted(&env, REGION, BUCKET, &skipped)])
        .await;
    assert_eq!((refresh.collected, refresh.deleted), (0, 0));
    let after = rig.stored(&env, BUCKET, &skipped_arn);
    assert_eq!(
        (after.updated_at, after.deleted_at),
        (before.updated_at, None)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_answering_for_another_account_is_refused() {
    let env = Env::new().await;
    let rig = Rig::new(&env.host);
    let mut account = env.account.clone();
    // The role lives in (and so answers as) another account than the one configured.
    account.account_id = "111111111111".into();
    let mut bucket_target = named(&env, REGION, BUCKET, "any");
    bucket_target.account_id = account.account_id.clone();
    let err = rig
        .scanner
        .refresh(&account, &[bucket_target])
        .await
        .unwrap_err();
    assert!(matches!(err, ScanError::WrongAccount { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scans_after_the_baseline_and_refreshes_raise_one_alert_per_transition() {
    use palisade::alerts::{AlertKind, AlertOptions, Alerter};
    use palisade::store::FindingState;
    use std::sync::Arc;

    let env = Env::new().await;
    let Rig { store, scanner } = Rig::new(&env.host);
    let alerter = Arc::new(Alerter::new(store.clone(), AlertOptions::default()).unwrap());
    let scanner = scanner.with_alerts(alerter.clone());
    let s3 = env.session.s3(REGION);
    let plain = bucket(&env, "alerts-plain");
    s3.create_bucket().bucket(&plain).send().await.unwrap();

    // The baseline finds the bucket failing: that is the starting state, not an alert.
    scanner.scan(&env.account, &Quiet).await.unwrap();
    assert_eq!(
        store
            .get_finding(ENCRYPTION_RULE, &bucket_arn(&plain))
            .unwrap()
            .unwrap()
            .status,
        FindingStatus::Fail
    );
    assert!(alerter.list(10).unwrap().is_empty());

    // Fixed, and seen by the next scheduled scan: resolved.
    encrypt(&env, &plain).await;
    scanner.scan(&env.account, &Quiet).await.unwrap();
    // A new unencrypted bucket, seen by a refresh: failing, with no earlier state.
    let fresh = bucket(&env, "alerts-fresh");
    s3.create_bucket().bucket(&fresh).send().await.unwrap();
    let named = |name: &str| {
        target(
            &env,
            REGION,
            BUCKET,
            Key::Named(name.into()),
            Action::Refresh,
        )
    };
    scanner
        .refresh(&env.account, &[named(&fresh)])
        .await
        .unwrap();
    // The same refresh again changes nothing and alerts nothing.
    scanner
        .refresh(&env.account, &[named(&fresh)])
        .await
        .unwrap();

    let alerts = alerter.list(100).unwrap();
    let (encryption, others): (Vec<_>, Vec<_>) = alerts
        .iter()
        .partition(|r| r.alert.rule_id == ENCRYPTION_RULE);
    let summary: Vec<(AlertKind, &str, Option<FindingState>)> = encryption
        .iter()
        .map(|r| (r.alert.kind, r.alert.resource_id.as_str(), r.alert.previous))
        .collect();
    assert_eq!(encryption.len(), 2, "{summary:?}");
    assert!(summary.contains(&(
        AlertKind::Resolved,
        bucket_arn(&plain).as_str(),
        Some(FindingState::Fail)
    )));
    assert!(summary.contains(&(AlertKind::Failing, bucket_arn(&fresh).as_str(), None)));
    // The fresh bucket fails other S3 rules too (it has no versioning, for one): one failing
    // alert per rule, from the first refresh; the plain bucket's other findings did not move.
    let mut rules: Vec<&str> = others
        .iter()
        .map(|r| {
            let what = (r.alert.kind, r.alert.resource_id.as_str(), r.alert.previous);
            assert_eq!(
                what,
                (AlertKind::Failing, bucket_arn(&fresh).as_str(), None)
            );
            r.alert.rule_id.as_str()
        })
        .collect();
    assert!(rules.contains(&"AWS.S3.Bucket.Versioning"), "{rules:?}");
    let alerted = rules.len();
    rules.sort_unstable();
    rules.dedup();
    assert_eq!(rules.len(), alerted, "one alert per transition: {rules:?}");
}
