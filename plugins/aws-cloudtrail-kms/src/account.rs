//! Account-level CloudTrail rules, on the account's `AWS.CloudTrail.Meta` summary: some trail
//! records the account's management events in every region and, off by default, S3 object-level
//! write and read events for every bucket.
//!
//! The summary lists the ARNs of the account's trails (`Trails`); each trail's `AWS.CloudTrail`
//! document is looked up by its ARN, and only a multi-region trail that is logging can qualify.
//! One qualifying trail passes the account. When none qualifies but some trail could not be
//! judged (missing from the inventory, or a field the collector could not read), it might have
//! qualified, so the outcome is an `error` naming it, never a pass or a plain fail.
//!
//! Event selectors are read in the CloudTrail API shapes: basic `EventSelectors`, and
//! `AdvancedEventSelectors` when a document carries them. A trail with custom selectors
//! (`HasCustomEventSelectors`) but no basic ones uses advanced selectors; without them in the
//! document it cannot be judged.

use std::borrow::Cow;

use palisade_sdk::{Ctx, Error, Resource, Result, Rule, Severity, Verdict};
use serde::Deserialize;

use crate::{account_of, display_name};

/// The account-level summary document the account rules read.
const META: &[&str] = &["AWS.CloudTrail.Meta"];

pub const ENABLED: Rule = Rule::new(
    "AWS.CloudTrail.Enabled",
    "CloudTrail records management events in every region",
    Severity::High,
    META,
    enabled,
)
.description(
    "Management events (every API call that creates, changes, deletes or reads the \
     configuration of resources, console sign-ins included) are the account's audit trail. \
     Passes when at least one trail applies to every region (IsMultiRegionTrail), is logging \
     (Status.IsLogging) and records both read and write management events: a trail without \
     custom event selectors does, otherwise some event selector must have \
     IncludeManagementEvents true and ReadWriteType All (or an advanced event selector must \
     select eventCategory Management without narrowing it).",
)
.remediation(
    "Create a multi-region trail, or convert one: `aws cloudtrail create-trail --name NAME \
     --s3-bucket-name BUCKET --is-multi-region-trail` (or `aws cloudtrail update-trail --name \
     NAME --is-multi-region-trail`), record all management events with `aws cloudtrail \
     put-event-selectors --trail-name NAME --event-selectors \
     '[{\"ReadWriteType\":\"All\",\"IncludeManagementEvents\":true}]'`, and start it with \
     `aws cloudtrail start-logging --name NAME`.",
)
.references(&[
    "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/receive-cloudtrail-log-files-from-multiple-regions.html",
    "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/logging-management-events-with-cloudtrail.html",
])
.compliance(&["CIS-AWS-7.0:4.1"]);

pub const S3_OBJECT_LOGGING: Rule = Rule::new(
    "AWS.CloudTrail.S3ObjectLogging",
    "CloudTrail records S3 object-level write events for all buckets",
    Severity::Medium,
    META,
    s3_object_logging,
)
.description(
    "Object-level S3 API calls (PutObject, DeleteObject, ...) are data events, which trails do \
     not record unless asked. Passes when a multi-region trail that is logging has an event \
     selector with ReadWriteType All or WriteOnly whose data resources of type AWS::S3::Object \
     cover every bucket (`arn:aws:s3` or `arn:aws:s3:::`; per-bucket prefixes cover only those \
     buckets), or an advanced event selector for eventCategory Data and resources.type \
     AWS::S3::Object that does not narrow it to reads, some buckets or some calls. Off by \
     default: data events are charged per event.",
)
.remediation(
    "Record write data events for all buckets on a multi-region trail: `aws cloudtrail \
     put-event-selectors --trail-name NAME --event-selectors \
     '[{\"ReadWriteType\":\"All\",\"IncludeManagementEvents\":true,\"DataResources\":\
     [{\"Type\":\"AWS::S3::Object\",\"Values\":[\"arn:aws:s3\"]}]}]'` (ReadWriteType WriteOnly \
     records writes only).",
)
.references(&[
    "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/logging-data-events-with-cloudtrail.html",
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-cloudtrail-logging-for-s3.html",
])
.compliance(&["CIS-AWS-7.0:4.8"])
.disabled_by_default();

