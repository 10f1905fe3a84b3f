//! Cloud accounts as onboarded by an operator: identity, the read-only role to assume, and
//! what to leave out of scans. Validation and exclusion matching live here; storage is the
//! store's job and scanning is `scan`'s.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Why an account definition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error(
        "account name {0:?} is invalid: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
    )]
    Name(String),
    #[error("account id {0:?} is invalid: an AWS account id is exactly 12 digits")]
    AccountId(String),
    #[error("role ARN {0:?} is invalid: expected arn:aws:iam::<12-digit account id>:role/<name>")]
    RoleArn(String),
    #[error("role ARN {arn} belongs to account {found}, not to account {expected}")]
    RoleAccount {
        arn: String,
        found: String,
        expected: String,
    },
    #[error("external id is invalid: 2-1224 characters of letters, digits and +=,.@:/-")]
    ExternalId,
    #[error("region {0:?} is invalid: expected a name such as us-east-1")]
    Region(String),
    #[error("resource exclusion {0:?} is invalid: expected REGION=GLOB (REGION may be '*')")]
    Exclusion(String),
    #[error("scan interval of {0} hours is invalid: use 1 to {MAX_SCAN_INTERVAL_HOURS} hours")]
    ScanInterval(u32),
}

/// The longest scan interval: a scan a year keeps nothing current, so anything longer is a typo.
pub const MAX_SCAN_INTERVAL_HOURS: u32 = 24 * 366;

/// Resources to skip: ids matching `pattern` (`*` any run of characters, `?` one) in `region`
/// (`*` for every region, `global` for global resources).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ResourceExclusion {
    pub region: String,
    pub pattern: String,
}

impl std::str::FromStr for ResourceExclusion {
    type Err = AccountError;

    /// `REGION=GLOB`, e.g. `us-east-1=arn:aws:s3:::scratch-*` or `*=*:security-group/sg-0abc`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (region, pattern) = s
            .split_once('=')
            .ok_or_else(|| AccountError::Exclusion(s.to_owned()))?;
        if pattern.is_empty() || (region != "*" && region != "global" && !valid_region(region)) {
            return Err(AccountError::Exclusion(s.to_owned()));
        }
        Ok(ResourceExclusion {
            region: region.to_owned(),
            pattern: pattern.to_owned(),
        })
    }
}

impl std::fmt::Display for ResourceExclusion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.region, self.pattern)
    }
}

/// An onboarded AWS account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Account {
    /// Operator's name for the account; unique, the key in the store.
    pub name: String,
    /// 12-digit AWS account id.
    pub account_id: String,
    /// The read-only role Palisade assumes in the account.
    pub role_arn: String,
    /// The external id the role's trust policy requires, if any. Not a secret, but not logged.
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub excluded_regions: Vec<String>,
    #[serde(default)]
    pub excluded_resource_types: Vec<String>,
    #[serde(default)]
    pub excluded_resources: Vec<ResourceExclusion>,
    /// Hours between scheduled scans; the service's default (daily) when `None`.
    #[serde(default)]
    pub scan_interval_hours: Option<u32>,
    #[serde(with = "time::serde::rfc3339")]
    pub added_at: OffsetDateTime,
}

impl Account {
    /// Checks every field; the first problem found is returned.
    pub fn validate(&self) -> Result<(), AccountError> {
        // Starting with a letter or digit keeps `.` and `..` out: clients resolve those in URLs.
        let name_ok = self.name.len() <= 64
            && self
                .name
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric())
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !name_ok {
            return Err(AccountError::Name(self.name.clone()));
        }
        if !is_account_id(&self.account_id) {
            return Err(AccountError::AccountId(self.account_id.clone()));
        }
        let found = role_account(&self.role_arn)
            .ok_or_else(|| AccountError::RoleArn(self.role_arn.clone()))?;
        if found != self.account_id {
            return Err(AccountError::RoleAccount {
                arn: self.role_arn.clone(),
                found: found.to_owned(),
                expected: self.account_id.clone(),
            });
        }
        if let Some(id) = &self.external_id {
            let ok = (2..=1224).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+=,.@:/-_".contains(&b));
            if !ok {
                return Err(AccountError::ExternalId);
            }
        }
        if let Some(r) = self.excluded_regions.iter().find(|r| !valid_region(r)) {
            return Err(AccountError::Region(r.clone()));
        }
        if let Some(h) = self.scan_interval_hours
            && !(1..=MAX_SCAN_INTERVAL_HOURS).contains(&h)
        {
            return Err(AccountError::ScanInterval(h));
        }
        Ok(())
    }

    pub fn region_excluded(&self, region: &str) -> bool {
        self.excluded_regions.iter().any(|r| r == region)
    }

    pub fn type_excluded(&self, resource_type: &str) -> bool {
        self.excluded_resource_types
            .iter()
            .any(|t| t == resource_type)
    }

    /// Whether a resource is out of scope by its region, its type or its id.
    pub fn excludes(&self, region: &str, resource_type: &str, resource_id: &str) -> bool {
        self.region_excluded(region)
            || self.type_excluded(resource_type)
            || self.excluded_resources.iter().any(|x| {
                (x.region == "*" || x.region == region) && glob_match(&x.pattern, resource_id)
            })
    }
}

