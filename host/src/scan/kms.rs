//! KMS collector: every key of a region, customer- and AWS-managed, as an `AWS.KMS.Key`
//! document with its metadata, key policy, rotation status and tags. Runs once per region; a
//! targeted run lists the keys and reads details only for those in its scope (by id or ARN).

use aws_sdk_kms::Client;
use aws_sdk_kms::types::{
    ExpirationModelType, KeyManagerType, KeyMetadata, KeySpec, KeyState, KeyUsageType, OriginType,
};
use futures::stream::{self, StreamExt};

use super::Collect;
use super::doc::Doc;
use super::shape::tags;
use crate::aws::{AwsError, ErrorKind};
use crate::json_enum;

pub const KEY: &str = "AWS.KMS.Key";

pub const RESOURCE_TYPES: [&str; 1] = [KEY];

/// Keys whose details are read at the same time; each has up to three calls in flight.
const CONCURRENT_KEYS: usize = 8;

/// The largest page `ListKeys` and `ListResourceTags` accept.
const PAGE_SIZE: i32 = 1000;

/// The fields read from `DescribeKey`, with `KeyRotationEnabled`, which depends on them.
const METADATA_FIELDS: [&str; 12] = [
    "CloudHsmClusterId",
    "CustomKeyStoreId",
    "DeletionDate",
    "Description",
    "Enabled",
    "ExpirationModel",
    "KeyManager",
    "KeyRotationEnabled",
    "KeyState",
    "KeyUsage",
    "Origin",
    "ValidTo",
];

pub async fn collect(cx: &mut Collect<'_>) {
    if cx.account.region_excluded(cx.region) || cx.account.type_excluded(KEY) {
        return;
    }
    let client = cx.session.kms(cx.region);
    let keys = match list_keys(cx, &client).await {
        Ok(keys) => keys,
        Err(e) => {
            cx.listing_failed(KEY, &e);
            return;
        }
    };
    let docs: Vec<Doc> = {
        let cx = &*cx;
        stream::iter(keys)
            .filter(|k| {
                std::future::ready(
                    !cx.excluded(cx.region, KEY, &k.arn) && cx.in_scope(&envelope(cx, k)),
                )
            })
            .map(|k| key(cx, &client, k))
            .buffered(CONCURRENT_KEYS)
            .filter_map(std::future::ready)
            .collect()
            .await
    };
    for doc in docs {
        cx.push(doc);
    }
}

/// A key as `ListKeys` reports it.
struct Listed {
    id: String,
    arn: String,
}

async fn list_keys(cx: &Collect<'_>, client: &Client) -> Result<Vec<Listed>, AwsError> {
    let mut keys = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = cx
            .call("ListKeys", || {
                client
                    .list_keys()
                    .limit(PAGE_SIZE)
                    .set_marker(marker.clone())
                    .send()
            })
            .await?;
        keys.extend(page.keys().iter().filter_map(|k| {
            Some(Listed {
                id: k.key_id()?.to_owned(),
                arn: k.key_arn()?.to_owned(),
            })
        }));
        match next_marker("ListKeys", page.truncated(), page.next_marker(), &marker)? {
            Some(next) => marker = Some(next),
            None => return Ok(keys),
        }
    }
}

/// One key's document, or `None` when it was deleted during the scan.
async fn key(cx: &Collect<'_>, client: &Client, listed: Listed) -> Option<Doc> {
    let arn = listed.arn.as_str();
    let (described, policy, tags) = futures::future::join3(
        cx.call("DescribeKey", || client.describe_key().key_id(arn).send()),
        cx.call("GetKeyPolicy", || {
            client
                .get_key_policy()
                .key_id(arn)
                .policy_name("default")
                .send()
        }),
        resource_tags(cx, client, arn),
    )
    .await;
    let metadata = described.and_then(|out| {
        out.key_metadata
            .ok_or_else(|| AwsError::malformed("DescribeKey", "the answer has no key metadata"))
    });
    let rotation = match &metadata {
        Ok(m) if rotates(m) => Some(
            cx.call("GetKeyRotationStatus", || {
                client.get_key_rotation_status().key_id(arn).send()
            })
            .await,
        ),
        _ => None,
    };
    // Every one of these calls answers for a key that exists.
    let gone = [
        metadata.as_ref().err(),
        policy.as_ref().err(),
        tags.as_ref().err(),
        rotation.as_ref().and_then(|r| r.as_ref().err()),
    ]
    .into_iter()
    .flatten()
    .any(|e| e.kind == ErrorKind::NotFound);
    if gone {
        return None;
    }

    let mut doc = envelope(cx, &listed);
    match &metadata {
        Ok(m) => describe(&mut doc, m),
        Err(e) => {
            for field in METADATA_FIELDS {
                doc.failed(field, e);
            }
        }
    }
    match rotation {
        Some(result) => {
            doc.set_result(
                "KeyRotationEnabled",
                result.map(|o| Some(o.key_rotation_enabled())),
            );
        }
        // Not a key the customer can rotate (or its metadata is already marked uncollected).
        None if metadata.is_ok() => {
            doc.set("KeyRotationEnabled", None::<bool>);
        }
        None => {}
    }
    doc.set_result("Policy", policy.map(|o| o.policy().map(str::to_owned)));
    doc.set_result("Tags", tags.map(Some));
    Some(doc)
}

