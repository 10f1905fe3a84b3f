//! Whole scans against the emulator: a seeded account scanned into a real store and evaluated
//! by the built-in packs; re-scans after changes; deletions; exclusions; identity failures.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_ec2::types::{IpPermission, IpRange, Ipv6Range};
use palisade::account::Account;
use palisade::aws::{AwsOptions, ErrorKind, Session};
use palisade::engine::{Engine, Limits, RuleSettings, builtin_packs};
use palisade::findings::Evaluator;
use palisade::scan::{Quiet, ScanError, ScanOptions, Scanner};
use palisade::store::{
    FindingFilter, FindingRecord, FindingState, FindingStatus, ResourceFilter, SledStore, Store,
};

use crate::support::proxy::{self, Fault};
use crate::support::{Env, emulator, encrypt};

const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

/// The S3 rules a bucket fails as `CreateBucket` leaves it (the emulator sets no public access
/// block, unlike AWS since 2023).
const BARE_BUCKET_FAILS: [&str; 6] = [
    "AWS.S3.Bucket.PublicAccessBlock",
    "AWS.S3.Bucket.Versioning",
    "AWS.S3.Bucket.MFADelete",
    "AWS.S3.Bucket.Logging",
    "AWS.S3.Bucket.LifecycleConfiguration",
    "AWS.S3.Bucket.SecureAccess",
];

const ADMIN_POLICY: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

/// A store, the built-in rules and a scanner limited to `REGIONS`.
pub(crate) struct Rig {
    pub store: Arc<SledStore>,
    pub scanner: Scanner,
}

impl Rig {
    pub fn new(host: &Session) -> Rig {
        let store = Arc::new(SledStore::temporary().expect("store"));
        let engine = Engine::new(Limits::default()).expect("engine");
        let packs = Arc::new(builtin_packs(&engine).expect("built-in packs"));
        let evaluator = Evaluator::new(packs, &RuleSettings::new(), store.clone()).expect("rules");
        let options = ScanOptions {
            regions: REGIONS.map(str::to_owned).to_vec(),
            ..ScanOptions::default()
        };
        let rules = Arc::new(Arc::new(evaluator));
        let scanner = Scanner::new(host.clone(), store.clone(), rules, options);
        Rig { store, scanner }
    }

    fn findings(&self, account: &Account) -> Vec<FindingRecord> {
        self.store
            .list_findings(&FindingFilter {
                account_id: Some(account.account_id.clone()),
                ..FindingFilter::default()
            })
            .unwrap()
    }

    pub fn finding(&self, rule: &str, resource: &str) -> FindingRecord {
        self.store
            .get_finding(rule, resource)
            .unwrap()
            .unwrap_or_else(|| panic!("no finding of {rule} on {resource}"))
    }

    /// Live resource ids of `resource_type`.
    pub fn ids(&self, account: &Account, resource_type: &str) -> BTreeSet<String> {
        self.store
            .list_resources(&ResourceFilter {
                account_id: Some(account.account_id.clone()),
                resource_type: Some(resource_type.to_owned()),
            })
            .unwrap()
            .into_iter()
            .filter(|r| r.deleted_at.is_none())
            .map(|r| r.resource_id)
            .collect()
    }
}

/// What `seed` created.
struct Seeded {
    ssh_group: String,
    ssh_group_eu: String,
    alice_key: String,
}

pub(crate) fn bucket_arn(name: &str) -> String {
    format!("arn:aws:s3:::{name}")
}

pub(crate) fn sg_arn(env: &Env, region: &str, id: &str) -> String {
    format!(
        "arn:aws:ec2:{region}:{}:security-group/{id}",
        env.account_id()
    )
}

pub(crate) fn iam_arn(env: &Env, what: &str) -> String {
    format!("arn:aws:iam::{}:{what}", env.account_id())
}

/// Buckets named after the account, so accounts of parallel tests never share a bucket name.
pub(crate) fn bucket(env: &Env, name: &str) -> String {
    format!("{name}-{}", env.account_id())
}