pub const S3_OBJECT_READ_LOGGING: Rule = Rule::new(
    "AWS.CloudTrail.S3ObjectReadLogging",
    "CloudTrail records S3 object-level read events for all buckets",
    Severity::Medium,
    META,
    s3_object_read_logging,
)
.description(
    "Object-level S3 reads (GetObject, ...) are data events, which trails do not record unless \
     asked; without them nobody can tell who downloaded what. Passes when a multi-region trail \
     that is logging has an event selector with ReadWriteType All or ReadOnly whose data \
     resources of type AWS::S3::Object cover every bucket (`arn:aws:s3` or `arn:aws:s3:::`; \
     per-bucket prefixes cover only those buckets), or an advanced event selector for \
     eventCategory Data and resources.type AWS::S3::Object that does not narrow it to writes, \
     some buckets or some calls. Off by default: data events are charged per event.",
)
.remediation(
    "Record read data events for all buckets on a multi-region trail: `aws cloudtrail \
     put-event-selectors --trail-name NAME --event-selectors \
     '[{\"ReadWriteType\":\"All\",\"IncludeManagementEvents\":true,\"DataResources\":\
     [{\"Type\":\"AWS::S3::Object\",\"Values\":[\"arn:aws:s3\"]}]}]'` (ReadWriteType ReadOnly \
     records reads only).",
)
.references(&[
    "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/logging-data-events-with-cloudtrail.html",
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-cloudtrail-logging-for-s3.html",
])
.compliance(&["CIS-AWS-7.0:4.9"])
.disabled_by_default();

/// The data resource type of S3 object-level events.
const S3_OBJECT: &str = "AWS::S3::Object";

/// A basic event selector (the cloudtrail `EventSelector` shape). Unset members take the API's
/// defaults: ReadWriteType All, IncludeManagementEvents true.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EventSelector {
    #[serde(default)]
    read_write_type: Option<String>,
    #[serde(default)]
    include_management_events: Option<bool>,
    #[serde(default)]
    data_resources: Option<Vec<DataResource>>,
}

impl EventSelector {
    fn read_write_type(&self) -> &str {
        self.read_write_type.as_deref().unwrap_or("All")
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DataResource {
    #[serde(rename = "Type", default)]
    kind: Option<String>,
    #[serde(default)]
    values: Option<Vec<String>>,
}

/// An advanced event selector (the cloudtrail `AdvancedEventSelector` shape).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AdvancedEventSelector {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    field_selectors: Option<Vec<FieldSelector>>,
}

/// One condition of an advanced event selector: its field and the values it tests.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FieldSelector {
    #[serde(default)]
    field: Option<String>,
    #[serde(default)]
    equals: Option<Vec<String>>,
    #[serde(default)]
    starts_with: Option<Vec<String>>,
}

impl FieldSelector {
    fn field(&self) -> &str {
        self.field.as_deref().unwrap_or_default()
    }

    fn equals(&self, value: &str) -> bool {
        self.equals.iter().flatten().any(|v| v == value)
    }
}

/// What a trail records, as far as these rules read it.
enum Selectors {
    /// No custom selectors: every management event, no data events.
    Default,
    Basic(Vec<EventSelector>),
    Advanced(Vec<AdvancedEventSelector>),
}

/// A multi-region trail that is logging: what is left to judge.
struct Trail {
    name: String,
    selectors: Selectors,
}

/// What a rule concluded about one trail.
enum Judgement {
    Qualifies,
    /// It does not qualify, and why (naming the trail).
    No(String),
    /// It could not be judged, and why (naming the trail).
    Unknown(String),
}

/// The question a rule asks of a multi-region trail that is logging: `Err` says why it does not
/// qualify.
type Question = fn(&Trail) -> std::result::Result<(), String>;

