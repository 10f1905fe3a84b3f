//! EBS volume rules: the volume is encrypted, every snapshot taken of it is encrypted, and
//! volumes tagged as part of the cardholder-data environment are encrypted.

use std::collections::BTreeMap;

use palisade_sdk::{Ctx, Error, Resource, Result, Rule, Setting, SettingKind, Severity, Verdict};
use serde::Deserialize;

use crate::{VOLUME, label, map_setting, reported};

pub const ENCRYPTION: Rule = Rule::new(
    "AWS.EC2.Volume.Encryption",
    "EBS volume is encrypted",
    Severity::High,
    VOLUME,
    encryption,
)
.description(
    "An encrypted EBS volume protects data at rest, the data moving between the volume and its \
     instance, and every snapshot taken of it, with a KMS key whose use is logged and can be \
     revoked. An unencrypted volume's data and snapshots are readable by anyone who gets hold \
     of them.",
)
.remediation(
    "A volume cannot be encrypted in place: snapshot it, copy the snapshot with `aws ec2 \
     copy-snapshot --encrypted --kms-key-id KEY`, create a volume from the encrypted copy and \
     swap it in. Turn on EBS encryption by default in every region so new volumes are encrypted.",
)
.references(&[
    "https://docs.aws.amazon.com/ebs/latest/userguide/ebs-encryption.html",
    "https://docs.aws.amazon.com/ebs/latest/userguide/encryption-by-default.html",
]);

pub const SNAPSHOT_ENCRYPTED: Rule = Rule::new(
    "AWS.EC2.Volume.Snapshot.Encrypted",
    "Every snapshot of the EBS volume is encrypted",
    Severity::High,
    VOLUME,
    snapshot_encrypted,
)
.description(
    "A snapshot holds a full copy of the volume's data. An unencrypted snapshot can be shared \
     with other accounts or made public, and anyone allowed to create a volume from it reads \
     the data. The rule checks the account's own snapshots of the volume (the volume's \
     `Snapshots`); a volume without snapshots passes. Unencrypted snapshots that are shared \
     publicly or with other accounts are marked as such in the message.",
)
.remediation(
    "Copy each unencrypted snapshot with encryption (`aws ec2 copy-snapshot --source-snapshot-id \
     SNAP --source-region REGION --encrypted --kms-key-id KEY`), delete the unencrypted \
     original, and encrypt the volume itself so its future snapshots are encrypted.",
)
.references(&[
    "https://docs.aws.amazon.com/ebs/latest/userguide/ebs-copy-snapshot.html",
    "https://docs.aws.amazon.com/ebs/latest/userguide/ebs-encryption.html",
]);

pub const CDE_VOLUME_ENCRYPTED: Rule = Rule::new(
    "AWS.EC2.CDEVolumeEncrypted",
    "EBS volumes in the cardholder-data environment are encrypted",
    Severity::Medium,
    VOLUME,
    cde_volume_encrypted,
)
.description(
    "PCI DSS requires stored cardholder data to be unreadable. Volumes tagged as part of the \
     cardholder-data environment (CDE), by the tags of setting `cde-tags`, must be encrypted. \
     Volumes without a CDE tag pass. Off by default: only accounts holding cardholder data need \
     it, and they know how they tag it.",
)
.remediation(
    "Replace the volume with an encrypted copy (snapshot, `aws ec2 copy-snapshot --encrypted`, \
     create a volume from the copy, swap it in), and turn on EBS encryption by default in the \
     CDE's regions.",
)
.references(&[
    "https://docs.aws.amazon.com/ebs/latest/userguide/ebs-encryption.html",
    "https://docs.aws.amazon.com/whitepapers/latest/pci-dss-scoping-on-aws/pci-dss-scoping-on-aws.html",
])
.settings(&[Setting::new(
    "cde-tags",
    SettingKind::TextMap,
    r#"{"environment":"cde"}"#,
    "Tags that mark a volume as part of the cardholder-data environment: tag key to tag value. \
     A volume carrying any one of them is in the CDE. Keys match exactly (AWS tag keys are case \
     sensitive); values match ignoring case; the value `*` matches any value of the key.",
)])
.disabled_by_default();

fn encryption(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let encrypted: bool = reported(res, "Encrypted")?;
    Ok(if encrypted {
        Verdict::Pass
    } else {
        Verdict::fail(format!("{} is not encrypted", label(res, "volume")?))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Snapshot {
    snapshot_id: Option<String>,
    encrypted: Option<bool>,
    #[serde(default)]
    create_volume_permissions: Option<Vec<CreateVolumePermission>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateVolumePermission {
    group: Option<String>,
    user_id: Option<String>,
}

impl Snapshot {
    /// How far the snapshot is shared, for messages: "" when it is private.
    fn sharing(&self) -> String {
        let permissions = self
            .create_volume_permissions
            .as_deref()
            .unwrap_or_default();
        if permissions
            .iter()
            .any(|p| p.group.as_deref() == Some("all"))
        {
            return " and public".to_owned();
        }
        let accounts: Vec<&str> = permissions
            .iter()
            .filter_map(|p| p.user_id.as_deref())
            .collect();
        if accounts.is_empty() {
            String::new()
        } else {
            format!(" and shared with account(s) {}", accounts.join(", "))
        }
    }
}

fn snapshot_encrypted(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    // Null: the volume has no snapshots (the collector writes an empty list).
    let snapshots: Option<Vec<Snapshot>> = res.collected_present("Snapshots")?;
    let volume = label(res, "volume")?;
    let mut failures = Vec::new();
    for (index, snapshot) in snapshots.iter().flatten().enumerate() {
        let id = snapshot
            .snapshot_id
            .clone()
            .unwrap_or_else(|| format!("#{}", index + 1));
        match snapshot.encrypted {
            Some(true) => {}
            Some(false) => failures.push(format!(
                "snapshot {id} of {volume} is not encrypted{}",
                snapshot.sharing()
            )),
            None => {
                return Err(Error::new(format!(
                    "snapshot {id} of {volume} does not report whether it is encrypted"
                )));
            }
        }
    }
    Ok(Verdict::from_failures(failures))
}

/// The first `cde-tags` entry the tags match, as `key=value`.
fn cde_match(tags: &BTreeMap<String, String>, cde: &BTreeMap<String, String>) -> Option<String> {
    cde.iter().find_map(|(key, wanted)| {
        let value = tags.get(key)?;
        let wanted = wanted.trim();
        (wanted == "*" || value.trim().eq_ignore_ascii_case(wanted))
            .then(|| format!("{key}={value}"))
    })
}

fn cde_volume_encrypted(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Verdict> {
    let cde = map_setting(
        ctx,
        "cde-tags",
        "tags that mark the cardholder-data environment",
    )?;
    let tags: Option<BTreeMap<String, String>> = res.collected_present("Tags")?;
    let Some(tag) = cde_match(&tags.unwrap_or_default(), &cde) else {
        return Ok(Verdict::Pass);
    };
    let encrypted: bool = reported(res, "Encrypted")?;
    Ok(if encrypted {
        Verdict::Pass
    } else {
        Verdict::fail(format!(
            "{} is tagged {tag} (cardholder-data environment, setting cde-tags) but is not \
             encrypted",
            label(res, "volume")?
        ))
    })
}
