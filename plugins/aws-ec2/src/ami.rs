//! AMI rules: the account's own images are not public.

use palisade_sdk::{Ctx, Resource, Result, Rule, Severity, Verdict};

use crate::{AMI, label, reported};

pub const PRIVATE: Rule = Rule::new(
    "AWS.AMI.Private",
    "AMI is not public",
    Severity::High,
    AMI,
    private,
)
.description(
    "A public AMI can be launched by every AWS account, which then reads everything baked into \
     it: application code, configuration, keys and credentials left on its snapshots. AMIs owned \
     by another account (an Amazon or Marketplace image) are not the account's to make private \
     and pass.",
)
.remediation(
    "Remove the public launch permission: `aws ec2 modify-image-attribute --image-id AMI \
     --launch-permission '{\"Remove\":[{\"Group\":\"all\"}]}'`, share it with specific accounts \
     or an organization instead, and turn on block public access for AMIs (`aws ec2 \
     enable-image-block-public-access --image-block-public-access-state block-new-sharing`).",
)
.references(&[
    "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/sharingamis-intro.html",
    "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/block-public-access-to-amis.html",
]);

fn private(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let public: bool = reported(res, "Public")?;
    if !public {
        return Ok(Verdict::Pass);
    }
    // Another account's image (an Amazon or Marketplace AMI) is public by design and cannot be
    // changed from this account.
    let owner: Option<String> = res.collected("OwnerId")?;
    let account = res.account_id();
    if owner.is_some_and(|o| !o.is_empty() && !account.is_empty() && o != account) {
        return Ok(Verdict::Pass);
    }
    let state: Option<String> = res.field("State")?;
    let state = state.map(|s| format!(", state {s}")).unwrap_or_default();
    Ok(Verdict::fail(format!(
        "{} is public: any AWS account can launch it and read what it contains (Public is true{state})",
        label(res, "AMI")?
    )))
}
