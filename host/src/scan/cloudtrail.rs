//! CloudTrail collector: each trail as an `AWS.CloudTrail` document in its home region, with
//! its logging status, event selectors (basic and advanced) and tags. Runs once per region; trails seen from other
//! regions (multi-region "shadow" trails) are left to their home region so each is reported once.
//! A targeted run describes the region's trails and reads details only for those in its scope.

use std::collections::HashMap;

use aws_sdk_cloudtrail::Client;
use aws_sdk_cloudtrail::operation::get_trail_status::GetTrailStatusOutput;
use aws_sdk_cloudtrail::types::{
    AdvancedEventSelector, AdvancedFieldSelector, DataResource, EventSelector, ReadWriteType, Trail,
};
use futures::stream::{self, StreamExt};
use serde_json::{Map, Value};

use super::Collect;
use super::doc::Doc;
use super::shape::{ToJson, tags};
use crate::aws::{AwsError, ErrorKind};
use crate::{json_enum, json_shape};

pub const TRAIL: &str = "AWS.CloudTrail";

pub const RESOURCE_TYPES: [&str; 1] = [TRAIL];

/// Trails whose details are read at the same time; each has two calls in flight.
const CONCURRENT_TRAILS: usize = 4;

/// `ListTags` takes at most this many trail ARNs per call.
const TAGS_BATCH: usize = 20;

pub async fn collect(cx: &mut Collect<'_>) {
    if cx.account.region_excluded(cx.region) || cx.account.type_excluded(TRAIL) {
        return;
    }
    let client = cx.session.cloudtrail(cx.region);
    let listed = cx
        .call("DescribeTrails", || {
            client.describe_trails().include_shadow_trails(false).send()
        })
        .await;
    let trails: Vec<Trail> = match listed {
        Ok(out) => out
            .trail_list
            .unwrap_or_default()
            .into_iter()
            // Shadow trails were left out already; this keeps a trail to its home region even
            // where an endpoint ignores that flag.
            .filter(|t| t.home_region().is_none_or(|r| r == cx.region))
            .filter(|t| {
                t.trail_arn().is_some_and(|arn| {
                    !cx.excluded(cx.region, TRAIL, arn) && cx.in_scope(&envelope(cx, arn, t))
                })
            })
            .collect(),
        Err(e) => {
            cx.listing_failed(TRAIL, &e);
            return;
        }
    };
    if trails.is_empty() {
        return;
    }

    let arns: Vec<String> = trails
        .iter()
        .filter_map(|t| t.trail_arn().map(str::to_owned))
        .collect();
    let docs: Vec<Doc> = {
        let cx = &*cx;
        let tags = list_tags(cx, &client, &arns).await;
        stream::iter(trails)
            .map(|t| trail(cx, &client, t, &tags))
            .buffered(CONCURRENT_TRAILS)
            .filter_map(std::future::ready)
            .collect()
            .await
    };
    for doc in docs {
        cx.push(doc);
    }
}

/// One trail's document, or `None` when it was deleted during the scan.
async fn trail(
    cx: &Collect<'_>,
    client: &Client,
    trail: Trail,
    tags: &Result<HashMap<String, Map<String, Value>>, AwsError>,
) -> Option<Doc> {
    let arn = trail.trail_arn()?;
    let (status, selectors) = futures::join!(
        cx.call("GetTrailStatus", || client
            .get_trail_status()
            .name(arn)
            .send()),
        cx.call("GetEventSelectors", || client
            .get_event_selectors()
            .trail_name(arn)
            .send()),
    );
    // Both calls answer for any trail that exists: "not found" means it is gone.
    let not_found = |e: &AwsError| e.kind == ErrorKind::NotFound;
    if status.as_ref().err().is_some_and(not_found)
        || selectors.as_ref().err().is_some_and(not_found)
    {
        return None;
    }

    let mut doc = envelope(cx, arn, &trail);
    match tags {
        Ok(tags) => doc.set("Tags", tags.get(arn).cloned().map(Value::Object)),
        Err(e) => doc.failed("Tags", e),
    };
    doc.set_result("Status", status.map(Some));
    // One call answers both kinds; a trail uses one or the other, and AdvancedEventSelectors
    // is null when it uses none (absent data is null).
    let (basic, advanced) = match selectors {
        Ok(out) => {
            let advanced = out.advanced_event_selectors();
            (
                Ok(Some(out.event_selectors().to_json())),
                Ok((!advanced.is_empty()).then(|| advanced.to_json())),
            )
        }
        Err(e) => (Err(e.clone()), Err(e)),
    };
    doc.set_result("EventSelectors", basic);
    doc.set_result("AdvancedEventSelectors", advanced);
    Some(doc)
}

/// The trail's document with the fields `DescribeTrails` answers.
fn envelope(cx: &Collect<'_>, arn: &str, trail: &Trail) -> Doc {
    let mut doc = Doc::new(TRAIL, cx.account_id(), cx.region, arn);
    describe(&mut doc, trail);
    doc
}

