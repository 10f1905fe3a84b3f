//! Account-level summary documents derived from what the collectors stored, not from AWS
//! calls of their own: `AWS.CloudTrail.Meta` lists every trail of the account across regions,
//! which no single region's run can see. Rebuilt after every scan and after any refresh that
//! touched a trail. The collectors that call AWS live beside it; nothing here calls AWS.

use time::OffsetDateTime;

use super::cloudtrail::TRAIL;
use super::collect::ScanIssue;
use super::doc::Doc;
use super::run::Scanner;
use crate::account::Account;
use crate::aws::AwsError;
use crate::store::{ResourceFilter, ResourceRecord, StoreError};

/// One per account: the ARNs of its trails (each the `ResourceId` of an `AWS.CloudTrail`
/// document rules can look up) and their event selectors.
pub(crate) const CLOUDTRAIL_META: &str = "AWS.CloudTrail.Meta";

/// Summary types: rules on them read other resources through lookups, so they are evaluated
/// after every scan whether or not their own document changed.
pub(crate) const SUMMARY_TYPES: [&str; 1] = [CLOUDTRAIL_META];

/// The summary of `trails` (the account's live trail documents). `unlisted` is why some
/// region's trails could not be listed: the list is then partial and says so.
pub(crate) fn cloudtrail_summary(
    account_id: &str,
    trails: &[ResourceRecord],
    unlisted: Option<&AwsError>,
) -> Doc {
    let id = format!("{account_id}::{CLOUDTRAIL_META}");
    let mut doc = Doc::new(CLOUDTRAIL_META, account_id, "global", &id);
    let mut trails: Vec<&ResourceRecord> = trails.iter().collect();
    trails.sort_by(|a, b| a.resource_id.cmp(&b.resource_id));
    let selectors: Vec<serde_json::Value> = trails
        .iter()
        .filter_map(|t| t.document.get("EventSelectors")?.as_array())
        .flatten()
        .cloned()
        .collect();
    let arns: Vec<&str> = trails.iter().map(|t| t.resource_id.as_str()).collect();
    match unlisted {
        Some(e) => {
            doc.failed("Trails", e);
            doc.failed("GlobalEventSelectors", e);
        }
        None => {
            doc.set("Trails", serde_json::json!(arns));
            doc.set("GlobalEventSelectors", serde_json::Value::Array(selectors));
        }
    }
    doc
}

/// The first trail-listing failure among `issues`, as the error the summary reports.
pub(crate) fn trail_listing_failure(issues: &[ScanIssue]) -> Option<AwsError> {
    issues
        .iter()
        .find(|i| i.resource_type.as_deref() == Some(TRAIL) && i.resource_id.is_none())
        .map(|i| AwsError {
            operation: "DescribeTrails",
            kind: i.kind,
            code: None,
            message: format!(
                "the trails of {} could not be listed: {}",
                i.region, i.message
            ),
        })
}

impl Scanner {
    /// Rebuilds and stores the account's CloudTrail summary from its stored live trails;
    /// `None` when the account excludes trails or their summary.
    pub(super) fn summarize_trails(
        &self,
        account: &Account,
        unlisted: Option<&AwsError>,
        now: OffsetDateTime,
    ) -> Result<Option<(ResourceRecord, bool)>, StoreError> {
        if account.type_excluded(TRAIL) || account.type_excluded(CLOUDTRAIL_META) {
            return Ok(None);
        }
        let trails: Vec<ResourceRecord> = self
            .store
            .list_resources(&ResourceFilter {
                account_id: Some(account.account_id.clone()),
                resource_type: Some(TRAIL.to_owned()),
            })?
            .into_iter()
            .filter(|r| r.deleted_at.is_none())
            .collect();
        let doc = cloudtrail_summary(&account.account_id, &trails, unlisted);
        Ok(self
            .write_docs(account, vec![doc], now)?
            .pop()
            .map(|w| (w.record, w.changed)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::ErrorKind;
    use serde_json::json;

    fn trail(arn: &str, selectors: serde_json::Value) -> ResourceRecord {
        ResourceRecord {
            account_id: "123456789012".into(),
            resource_type: TRAIL.into(),
            resource_id: arn.into(),
            region: "us-east-1".into(),
            document: json!({"ResourceId": arn, "EventSelectors": selectors}),
            updated_at: OffsetDateTime::UNIX_EPOCH,
            deleted_at: None,
        }
    }

    #[test]
    fn the_summary_lists_trails_in_order_with_their_selectors() {
        let trails = [
            trail(
                "arn:aws:cloudtrail:us-west-2:123456789012:trail/b",
                json!(null),
            ),
            trail(
                "arn:aws:cloudtrail:us-east-1:123456789012:trail/a",
                json!([{"ReadWriteType": "All", "IncludeManagementEvents": true}]),
            ),
        ];
        let doc = cloudtrail_summary("123456789012", &trails, None).into_value();
        assert_eq!(doc["ResourceId"], "123456789012::AWS.CloudTrail.Meta");
        assert_eq!(doc["Region"], "global");
        assert_eq!(
            doc["Trails"],
            json!([
                "arn:aws:cloudtrail:us-east-1:123456789012:trail/a",
                "arn:aws:cloudtrail:us-west-2:123456789012:trail/b"
            ])
        );
        assert_eq!(doc["GlobalEventSelectors"][0]["ReadWriteType"], "All");
    }

    #[test]
    fn a_failed_listing_makes_the_trail_list_a_collection_error() {
        let issue = ScanIssue {
            service: "cloudtrail".into(),
            region: "eu-west-1".into(),
            resource_type: Some(TRAIL.into()),
            resource_id: None,
            field: None,
            kind: ErrorKind::AccessDenied,
            message: "denied".into(),
        };
        let failure = trail_listing_failure(&[issue]).expect("a listing failure");
        let doc = cloudtrail_summary("123456789012", &[], Some(&failure)).into_value();
        assert!(doc["Trails"].is_null());
        assert!(
            doc["CollectionErrors"]["Trails"]
                .as_str()
                .is_some_and(|m| m.contains("eu-west-1"))
        );
    }
}