/// Exactly 12 ASCII digits.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The account id of an IAM role ARN (`arn:<partition>:iam::<account>:role/<path><name>`).
fn role_account(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (arn_, partition, service, region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let name = resource.strip_prefix("role/")?;
    let ok = arn_ == "arn"
        && partition.starts_with("aws")
        && service == "iam"
        && region.is_empty()
        && is_account_id(account)
        && !name.is_empty()
        && !name.ends_with('/')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-/".contains(&b));
    ok.then_some(account)
}

/// A region name: lowercase letters, digits and dashes, starting with a letter.
fn valid_region(s: &str) -> bool {
    (4..=32).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.contains('-')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// `*` matches any run of characters (including none), `?` exactly one; all else literally.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    // Where the last `*` was, and the text position it is currently standing in for.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> Account {
        Account {
            name: "prod".into(),
            account_id: "123456789012".into(),
            role_arn: "arn:aws:iam::123456789012:role/PalisadeAudit".into(),
            external_id: Some("palisade-ext-1".into()),
            excluded_regions: vec!["eu-west-3".into()],
            excluded_resource_types: vec!["AWS.EC2.AMI".into()],
            excluded_resources: vec!["us-east-1=arn:aws:s3:::scratch-*".parse().unwrap()],
            scan_interval_hours: None,
            added_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_good_account_validates() {
        account().validate().unwrap();
        let mut a = account();
        a.role_arn = "arn:aws:iam::123456789012:role/audit/ro/Palisade".into();
        a.validate().unwrap();
    }

    #[test]
    fn bad_fields_are_refused_with_the_field_named() {
        type Mutation = fn(&mut Account);
        let cases: [(Mutation, &str); 7] = [
            (|a| a.account_id = "12345678901".into(), "exactly 12 digits"),
            (
                |a| a.account_id = "12345678901x".into(),
                "exactly 12 digits",
            ),
            (|a| a.name = "has space".into(), "account name"),
            (
                |a| a.role_arn = "arn:aws:iam::123456789012:user/x".into(),
                "role ARN",
            ),
            (
                |a| a.role_arn = "arn:aws:iam::999999999999:role/x".into(),
                "belongs to account 999999999999",
            ),
            (|a| a.external_id = Some("x".into()), "external id"),
            (|a| a.excluded_regions = vec!["Mars 1".into()], "region"),
        ];
        for (mutate, want) in cases {
            let mut a = account();
            mutate(&mut a);
            let err = a.validate().unwrap_err().to_string();
            assert!(err.contains(want), "{err:?} should mention {want:?}");
        }
    }

    #[test]
    fn exclusions_by_region_type_and_glob() {
        let a = account();
        assert!(a.excludes("eu-west-3", "AWS.S3.Bucket", "arn:aws:s3:::kept"));
        assert!(a.excludes("us-east-1", "AWS.EC2.AMI", "ami-1"));
        assert!(a.excludes("us-east-1", "AWS.S3.Bucket", "arn:aws:s3:::scratch-42"));
        assert!(!a.excludes("us-west-2", "AWS.S3.Bucket", "arn:aws:s3:::scratch-42"));
        assert!(!a.excludes("us-east-1", "AWS.S3.Bucket", "arn:aws:s3:::prod-data"));
    }

    #[test]
    fn exclusion_syntax() {
        let x: ResourceExclusion = "*=arn:aws:s3:::tmp-?".parse().unwrap();
        assert_eq!(
            (x.region.as_str(), x.pattern.as_str()),
            ("*", "arn:aws:s3:::tmp-?")
        );
        assert_eq!(x.to_string(), "*=arn:aws:s3:::tmp-?");
        assert!("no-equals".parse::<ResourceExclusion>().is_err());
        assert!("us-east-1=".parse::<ResourceExclusion>().is_err());
        assert!("Bad Region=x".parse::<ResourceExclusion>().is_err());
    }

    #[test]
    fn glob_semantics() {
        assert!(glob_match("*", ""));
        assert!(glob_match("a*c", "abbbc"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "ac"));
        assert!(glob_match(
            "*:security-group/sg-*",
            "arn:aws:ec2:us-east-1:1:security-group/sg-9"
        ));
        assert!(!glob_match("abc", "abcd"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxbyy"));
    }
}
