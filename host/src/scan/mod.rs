//! Scanning: which collectors run where ([`Service`]), the collector interface
//! ([`collect::Collect`]), the document envelope ([`doc::Doc`]) and SDK shape rendering
//! ([`shape`]). One file per AWS service holds that service's collector. Whole-account scans
//! are `run.rs`'s; targeted rescans of the resources events name ([`Scope`]) are `refresh.rs`'s.

pub mod collect;
pub mod doc;
mod refresh;
mod run;
mod scope;
pub mod shape;

mod cloudtrail;
mod ec2;
mod iam;
mod kms;
mod meta;
mod s3;

pub use collect::{Collect, Collected, ScanIssue, Unsupported};
pub use doc::Doc;
pub use refresh::Refresh;
pub use run::{Progress, Quiet, RuleSource, ScanError, ScanOptions, Scanner, Task, issue_counts};
pub use scope::Scope;

/// The resource types the collectors produce, for code that names them (the event mapping).
pub(crate) mod types {
    pub(crate) use super::cloudtrail::TRAIL;
    pub(crate) use super::ec2::{
        AMI, INSTANCE, META as EC2_META, NETWORK_ACL, SECURITY_GROUP, VOLUME, VPC,
    };
    pub(crate) use super::iam::{
        GROUP, META as IAM_META, PASSWORD_POLICY, POLICY, ROLE, ROOT_USER, USER,
    };
    pub(crate) use super::kms::KEY as KMS_KEY;
    pub(crate) use super::s3::{BUCKET, META as S3_META};
}

/// An AWS service the scanner collects from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    Iam,
    S3,
    Ec2,
    CloudTrail,
    Kms,
}

impl Service {
    pub const ALL: [Service; 5] = [
        Service::Iam,
        Service::S3,
        Service::Ec2,
        Service::CloudTrail,
        Service::Kms,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Service::Iam => "iam",
            Service::S3 => "s3",
            Service::Ec2 => "ec2",
            Service::CloudTrail => "cloudtrail",
            Service::Kms => "kms",
        }
    }

    /// Global services run once per scan (from the home region); the others once per region.
    pub fn is_global(self) -> bool {
        matches!(self, Service::Iam | Service::S3)
    }

    /// The resource types this service's collector produces.
    pub fn resource_types(self) -> &'static [&'static str] {
        match self {
            Service::Iam => &iam::RESOURCE_TYPES,
            Service::S3 => &s3::RESOURCE_TYPES,
            Service::Ec2 => &ec2::RESOURCE_TYPES,
            Service::CloudTrail => &cloudtrail::RESOURCE_TYPES,
            Service::Kms => &kms::RESOURCE_TYPES,
        }
    }

    /// The service whose collector produces `resource_type`.
    pub fn of_type(resource_type: &str) -> Option<Service> {
        Service::ALL
            .into_iter()
            .find(|s| s.resource_types().contains(&resource_type))
    }

    /// Runs this service's collector.
    pub async fn collect(self, cx: &mut Collect<'_>) {
        match self {
            Service::Iam => iam::collect(cx).await,
            Service::S3 => s3::collect(cx).await,
            Service::Ec2 => ec2::collect(cx).await,
            Service::CloudTrail => cloudtrail::collect(cx).await,
            Service::Kms => kms::collect(cx).await,
        }
    }
}
