//! The built-in packs as their crates describe them natively: what `palisade rules`, the API
//! and the scans must report after compiling the same crates to WebAssembly. Tests compare
//! the host's answers with these lists instead of copies that drift.

#![allow(dead_code)]

use palisade_sdk::Rule;

/// Each built-in pack (its `plugins/` directory name) with its rules, in the order the host
/// loads them.
pub const PACKS: &[(&str, &[Rule])] = &[
    ("aws-cloudtrail-kms", palisade_aws_cloudtrail_kms::RULES),
    ("aws-ec2", palisade_aws_ec2::RULES),
    ("aws-iam", palisade_aws_iam::RULES),
    ("aws-s3", palisade_aws_s3::RULES),
    ("aws-vpc", palisade_aws_vpc::RULES),
];

/// The names of the built-in packs, sorted as the API lists modules.
pub fn names() -> Vec<&'static str> {
    PACKS.iter().map(|(name, _)| *name).collect()
}

/// Every built-in rule, in load order.
pub fn rules() -> impl Iterator<Item = &'static Rule> {
    PACKS.iter().flat_map(|(_, rules)| rules.iter())
}

/// Every built-in rule id, in load order.
pub fn rule_ids() -> Vec<&'static str> {
    rules().map(|r| r.id).collect()
}

/// The rules of pack `name`.
pub fn rules_of(name: &str) -> &'static [Rule] {
    PACKS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, rules)| *rules)
        .unwrap_or_else(|| panic!("{name} is not a built-in pack"))
}

/// The pack that provides rule `id`.
pub fn module_of(id: &str) -> &'static str {
    PACKS
        .iter()
        .find(|(_, rules)| rules.iter().any(|r| r.id == id))
        .map(|(name, _)| *name)
        .unwrap_or_else(|| panic!("{id} is not a built-in rule"))
}

/// How many built-in rules run when nobody has chosen.
pub fn enabled_by_default() -> usize {
    rules().filter(|r| r.default_enabled).count()
}

/// The built-in rules that apply to `resource_type` and run by default.
pub fn default_rules_for(resource_type: &str) -> Vec<&'static str> {
    rules()
        .filter(|r| r.default_enabled && r.resource_types.contains(&resource_type))
        .map(|r| r.id)
        .collect()
}
