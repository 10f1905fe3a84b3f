//! The bucket's public access block: the four switches that stop ACLs and policies from making
//! the bucket or its objects public.

use palisade_sdk::s3::PublicAccessBlock;
use palisade_sdk::{Ctx, Resource, Result, Rule, Severity, Verdict};

use crate::{BUCKET, bucket_name};

pub const PUBLIC_ACCESS_BLOCK: Rule = Rule::new(
    "AWS.S3.Bucket.PublicAccessBlock",
    "S3 bucket blocks public access",
    Severity::Medium,
    BUCKET,
    public_access_block,
)
.description(
    "S3 Block Public Access overrides ACLs and bucket policies that would make a bucket or its \
     objects public. All four settings must be on at the bucket: BlockPublicAcls and \
     IgnorePublicAcls stop public ACLs from being set or honoured, BlockPublicPolicy and \
     RestrictPublicBuckets do the same for public bucket policies.",
)
.remediation(
    "Turn on all four settings: `aws s3api put-public-access-block --bucket NAME \
     --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,\
     BlockPublicPolicy=true,RestrictPublicBuckets=true`, or in the console under Permissions > \
     Block public access. Serve public content through CloudFront with origin access control \
     instead.",
)
.references(&[
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html",
])
.compliance(&["CIS-AWS-7.0:3.1.4"]);

fn public_access_block(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let config: Option<PublicAccessBlock> = res.collected("PublicAccessBlockConfiguration")?;
    let name = bucket_name(res)?;
    let Some(config) = config else {
        return Ok(Verdict::fail(format!(
            "bucket {name} has no public access block configuration"
        )));
    };
    let off = config.off_flags();
    Ok(if off.is_empty() {
        Verdict::Pass
    } else {
        Verdict::fail(format!(
            "bucket {name} does not block all public access: {}",
            off.join(", ")
        ))
    })
}
