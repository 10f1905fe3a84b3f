//! [`Scope`]: the resources one targeted collector run is after, as the event path named them.
//! A run without a scope is a full scan; with one, collectors narrow their calls where AWS
//! allows and [`Collect::push`](super::Collect::push) drops whatever else they produce.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::events::{Key, Target};

/// The targets of one collector run (one service, one region or the global run; one account).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    targets: Vec<Target>,
}

impl Scope {
    pub fn new(targets: Vec<Target>) -> Scope {
        Scope { targets }
    }

    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// Whether some target is of `resource_type`.
    pub fn wants_type(&self, resource_type: &str) -> bool {
        self.of_type(resource_type).next().is_some()
    }

    /// The identifiers the targets of `resource_type` name (ARNs, ids or names, as the events
    /// carried them); empty when none is of that type, and `None` when one asks for every
    /// resource of the type, so that nothing can be narrowed.
    pub fn names(&self, resource_type: &str) -> Option<BTreeSet<&str>> {
        self.of_type(resource_type)
            .map(|t| match &t.key {
                Key::Named(name) => Some(name.as_str()),
                Key::All => None,
            })
            .collect()
    }

    /// Whether a collected document is one the targets name.
    pub fn wants(&self, resource_type: &str, resource_id: &str, document: &Value) -> bool {
        self.of_type(resource_type)
            .any(|t| t.matches(resource_id, document))
    }

    fn of_type<'a>(&'a self, resource_type: &str) -> impl Iterator<Item = &'a Target> {
        self.targets
            .iter()
            .filter(move |t| t.resource_type == resource_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Action;
    use serde_json::json;

    fn target(resource_type: &str, key: Key) -> Target {
        Target {
            account_id: "123456789012".into(),
            region: "us-east-1".into(),
            resource_type: resource_type.into(),
            key,
            action: Action::Refresh,
        }
    }

    const GROUP: &str = "AWS.EC2.SecurityGroup";

    #[test]
    fn names_narrow_until_one_target_wants_everything() {
        let named = |n: &str| target(GROUP, Key::Named(n.into()));
        let scope = Scope::new(vec![named("sg-1"), named("sg-2")]);
        assert!(scope.wants_type(GROUP));
        assert!(!scope.wants_type("AWS.EC2.VPC"));
        assert_eq!(scope.names(GROUP), Some(BTreeSet::from(["sg-1", "sg-2"])));
        assert_eq!(scope.names("AWS.EC2.VPC"), Some(BTreeSet::new()));

        let scope = Scope::new(vec![named("sg-1"), target(GROUP, Key::All)]);
        assert_eq!(scope.names(GROUP), None);
    }

    #[test]
    fn documents_match_by_resource_id_id_name_or_arn() {
        let arn = "arn:aws:ec2:us-east-1:123456789012:security-group/sg-1";
        let doc = json!({"Id": "sg-1", "Name": "bastion", "Arn": arn});
        for key in ["sg-1", "bastion", arn] {
            let scope = Scope::new(vec![target(GROUP, Key::Named(key.into()))]);
            assert!(scope.wants(GROUP, arn, &doc), "{key}");
            assert!(!scope.wants("AWS.EC2.VPC", arn, &doc), "{key}");
        }
        let other = Scope::new(vec![target(GROUP, Key::Named("sg-2".into()))]);
        assert!(!other.wants(GROUP, arn, &doc));
        let every = Scope::new(vec![target(GROUP, Key::All)]);
        assert!(every.wants(GROUP, arn, &doc));
    }
}
