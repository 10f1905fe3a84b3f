//! Account password policy rules, on the `AWS.PasswordPolicy` document: the IAM
//! `PasswordPolicy` members inlined at top level, plus `AnyExist`, false when the account has no
//! password policy (and IAM applies its lax default). Every rule fails when there is no policy.

use palisade_sdk::{Ctx, Error, Resource, Result, Rule, Setting, SettingKind, Severity, Verdict};
use serde::Deserialize;

const POLICY: &[&str] = &["AWS.PasswordPolicy"];

const DOCS: &str =
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_passwords_account-policy.html";

pub const COMPLEXITY_GUIDELINES: Rule = Rule::new(
    "AWS.PasswordPolicy.ComplexityGuidelines",
    "The password policy requires complex passwords",
    Severity::High,
    POLICY,
    complexity_guidelines,
)
.description(
    "A password policy should require uppercase and lowercase letters, numbers and symbols, and \
     at least 14 characters, so IAM user passwords resist guessing and cracking. An account \
     without a password policy fails.",
)
.remediation(
    "`aws iam update-account-password-policy --minimum-password-length 14 --require-symbols \
     --require-numbers --require-uppercase-characters --require-lowercase-characters` (add the \
     reuse and expiry options you use, since the call replaces the whole policy).",
)
.references(&[DOCS]);

pub const PASSWORD_AGE_LIMIT: Rule = Rule::new(
    "AWS.PasswordPolicy.PasswordAgeLimit",
    "The password policy expires passwords within 90 days",
    Severity::Medium,
    POLICY,
    password_age_limit,
)
.description(
    "Expiring passwords bounds how long a leaked password stays useful. The policy must set a \
     maximum password age no longer than the configured number of days.",
)
.remediation(
    "`aws iam update-account-password-policy --max-password-age 90` together with the policy's \
     other options (the call replaces the whole policy).",
)
.references(&[DOCS])
.settings(&[Setting::new(
    "max-age-days",
    SettingKind::Integer,
    "90",
    "The longest maximum password age, in days, the policy may set.",
)]);

pub const PASSWORD_REUSE: Rule = Rule::new(
    "AWS.PasswordPolicy.PasswordReuse",
    "The password policy prevents reusing the last 24 passwords",
    Severity::Medium,
    POLICY,
    password_reuse,
)
.description(
    "Without reuse prevention a user forced to change a password can switch straight back to a \
     leaked one. The policy must remember at least the last 24 passwords (the IAM maximum).",
)
.remediation(
    "`aws iam update-account-password-policy --password-reuse-prevention 24` together with the \
     policy's other options (the call replaces the whole policy).",
)
.references(&[DOCS])
.compliance(&["CIS-AWS-7.0:2.9"]);

pub const MINIMUM_LENGTH: Rule = Rule::new(
    "AWS.PasswordPolicy.MinimumLength",
    "The password policy requires passwords of at least 14 characters",
    Severity::Medium,
    POLICY,
    minimum_length,
)
.description(
    "Length is what makes a password hard to brute-force. The policy's minimum password length \
     must be at least the configured value (14 by default). An account without a password \
     policy fails: IAM's default then allows 8 characters.",
)
.remediation(
    "`aws iam update-account-password-policy --minimum-password-length 14` together with the \
     policy's other options (the call replaces the whole policy).",
)
.references(&[DOCS])
.compliance(&["CIS-AWS-7.0:2.8"])
.settings(&[Setting::new(
    "minimum-length",
    SettingKind::Integer,
    "14",
    "The shortest minimum password length the policy may set.",
)]);

/// Length ComplexityGuidelines requires.
const COMPLEX_LENGTH: i64 = 14;

/// Reuse prevention PasswordReuse requires.
const REUSE_PREVENTION: i64 = 24;

/// The members the rules read; absent members read as `None`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PasswordPolicy {
    minimum_password_length: Option<i64>,
    require_symbols: Option<bool>,
    require_numbers: Option<bool>,
    require_uppercase_characters: Option<bool>,
    require_lowercase_characters: Option<bool>,
    expire_passwords: Option<bool>,
    max_password_age: Option<i64>,
    password_reuse_prevention: Option<i64>,
}

