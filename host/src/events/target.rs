//! [`Target`]: one resource (or every resource of a type in a region) that an event says has
//! changed, and what to do about it. The shared currency of the event path.

use serde::{Deserialize, Serialize};

/// What an event asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// The resource was created or changed: collect it again.
    Refresh,
    /// The call deleted the resource. It is still collected once more (an event can be late,
    /// and a name can be reused); what the collector no longer finds is marked deleted.
    Delete,
}

/// Which resources of the target's type an event names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Key {
    /// One resource, by whichever identifier the event carries: its ARN (the store's
    /// `ResourceId`), its AWS id (the document's `Id`) or its `Name`.
    Named(String),
    /// Every resource of the type in the region: the event changes one but does not say which
    /// (a KMS key named by alias, a route table's VPC), or the type has one resource per
    /// account (the password policy, the root user).
    All,
}

/// One resource to collect again because of an event.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Target {
    /// The account the resource lives in (the record's `recipientAccountId`).
    pub account_id: String,
    /// The region of the call (`awsRegion`); `global` for IAM resources.
    pub region: String,
    /// A resource type the scanner collects, e.g. `AWS.S3.Bucket`.
    pub resource_type: String,
    pub key: Key,
    pub action: Action,
}

impl Target {
    /// Whether a document of this target's type is the one the target names.
    pub fn matches(&self, resource_id: &str, document: &serde_json::Value) -> bool {
        match &self.key {
            Key::All => true,
            Key::Named(name) => {
                resource_id == name
                    || ["Id", "Name", "Arn"]
                        .iter()
                        .any(|f| document.get(f).and_then(|v| v.as_str()) == Some(name.as_str()))
            }
        }
    }
}