fn enabled(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Verdict> {
    judge_account(
        res,
        ctx,
        "multi-region trail that is logging and records all management events",
        records_management_events,
    )
}

fn s3_object_logging(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Verdict> {
    judge_account(
        res,
        ctx,
        "multi-region trail that is logging and records S3 object-level write events for all \
         buckets",
        |trail| records_s3_objects(trail, Access::Write),
    )
}

fn s3_object_read_logging(res: &Resource<'_>, ctx: &Ctx<'_>) -> Result<Verdict> {
    judge_account(
        res,
        ctx,
        "multi-region trail that is logging and records S3 object-level read events for all \
         buckets",
        |trail| records_s3_objects(trail, Access::Read),
    )
}

/// Passes when some trail of the account qualifies for `question`; `wanted` describes such a
/// trail for messages.
fn judge_account(
    res: &Resource<'_>,
    ctx: &Ctx<'_>,
    wanted: &str,
    question: Question,
) -> Result<Verdict> {
    let arns: Option<Vec<String>> = res.collected_present("Trails")?;
    let account = account_of(res);
    let arns = arns.unwrap_or_default();
    if arns.is_empty() {
        return Ok(Verdict::fail(format!(
            "account {account} has no CloudTrail trails, so nothing records its API activity"
        )));
    }
    let mut no = Vec::new();
    let mut unknown = Vec::new();
    for arn in &arns {
        match judge_trail(ctx, arn, question)? {
            Judgement::Qualifies => return Ok(Verdict::Pass),
            Judgement::No(why) => no.push(why),
            Judgement::Unknown(why) => unknown.push(why),
        }
    }
    if unknown.is_empty() {
        return Ok(Verdict::fail(format!(
            "account {account} has no {wanted}: {}",
            no.join("; ")
        )));
    }
    let others = if no.is_empty() {
        String::new()
    } else {
        format!(" (the other trails do not qualify: {})", no.join("; "))
    };
    Err(Error::new(format!(
        "account {account}: cannot tell whether it has a {wanted}: {}{others}",
        unknown.join("; ")
    )))
}

/// Looks up the trail `arn` and judges it: multi-region, logging, then `question`. A trail
/// document that does not have the expected shape cannot be judged.
fn judge_trail(ctx: &Ctx<'_>, arn: &str, question: Question) -> Result<Judgement> {
    let document = match ctx.lookup(arn) {
        Ok(document) => document,
        Err(e) => return Ok(Judgement::Unknown(format!("trail {arn}: {e}"))),
    };
    let Some(document) = document else {
        return Ok(Judgement::Unknown(format!(
            "trail {arn} is listed for the account but is not in its inventory (an \
             organization trail of another account, or a trail deleted since the summary)"
        )));
    };
    let text = document.to_string();
    let res = Resource::new("AWS.CloudTrail", &text);
    let name = display_name(&res, "Name")
        .map(Cow::into_owned)
        .unwrap_or_else(|_| arn.to_owned());
    Ok(judge_trail_document(&res, &name, question)
        .unwrap_or_else(|e| Judgement::Unknown(format!("trail {name}: {e}"))))
}

/// Judges the trail document `res` (named `name` in messages).
fn judge_trail_document(res: &Resource<'_>, name: &str, question: Question) -> Result<Judgement> {
    let unknown = |why: String| Ok(Judgement::Unknown(format!("trail {name}: {why}")));

    let multi_region: Option<bool> = match present(res, "IsMultiRegionTrail")? {
        Err(why) => return unknown(why),
        Ok(()) => res.field("IsMultiRegionTrail")?,
    };
    if multi_region != Some(true) {
        return Ok(Judgement::No(format!(
            "trail {name} is not multi-region (IsMultiRegionTrail is {})",
            shown(multi_region)
        )));
    }

    #[derive(Deserialize)]
    struct Status {
        #[serde(rename = "IsLogging", default)]
        is_logging: Option<bool>,
    }
    let status: Option<Status> = match present(res, "Status")? {
        Err(why) => return unknown(why),
        Ok(()) => res.field("Status")?,
    };
    let Some(status) = status else {
        return unknown("the trail has no Status, so whether it is logging is unknown".to_owned());
    };
    if status.is_logging != Some(true) {
        return Ok(Judgement::No(format!(
            "trail {name} is not logging (Status.IsLogging is {})",
            shown(status.is_logging)
        )));
    }

    let selectors = match selectors(res)? {
        Err(why) => return unknown(why),
        Ok(selectors) => selectors,
    };
    Ok(
        match question(&Trail {
            name: name.to_owned(),
            selectors,
        }) {
            Ok(()) => Judgement::Qualifies,
            Err(why) => Judgement::No(why),
        },
    )
}

/// The trail's event selectors, or why they cannot be known.
fn selectors(res: &Resource<'_>) -> Result<std::result::Result<Selectors, String>> {
    if let Err(why) = present(res, "EventSelectors")? {
        return Ok(Err(why));
    }
    let basic: Option<Vec<EventSelector>> = res.field("EventSelectors")?;
    if let Some(basic) = basic.filter(|b| !b.is_empty()) {
        return Ok(Ok(Selectors::Basic(basic)));
    }
    // Advanced selectors are not in every document: read them when they are.
    if let Err(why) = res.require_collected(&["AdvancedEventSelectors"]) {
        return Ok(Err(why.message().to_owned()));
    }
    let advanced: Option<Vec<AdvancedEventSelector>> = res.field("AdvancedEventSelectors")?;
    if let Some(advanced) = advanced.filter(|a| !a.is_empty()) {
        return Ok(Ok(Selectors::Advanced(advanced)));
    }
    if let Err(why) = res.require_collected(&["HasCustomEventSelectors"]) {
        return Ok(Err(why.message().to_owned()));
    }
    let custom: Option<bool> = res.field("HasCustomEventSelectors")?;
    Ok(if custom == Some(true) {
        Err(
            "the trail has custom event selectors but the document carries neither \
             EventSelectors nor AdvancedEventSelectors, so what it records is unknown"
                .to_owned(),
        )
    } else {
        Ok(Selectors::Default)
    })
}

/// `Ok` when field `field` was collected and the document has it, else why not.
fn present(res: &Resource<'_>, field: &str) -> Result<std::result::Result<(), String>> {
    if let Err(why) = res.require_collected(&[field]) {
        return Ok(Err(why.message().to_owned()));
    }
    Ok(match res.raw_field(field)? {
        Some(_) => Ok(()),
        None => Err(format!("the document has no {field} field")),
    })
}

fn records_management_events(trail: &Trail) -> std::result::Result<(), String> {
    let name = &trail.name;
    match &trail.selectors {
        Selectors::Default => Ok(()),
        Selectors::Basic(selectors) => {
            let management: Vec<&str> = selectors
                .iter()
                .filter(|s| s.include_management_events != Some(false))
                .map(EventSelector::read_write_type)
                .collect();
            if management.contains(&"All") {
                Ok(())
            } else if management.is_empty() {
                Err(format!(
                    "trail {name} records no management events (IncludeManagementEvents is \
                     false in every event selector)"
                ))
            } else {
                Err(format!(
                    "trail {name} records management events only {} (ReadWriteType), not All",
                    management.join(", ")
                ))
            }
        }
        Selectors::Advanced(selectors) => {
            let mut narrowed = Vec::new();
            for (index, selector) in selectors.iter().enumerate() {
                let fields = selector.field_selectors.as_deref().unwrap_or_default();
                let management = fields
                    .iter()
                    .any(|f| f.field() == "eventCategory" && f.equals("Management"));
                if !management {
                    continue;
                }
                let others: Vec<&str> = fields
                    .iter()
                    .map(FieldSelector::field)
                    .filter(|f| *f != "eventCategory")
                    .collect();
                if others.is_empty() {
                    return Ok(());
                }
                narrowed.push(format!(
                    "{} narrows them by {}",
                    advanced_label(index, selector),
                    others.join(", ")
                ));
            }
            Err(if narrowed.is_empty() {
                format!("trail {name} has no advanced event selector for management events")
            } else {
                format!(
                    "trail {name} does not record all management events: {}",
                    narrowed.join(", ")
                )
            })
        }
    }
}

/// Which object-level S3 events a rule wants recorded.
#[derive(Clone, Copy)]
enum Access {
    Write,
    Read,
}

impl Access {
    /// The basic selectors' ReadWriteType values that record this access.
    fn read_write_types(self) -> &'static [&'static str] {
        match self {
            Access::Write => &["All", "WriteOnly"],
            Access::Read => &["All", "ReadOnly"],
        }
    }

    /// The value of an advanced selector's `readOnly` field that records this access.
    fn read_only(self) -> &'static str {
        match self {
            Access::Write => "false",
            Access::Read => "true",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Access::Write => "write",
            Access::Read => "read",
        }
    }
}

