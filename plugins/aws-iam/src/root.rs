//! Root user rules: no access keys, MFA on (and on a hardware device), and no everyday use.
//! All read the root user's credential report row; the hardware check also reads `VirtualMFA`,
//! the root user's virtual MFA device when it has one.

use palisade_sdk::time::parse_timestamp_value;
use palisade_sdk::{
    Ctx, Error, Resource, Result, Rule, Setting, SettingKind, Severity, Value, Verdict,
};

use crate::credential_report::{Row, date};

const ROOT: &[&str] = &["AWS.IAM.RootUser"];

pub const ACCESS_KEYS: Rule = Rule::new(
    "AWS.RootAccount.AccessKeys",
    "The root user has no active access keys",
    Severity::Critical,
    ROOT,
    access_keys,
)
.description(
    "Root access keys carry unrestricted power over the account, cannot be limited by IAM \
     policies, and are a favourite target of credential theft. No workload needs them.",
)
.remediation(
    "Sign in as the root user, open Security credentials, and deactivate then delete every \
     access key; move anything that used them to an IAM role.",
)
.references(&[
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_root-user_manage_delete-key.html",
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/root-user-best-practices.html",
])
.compliance(&["CIS-AWS-7.0:2.4"]);

pub const MFA: Rule = Rule::new(
    "AWS.RootAccount.MFA",
    "The root user has MFA enabled",
    Severity::Critical,
    ROOT,
    mfa,
)
.description(
    "Without MFA the root user, which can do anything in the account including closing it, is \
     protected by a password alone.",
)
.remediation(
    "Sign in as the root user, open Security credentials, and assign an MFA device (preferably \
     a FIDO security key or another hardware device).",
)
.references(&["https://docs.aws.amazon.com/IAM/latest/UserGuide/enable-mfa-for-root.html"])
.compliance(&["CIS-AWS-7.0:2.5"]);

pub const HARDWARE_MFA: Rule = Rule::new(
    "AWS.RootAccount.HardwareMFA",
    "The root user's MFA is a hardware device",
    Severity::High,
    ROOT,
    hardware_mfa,
)
.description(
    "A virtual MFA app lives on a phone or laptop that is itself exposed to malware, loss and \
     backups; the root user deserves a dedicated hardware device. The rule passes when the \
     credential report shows MFA active and no virtual MFA device is assigned to the root user \
     (so the device is a FIDO security key or a hardware TOTP token).",
)
.remediation(
    "Sign in as the root user, register a FIDO security key or hardware TOTP token under \
     Security credentials, then remove the virtual MFA device.",
)
.references(&[
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/enable-mfa-for-root.html",
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_mfa_enable_fido.html",
])
.compliance(&["CIS-AWS-7.0:2.6"]);

pub const RECENT_USE: Rule = Rule::new(
    "AWS.RootAccount.RecentUse",
    "The root user has not been used recently",
    Severity::Medium,
    ROOT,
    recent_use,
)
.description(
    "The root user is for the few tasks only it can perform; everyday use multiplies the \
     chances its credentials leak. The rule fails when the root password or an access key of \
     the root user was used less than the configured number of days ago (whole days: with 30, \
     a use 29 days and 23 hours ago fails, one 30 days ago passes).",
)
.remediation(
    "Find out who used the root user and why (CloudTrail events with userIdentity.type Root), \
     move that work to IAM roles or users, and keep root credentials locked away.",
)
.references(&[
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/root-user-best-practices.html",
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_root-user.html",
])
.compliance(&["CIS-AWS-7.0:2.7"])
.settings(&[Setting::new(
    "days",
    SettingKind::Integer,
    "30",
    "A use of the root password or root access keys less than this many days ago fails.",
)])
.disabled_by_default();

fn access_keys(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let row = Row::of(res)?;
    let mut failures = Vec::new();
    for key in row.access_keys()? {
        if !key.active {
            continue;
        }
        let created = key.last_rotated.map_or_else(
            || "creation time unknown".to_owned(),
            |t| format!("created {}", date(t)),
        );
        let used = key.last_used.map_or_else(
            || "never used".to_owned(),
            |t| format!("last used {}{}", date(t), key.where_used()),
        );
        failures.push(format!(
            "the root user has active access key {} ({created}, {used})",
            key.n
        ));
    }
    Ok(Verdict::from_failures(failures))
}

fn mfa(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let row = Row::of(res)?;
    Ok(if row.known_flag("MfaActive")? {
        Verdict::Pass
    } else {
        Verdict::fail(format!(
            "the root user ({}) has no MFA device",
            res.account_id()
        ))
    })
}

fn hardware_mfa(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let row = Row::of(res)?;
    res.require_collected(&["VirtualMFA"])?;
    if res.raw_field("VirtualMFA")?.is_none() {
        return Err(Error::new(
            "the document has no VirtualMFA field (it is null when the root user has no virtual \
             MFA device), so the rule cannot decide",
        ));
    }
    let virtual_mfa: Option<serde_json::Map<String, Value>> = res.field("VirtualMFA")?;
    if !row.known_flag("MfaActive")? {
        return Ok(Verdict::fail(format!(
            "the root user ({}) has no MFA device at all",
            res.account_id()
        )));
    }
    Ok(match virtual_mfa {
        None => Verdict::Pass,
        Some(device) => {
            let serial = device
                .get("SerialNumber")
                .and_then(Value::as_str)
                .unwrap_or("unknown serial");
            let since = device
                .get("EnableDate")
                .and_then(parse_timestamp_value)
                .filter(|t| !t.is_zero_time())
                .map(|t| format!(", enabled {}", date(t)))
                .unwrap_or_default();
            Verdict::fail(format!(
                "the root user's MFA is the virtual device {serial}{since}, not a hardware device"
            ))
        }
    })
}

fn recent_use(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Verdict> {
    let days: i64 = ctx.setting("days")?;
    let row = Row::of(res)?;
    let mut uses = Vec::new();
    if let Some(t) = row.time("PasswordLastUsed")? {
        uses.push(("the root password".to_owned(), t, String::new()));
    }
    for key in row.access_keys()? {
        if let Some(t) = key.last_used_or_err(&row.who)? {
            uses.push((format!("root access key {}", key.n), t, key.where_used()));
        }
    }
    let failures = uses
        .into_iter()
        .filter_map(|(what, t, place)| {
            let age = t.age_days(ctx.now());
            (age < days).then(|| {
                format!(
                    "{what} was used {age} days ago ({}{place}), within the last {days} days",
                    date(t)
                )
            })
        })
        .collect();
    Ok(Verdict::from_failures(failures))
}