async fn seed(env: &Env) -> Seeded {
    let s3 = env.session.s3("us-east-1");
    for name in ["encrypted", "plain"] {
        s3.create_bucket()
            .bucket(bucket(env, name))
            .send()
            .await
            .unwrap();
    }
    encrypt(env, &bucket(env, "encrypted")).await;

    let ssh_group = open_ssh_group(env, "us-east-1").await;
    let ssh_group_eu = open_ssh_group(env, "eu-west-1").await;

    let iam = env.session.iam();
    let policy = iam
        .create_policy()
        .policy_name("everything")
        .policy_document(ADMIN_POLICY)
        .send()
        .await
        .unwrap();
    for user in ["alice", "bob"] {
        iam.create_user().user_name(user).send().await.unwrap();
    }
    iam.attach_user_policy()
        .user_name("alice")
        .policy_arn(policy.policy().unwrap().arn().unwrap())
        .send()
        .await
        .unwrap();
    let key = iam
        .create_access_key()
        .user_name("alice")
        .send()
        .await
        .unwrap();
    let alice_key = key.access_key().unwrap().access_key_id().to_owned();
    env.emulator()
        .backdate_access_key(env.account_id(), "alice", &alice_key, 200);
    iam.update_account_password_policy()
        .minimum_password_length(6)
        .send()
        .await
        .unwrap();
    Seeded {
        ssh_group,
        ssh_group_eu,
        alice_key,
    }
}

/// A security group in `region`'s default VPC with SSH open to the world over IPv4 and IPv6.
async fn open_ssh_group(env: &Env, region: &str) -> String {
    let ec2 = env.session.ec2(region);
    let group = ec2
        .create_security_group()
        .group_name("bastion")
        .description("ssh from anywhere")
        .send()
        .await
        .unwrap();
    let id = group.group_id().unwrap().to_owned();
    ec2.authorize_security_group_ingress()
        .group_id(&id)
        .ip_permissions(ssh_permission())
        .send()
        .await
        .unwrap();
    id
}