/// `arn:aws:s3` or `arn:aws:s3:::` (in any partition): every current and future bucket.
fn all_buckets(value: &str) -> bool {
    let Some(rest) = value.strip_prefix("arn:") else {
        return false;
    };
    let Some((partition, service)) = rest.split_once(':') else {
        return false;
    };
    !partition.is_empty() && (service == "s3" || service == "s3:::")
}

fn records_s3_objects(trail: &Trail, access: Access) -> std::result::Result<(), String> {
    let (name, kind) = (&trail.name, access.label());
    match &trail.selectors {
        Selectors::Default => Err(format!(
            "trail {name} records no data events (no custom event selectors)"
        )),
        Selectors::Basic(selectors) => {
            let mut some_buckets = Vec::new();
            let mut other_access = Vec::new();
            for selector in selectors {
                let records = access
                    .read_write_types()
                    .contains(&selector.read_write_type());
                let values = selector
                    .data_resources
                    .iter()
                    .flatten()
                    .filter(|r| r.kind.as_deref() == Some(S3_OBJECT))
                    .flat_map(|r| r.values.iter().flatten());
                for value in values {
                    match (records, all_buckets(value)) {
                        (true, true) => return Ok(()),
                        (true, false) => some_buckets.push(value.as_str()),
                        (false, _) if !other_access.contains(&selector.read_write_type()) => {
                            other_access.push(selector.read_write_type());
                        }
                        (false, _) => {}
                    }
                }
            }
            Err(if !some_buckets.is_empty() {
                format!(
                    "trail {name} records S3 object-level {kind} events only for {}, not all \
                     buckets",
                    some_buckets.join(", ")
                )
            } else if !other_access.is_empty() {
                format!(
                    "trail {name} records S3 object-level events only {} (ReadWriteType), not \
                     {kind}s",
                    other_access.join(", ")
                )
            } else {
                format!("trail {name} records no S3 object-level data events")
            })
        }
        Selectors::Advanced(selectors) => {
            let mut shortfalls = Vec::new();
            for (index, selector) in selectors.iter().enumerate() {
                let fields = selector.field_selectors.as_deref().unwrap_or_default();
                let is_s3_objects = fields
                    .iter()
                    .any(|f| f.field() == "eventCategory" && f.equals("Data"))
                    && fields
                        .iter()
                        .any(|f| f.field() == "resources.type" && f.equals(S3_OBJECT));
                if !is_s3_objects {
                    continue;
                }
                let mut limits = Vec::new();
                for field in fields {
                    match field.field() {
                        "eventCategory" | "resources.type" => {}
                        "readOnly" if field.equals(access.read_only()) => {}
                        "readOnly" => {
                            limits.push(format!("readOnly is not {}", access.read_only()))
                        }
                        "resources.ARN"
                            if field.equals.is_none()
                                && field.starts_with.iter().flatten().any(|v| all_buckets(v)) => {}
                        "resources.ARN" => limits.push(format!(
                            "only buckets {}",
                            field
                                .equals
                                .iter()
                                .chain(field.starts_with.iter())
                                .flatten()
                                .map(String::as_str)
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                        other => limits.push(format!("a condition on {other}")),
                    }
                }
                if limits.is_empty() {
                    return Ok(());
                }
                shortfalls.push(format!(
                    "{} is limited ({})",
                    advanced_label(index, selector),
                    limits.join(", ")
                ));
            }
            Err(if shortfalls.is_empty() {
                format!("trail {name} records no S3 object-level data events")
            } else {
                format!(
                    "trail {name} does not record S3 object-level {kind} events for all \
                     buckets: {}",
                    shortfalls.join("; ")
                )
            })
        }
    }
}

/// An advanced event selector for messages: its name, else its position (from 1).
fn advanced_label(index: usize, selector: &AdvancedEventSelector) -> String {
    match selector.name.as_deref().filter(|n| !n.is_empty()) {
        Some(name) => format!("advanced event selector {name:?}"),
        None => format!("advanced event selector #{}", index + 1),
    }
}

/// A boolean field's value for messages: `true`, `false` or `null`.
fn shown(value: Option<bool>) -> String {
    value.map_or_else(|| "null".to_owned(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_bucket_values() {
        for value in [
            "arn:aws:s3",
            "arn:aws:s3:::",
            "arn:aws-us-gov:s3",
            "arn:aws-cn:s3:::",
        ] {
            assert!(all_buckets(value), "{value}");
        }
        for value in [
            "arn:aws:s3:::logs/",
            "arn:aws:s3:::logs",
            "arn::s3",
            "s3",
            "arn:aws:s3::",
        ] {
            assert!(!all_buckets(value), "{value}");
        }
    }
}