/// The fields `DescribeTrails` answers.
// `SnsTopicName` is deprecated by AWS in favour of `SnsTopicARN`, but the model keeps both.
#[allow(deprecated)]
fn describe(doc: &mut Doc, trail: &Trail) {
    doc.set("Arn", trail.trail_arn())
        .set("Name", trail.name())
        .set(
            "CloudWatchLogsLogGroupArn",
            trail.cloud_watch_logs_log_group_arn(),
        )
        .set("CloudWatchLogsRoleArn", trail.cloud_watch_logs_role_arn())
        .set(
            "HasCustomEventSelectors",
            trail.has_custom_event_selectors(),
        )
        .set("HomeRegion", trail.home_region())
        .set(
            "IncludeGlobalServiceEvents",
            trail.include_global_service_events(),
        )
        .set("IsMultiRegionTrail", trail.is_multi_region_trail())
        .set("IsOrganizationTrail", trail.is_organization_trail())
        .set("KmsKeyId", trail.kms_key_id())
        .set(
            "LogFileValidationEnabled",
            trail.log_file_validation_enabled(),
        )
        .set("S3BucketName", trail.s3_bucket_name())
        .set("S3KeyPrefix", trail.s3_key_prefix())
        .set("SnsTopicARN", trail.sns_topic_arn())
        .set("SnsTopicName", trail.sns_topic_name());
}

/// Tags of each trail that has any, by ARN, from `ListTags` in batches of twenty.
async fn list_tags(
    cx: &Collect<'_>,
    client: &Client,
    arns: &[String],
) -> Result<HashMap<String, Map<String, Value>>, AwsError> {
    let mut out: HashMap<String, Map<String, Value>> = HashMap::new();
    for batch in arns.chunks(TAGS_BATCH) {
        let mut token: Option<String> = None;
        loop {
            let page = cx
                .call("ListTags", || {
                    client
                        .list_tags()
                        .set_resource_id_list(Some(batch.to_vec()))
                        .set_next_token(token.clone())
                        .send()
                })
                .await?;
            for resource in page.resource_tag_list() {
                let Some(id) = resource.resource_id() else {
                    continue;
                };
                let pairs = resource
                    .tags_list()
                    .iter()
                    .map(|t| (Some(t.key()), t.value()));
                if let Value::Object(found) = tags(pairs) {
                    // Pages may split one trail's tags: merge them.
                    out.entry(id.to_owned()).or_default().extend(found);
                }
            }
            match page.next_token().filter(|t| !t.is_empty()) {
                None => break,
                // Following a token that does not move on would loop for ever.
                Some(next) if token.as_deref() == Some(next) => {
                    return Err(AwsError::malformed(
                        "ListTags",
                        "the answer repeats the pagination token",
                    ));
                }
                Some(next) => token = Some(next.to_owned()),
            }
        }
    }
    Ok(out)
}

json_enum!(ReadWriteType);

json_shape! {
    EventSelector {
        "ReadWriteType" => read_write_type,
        "IncludeManagementEvents" => include_management_events,
        "DataResources" => data_resources,
        "ExcludeManagementEventSources" => exclude_management_event_sources,
    }
    DataResource {
        "Type" => r#type,
        "Values" => values,
    }
    AdvancedEventSelector {
        "Name" => name,
        "FieldSelectors" => field_selectors,
    }
    AdvancedFieldSelector {
        "Field" => field,
        "Equals" => equals,
        "StartsWith" => starts_with,
        "EndsWith" => ends_with,
        "NotEquals" => not_equals,
        "NotStartsWith" => not_starts_with,
        "NotEndsWith" => not_ends_with,
    }
    GetTrailStatusOutput {
        "IsLogging" => is_logging,
        "LatestDeliveryError" => latest_delivery_error,
        "LatestNotificationError" => latest_notification_error,
        "LatestDeliveryTime" => latest_delivery_time,
        "LatestNotificationTime" => latest_notification_time,
        "StartLoggingTime" => start_logging_time,
        "StopLoggingTime" => stop_logging_time,
        "LatestCloudWatchLogsDeliveryError" => latest_cloud_watch_logs_delivery_error,
        "LatestCloudWatchLogsDeliveryTime" => latest_cloud_watch_logs_delivery_time,
        "LatestDigestDeliveryTime" => latest_digest_delivery_time,
        "LatestDigestDeliveryError" => latest_digest_delivery_error,
        "LatestDeliveryAttemptTime" => latest_delivery_attempt_time,
        "LatestNotificationAttemptTime" => latest_notification_attempt_time,
        "LatestNotificationAttemptSucceeded" => latest_notification_attempt_succeeded,
        "LatestDeliveryAttemptSucceeded" => latest_delivery_attempt_succeeded,
        "TimeLoggingStarted" => time_logging_started,
        "TimeLoggingStopped" => time_logging_stopped,
    }
}
