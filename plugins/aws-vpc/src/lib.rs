//! `aws-vpc`: the network rules of the catalog's "EC2 and VPC" section: security groups
//! (`AWS.EC2.SecurityGroup`), network ACLs (`AWS.EC2.NetworkACL`) and VPCs (`AWS.EC2.VPC`). Rule
//! ids are the ones Panther's policy library uses for the same checks, so migrating users keep
//! their ids, suppressions and reports; `AWS.EC2.SecurityGroup.CIFS` and `AWS.EC2.NACL.AdminPorts`
//! are ours, for CIS controls that library has no rule for.
//!
//! Every rule checks that the collector could read the fields it decides on
//! (`require_collected`) before reading them, so "could not read" is an `error`, never a pass;
//! the VPC rules that read the default security group or network ACL do the same on the
//! looked-up document, and a default group or ACL that was not collected is an error too.
//! The AWS semantics (port ranges, protocol `-1`, ICMP type/code, network ACL first-match
//! order) live in `palisade_sdk::net`.

mod network_acl;
mod security_group;
mod vpc;

use std::borrow::Cow;
use std::collections::BTreeMap;

use palisade_sdk::{Error, Resource, Result, Rule, Value};

/// Every rule of the pack, in the order `palisade rules` lists them.
pub static RULES: &[Rule] = &[
    security_group::ADMINISTRATIVE_INGRESS,
    security_group::RESTRICTS_INBOUND_TRAFFIC,
    security_group::RESTRICTS_OUTBOUND_TRAFFIC,
    security_group::TIGHTLY_RESTRICTS_INBOUND_TRAFFIC,
    security_group::TIGHTLY_RESTRICTS_OUTBOUND_TRAFFIC,
    security_group::RESTRICTS_INTER_SECURITY_GROUP_TRAFFIC,
    security_group::ONLY_DMZ_PUBLICLY_ACCESSIBLE,
    security_group::RESTRICTS_ACCESS_TO_CDE,
    security_group::RESTRICTS_TRAFFIC_LEAVING_CDE,
    security_group::CIFS,
    network_acl::RESTRICTED_SSH,
    network_acl::RESTRICTS_INBOUND_TRAFFIC,
    network_acl::RESTRICTS_OUTBOUND_TRAFFIC,
    network_acl::RESTRICTS_INSECURE_PROTOCOLS,
    network_acl::ADMIN_PORTS,
    vpc::FLOW_LOGS,
    vpc::DEFAULT_SECURITY_GROUP_RESTRICTIONS,
    vpc::DEFAULT_NETWORK_ACL_RESTRICTS_ALL_TRAFFIC,
];

palisade_sdk::export_pack!(RULES);

/// The JSON text of field `field` once the collector is known to have read it. A document
/// without the key at all is an error: these rules pass on `null` ("none"), so a document that
/// never carried the field (a partial or hand-made one) must not pass.
fn collected_text<'a>(res: &Resource<'a>, field: &str) -> Result<&'a str> {
    res.require_collected(&[field])?;
    res.raw_field(field)?.ok_or_else(|| {
        Error::new(format!(
            "the document has no {field} field (it is null when there is none), so the rule \
             cannot decide"
        ))
    })
}

/// The resource's name for messages: `Name`, else `Id`, else the resource id.
fn display_name<'a>(res: &Resource<'a>) -> Result<Cow<'a, str>> {
    for field in ["Name", "Id"] {
        let value: Option<Cow<'a, str>> = res.field(field)?;
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            return Ok(value);
        }
    }
    Ok(res.id())
}

/// The resource's tags (`Tags`, `null`: none), once the collector is known to have read them.
fn tags(res: &Resource<'_>) -> Result<BTreeMap<String, Option<String>>> {
    res.require_collected(&["Tags"])?;
    let tags: Option<BTreeMap<String, Option<String>>> = res.field("Tags")?;
    Ok(tags.unwrap_or_default())
}

/// The first tag of `tags` that one of `marks` (tag key to value, `*`: any value) names.
fn marking_tag<'t>(
    tags: &'t BTreeMap<String, Option<String>>,
    marks: &BTreeMap<String, String>,
) -> Option<(&'t str, &'t str)> {
    marks.iter().find_map(|(key, wanted)| {
        let (key, value) = tags.get_key_value(key)?;
        let value = value.as_deref().unwrap_or("");
        (wanted == "*" || wanted == value).then_some((key.as_str(), value))
    })
}

/// Fails when the collector recorded an error for any of `fields` of a looked-up document, or
/// the document lacks one of them.
fn require_collected_in(doc: &Value, what: &str, fields: &[&str]) -> Result<()> {
    for field in fields {
        match doc
            .get("CollectionErrors")
            .and_then(|errors| errors.get(field))
        {
            None | Some(Value::Null) => {}
            Some(why) => {
                let why = why.as_str().map_or_else(|| why.to_string(), str::to_owned);
                return Err(Error::new(format!(
                    "{field} of {what} was not collected: {why}"
                )));
            }
        }
        if doc.get(field).is_none() {
            return Err(Error::new(format!(
                "the document of {what} has no {field} field, so the rule cannot decide"
            )));
        }
    }
    Ok(())
}