pub(crate) fn ssh_permission() -> IpPermission {
    IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(22)
        .to_port(22)
        .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
        .ipv6_ranges(Ipv6Range::builder().cidr_ipv6("::/0").build())
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_assumed_identity_is_in_the_account() {
    let env = Env::new().await;
    assert_eq!(
        env.session.caller_account().await.unwrap(),
        env.account_id()
    );
    assert_eq!(env.host.caller_account().await.unwrap(), "123456789012");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baseline_scan_stores_every_resource_and_evaluates_findings() {
    let env = Env::new().await;
    let seeded = seed(&env).await;
    let rig = Rig::new(&env.host);
    let scan = rig.scanner.scan(&env.account, &Quiet).await.unwrap();

    assert_eq!(scan.regions, ["eu-west-1", "us-east-1"]);
    assert!(scan.evaluated_all, "a first scan evaluates everything");
    assert!(scan.api_calls > 0);

    let account = &env.account;
    assert_eq!(
        rig.ids(account, "AWS.S3.Bucket"),
        BTreeSet::from([
            bucket_arn(&bucket(&env, "encrypted")),
            bucket_arn(&bucket(&env, "plain"))
        ])
    );
    let groups = rig.ids(account, "AWS.EC2.SecurityGroup");
    assert!(
        groups.contains(&sg_arn(&env, "us-east-1", &seeded.ssh_group)),
        "{groups:?}"
    );
    assert!(
        groups.contains(&sg_arn(&env, "eu-west-1", &seeded.ssh_group_eu)),
        "{groups:?}"
    );
    // Each region's default VPC has its default group too.
    assert_eq!(groups.len(), 4, "{groups:?}");
    assert_eq!(
        rig.ids(account, "AWS.IAM.User"),
        BTreeSet::from([iam_arn(&env, "user/alice"), iam_arn(&env, "user/bob")])
    );
    assert_eq!(
        rig.ids(account, "AWS.IAM.Policy"),
        BTreeSet::from([iam_arn(&env, "policy/everything")])
    );
    assert_eq!(
        rig.ids(account, "AWS.PasswordPolicy"),
        BTreeSet::from([format!("{}::AWS.PasswordPolicy", env.account_id())])
    );
    // Nothing outside the scanned regions was touched.
    let stored = rig
        .store
        .list_resources(&ResourceFilter::default())
        .unwrap();
    assert!(
        stored
            .iter()
            .all(|r| ["us-east-1", "eu-west-1", "global"].contains(&r.region.as_str()))
    );

    // Findings, exactly.
    let failing: BTreeSet<(String, String)> = rig
        .findings(account)
        .into_iter()
        .filter(|f| f.status == FindingStatus::Fail)
        .map(|f| (f.rule_id, f.resource_id))
        .collect();
    let mut expected = BTreeSet::from([
        (
            "AWS.S3.Bucket.Encryption".to_owned(),
            bucket_arn(&bucket(&env, "plain")),
        ),
        (
            "AWS.SecurityGroup.AdministrativeIngress".to_owned(),
            sg_arn(&env, "us-east-1", &seeded.ssh_group),
        ),
        (
            "AWS.SecurityGroup.AdministrativeIngress".to_owned(),
            sg_arn(&env, "eu-west-1", &seeded.ssh_group_eu),
        ),
        (
            "AWS.IAM.Policy.DoesNotGrantAdminAccess".to_owned(),
            iam_arn(&env, "policy/everything"),
        ),
        (
            "AWS.AccessKey.Rotation".to_owned(),
            iam_arn(&env, "user/alice"),
        ),
    ]);
    // A freshly created bucket has none of the S3 pack's hardening: both fail those rules.
    for name in ["encrypted", "plain"] {
        for rule in BARE_BUCKET_FAILS {
            expected.insert((rule.to_owned(), bucket_arn(&bucket(&env, name))));
        }
    }
    // Alice's old key was never used, and her admin policy is attached to her directly, which
    // also makes it an attached admin (and network admin) policy.
    for (rule, resource) in [
        ("AWS.AccessKey.Unused", "user/alice"),
        ("AWS.IAM.Policy.AssignedToUser", "user/alice"),
        (
            "AWS.IAM.Policy.AdministrativePrivileges",
            "policy/everything",
        ),
        (
            "AWS.IAM.Policy.DoesNotGrantNetworkAdminAccess",
            "policy/everything",
        ),
    ] {
        expected.insert((rule.to_owned(), iam_arn(&env, resource)));
    }
    // The account settings nobody configured in the emulator fail the CIS checks.
    let id = env.account_id();
    for (rule, resource) in [
        (
            "AWS.CloudTrail.Enabled",
            format!("{id}::AWS.CloudTrail.Meta"),
        ),
        ("AWS.IAM.SupportRole", format!("{id}::AWS.IAM.Meta")),
        (
            "AWS.S3.AccountPublicAccessBlock",
            format!("{id}::AWS.S3.Meta"),
        ),
        (
            "AWS.EC2.EBSDefaultEncryption",
            format!("{id}:us-east-1:AWS.EC2.Meta"),
        ),
        (
            "AWS.EC2.EBSDefaultEncryption",
            format!("{id}:eu-west-1:AWS.EC2.Meta"),
        ),
        (
            "AWS.PasswordPolicy.ComplexityGuidelines",
            format!("{id}::AWS.PasswordPolicy"),
        ),
        (
            "AWS.PasswordPolicy.MinimumLength",
            format!("{id}::AWS.PasswordPolicy"),
        ),
        (
            "AWS.PasswordPolicy.PasswordAgeLimit",
            format!("{id}::AWS.PasswordPolicy"),
        ),
        (
            "AWS.PasswordPolicy.PasswordReuse",
            format!("{id}::AWS.PasswordPolicy"),
        ),
    ] {
        expected.insert((rule.to_owned(), resource));
    }
    // Each region's default VPC keeps no flow logs and a default group with rules, and its
    // default network ACL lets everything in.
    let defaults = |resource_type: &str| -> Vec<String> {
        stored
            .iter()
            .filter(|r| r.account_id == id && r.resource_type == resource_type)
            .filter(|r| r.document["IsDefault"] == true)
            .map(|r| r.resource_id.clone())
            .collect()
    };
    assert_eq!(defaults("AWS.EC2.VPC").len(), 2);
    for vpc in defaults("AWS.EC2.VPC") {
        expected.insert(("AWS.VPC.FlowLogs".to_owned(), vpc.clone()));
        expected.insert(("AWS.VPC.DefaultSecurityGroup.Restrictions".to_owned(), vpc));
    }
    for acl in defaults("AWS.EC2.NetworkACL") {
        expected.insert(("AWS.EC2.NACL.AdminPorts".to_owned(), acl.clone()));
        expected.insert(("AWS.NetworkACL.RestrictedSSH".to_owned(), acl));
    }
    assert_eq!(failing, expected);

    let ssh = rig.finding(
        "AWS.SecurityGroup.AdministrativeIngress",
        &sg_arn(&env, "us-east-1", &seeded.ssh_group),
    );
    let message = ssh.message.as_deref().unwrap_or_default();
    assert!(message.contains("22"), "{message}");
    assert_eq!(ssh.severity, "high");
    assert_eq!(ssh.region, "us-east-1");
    assert_eq!(ssh.first_seen, ssh.last_seen);
    let key = rig.finding("AWS.AccessKey.Rotation", &iam_arn(&env, "user/alice"));
    assert!(
        key.message.as_deref().unwrap_or_default().contains("days"),
        "{key:?} {}",
        seeded.alice_key
    );
    assert_eq!(
        rig.finding("AWS.AccessKey.Rotation", &iam_arn(&env, "user/bob"))
            .status,
        FindingStatus::Pass
    );
    assert_eq!(
        rig.finding(
            "AWS.S3.Bucket.Encryption",
            &bucket_arn(&bucket(&env, "encrypted"))
        )
        .status,
        FindingStatus::Pass
    );
    // The emulator's credential report has no root row: the root user's key rule cannot
    // be decided, and says so rather than passing.
    let root = rig.finding("AWS.AccessKey.Rotation", &iam_arn(&env, "root"));
    assert_eq!(root.status, FindingStatus::Error, "{root:?}");
    assert!(
        scan.issues
            .iter()
            .any(|i| i.field.as_deref() == Some("CredentialReport"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rescan_follows_fixes_and_deletions_with_history() {
    let env = Env::new().await;
    let seeded = seed(&env).await;
    let rig = Rig::new(&env.host);
    rig.scanner.scan(&env.account, &Quiet).await.unwrap();
    let group = sg_arn(&env, "us-east-1", &seeded.ssh_group);
    let plain = bucket_arn(&bucket(&env, "plain"));
    let first = rig.finding("AWS.SecurityGroup.AdministrativeIngress", &group);

    // Close SSH, delete the unencrypted bucket.
    env.session
        .ec2("us-east-1")
        .revoke_security_group_ingress()
        .group_id(&seeded.ssh_group)
        .ip_permissions(ssh_permission())
        .send()
        .await
        .unwrap();
    env.session
        .s3("us-east-1")
        .delete_bucket()
        .bucket(bucket(&env, "plain"))
        .send()
        .await
        .unwrap();

    let scan = rig.scanner.scan(&env.account, &Quiet).await.unwrap();
    assert!(
        !scan.evaluated_all,
        "rules unchanged: only changed resources are evaluated"
    );
    assert_eq!(scan.deleted, 1);
    assert!(scan.changed >= 1);

    let fixed = rig.finding("AWS.SecurityGroup.AdministrativeIngress", &group);
    assert_eq!(fixed.status, FindingStatus::Pass);
    assert_eq!(fixed.first_seen, first.first_seen);
    assert!(fixed.status_changed_at > first.status_changed_at);
    let history: Vec<FindingState> = rig
        .store
        .finding_history("AWS.SecurityGroup.AdministrativeIngress", &group)
        .unwrap()
        .into_iter()
        .map(|c| c.to)
        .collect();
    assert_eq!(history, [FindingState::Fail, FindingState::Pass]);

    // The deleted bucket is marked deleted and its finding closed, with the closing in history.
    let gone = rig
        .store
        .get_resource(env.account_id(), "AWS.S3.Bucket", &plain)
        .unwrap()
        .unwrap();
    assert!(gone.deleted_at.is_some());
    let closed = rig.finding("AWS.S3.Bucket.Encryption", &plain);
    assert!(closed.closed_at.is_some());
    let last = rig
        .store
        .finding_history("AWS.S3.Bucket.Encryption", &plain)
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(
        (last.from, last.to),
        (Some(FindingState::Fail), FindingState::Closed)
    );
    // Unchanged resources keep their verdicts.
    assert_eq!(
        rig.finding(
            "AWS.IAM.Policy.DoesNotGrantAdminAccess",
            &iam_arn(&env, "policy/everything")
        )
        .status,
        FindingStatus::Fail
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excluded_regions_types_and_resources_are_not_scanned() {
    let mut env = Env::new().await;
    let seeded = seed(&env).await;
    env.account.excluded_regions = vec!["eu-west-1".into()];
    env.account.excluded_resource_types = vec!["AWS.IAM.Policy".into()];
    env.account.excluded_resources = vec![
        "*=arn:aws:s3:::plain-*".parse().unwrap(),
        format!("us-east-1=*:security-group/{}", seeded.ssh_group)
            .parse()
            .unwrap(),
    ];
    let rig = Rig::new(&env.host);
    let scan = rig.scanner.scan(&env.account, &Quiet).await.unwrap();
    assert_eq!(scan.regions, ["us-east-1"]);
    let stored = rig
        .store
        .list_resources(&ResourceFilter::default())
        .unwrap();
    assert!(stored.iter().all(|r| r.region != "eu-west-1"));
    assert!(stored.iter().all(|r| r.resource_type != "AWS.IAM.Policy"));
    let ids: BTreeSet<&str> = stored.iter().map(|r| r.resource_id.as_str()).collect();
    assert!(!ids.contains(bucket_arn(&bucket(&env, "plain")).as_str()));
    assert!(ids.contains(bucket_arn(&bucket(&env, "encrypted")).as_str()));
    assert!(!ids.contains(sg_arn(&env, "us-east-1", &seeded.ssh_group).as_str()));
    assert!(
        rig.findings(&env.account)
            .iter()
            .all(|f| ids.contains(f.resource_id.as_str()))
    );

    // Excluding a resource after it was scanned takes it (and its findings) out.
    env.account.excluded_resources.clear();
    rig.scanner.scan(&env.account, &Quiet).await.unwrap();
    let group = sg_arn(&env, "us-east-1", &seeded.ssh_group);
    assert!(
        rig.ids(&env.account, "AWS.EC2.SecurityGroup")
            .contains(&group)
    );
    env.account.excluded_resources = vec![format!("*={group}").parse().unwrap()];
    rig.scanner.scan(&env.account, &Quiet).await.unwrap();
    assert!(
        !rig.ids(&env.account, "AWS.EC2.SecurityGroup")
            .contains(&group)
    );
    assert!(
        rig.finding("AWS.SecurityGroup.AdministrativeIngress", &group)
            .closed_at
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_in_another_account_is_refused() {
    let env = Env::new().await;
    let mut account = env.account.clone();
    // The role lives in (and so answers as) a different account than the one configured.
    account.account_id = "111111111111".into();
    let rig = Rig::new(&env.host);
    let err = rig.scanner.scan(&account, &Quiet).await.unwrap_err();
    assert!(matches!(err, ScanError::WrongAccount { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(env.account_id()) && text.contains("111111111111"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_endpoint_fails_the_scan_with_a_clear_error() {
    let host = Session::host(AwsOptions {
        endpoint_url: Some(crate::support::DEAD_ENDPOINT.to_owned()),
        max_attempts: 2,
        ..emulator().options()
    })
    .await;
    let account = crate::support::account("123456789012");
    let rig = Rig::new(&host);
    let err = rig.scanner.scan(&account, &Quiet).await.unwrap_err();
    match &err {
        ScanError::Identity { source, .. } => assert_eq!(source.kind, ErrorKind::Unreachable),
        other => panic!("expected an identity error, got {other}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("refused") || text.contains("connect"),
        "{text}"
    );
    assert!(
        rig.store
            .list_resources(&ResourceFilter::default())
            .unwrap()
            .is_empty()
    );
}

/// `env`'s host identity, reaching the emulator through a fault-injecting proxy.
async fn host_through(fault: impl Fn(&str) -> Option<Fault> + Send + Sync + 'static) -> Session {
    Session::host(proxy::options(fault)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_retried_and_the_scan_completes() {
    let env = Env::new().await;
    seed(&env).await;
    let throttled = Arc::new(AtomicUsize::new(0));
    let counter = throttled.clone();
    let host = host_through(move |action| {
        // The first two answers to the IAM listing are "slow down".
        (action == "GetAccountAuthorizationDetails" && counter.fetch_add(1, Ordering::SeqCst) < 2)
            .then_some(Fault::Throttle)
    })
    .await;
    let rig = Rig::new(&host);
    let scan = rig.scanner.scan(&env.account, &Quiet).await.unwrap();
    assert!(
        throttled.load(Ordering::SeqCst) >= 3,
        "the listing was retried"
    );
    assert!(
        scan.issues.iter().all(|i| i.kind != ErrorKind::Throttled),
        "{:?}",
        scan.issues
    );
    assert_eq!(
        rig.ids(&env.account, "AWS.IAM.User"),
        BTreeSet::from([iam_arn(&env, "user/alice"), iam_arn(&env, "user/bob")])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_throttled_out_is_an_error_never_a_pass() {
    let env = Env::new().await;
    seed(&env).await;
    let host =
        host_through(|action| (action == "GetCredentialReport").then_some(Fault::Throttle)).await;
    let rig = Rig::new(&host);
    let scan = rig.scanner.scan(&env.account, &Quiet).await.unwrap();
    assert!(
        scan.issues
            .iter()
            .any(|i| i.kind == ErrorKind::Throttled
                && i.field.as_deref() == Some("CredentialReport")),
        "{:?}",
        scan.issues
    );
    // Without the report neither key can be judged: both users are `error`, not `pass`.
    for user in ["alice", "bob"] {
        let f = rig.finding(
            "AWS.AccessKey.Rotation",
            &iam_arn(&env, &format!("user/{user}")),
        );
        assert_eq!(f.status, FindingStatus::Error, "{f:?}");
    }
    // What could be read was: the admin policy still fails.
    assert_eq!(
        rig.finding(
            "AWS.IAM.Policy.DoesNotGrantAdminAccess",
            &iam_arn(&env, "policy/everything")
        )
        .status,
        FindingStatus::Fail
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_credentials_fail_the_scan_clearly() {
    // An emulator of this test's own that checks keys: the fixed test keys are unknown to it.
    let moto = crate::support::Emulator::start(&[]);
    moto.require_auth();
    let host = Session::host(moto.options()).await;
    let account = crate::support::account("123456789012");
    let rig = Rig::new(&host);
    let err = rig.scanner.scan(&account, &Quiet).await.unwrap_err();
    match &err {
        ScanError::Identity { source, .. } => {
            assert_eq!(source.kind, ErrorKind::Credentials, "{err}");
        }
        other => panic!("expected an identity error, got {other}"),
    }
    let text = err.to_string();
    assert!(text.contains("PalisadeAudit"), "names the role: {text}");
    assert!(
        !text.contains("testing"),
        "no secret in the message: {text}"
    );
    assert!(
        rig.store
            .list_resources(&ResourceFilter::default())
            .unwrap()
            .is_empty()
    );
}