/// The key's document with its envelope filled in.
fn envelope(cx: &Collect<'_>, listed: &Listed) -> Doc {
    let mut doc = Doc::new(KEY, cx.account_id(), cx.region, &listed.arn);
    doc.set("Arn", listed.arn.as_str())
        .set("Id", listed.id.as_str());
    doc
}

/// Whether automatic rotation applies: symmetric encryption keys that the customer manages and
/// whose key material KMS made (not imported, not in a custom key store).
fn rotates(m: &KeyMetadata) -> bool {
    m.key_manager() == Some(&KeyManagerType::Customer)
        && m.origin() == Some(&OriginType::AwsKms)
        && m.key_spec() == Some(&KeySpec::SymmetricDefault)
}

/// The fields `DescribeKey` answers.
fn describe(doc: &mut Doc, m: &KeyMetadata) {
    doc.set("TimeCreated", m.creation_date())
        .set("CloudHsmClusterId", m.cloud_hsm_cluster_id())
        .set("CustomKeyStoreId", m.custom_key_store_id())
        .set("DeletionDate", m.deletion_date())
        .set("Description", m.description())
        .set("Enabled", m.enabled())
        .set("ExpirationModel", m.expiration_model())
        .set("KeyManager", m.key_manager())
        .set("KeyState", m.key_state())
        .set("KeyUsage", m.key_usage())
        .set("Origin", m.origin())
        .set("ValidTo", m.valid_to());
}

/// The key's tags as a map (null when it has none), from `ListResourceTags`.
async fn resource_tags(
    cx: &Collect<'_>,
    client: &Client,
    arn: &str,
) -> Result<serde_json::Value, AwsError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = cx
            .call("ListResourceTags", || {
                client
                    .list_resource_tags()
                    .key_id(arn)
                    .limit(PAGE_SIZE)
                    .set_marker(marker.clone())
                    .send()
            })
            .await?;
        pairs.extend(
            page.tags()
                .iter()
                .map(|t| (t.tag_key().to_owned(), t.tag_value().to_owned())),
        );
        match next_marker(
            "ListResourceTags",
            page.truncated(),
            page.next_marker(),
            &marker,
        )? {
            Some(next) => marker = Some(next),
            None => break,
        }
    }
    Ok(tags(
        pairs
            .iter()
            .map(|(k, v)| (Some(k.as_str()), Some(v.as_str()))),
    ))
}

/// The marker of the next page, or none when this was the last. An answer that says there is
/// more without a marker that moves on is an error: stopping would miss items, following it
/// would loop.
fn next_marker(
    operation: &'static str,
    truncated: bool,
    next: Option<&str>,
    last: &Option<String>,
) -> Result<Option<String>, AwsError> {
    match next {
        _ if !truncated => Ok(None),
        Some(next) if !next.is_empty() && last.as_deref() != Some(next) => {
            Ok(Some(next.to_owned()))
        }
        _ => Err(AwsError::malformed(
            operation,
            "the answer is truncated but gives no new marker",
        )),
    }
}

json_enum!(
    ExpirationModelType,
    KeyManagerType,
    KeyState,
    KeyUsageType,
    OriginType,
);

#[cfg(test)]
mod tests {
    use super::*;

    fn key(manager: KeyManagerType, spec: KeySpec, origin: OriginType) -> KeyMetadata {
        KeyMetadata::builder()
            .key_id("1234abcd-12ab-34cd-56ef-1234567890ab")
            .key_manager(manager)
            .key_spec(spec)
            .origin(origin)
            .build()
            .unwrap()
    }

    #[test]
    fn only_symmetric_customer_keys_with_kms_material_rotate() {
        use KeyManagerType::{Aws, Customer};
        use OriginType::{AwsCloudhsm, AwsKms, External};
        assert!(rotates(&key(Customer, KeySpec::SymmetricDefault, AwsKms)));
        assert!(!rotates(&key(Aws, KeySpec::SymmetricDefault, AwsKms)));
        assert!(!rotates(&key(Customer, KeySpec::Rsa2048, AwsKms)));
        assert!(!rotates(&key(Customer, KeySpec::Hmac256, AwsKms)));
        assert!(!rotates(&key(
            Customer,
            KeySpec::SymmetricDefault,
            External
        )));
        assert!(!rotates(&key(
            Customer,
            KeySpec::SymmetricDefault,
            AwsCloudhsm
        )));
    }

    #[test]
    fn paging_ends_with_the_last_page_and_fails_on_a_marker_that_does_not_move_on() {
        let last = Some("m1".to_owned());
        let next = |truncated, marker| next_marker("ListKeys", truncated, marker, &last);
        assert_eq!(next(true, Some("m2")), Ok(Some("m2".to_owned())));
        assert_eq!(next(false, Some("m2")), Ok(None));
        assert_eq!(next(false, None), Ok(None));
        for (truncated, marker) in [(true, None), (true, Some("")), (true, Some("m1"))] {
            let err = next(truncated, marker).unwrap_err();
            assert_eq!(err.kind, ErrorKind::MalformedResponse);
        }
    }
}