/// The account's policy, or `None` when it has none (`AnyExist` false). `AnyExist` must be
/// present and collected: without it "no policy" cannot be told from "not read".
fn policy(res: &Resource<'_>, members: &[&str]) -> Result<Option<PasswordPolicy>> {
    let mut fields = vec!["AnyExist"];
    fields.extend_from_slice(members);
    res.require_collected(&fields)?;
    let exists: Option<bool> = res.field("AnyExist")?;
    match exists {
        None => Err(Error::new(
            "AnyExist is missing or null, so whether the account has a password policy is \
             unknown",
        )),
        Some(false) => Ok(None),
        Some(true) => res.parse().map(Some),
    }
}

fn no_policy(res: &Resource<'_>) -> Verdict {
    Verdict::fail(format!(
        "account {} has no IAM password policy",
        res.account_id()
    ))
}

fn complexity_guidelines(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let Some(p) = policy(
        res,
        &[
            "MinimumPasswordLength",
            "RequireSymbols",
            "RequireNumbers",
            "RequireUppercaseCharacters",
            "RequireLowercaseCharacters",
        ],
    )?
    else {
        return Ok(no_policy(res));
    };
    let mut missing = Vec::new();
    for (required, what) in [
        (p.require_uppercase_characters, "uppercase letters"),
        (p.require_lowercase_characters, "lowercase letters"),
        (p.require_numbers, "numbers"),
        (p.require_symbols, "symbols"),
    ] {
        if required != Some(true) {
            missing.push(format!("does not require {what}"));
        }
    }
    match p.minimum_password_length {
        Some(n) if n >= COMPLEX_LENGTH => {}
        Some(n) => missing.push(format!(
            "MinimumPasswordLength is {n}, below {COMPLEX_LENGTH}"
        )),
        None => missing.push(format!(
            "sets no MinimumPasswordLength (at least {COMPLEX_LENGTH} required)"
        )),
    }
    Ok(if missing.is_empty() {
        Verdict::Pass
    } else {
        Verdict::fail(format!("the password policy {}", missing.join(", ")))
    })
}

fn password_age_limit(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Verdict> {
    let max_days: i64 = ctx.setting("max-age-days")?;
    let Some(p) = policy(res, &["ExpirePasswords", "MaxPasswordAge"])? else {
        return Ok(no_policy(res));
    };
    Ok(match p.max_password_age {
        Some(age) if age > 0 && p.expire_passwords != Some(false) => {
            if age <= max_days {
                Verdict::Pass
            } else {
                Verdict::fail(format!(
                    "the password policy's MaxPasswordAge is {age} days, over the {max_days}-day \
                     limit"
                ))
            }
        }
        Some(age) if age > 0 => Verdict::fail(format!(
            "the password policy does not expire passwords (ExpirePasswords is false although \
             MaxPasswordAge is {age}; at most {max_days} days required)"
        )),
        _ => Verdict::fail(format!(
            "the password policy does not expire passwords (MaxPasswordAge not set; at most \
             {max_days} days required)"
        )),
    })
}

fn password_reuse(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let Some(p) = policy(res, &["PasswordReusePrevention"])? else {
        return Ok(no_policy(res));
    };
    Ok(match p.password_reuse_prevention {
        Some(n) if n >= REUSE_PREVENTION => Verdict::Pass,
        Some(n) => Verdict::fail(format!(
            "the password policy's PasswordReusePrevention is {n}, below {REUSE_PREVENTION}"
        )),
        None => Verdict::fail(format!(
            "the password policy does not prevent password reuse (PasswordReusePrevention not \
             set; at least {REUSE_PREVENTION} required)"
        )),
    })
}

fn minimum_length(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Verdict> {
    let minimum: i64 = ctx.setting("minimum-length")?;
    let Some(p) = policy(res, &["MinimumPasswordLength"])? else {
        return Ok(no_policy(res));
    };
    Ok(match p.minimum_password_length {
        Some(n) if n >= minimum => Verdict::Pass,
        Some(n) => Verdict::fail(format!(
            "the password policy's MinimumPasswordLength is {n}, below {minimum}"
        )),
        None => Verdict::fail(format!(
            "the password policy sets no MinimumPasswordLength (at least {minimum} required)"
        )),
    })
}
