//! `aws-core`: the core network, credential and IAM checks (administrative ingress, access key
//! rotation, admin policies). Rule ids are the ones Panther's policy library uses for the same
//! checks, so migrating users keep their ids, suppressions and reports. The S3 rules live in the
//! `aws-s3` pack.
//!
//! Each rule reads a typed view naming only the fields it needs (unknown fields are skipped,
//! not built), which keeps evaluation cheap; the SDK helpers carry the AWS semantics.

mod access_keys;
mod iam_policy;
mod security_group;

use palisade_sdk::Rule;

/// Every rule of the pack, in the order `palisade rules` lists them.
pub static RULES: &[Rule] = &[
    security_group::ADMINISTRATIVE_INGRESS,
    access_keys::ROTATION,
    iam_policy::DOES_NOT_GRANT_ADMIN_ACCESS,
];

palisade_sdk::export_pack!(RULES);
