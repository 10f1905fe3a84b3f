//! IAM collector against the emulator: users, roles, groups, customer-managed policies, the
//! root user and the password policy, checked field by field against the resource model, and
//! a call count that stays the same whether the account has 2 users or 20.

use aws_sdk_iam::Client;
use aws_sdk_iam::types::{Group, Policy, Role, StatusType, User};
use palisade::scan::Service;
use palisade::scan::shape::ToJson;
use serde_json::{Value, json};

use crate::support::{Env, of_type, values};

const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

const ADMIN_STAR: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
const READ_APP_BUCKET: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::app-data","arn:aws:s3:::app-data/*"]}]}"#;
const READ_LOGS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"logs:Get*","Resource":"*"}]}"#;
const EC2_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// Runs the IAM collector and returns its documents.
async fn scan(env: &Env) -> Vec<Value> {
    let out = env.collect(Service::Iam, "us-east-1").await;
    assert!(
        out.incomplete.is_empty(),
        "no listing may fail: {:?}",
        out.issues
    );
    values(out.docs)
}

/// The one document of `resource_type` with `resource_id`.
fn doc<'a>(docs: &'a [Value], resource_type: &str, resource_id: &str) -> &'a Value {
    let found: Vec<_> = of_type(docs, resource_type)
        .into_iter()
        .filter(|d| d["ResourceId"] == resource_id)
        .collect();
    assert_eq!(found.len(), 1, "one {resource_type} {resource_id}");
    found[0]
}

fn ids(docs: &[Value], resource_type: &str) -> Vec<String> {
    of_type(docs, resource_type)
        .iter()
        .map(|d| d["ResourceId"].as_str().unwrap().to_owned())
        .collect()
}

/// A JSON policy document held as a string.
fn parsed(document: &Value) -> Value {
    serde_json::from_str(document.as_str().expect("a policy document string"))
        .expect("the policy document is JSON")
}

/// What [`seed`] created, as the emulator answered: ids and creation times.
struct Seeded {
    alice: User,
    bob_id: String,
    carol_id: String,
    group: Group,
    role: Role,
    mfa_serial: String,
    admin: Policy,
    app_policy_arn: String,
}

impl Seeded {
    fn admin_arn(&self) -> &str {
        self.admin.arn().unwrap()
    }
}

/// An account with something for every IAM rule to look at:
/// - alice: an active access key, an enabled virtual MFA device, member of `developers`, the
///   admin-star policy attached;
/// - bob: a console password, no access keys, no groups;
/// - carol: an inactive access key and an inline policy;
/// - group `developers` with an inline policy; role `app` trusting EC2 with `AppRead`
///   attached and `AdminStar` as its permissions boundary; a weak password policy.
async fn seed(iam: &Client) -> Seeded {
    let alice = iam
        .create_user()
        .user_name("alice")
        .tags(tag("team", "platform"))
        .send()
        .await
        .unwrap();
    let bob = iam
        .create_user()
        .user_name("bob")
        .path("/staff/")
        .send()
        .await
        .unwrap();
    let carol = iam.create_user().user_name("carol").send().await.unwrap();

    iam.create_access_key()
        .user_name("alice")
        .send()
        .await
        .unwrap();
    iam.create_login_profile()
        .user_name("bob")
        .password("Correct-Horse-9")
        .send()
        .await
        .unwrap();
    let carol_key = iam
        .create_access_key()
        .user_name("carol")
        .send()
        .await
        .unwrap();
    iam.update_access_key()
        .user_name("carol")
        .access_key_id(carol_key.access_key().unwrap().access_key_id())
        .status(StatusType::Inactive)
        .send()
        .await
        .unwrap();
    iam.put_user_policy()
        .user_name("carol")
        .policy_name("read-app-bucket")
        .policy_document(READ_APP_BUCKET)
        .send()
        .await
        .unwrap();

    let device = iam
        .create_virtual_mfa_device()
        .virtual_mfa_device_name("alice-phone")
        .send()
        .await
        .unwrap();
    let mfa_serial = device
        .virtual_mfa_device()
        .unwrap()
        .serial_number()
        .to_owned();
    iam.enable_mfa_device()
        .user_name("alice")
        .serial_number(&mfa_serial)
        .authentication_code1("123456")
        .authentication_code2("654321")
        .send()
        .await
        .unwrap();
    // Never assigned: belongs to nobody.
    iam.create_virtual_mfa_device()
        .virtual_mfa_device_name("spare")
        .send()
        .await
        .unwrap();

    let group = iam
        .create_group()
        .group_name("developers")
        .send()
        .await
        .unwrap();
    iam.put_group_policy()
        .group_name("developers")
        .policy_name("read-logs")
        .policy_document(READ_LOGS)
        .send()
        .await
        .unwrap();
    iam.add_user_to_group()
        .group_name("developers")
        .user_name("alice")
        .send()
        .await
        .unwrap();

    let admin = iam
        .create_policy()
        .policy_name("AdminStar")
        .policy_document(ADMIN_STAR)
        .description("everything, everywhere")
        .send()
        .await
        .unwrap();
    let admin = admin.policy().unwrap().clone();
    let admin_arn = admin.arn().unwrap();
    iam.attach_user_policy()
        .user_name("alice")
        .policy_arn(admin_arn)
        .send()
        .await
        .unwrap();
    let app_policy = iam
        .create_policy()
        .policy_name("AppRead")
        .path("/app/")
        .policy_document(READ_APP_BUCKET)
        .send()
        .await
        .unwrap();
    let app_policy_arn = app_policy.policy().unwrap().arn().unwrap().to_owned();

    let role = iam
        .create_role()
        .role_name("app")
        .assume_role_policy_document(EC2_TRUST)
        .description("the application's instances")
        .max_session_duration(7200)
        .permissions_boundary(admin_arn)
        .tags(tag("env", "prod"))
        .send()
        .await
        .unwrap();
    iam.attach_role_policy()
        .role_name("app")
        .policy_arn(&app_policy_arn)
        .send()
        .await
        .unwrap();

    iam.update_account_password_policy()
        .minimum_password_length(6)
        .send()
        .await
        .unwrap();

    Seeded {
        alice: alice.user().unwrap().clone(),
        bob_id: bob.user().unwrap().user_id().to_owned(),
        carol_id: carol.user().unwrap().user_id().to_owned(),
        group: group.group().unwrap().clone(),
        role: role.role().unwrap().clone(),
        mfa_serial,
        admin,
        app_policy_arn,
    }
}

fn tag(key: &str, value: &str) -> aws_sdk_iam::types::Tag {
    aws_sdk_iam::types::Tag::builder()
        .key(key)
        .value(value)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_carry_their_report_row_groups_policies_and_mfa() {
    let env = Env::new().await;
    let iam = env.session.iam();
    let seeded = seed(&iam).await;
    let docs = scan(&env).await;
    let account = env.account_id();
    let arn = |name: &str| format!("arn:aws:iam::{account}:user/{name}");

    assert_eq!(
        ids(&docs, "AWS.IAM.User"),
        [
            arn("alice"),
            arn("carol"),
            format!("arn:aws:iam::{account}:user/staff/bob")
        ]
    );

    let alice = doc(&docs, "AWS.IAM.User", &arn("alice"));
    let group = iam
        .get_group()
        .group_name("developers")
        .send()
        .await
        .unwrap();
    let group = group.group().unwrap();
    assert_eq!(alice["ResourceType"], "AWS.IAM.User");
    assert_eq!(alice["AccountId"], account);
    assert_eq!(alice["Region"], "global");
    assert_eq!(alice["Arn"], arn("alice"));
    assert_eq!(alice["Id"], seeded.alice.user_id());
    assert_eq!(alice["Name"], "alice");
    assert_eq!(alice["Path"], "/");
    assert_eq!(alice["Tags"], json!({"team": "platform"}));
    assert!(alice["TimeCreated"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        alice["Groups"],
        json!([{
            "Path": "/", "GroupName": "developers", "GroupId": seeded.group.group_id(),
            "Arn": format!("arn:aws:iam::{account}:group/developers"),
            "CreateDate": group.create_date().to_json(),
        }])
    );
    assert_eq!(alice["ManagedPolicyNames"], json!(["AdminStar"]));
    assert_eq!(alice["InlinePolicies"], json!({}));
    assert_eq!(alice["PermissionsBoundary"], Value::Null);
    assert_eq!(
        alice["VirtualMFA"]["SerialNumber"],
        seeded.mfa_serial.as_str()
    );
    assert!(alice["VirtualMFA"]["EnableDate"].is_string());
    assert_eq!(alice["CollectionErrors"], Value::Null);

    let report = &alice["CredentialReport"];
    assert_eq!(report["UserName"], "alice");
    assert_eq!(report["ARN"], arn("alice"));
    assert_eq!(report["PasswordEnabled"], false);
    assert_eq!(report["MfaActive"], true);
    assert_eq!(report["AccessKey1Active"], true);
    assert_eq!(report["AccessKey2Active"], false);
    assert_eq!(report["AccessKey2LastRotated"], ZERO_TIME);
    assert_eq!(report["AccessKey1LastUsedDate"], ZERO_TIME);
    assert!(report["AccessKey1LastUsedRegion"].is_string());
    assert_eq!(report["Cert1Active"], false);
    let rotated = report["AccessKey1LastRotated"].as_str().unwrap();
    assert!(rotated.ends_with('Z') && rotated != ZERO_TIME, "{rotated}");
    assert_eq!(report.as_object().unwrap().len(), 22);
    // No password: the report says N/A (or not_supported), which is the zero time.
    assert_eq!(alice["PasswordLastUsed"], ZERO_TIME);

    let bob = doc(
        &docs,
        "AWS.IAM.User",
        &format!("arn:aws:iam::{account}:user/staff/bob"),
    );
    assert_eq!(bob["Id"], seeded.bob_id.as_str());
    assert_eq!(bob["Path"], "/staff/");
    assert_eq!(bob["Tags"], Value::Null);
    assert_eq!(bob["Groups"], json!([]));
    assert_eq!(bob["ManagedPolicyNames"], json!([]));
    assert_eq!(bob["VirtualMFA"], Value::Null);
    assert_eq!(bob["CredentialReport"]["PasswordEnabled"], true);
    assert_eq!(bob["CredentialReport"]["AccessKey1Active"], false);
    assert_eq!(bob["CredentialReport"]["AccessKey1LastRotated"], ZERO_TIME);
    assert_eq!(bob["CredentialReport"]["MfaActive"], false);

    let carol = doc(&docs, "AWS.IAM.User", &arn("carol"));
    assert_eq!(carol["Id"], seeded.carol_id.as_str());
    // An inactive key is still a key, but not an active one.
    assert_eq!(carol["CredentialReport"]["AccessKey1Active"], false);
    assert_ne!(
        carol["CredentialReport"]["AccessKey1LastRotated"],
        ZERO_TIME
    );
    let inline = &carol["InlinePolicies"]["read-app-bucket"];
    assert_eq!(parsed(inline), parsed(&json!(READ_APP_BUCKET)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_groups_and_policies_are_complete_and_decoded() {
    let env = Env::new().await;
    let iam = env.session.iam();
    let seeded = seed(&iam).await;
    let docs = scan(&env).await;
    let account = env.account_id();

    // Role: trust policy decoded, Description and MaxSessionDuration from ListRoles.
    let role_arn = format!("arn:aws:iam::{account}:role/app");
    assert_eq!(ids(&docs, "AWS.IAM.Role"), [role_arn.as_str()]);
    let role = doc(&docs, "AWS.IAM.Role", &role_arn);
    assert_eq!(
        parsed(&role["AssumeRolePolicyDocument"]),
        parsed(&json!(EC2_TRUST))
    );
    assert_eq!(
        *role,
        json!({
            "ResourceId": role_arn, "ResourceType": "AWS.IAM.Role", "AccountId": account,
            "Region": "global", "Arn": role_arn, "Id": seeded.role.role_id(), "Name": "app",
            "Tags": {"env": "prod"}, "TimeCreated": seeded.role.create_date().to_json(),
            "AssumeRolePolicyDocument": role["AssumeRolePolicyDocument"],
            "Description": "the application's instances",
            "InlinePolicies": {},
            "ManagedPolicyNames": ["AppRead"],
            "MaxSessionDuration": 7200,
            "Path": "/",
            "PermissionsBoundary": {
                "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
                "PermissionsBoundaryArn": seeded.admin_arn(),
            },
            "CollectionErrors": null,
        })
    );

    // Group: inline policy decoded, members derived from the users' group lists.
    let group_arn = format!("arn:aws:iam::{account}:group/developers");
    assert_eq!(ids(&docs, "AWS.IAM.Group"), [group_arn.as_str()]);
    let group = doc(&docs, "AWS.IAM.Group", &group_arn);
    assert_eq!(
        parsed(&group["InlinePolicies"]["read-logs"]),
        parsed(&json!(READ_LOGS))
    );
    let alice = &seeded.alice;
    assert_eq!(
        *group,
        json!({
            "ResourceId": group_arn, "ResourceType": "AWS.IAM.Group", "AccountId": account,
            "Region": "global", "Arn": group_arn, "Id": seeded.group.group_id(),
            "Name": "developers", "Tags": null,
            "TimeCreated": seeded.group.create_date().to_json(),
            "InlinePolicies": {"read-logs": group["InlinePolicies"]["read-logs"]},
            "ManagedPolicyARNs": [],
            "Path": "/",
            "Users": [{
                "Path": "/", "UserName": "alice", "UserId": alice.user_id(), "Arn": alice.arn(),
                "CreateDate": alice.create_date().to_json(),
                // The report has no password use for alice (she has no password).
                "PasswordLastUsed": null,
                "PermissionsBoundary": null,
                "Tags": [{"Key": "team", "Value": "platform"}],
            }],
            "CollectionErrors": null,
        })
    );

    // Policies: customer-managed only, entities by inversion, default version decoded.
    assert_eq!(
        ids(&docs, "AWS.IAM.Policy"),
        [seeded.admin_arn(), seeded.app_policy_arn.as_str()]
    );
    let admin = doc(&docs, "AWS.IAM.Policy", seeded.admin_arn());
    let document = parsed(&admin["PolicyDocument"]);
    assert_eq!(document, parsed(&json!(ADMIN_STAR)));
    assert_eq!(document["Statement"][0]["Action"], "*");
    assert_eq!(
        *admin,
        json!({
            "ResourceId": seeded.admin_arn(), "ResourceType": "AWS.IAM.Policy",
            "AccountId": account, "Region": "global", "Arn": seeded.admin_arn(),
            // moto's GetAccountAuthorizationDetails leaves out PolicyId (AWS sends it).
            "Id": null,
            "Name": "AdminStar", "Tags": null,
            "TimeCreated": seeded.admin.create_date().to_json(),
            // Attached to alice; being the role's permissions boundary is not an attachment.
            "AttachmentCount": 1,
            "DefaultVersionId": "v1",
            "Description": "everything, everywhere",
            "Entities": {
                "PolicyGroups": [],
                "PolicyRoles": [],
                "PolicyUsers": [{"UserName": "alice", "UserId": alice.user_id()}],
            },
            "IsAttachable": true,
            "Path": "/",
            // moto leaves it out too.
            "PermissionsBoundaryUsageCount": null,
            "PolicyDocument": admin["PolicyDocument"],
            "UpdateDate": seeded.admin.update_date().to_json(),
            "CollectionErrors": null,
        })
    );

    let app = doc(&docs, "AWS.IAM.Policy", &seeded.app_policy_arn);
    assert_eq!(app["Name"], "AppRead");
    assert_eq!(app["Path"], "/app/");
    assert_eq!(
        app["Entities"],
        json!({
            "PolicyGroups": [],
            "PolicyRoles": [{"RoleName": "app", "RoleId": seeded.role.role_id()}],
            "PolicyUsers": [],
        })
    );
    assert_eq!(
        parsed(&app["PolicyDocument"]),
        parsed(&json!(READ_APP_BUCKET))
    );

    // Password policy: the members inlined at top level.
    let policy_id = format!("{account}::AWS.PasswordPolicy");
    let password = doc(&docs, "AWS.PasswordPolicy", &policy_id);
    assert_eq!(
        *password,
        json!({
            "ResourceId": policy_id, "ResourceType": "AWS.PasswordPolicy", "AccountId": account,
            "Region": "global", "Arn": null, "Id": null, "Name": null, "Tags": null,
            "TimeCreated": null,
            "AnyExist": true,
            "MinimumPasswordLength": 6,
            "RequireSymbols": false,
            "RequireNumbers": false,
            "RequireUppercaseCharacters": false,
            "RequireLowercaseCharacters": false,
            "AllowUsersToChangePassword": false,
            "ExpirePasswords": false,
            // moto answers 0 and false where AWS leaves these out.
            "MaxPasswordAge": 0,
            "PasswordReusePrevention": null,
            "HardExpiry": false,
            "CollectionErrors": null,
        })
    );

    // Every IAM document is global.
    assert!(docs.iter().all(|d| d["Region"] == "global"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_account_has_a_root_user_and_no_password_policy() {
    let env = Env::new().await;
    let out = env.collect(Service::Iam, "us-east-1").await;
    let docs = values(out.docs);
    let account = env.account_id();

    for resource_type in [
        "AWS.IAM.User",
        "AWS.IAM.Role",
        "AWS.IAM.Group",
        "AWS.IAM.Policy",
    ] {
        assert!(ids(&docs, resource_type).is_empty(), "{resource_type}");
    }
    assert!(out.incomplete.is_empty());

    let password = doc(
        &docs,
        "AWS.PasswordPolicy",
        &format!("{account}::AWS.PasswordPolicy"),
    );
    assert_eq!(password["AnyExist"], false);
    for member in [
        "MinimumPasswordLength",
        "RequireSymbols",
        "RequireNumbers",
        "RequireUppercaseCharacters",
        "RequireLowercaseCharacters",
        "AllowUsersToChangePassword",
        "ExpirePasswords",
        "MaxPasswordAge",
        "PasswordReusePrevention",
        "HardExpiry",
    ] {
        assert_eq!(password[member], Value::Null, "{member}");
    }
    assert_eq!(password["CollectionErrors"], Value::Null);

    let root_arn = format!("arn:aws:iam::{account}:root");
    let root = doc(&docs, "AWS.IAM.RootUser", &root_arn);
    assert_eq!(root["Arn"], root_arn.as_str());
    assert_eq!(root["Id"], account);
    assert_eq!(root["VirtualMFA"], Value::Null);
    // moto's report has no <root_account> row: not collected, never silently compliant.
    assert_eq!(root["CredentialReport"], Value::Null);
    let error = root["CollectionErrors"]["CredentialReport"]
        .as_str()
        .unwrap();
    assert!(error.contains("<root_account>"), "{error}");
    assert!(out.issues.iter().any(|i| {
        i.resource_id.as_deref() == Some(root_arn.as_str())
            && i.field.as_deref() == Some("CredentialReport")
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_access_key_shows_its_rotation_date() {
    let env = Env::new().await;
    let iam = env.session.iam();
    iam.create_user().user_name("dave").send().await.unwrap();
    let key = iam
        .create_access_key()
        .user_name("dave")
        .send()
        .await
        .unwrap();
    let key_id = key.access_key().unwrap().access_key_id();
    env.emulator()
        .backdate_access_key(env.account_id(), "dave", key_id, 200);

    let docs = scan(&env).await;
    let dave = doc(
        &docs,
        "AWS.IAM.User",
        &format!("arn:aws:iam::{}:user/dave", env.account_id()),
    );
    let rotated = dave["CredentialReport"]["AccessKey1LastRotated"]
        .as_str()
        .unwrap();
    let rotated =
        time::OffsetDateTime::parse(rotated, &time::format_description::well_known::Rfc3339)
            .unwrap();
    let age = time::OffsetDateTime::now_utc() - rotated;
    assert!(
        (199..=201).contains(&age.whole_days()),
        "rotated {rotated}, {} days ago",
        age.whole_days()
    );
    assert_eq!(dave["CredentialReport"]["AccessKey1Active"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excluded_entities_are_left_out() {
    let env = Env::new().await;
    let iam = env.session.iam();
    for name in ["keep", "skip-me"] {
        iam.create_user().user_name(name).send().await.unwrap();
    }
    let mut account = env.account.clone();
    account.excluded_resources = vec!["global=*:user/skip-*".parse().unwrap()];
    account.excluded_resource_types = vec!["AWS.PasswordPolicy".into()];
    let out = crate::support::collect_as(&env.session, &account, Service::Iam, "us-east-1").await;
    let docs = values(out.docs);
    assert_eq!(
        ids(&docs, "AWS.IAM.User"),
        [format!("arn:aws:iam::{}:user/keep", env.account_id())]
    );
    assert!(ids(&docs, "AWS.PasswordPolicy").is_empty());
    assert_eq!(ids(&docs, "AWS.IAM.RootUser").len(), 1);
}

/// Calls one IAM scan makes in an account with `users` users, each with an access key, a group
/// membership and an attached policy.
async fn calls_with_users(users: usize) -> (u64, usize) {
    let env = Env::new().await;
    let iam = env.session.iam();
    iam.create_group()
        .group_name("everyone")
        .send()
        .await
        .unwrap();
    let policy = iam
        .create_policy()
        .policy_name("ReadLogs")
        .policy_document(READ_LOGS)
        .send()
        .await
        .unwrap();
    let policy_arn = policy.policy().unwrap().arn().unwrap().to_owned();
    for i in 0..users {
        let name = format!("user-{i:02}");
        iam.create_user().user_name(&name).send().await.unwrap();
        iam.create_access_key()
            .user_name(&name)
            .send()
            .await
            .unwrap();
        iam.add_user_to_group()
            .group_name("everyone")
            .user_name(&name)
            .send()
            .await
            .unwrap();
        iam.attach_user_policy()
            .user_name(&name)
            .policy_arn(&policy_arn)
            .send()
            .await
            .unwrap();
    }
    let before = env.session.api_calls();
    let docs = scan(&env).await;
    let calls = env.session.api_calls() - before;
    (calls, of_type(&docs, "AWS.IAM.User").len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_do_not_grow_with_users() {
    let (few, few_users) = calls_with_users(2).await;
    let (many, many_users) = calls_with_users(20).await;
    assert_eq!((few_users, many_users), (2, 20));
    assert_eq!(few, many, "calls with 2 users vs 20 users");
    // GetAccountAuthorizationDetails, ListRoles, GenerateCredentialReport (until complete:
    // twice on the emulator), GetCredentialReport, ListVirtualMFADevices,
    // GetAccountPasswordPolicy.
    assert!(many <= 8, "{many} calls");
    eprintln!("IAM scan: {many} calls with {many_users} users");
}

/// `env`'s account reached through a proxy that denies `denied`.
async fn session_denying(env: &Env, denied: &'static [&'static str]) -> palisade::aws::Session {
    let options = crate::support::proxy::options(move |action| {
        denied
            .contains(&action)
            .then_some(crate::support::proxy::Fault::Deny)
    });
    palisade::aws::Session::host(options)
        .await
        .assume(
            &env.account.role_arn,
            env.account.external_id.as_deref(),
            "palisade-test",
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_parts_become_collection_errors_not_compliance() {
    let env = Env::new().await;
    let iam = env.session.iam();
    let seeded = seed(&iam).await;
    let session = session_denying(
        &env,
        &[
            "GenerateCredentialReport",
            "ListRoles",
            "ListVirtualMFADevices",
            "GetAccountPasswordPolicy",
        ],
    )
    .await;
    let out = crate::support::collect_as(&session, &env.account, Service::Iam, "us-east-1").await;
    // The entities themselves were listed.
    assert!(out.incomplete.is_empty());
    let docs = values(out.docs);
    let account = env.account_id();
    let denied = |d: &Value, field: &str| {
        assert_eq!(d[field], Value::Null, "{field}");
        let error = d["CollectionErrors"][field].as_str().unwrap_or_default();
        assert!(error.contains("AccessDenied"), "{field}: {error:?}");
    };

    let alice = doc(
        &docs,
        "AWS.IAM.User",
        &format!("arn:aws:iam::{account}:user/alice"),
    );
    denied(alice, "CredentialReport");
    denied(alice, "PasswordLastUsed");
    denied(alice, "VirtualMFA");
    assert_eq!(alice["Id"], seeded.alice.user_id());
    assert_eq!(alice["ManagedPolicyNames"], json!(["AdminStar"]));

    let role = doc(
        &docs,
        "AWS.IAM.Role",
        &format!("arn:aws:iam::{account}:role/app"),
    );
    denied(role, "Description");
    denied(role, "MaxSessionDuration");
    assert_eq!(role["ManagedPolicyNames"], json!(["AppRead"]));

    let root = doc(
        &docs,
        "AWS.IAM.RootUser",
        &format!("arn:aws:iam::{account}:root"),
    );
    denied(root, "CredentialReport");
    denied(root, "VirtualMFA");

    let password = doc(
        &docs,
        "AWS.PasswordPolicy",
        &format!("{account}::AWS.PasswordPolicy"),
    );
    denied(password, "AnyExist");
    denied(password, "MinimumPasswordLength");

    // Each error is also an issue of the scan, naming the resource and the field.
    assert!(out.issues.iter().any(|i| {
        i.resource_id.as_deref() == Some(&*format!("arn:aws:iam::{account}:user/alice"))
            && i.field.as_deref() == Some("CredentialReport")
            && i.kind == palisade::aws::ErrorKind::AccessDenied
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_authorization_listing_marks_the_entity_types_incomplete() {
    let env = Env::new().await;
    env.session
        .iam()
        .create_user()
        .user_name("alice")
        .send()
        .await
        .unwrap();
    let session = session_denying(&env, &["GetAccountAuthorizationDetails"]).await;
    let out = crate::support::collect_as(&session, &env.account, Service::Iam, "us-east-1").await;
    let mut incomplete = out.incomplete.clone();
    incomplete.sort_unstable();
    assert_eq!(
        incomplete,
        [
            "AWS.IAM.Group",
            "AWS.IAM.Meta",
            "AWS.IAM.Policy",
            "AWS.IAM.Role",
            "AWS.IAM.User"
        ]
    );
    let listing_issues: Vec<_> = out
        .issues
        .iter()
        .filter(|i| i.resource_id.is_none())
        .collect();
    // The four entity types, and the summary built from the same listing.
    assert_eq!(listing_issues.len(), 5, "{listing_issues:?}");
    assert!(
        listing_issues
            .iter()
            .all(|i| i.kind == palisade::aws::ErrorKind::AccessDenied)
    );
    let docs = values(out.docs);
    // Account-level documents do not depend on that listing.
    let mut types: Vec<_> = docs
        .iter()
        .map(|d| d["ResourceType"].as_str().unwrap())
        .collect();
    types.sort_unstable();
    assert_eq!(types, ["AWS.IAM.RootUser", "AWS.PasswordPolicy"]);
}
