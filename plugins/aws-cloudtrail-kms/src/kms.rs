//! KMS key rules: customer managed symmetric encryption keys rotate their key material, and no
//! key policy lets everyone use the key.
//!
//! The collector reads `KeyRotationEnabled` only for keys that can rotate automatically
//! (customer managed, `AWS_KMS` origin, `SYMMETRIC_DEFAULT`) and leaves it `null` for the
//! others; it does not record `KeySpec`, which this pack reads when a document has it.

use std::borrow::Cow;

use palisade_sdk::iam::{Principal, Statement, parse_policy};
use palisade_sdk::{Ctx, Error, LogLevel, Resource, Result, Rule, Severity, Value, Verdict};

use crate::display_name;

/// The resource type every key rule applies to.
const KEY: &[&str] = &["AWS.KMS.Key"];

pub const KEY_ROTATION: Rule = Rule::new(
    "AWS.CMK.KeyRotation",
    "KMS customer managed keys rotate their key material",
    Severity::Low,
    KEY,
    key_rotation,
)
.description(
    "Automatic rotation gives a customer managed symmetric encryption key new key material every \
     year (or the period set), keeping the old material to decrypt what it encrypted, so less \
     data depends on any one piece of key material. AWS managed keys rotate on their own; \
     asymmetric, HMAC, imported-material and custom key store keys cannot rotate automatically, \
     and disabled keys or keys pending deletion are not in use: those pass.",
)
.remediation(
    "`aws kms enable-key-rotation --key-id KEY_ID` (optionally `--rotation-period-in-days`).",
)
.references(&["https://docs.aws.amazon.com/kms/latest/developerguide/rotate-keys.html"])
.compliance(&["CIS-AWS-7.0:4.6"]);

pub const RESTRICTS_USAGE: Rule = Rule::new(
    "AWS.KMS.RestrictsUsage",
    "KMS key policy does not allow everyone",
    Severity::High,
    KEY,
    restricts_usage,
)
.description(
    "An Allow statement of the key policy to principal `*` (or `{\"AWS\": \"*\"}`, or everyone \
     but a NotPrincipal) lets any AWS account use or manage the key unless a condition narrows \
     the caller: an equality or match on kms:CallerAccount, aws:PrincipalAccount, \
     aws:PrincipalArn, aws:PrincipalOrgID, aws:PrincipalOrgPaths, aws:SourceAccount, \
     aws:SourceArn, aws:SourceVpc, aws:SourceVpce or aws:SourceIp, without IfExists and without \
     a bare wildcard or 0.0.0.0/0. kms:ViaService alone does not count: every account can call \
     through the same service.",
)
.remediation(
    "Name the principals (account root, role or user ARNs) instead of `*`, or add a condition \
     such as `{\"StringEquals\":{\"kms:CallerAccount\":\"123456789012\"}}` or \
     `{\"StringEquals\":{\"aws:PrincipalOrgID\":\"o-...\"}}`: `aws kms put-key-policy --key-id \
     KEY_ID --policy-name default --policy file://policy.json`.",
)
.references(&[
    "https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html",
    "https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-caller-account",
])
.compliance(&["CIS-AWS-7.0:2.21"]);

/// Condition keys that confine a public principal to known callers or networks.
const CALLER_KEYS: &[&str] = &[
    "kms:CallerAccount",
    "aws:PrincipalAccount",
    "aws:PrincipalArn",
    "aws:PrincipalOrgID",
    "aws:PrincipalOrgPaths",
    "aws:SourceAccount",
    "aws:SourceArn",
    "aws:SourceVpc",
    "aws:SourceVpce",
    "aws:SourceIp",
];

/// Key states in which the key is not used, so its rotation does not matter.
const IDLE_STATES: &[&str] = &["Disabled", "PendingDeletion", "PendingReplicaDeletion"];

