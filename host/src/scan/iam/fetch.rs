//! The IAM calls of one scan, each with its own outcome: paginated
//! `GetAccountAuthorizationDetails`, `ListRoles` and `ListVirtualMFADevices`, the credential
//! report and `GetAccountPasswordPolicy`. Pages hold up to 1000 items, so the number of calls
//! does not follow the number of entities. A targeted run skips the parts that no resource type
//! in its scope is built from.

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_iam::Client;
use aws_sdk_iam::types::{
    AssignmentStatusType, EntityType, GroupDetail, ManagedPolicyDetail, PasswordPolicy, Role,
    RoleDetail, UserDetail, VirtualMfaDevice,
};

use super::credential_report::{self, CredentialReport};
use super::{DETAILS, GROUP, PASSWORD_POLICY, POLICY, ROLE, ROOT_USER, USER};
use crate::aws::{AwsError, ErrorKind};
use crate::scan::Collect;

/// Items per page of the listing calls: IAM's maximum, so most accounts fit in one page.
const PAGE_SIZE: i32 = 1000;

/// Fetches everything the run's resource types need (all of it in a full scan); the calls run
/// concurrently. `GetAccountAuthorizationDetails` cannot be narrowed to a few entities: when one
/// user, role, group or policy is wanted the whole account is read and `Collect::push` keeps
/// the ones in scope.
pub async fn everything(cx: &Collect<'_>, iam: &Client) -> Fetched {
    let needed = |types: &[&str]| types.iter().any(|t| cx.wants_type(t));
    let (details, roles, report, mfa, password) = futures::join!(
        when(
            needed(&[USER, ROLE, GROUP, POLICY]),
            authorization_details(cx, iam)
        ),
        when(needed(&[ROLE]), list_roles(cx, iam)),
        // Groups show their members' last password use, which only the report has.
        when(
            needed(&[USER, GROUP, ROOT_USER]),
            credential_report::fetch(cx, iam)
        ),
        when(needed(&[USER, ROOT_USER]), assigned_mfa_devices(cx, iam)),
        when(needed(&[PASSWORD_POLICY]), password_policy(cx, iam)),
    );
    Fetched {
        details,
        roles,
        report,
        mfa,
        password,
    }
}

/// One part of the fetch when a document in scope is built from it. A part left out is an
/// error that no document reads: only the types that need it are built.
async fn when<T>(
    needed: bool,
    part: impl Future<Output = Result<T, AwsError>>,
) -> Result<T, AwsError> {
    if needed {
        part.await
    } else {
        Err(AwsError {
            operation: "(not fetched)",
            kind: ErrorKind::Other,
            code: None,
            message: "no resource type in this run's scope needs this part".into(),
        })
    }
}

/// Everything one scan asks IAM, each part with its own outcome.
pub struct Fetched {
    pub details: Result<Details, AwsError>,
    /// Roles by ARN, from `ListRoles`.
    pub roles: Result<HashMap<String, Role>, AwsError>,
    pub report: Result<CredentialReport, AwsError>,
    /// Virtual MFA devices assigned to a user (or the root user).
    pub mfa: Result<Vec<VirtualMfaDevice>, AwsError>,
    /// None when the account has no password policy.
    pub password: Result<Option<PasswordPolicy>, AwsError>,
}

/// The pages of `GetAccountAuthorizationDetails`, concatenated.
#[derive(Default)]
pub struct Details {
    pub users: Vec<UserDetail>,
    pub roles: Vec<RoleDetail>,
    pub groups: Vec<GroupDetail>,
    pub policies: Vec<ManagedPolicyDetail>,
}

async fn authorization_details(cx: &Collect<'_>, iam: &Client) -> Result<Details, AwsError> {
    let mut details = Details::default();
    let mut marker = None;
    loop {
        let page = cx
            .call(DETAILS, || {
                iam.get_account_authorization_details()
                    .filter(EntityType::User)
                    .filter(EntityType::Role)
                    .filter(EntityType::Group)
                    .filter(EntityType::LocalManagedPolicy)
                    .max_items(PAGE_SIZE)
                    .set_marker(marker.take())
                    .send()
            })
            .await?;
        details
            .users
            .extend(page.user_detail_list.unwrap_or_default());
        details
            .roles
            .extend(page.role_detail_list.unwrap_or_default());
        details
            .groups
            .extend(page.group_detail_list.unwrap_or_default());
        details.policies.extend(page.policies.unwrap_or_default());
        marker = next_page(DETAILS, page.is_truncated, page.marker)?;
        if marker.is_none() {
            return Ok(details);
        }
    }
}

async fn list_roles(cx: &Collect<'_>, iam: &Client) -> Result<HashMap<String, Role>, AwsError> {
    let mut roles = HashMap::new();
    let mut marker = None;
    loop {
        let page = cx
            .call("ListRoles", || {
                iam.list_roles()
                    .max_items(PAGE_SIZE)
                    .set_marker(marker.take())
                    .send()
            })
            .await?;
        roles.extend(page.roles.into_iter().map(|r| (r.arn.clone(), r)));
        marker = next_page("ListRoles", page.is_truncated, page.marker)?;
        if marker.is_none() {
            return Ok(roles);
        }
    }
}

async fn assigned_mfa_devices(
    cx: &Collect<'_>,
    iam: &Client,
) -> Result<Vec<VirtualMfaDevice>, AwsError> {
    let mut devices = Vec::new();
    let mut marker = None;
    loop {
        let page = cx
            .call("ListVirtualMFADevices", || {
                iam.list_virtual_mfa_devices()
                    .assignment_status(AssignmentStatusType::Assigned)
                    .max_items(PAGE_SIZE)
                    .set_marker(marker.take())
                    .send()
            })
            .await?;
        devices.extend(page.virtual_mfa_devices);
        marker = next_page("ListVirtualMFADevices", page.is_truncated, page.marker)?;
        if marker.is_none() {
            return Ok(devices);
        }
    }
}

async fn password_policy(
    cx: &Collect<'_>,
    iam: &Client,
) -> Result<Option<PasswordPolicy>, AwsError> {
    match cx
        .call("GetAccountPasswordPolicy", || {
            iam.get_account_password_policy().send()
        })
        .await
    {
        Ok(out) => Ok(out.password_policy),
        // NoSuchEntity: the account has no password policy.
        Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The marker of the next page, None after the last one.
fn next_page(
    operation: &'static str,
    is_truncated: bool,
    marker: Option<String>,
) -> Result<Option<String>, AwsError> {
    match (is_truncated, marker) {
        (false, _) => Ok(None),
        (true, Some(marker)) => Ok(Some(marker)),
        (true, None) => Err(AwsError::malformed(
            operation,
            "the answer is truncated but has no marker",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_end_without_truncation_and_a_missing_marker_is_an_error() {
        assert_eq!(next_page("X", false, Some("m".into())).unwrap(), None);
        assert_eq!(
            next_page("X", true, Some("m".into())).unwrap().as_deref(),
            Some("m")
        );
        assert_eq!(
            next_page("X", true, None).unwrap_err().kind,
            ErrorKind::MalformedResponse
        );
    }
}
