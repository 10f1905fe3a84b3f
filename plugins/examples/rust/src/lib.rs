//! The three example rules of `plugins/examples/RULES.md` in Rust; the Python and JavaScript
//! examples implement the same rules, and `tests/languages.rs` holds all three to the same
//! verdicts. Build: `palisade policy build plugins/examples/rust -o example-rust.wasm`.

use palisade_sdk::{Ctx, Resource, Result, Rule, Severity, Verdict};
use serde::Deserialize;

pub const BUCKET_ENCRYPTED: Rule = Rule::new(
    "Example.S3.Bucket.Encrypted",
    "S3 bucket has default encryption",
    Severity::High,
    &["AWS.S3.Bucket"],
    bucket_encrypted,
)
.description("Objects written without an encryption header are stored unencrypted unless the bucket has a default.")
.remediation("Set a default encryption configuration on the bucket (SSE-S3 or SSE-KMS).");

fn name(res: &Resource<'_>) -> Result<String> {
    Ok(res.field::<Option<String>>("Name")?.unwrap_or_default())
}

fn bucket_encrypted(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    res.require_collected(&["EncryptionRules"])?;
    let rules: Option<Vec<serde::de::IgnoredAny>> = res.field("EncryptionRules")?;
    Ok(match rules {
        Some(r) if !r.is_empty() => Verdict::Pass,
        _ => Verdict::fail(format!("bucket {} has no default encryption", name(res)?)),
    })
}

pub const NO_WORLD_SSH: Rule = Rule::new(
    "Example.EC2.SecurityGroup.NoWorldSSH",
    "Security group does not open SSH to the internet",
    Severity::High,
    &["AWS.EC2.SecurityGroup"],
    no_world_ssh,
)
.description("SSH open to 0.0.0.0/0 or ::/0 invites brute-force attempts from the whole internet.")
.remediation(
    "Limit the rule's source to known addresses, or reach instances through Session Manager.",
);

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Permission {
    ip_protocol: Option<String>,
    from_port: Option<i64>,
    to_port: Option<i64>,
    #[serde(default)]
    ip_ranges: Option<Vec<V4>>,
    #[serde(default)]
    ipv6_ranges: Option<Vec<V6>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct V4 {
    cidr_ip: Option<String>,
}

#[derive(Deserialize)]
struct V6 {
    #[serde(rename = "CidrIpv6")]
    cidr: Option<String>,
}

impl Permission {
    fn covers_ssh(&self) -> bool {
        match self.ip_protocol.as_deref() {
            Some("-1") => true,
            Some("tcp" | "6") => {
                matches!((self.from_port, self.to_port), (Some(f), Some(t)) if f <= 22 && 22 <= t)
            }
            _ => false,
        }
    }

    /// The first world CIDR, IPv4 before IPv6.
    fn world(&self) -> Option<&'static str> {
        let v4 = self
            .ip_ranges
            .iter()
            .flatten()
            .any(|r| r.cidr_ip.as_deref() == Some("0.0.0.0/0"));
        let v6 = self
            .ipv6_ranges
            .iter()
            .flatten()
            .any(|r| r.cidr.as_deref() == Some("::/0"));
        match (v4, v6) {
            (true, _) => Some("0.0.0.0/0"),
            (false, true) => Some("::/0"),
            _ => None,
        }
    }
}

fn no_world_ssh(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    res.require_collected(&["IpPermissions"])?;
    let permissions: Option<Vec<Permission>> = res.field("IpPermissions")?;
    for p in permissions.iter().flatten() {
        if let Some(cidr) = p.world().filter(|_| p.covers_ssh()) {
            return Ok(Verdict::fail(format!(
                "security group {} allows SSH from {cidr}",
                name(res)?
            )));
        }
    }
    Ok(Verdict::Pass)
}

pub const CONSOLE_MFA: Rule = Rule::new(
    "Example.IAM.User.ConsoleMFA",
    "IAM user with a console password has MFA",
    Severity::Medium,
    &["AWS.IAM.User"],
    console_mfa,
)
.description("A console password without MFA is one phished secret away from the account.")
.remediation("Enable an MFA device for the user, or remove the console password.");

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Report {
    password_enabled: Option<bool>,
    mfa_active: Option<bool>,
}

fn console_mfa(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    res.require_collected(&["CredentialReport"])?;
    let report: Option<Report> = res.field("CredentialReport")?;
    Ok(match report {
        Some(r) if r.password_enabled == Some(true) && r.mfa_active != Some(true) => Verdict::fail(
            format!("user {} can sign in to the console without MFA", name(res)?),
        ),
        _ => Verdict::Pass,
    })
}

pub static RULES: &[Rule] = &[BUCKET_ENCRYPTED, NO_WORLD_SSH, CONSOLE_MFA];

palisade_sdk::export_pack!(RULES);