fn key_rotation(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Verdict> {
    res.require_collected(&["KeyManager", "KeyState", "KeyUsage", "Enabled", "Origin"])?;
    let id = key_id(res)?;
    let manager: Option<Cow<'_, str>> = res.field("KeyManager")?;
    let Some(manager) = manager else {
        return Err(Error::new(format!(
            "key {id}: the document has no KeyManager, so the rule cannot tell who manages it"
        )));
    };
    let spec: Option<Cow<'_, str>> = res.field("KeySpec")?;
    let spec_label = spec.as_deref().unwrap_or("not recorded");
    let not_applicable = |why: String| {
        ctx.log(
            LogLevel::Debug,
            &format!("key {id} (KeyManager {manager}, KeySpec {spec_label}): {why}"),
        );
        Ok(Verdict::Pass)
    };
    if manager != "CUSTOMER" {
        return not_applicable(format!("{manager} managed keys rotate on their own"));
    }
    let state: Option<Cow<'_, str>> = res.field("KeyState")?;
    let enabled: Option<bool> = res.field("Enabled")?;
    if let Some(state) = state.as_deref().filter(|s| IDLE_STATES.contains(s)) {
        return not_applicable(format!("the key is {state}"));
    }
    if enabled == Some(false) {
        return not_applicable("the key is disabled".to_owned());
    }
    let usage: Option<Cow<'_, str>> = res.field("KeyUsage")?;
    if let Some(usage) = usage.as_deref().filter(|u| *u != "ENCRYPT_DECRYPT") {
        return not_applicable(format!("a {usage} key cannot rotate automatically"));
    }
    if let Some(spec) = spec.as_deref().filter(|s| *s != "SYMMETRIC_DEFAULT") {
        return not_applicable(format!("a {spec} key cannot rotate automatically"));
    }
    let origin: Option<Cow<'_, str>> = res.field("Origin")?;
    if let Some(origin) = origin.as_deref().filter(|o| *o != "AWS_KMS") {
        return not_applicable(format!(
            "a key of origin {origin} cannot rotate automatically"
        ));
    }
    let rotating: Option<bool> = res.collected_present("KeyRotationEnabled")?;
    match rotating {
        Some(true) => Ok(Verdict::Pass),
        Some(false) => Ok(Verdict::fail(format!(
            "key {id} (KeyManager CUSTOMER, KeySpec {}, KeyUsage ENCRYPT_DECRYPT) does not \
             rotate its key material automatically",
            spec.as_deref().unwrap_or("SYMMETRIC_DEFAULT")
        ))),
        // The collector asks for the rotation status of symmetric keys only: without a KeySpec
        // in the document, `null` means the key is asymmetric (an RSA encryption key).
        None if spec.is_none() => {
            not_applicable("the collector found it cannot rotate (not symmetric)".to_owned())
        }
        None => Err(Error::new(format!(
            "key {id}: KeyRotationEnabled is null for a SYMMETRIC_DEFAULT customer managed key"
        ))),
    }
}

fn restricts_usage(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let id = key_id(res)?;
    let policy: Option<Value> = res.collected_present("Policy")?;
    let Some(policy) = policy else {
        // A key without a key policy (none returned) grants nobody anything through it.
        return Ok(Verdict::Pass);
    };
    let policy = parse_policy(&policy)
        .map_err(|e| Error::new(format!("key {id}: the key policy cannot be read: {e}")))?;
    let failures: Vec<String> = policy
        .statements
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_allow() && s.has_public_principal())
        .filter(|(_, s)| !s.narrowed_by(CALLER_KEYS))
        .map(|(index, s)| {
            let unless = if s.has_condition() {
                "with no condition that narrows the caller"
            } else {
                "without a condition"
            };
            format!(
                "statement {} allows {} to {} {unless}",
                s.display_sid(index),
                actions(s),
                everyone(s)
            )
        })
        .collect();
    Ok(if failures.is_empty() {
        Verdict::Pass
    } else {
        Verdict::fail(format!("key {id}: {}", failures.join("; ")))
    })
}

/// The key's id for messages: `Id`, else the resource id (its ARN).
fn key_id<'a>(res: &Resource<'a>) -> Result<Cow<'a, str>> {
    display_name(res, "Id")
}

/// The statement's action element for messages.
fn actions(statement: &Statement) -> String {
    match (&statement.action, &statement.not_action) {
        (Some(actions), _) if !actions.is_empty() => actions.join(", "),
        (None, Some(excluded)) => format!("every action except {}", excluded.join(", ")),
        _ => "no action".to_owned(),
    }
}

/// How a public statement names everyone, for messages.
fn everyone(statement: &Statement) -> String {
    match (&statement.principal, &statement.not_principal) {
        (Some(Principal::Any), _) => "everyone (Principal \"*\")".to_owned(),
        (Some(principal @ Principal::Map(map)), _) if principal.is_public() => {
            let kinds: Vec<&str> = map
                .iter()
                .filter(|(_, ids)| ids.iter().any(|i| i == "*"))
                .map(|(kind, _)| kind.as_str())
                .collect();
            format!(
                "everyone (Principal {{\"{}\": \"*\"}})",
                kinds.join("\"/\"")
            )
        }
        (_, Some(excluded)) => format!("every principal except NotPrincipal {}", excluded),
        _ => "everyone".to_owned(),
    }
}
