//! The account's S3 public access block (`AWS.S3.Meta`, one document per account): the four
//! switches that, set on the account, apply to every bucket it has and will have.

use palisade_sdk::s3::PublicAccessBlock;
use palisade_sdk::{Ctx, Resource, Result, Rule, Severity, Verdict};

/// The account-level summary document the account rules read.
const META: &[&str] = &["AWS.S3.Meta"];

pub const ACCOUNT_PUBLIC_ACCESS_BLOCK: Rule = Rule::new(
    "AWS.S3.AccountPublicAccessBlock",
    "S3 Block Public Access is on for the account",
    Severity::High,
    META,
    account_public_access_block,
)
.description(
    "Block Public Access set on the account applies to every bucket in it, existing and \
     future, whatever each bucket's own settings. All four switches must be on: \
     BlockPublicAcls and IgnorePublicAcls stop public ACLs from being set or honoured, \
     BlockPublicPolicy and RestrictPublicBuckets do the same for public bucket policies. An \
     account with no configuration at all has every switch off.",
)
.remediation(
    "Turn on all four switches for the account: `aws s3control put-public-access-block \
     --account-id ACCOUNT_ID --public-access-block-configuration BlockPublicAcls=true,\
     IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true`, or in the S3 \
     console under Block Public Access settings for this account. Serve public content through \
     CloudFront with origin access control instead of public buckets.",
)
.references(&[
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/configuring-block-public-access-account.html",
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html",
])
.compliance(&["CIS-AWS-7.0:3.1.4"]);

fn account_public_access_block(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let config: Option<PublicAccessBlock> =
        res.collected_present("PublicAccessBlockConfiguration")?;
    let account = account_id(res);
    let Some(config) = config else {
        return Ok(Verdict::fail(format!(
            "account {account} has no S3 public access block configuration: BlockPublicAcls, \
             IgnorePublicAcls, BlockPublicPolicy and RestrictPublicBuckets are all off"
        )));
    };
    let off = config.off_flags();
    Ok(if off.is_empty() {
        Verdict::Pass
    } else {
        Verdict::fail(format!(
            "account {account} does not block all public access: {}",
            off.join(", ")
        ))
    })
}

/// The account for messages: `AccountId`, else the resource id (`<account>::AWS.S3.Meta`).
fn account_id(res: &Resource<'_>) -> String {
    let account = res.account_id();
    if !account.is_empty() {
        return account.into_owned();
    }
    let id = res.id();
    match id.split_once("::") {
        Some((account, _)) if !account.starts_with("arn:") => account.to_owned(),
        _ => id.into_owned(),
    }
}
