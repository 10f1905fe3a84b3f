//! IAM group rules: a group without members is dead weight that still carries permissions.

use palisade_sdk::{Ctx, Resource, Result, Rule, Severity, Value, Verdict};

use crate::display_name;

pub const GROUP_USERS: Rule = Rule::new(
    "AWS.IAM.Group.Users",
    "IAM groups have at least one user",
    Severity::Low,
    &["AWS.IAM.Group"],
    group_users,
)
.description(
    "A group with no members grants nothing today, but its policies stay in place: anyone who \
     can add users to groups can quietly use it, and it clutters access reviews.",
)
.remediation(
    "Delete the group if it is no longer needed (detach its policies, delete its inline \
     policies, then `aws iam delete-group --group-name NAME`), or add the users it was meant \
     for.",
)
.references(&["https://docs.aws.amazon.com/IAM/latest/UserGuide/id_groups_manage_delete.html"]);

fn group_users(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let users: Option<Vec<Value>> = res.collected_present("Users")?;
    if users.is_some_and(|u| !u.is_empty()) {
        return Ok(Verdict::Pass);
    }
    Ok(Verdict::fail(format!(
        "group {} has no users",
        display_name(res)?
    )))
}
